"""``mlct init``: write a commented starter config and a strategy file that run as they are."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import ConfigError

EXAMPLES = """examples:
  mlct init my_bot                           write my_bot/config.toml and my_bot/my_strategy.py
  mlct backtest --config my_bot/config.toml  back-test the starter strategy, write my_bot/out/report.html
  mlct init . --force                        (re)write them in the current directory
"""

CONFIG = '''\
# mlct back-test settings: run them with `mlct backtest --config config.toml`.
# Every key is optional; a command-line flag wins over the same key here. Relative paths are relative to
# this file. `mlct backtest --help` describes each setting.

# The strategy: a module of strategies/ ("sma_cross"), "package.module:Class" on the Python path, or a file
# next to this one as "file.py:Class".
strategy = "my_strategy.py:MyStrategy"

# The bars: a CryptoDataDownload CSV, a CSV with ts, open, high, low, close, volume columns, or a Parquet
# file. Without `data`, the bundled BTC/USD hourly sample (2017-07-01 to 2019-10-17) is used.
# data = "data/Coinbase_BTCUSD_1h.csv"
# symbol = "BTC/USD"            # when the file does not name it

# The account.
cash = 10000                    # starting cash, in the quote currency
# currency = "USD"              # account currency (default: the quote currency of the first symbol)
# set_aside = 0                 # cash the strategy may not spend

# The simulated exchange: costs and how orders fill (the report lists every assumption).
fee_bps = 10                    # taker fee in basis points of the notional (10 = 0.1%)
# maker_fee_bps = 10            # maker fee (default: the taker fee)
slippage = "fixed"              # none | fixed: slippage_bps on every taker fill | volume: bps at 100% of volume
slippage_bps = 2
# volume_share = 0.1            # fills may take at most this share of a bar's volume
latency_ms = 0                  # delay before an order or a cancel reaches the exchange
limit_fill = "through"          # a resting limit fills when a bar trades through its price, or "touch"

# Where results go: result.json, trades.csv, orders.csv, fills.csv, equity.parquet, prices.parquet ...
out = "out"
report = true                   # ... and report.html (rebuild it later with `mlct report out`)
# csv = true                    # ... and the per-bar tables as CSV too: equity.csv, prices.csv

# Objects with on_<event> methods that join the run (loggers, audits), as "module:Class".
# handlers = ["my_pkg.audit:FillLogger"]

# Strategy parameters: they override the defaults in the strategy's `params` (also --param KEY=VALUE).
[params]
entry = 48
exit = 24
size = 0.95
'''

STRATEGY = '''\
"""A starter strategy: a channel breakout on closes. Edit it, then run `mlct backtest --config config.toml`.

Hooks you can override: on_start, on_bar, on_signal, on_order_update, on_fill, on_timer, on_stop.
Helpers: buy, sell, submit, cancel, cancel_all, target_position, target_percent, set_timer, open_orders,
position, equity, now; self.p holds the parameters and self.ledger is a read-only view of the account.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from engine.errors import ConfigError
from engine.events import Bar
from engine.strategy import Strategy


class MyStrategy(Strategy):
    """Buy when the close breaks above the highest close of the last `entry` bars; sell when it falls below the
    lowest close of the last `exit` bars. Orders are made at a bar's close and fill at the next bar's open."""

    params = {"entry": 48, "exit": 24, "size": 0.95}  # `size`: share of equity to hold when long

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.p["entry"] < 1 or self.p["exit"] < 1:
            raise ConfigError(f"MyStrategy: entry and exit must be at least 1, got {self.p}")
        if not 0 < self.p["size"] <= 1:
            raise ConfigError(f"MyStrategy: size must be in (0, 1], got {self.p['size']}")
        self.closes: deque[float] = deque(maxlen=max(self.p["entry"], self.p["exit"]))

    def on_bar(self, bar: Bar) -> None:
        closes = self.closes
        if len(closes) == closes.maxlen and not self.open_orders(bar.symbol):
            recent = list(closes)
            holding = self.position(bar.symbol) > 0
            if not holding and bar.close > max(recent[-self.p["entry"]:]):
                self.target_percent(bar.symbol, self.p["size"])  # market order, sized from equity
            elif holding and bar.close < min(recent[-self.p["exit"]:]):
                self.target_position(bar.symbol, 0)  # sell everything
        closes.append(bar.close)
'''

LIVE_CONFIG = """\
# A live or paper session (mlct live --config live.toml): the same strategies as a back-test, on an exchange's
# websockets. Paper trading (the simulated exchange on live data) is the default; real orders need --live and the
# keys below.

[exchange]
id = "binance"                          # any ccxt.pro exchange id
api_key_env = "MLCT_API_KEY"            # the NAMES of the environment variables holding the keys, never the keys
secret_env = "MLCT_API_SECRET"

[exchange.options]                      # passed to ccxt as its options
defaultType = "spot"

# [exchange.urls]                       # merged into ccxt's urls["api"]: a testnet or a local server
# public = "http://127.0.0.1:8080/api/v3"

[run]
symbols = ["BTC/USDT"]
timeframe = "1m"
strategy = "sma_cross"                  # the forms of mlct backtest --strategy
cash = 10000                            # paper only
out = "runs/live"                       # relative to this file
warmup_bars = 500                       # closed bars fetched by REST before the strategy starts
# streams = ["bars", "trades", "quotes"] # trades and best bid/ask reach the strategies too (default: bars)
# stale_after = 60                      # seconds of silence before the feed resubscribes
# cancel_on_stop = true                 # --live: cancel the session's open orders when it stops

[run.params]
fast = 10
slow = 30

[paper]                                 # the simulated exchange of a paper session: mlct backtest's settings
fee_bps = 10
# slippage_bps = 2
# latency_ms = 0                        # orders reach it at the latest bar's time, as in a back-test

[risk]                                  # limits that hold whatever the strategy does (paper and live alike)
# max_order_notional = 5000             # per order, in the quote currency
# max_position = 1                      # per symbol, open orders counted
# max_position_notional = 20000
# max_open_orders = 10
# max_orders_per_minute = 20
# daily_loss_limit = 500                # in the account currency: no new orders until the UTC day ends
# max_drawdown = 0.2                    # from the session's peak equity: no new orders for the rest of it

# [monitor]                             # a read-only page to watch the session: http://127.0.0.1:8765/
# port = 8765                           # served on 127.0.0.1 only; 0 picks a free port (the log says which)
"""

FILES = {"config.toml": CONFIG, "live.toml": LIVE_CONFIG, "my_strategy.py": STRATEGY}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ip = commands.add_parser("init", help="write a starter config.toml, live.toml and strategy file",
                             description="Write a commented config.toml (the settings mlct backtest --config "
                                         "reads), live.toml (a live or paper session's) and my_strategy.py, a "
                                         "strategy that runs as it is.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ip.add_argument("directory", nargs="?", type=Path, default=Path("."), metavar="DIR",
                    help="where to write them (created if missing; default: the current directory)")
    ip.add_argument("--force", action="store_true", help="overwrite files that exist")
    ip.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not args.force:
        raise ConfigError(f"{', '.join(str(directory / n) for n in existing)} already exist(s): "
                          "use --force to overwrite")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (directory / name).write_text(text)
    config = directory / "config.toml"
    print(f"wrote {config} and {directory / 'my_strategy.py'}\nnext: mlct backtest --config {config}")
    return 0
