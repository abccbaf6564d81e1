"""The configuration of a live or paper session (``mlct live --config FILE``), checked whole before anything connects.

```toml
[exchange]
id = "binance"                          # any ccxt.pro exchange id
api_key_env = "MLCT_API_KEY"            # names of the environment variables holding the keys
secret_env = "MLCT_API_SECRET"
[exchange.options]                      # passed to ccxt as its options
defaultType = "spot"
[exchange.urls]                         # merged key by key into ccxt's urls["api"] (testnets, local servers)
public = "http://127.0.0.1:8080/api/v3"
[run]
symbols = ["BTC/USDT"]
timeframe = "1m"
strategy = "sma_cross"                  # same forms as `mlct backtest --strategy`
cash = 10000                            # paper only
out = "out"                             # relative to the config file
[run.params]
fast = 10
[paper]                                 # the simulated exchange of a paper session: mlct backtest's settings
fee_bps = 10
[risk]                                  # engine.risk.RiskLimits: any of them, in paper and live alike
max_order_notional = 5000
daily_loss_limit = 500
max_drawdown = 0.2
[monitor]                               # a read-only page on http://127.0.0.1:PORT/ (off without this table)
port = 8765                             # 0: any free port (the log says which)
```

Every error is one ``ConfigError`` naming the key and the value. The keys themselves never enter the
configuration: only the names of the environment variables that hold them, read when a real-money session asks
(``credentials``), so no repr, log or report of a config can show a secret.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.datagen.query import timeframe_delta
from engine.errors import ConfigError
from engine.risk import RiskLimits

__all__ = ["ExchangeConfig", "LiveConfig", "RunConfig", "load_live_config"]

_EXCHANGE_KEYS = {"id", "api_key_env", "secret_env", "options", "urls"}
_RUN_KEYS = {"symbols", "timeframe", "strategy", "cash", "out", "params", "warmup_bars", "streams", "stale_after",
             "cancel_on_stop"}
STREAMS = ("bars", "trades", "quotes")


@dataclass(frozen=True)
class ExchangeConfig:
    """Which exchange, how ccxt is set up for it, and where its keys are (names of environment variables)."""

    id: str
    api_key_env: str | None = None
    secret_env: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    urls: Mapping[str, Any] = field(default_factory=dict)

    def credentials(self, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
        """Return (api key, secret) from the environment; ``ConfigError`` naming the variable that is unset."""
        if not self.api_key_env or not self.secret_env:
            raise ConfigError("exchange.api_key_env and exchange.secret_env must name the environment variables "
                              "that hold the keys of a real-money session")
        values = []
        for variable in (self.api_key_env, self.secret_env):
            value = environ.get(variable, "")
            if not value:
                raise ConfigError(f"environment variable {variable} (named by the config) is not set")
            values.append(value)
        return values[0], values[1]


@dataclass(frozen=True)
class RunConfig:
    """What the session runs: the symbols and bar length it watches, the strategy and its parameters."""

    symbols: tuple[str, ...]
    timeframe: str
    strategy: str = "sma_cross"
    cash: Decimal = Decimal(10_000)
    out: Path = Path("out")
    params: Mapping[str, Any] = field(default_factory=dict)
    warmup_bars: int = 500
    streams: tuple[str, ...] = ("bars",)  # of STREAMS: bars always; trades and quotes reach the strategies too
    stale_after: float = 60.0  # seconds a stream may stay silent before the feed resubscribes
    cancel_on_stop: bool = True  # real orders: cancel the session's open orders when it stops


@dataclass(frozen=True)
class LiveConfig:
    exchange: ExchangeConfig
    run: RunConfig
    paper: Mapping[str, Any]  # the simulated exchange's settings (``adapters.sim.SimSettings``), checked by it
    base: Path  # the config file's directory: the strategy and out paths are relative to it
    risk: RiskLimits = field(default_factory=RiskLimits)
    monitor_port: int | None = None  # [monitor] port: where the session serves its page on 127.0.0.1 (None: off)


def load_live_config(path: str | Path) -> LiveConfig:
    """Read and check the TOML at ``path``; raise ``ConfigError`` naming the first key and value that are wrong."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    unknown = set(document) - {"exchange", "run", "paper", "risk", "monitor"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (known: exchange, run, paper, "
                          "risk, monitor)")
    exchange = _table(document, "exchange", _EXCHANGE_KEYS)
    run = _table(document, "run", _RUN_KEYS)
    paper = document.get("paper", {})
    if not isinstance(paper, dict):
        raise ConfigError(f"[paper] must be a table, got {paper!r}")
    risk = document.get("risk", {})
    if not isinstance(risk, dict):
        raise ConfigError(f"[risk] must be a table, got {risk!r}")
    monitor = _table(document, "monitor", {"port"}) if "monitor" in document else None
    return LiveConfig(exchange=_exchange(exchange), run=_run(run, path.parent), paper=paper, base=path.parent,
                      risk=RiskLimits.from_mapping(risk), monitor_port=None if monitor is None else _port(monitor))


def _table(document: Mapping[str, Any], name: str, known: set[str]) -> dict[str, Any]:
    table = document.get(name)
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table, got {table!r}")
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    return table


def _exchange(table: dict[str, Any]) -> ExchangeConfig:
    import ccxt.pro

    exchange_id = table.get("id")
    if not isinstance(exchange_id, str) or exchange_id not in ccxt.pro.exchanges:
        raise ConfigError(f"exchange.id must be a ccxt.pro exchange id, got {exchange_id!r}")
    for key in ("api_key_env", "secret_env"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.isidentifier()):
            raise ConfigError(f"exchange.{key} must name an environment variable, got {value!r}")
    for key in ("options", "urls"):
        if not isinstance(table.get(key, {}), dict):
            raise ConfigError(f"exchange.{key} must be a table, got {table[key]!r}")
    return ExchangeConfig(id=exchange_id, api_key_env=table.get("api_key_env"), secret_env=table.get("secret_env"),
                          options=table.get("options", {}), urls=table.get("urls", {}))


def _run(table: dict[str, Any], base: Path) -> RunConfig:
    symbols = table.get("symbols")
    if (not isinstance(symbols, list) or not symbols
            or not all(isinstance(s, str) and s.count("/") == 1 and all(s.split("/")) for s in symbols)):
        raise ConfigError(f"run.symbols must be a non-empty list of BASE/QUOTE symbols, got {symbols!r}")
    timeframe = table.get("timeframe")
    try:
        timeframe_delta(str(timeframe))
    except (ConfigError, ValueError):
        raise ConfigError(f"run.timeframe must be a bar length such as 1m, 1h or 1d, got {timeframe!r}") from None
    strategy = table.get("strategy", "sma_cross")
    if not isinstance(strategy, str) or not strategy:
        raise ConfigError(f"run.strategy must be a strategy name, module:Class or file.py:Class, got {strategy!r}")
    cash = _positive_decimal("run.cash", table.get("cash", 10_000))
    out = table.get("out", "out")
    if not isinstance(out, str) or not out:
        raise ConfigError(f"run.out must be a directory, got {out!r}")
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"run.params must be a table, got {params!r}")
    warmup = table.get("warmup_bars", 500)
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ConfigError(f"run.warmup_bars must be a whole number of bars >= 0, got {warmup!r}")
    streams = table.get("streams", ["bars"])
    if not (isinstance(streams, list) and "bars" in streams and all(s in STREAMS for s in streams)):
        raise ConfigError(f"run.streams must be a list of {', '.join(STREAMS)} with bars in it, got {streams!r}")
    stale_after = table.get("stale_after", 60.0)
    if isinstance(stale_after, bool) or not isinstance(stale_after, int | float) or not 0 < stale_after < 1e6:
        raise ConfigError(f"run.stale_after must be a positive number of seconds, got {stale_after!r}")
    cancel_on_stop = table.get("cancel_on_stop", True)
    if not isinstance(cancel_on_stop, bool):
        raise ConfigError(f"run.cancel_on_stop must be true or false, got {cancel_on_stop!r}")
    return RunConfig(symbols=tuple(symbols), timeframe=str(timeframe), strategy=strategy, cash=cash,
                     out=base / Path(out).expanduser(), params=params, warmup_bars=warmup,
                     streams=tuple(dict.fromkeys(streams)), stale_after=float(stale_after),
                     cancel_on_stop=cancel_on_stop)


def _port(table: dict[str, Any]) -> int:
    port = table.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"monitor.port must be a TCP port from 0 to 65535 (0: any free one; leave out [monitor] "
                          f"for no page), got {port!r}")
    return port


def _positive_decimal(name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not result.is_finite() or result <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return result
