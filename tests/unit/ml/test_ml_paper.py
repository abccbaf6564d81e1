"""The ml_signal strategy, unchanged, in a paper session on the real ccxt.pro client against the loopback server:
its warm-up, raised to what the model's features need, readies them, and its signals (with their explanations),
orders and fills equal a back-test's of the same bars."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import Bar, Signal
from engine.session_journal import read_events, read_session
from engine.testing.binance_live import LiveBinanceServer
from strategies.ml_signal import MlSignal
from tests.integration.live_kit import PaperRun, trading

from .conftest import SmallRun

LIVE_FROM, LIVE = 4700, 40
SYMBOL = "BTC/USDT"  # the exchange's name for the market the model was trained on (BTC/USD)


async def test_ml_signal_trades_in_paper_as_in_its_replay(small_run: SmallRun, tmp_path: Path) -> None:
    frame = small_run.frame
    params = {"model": str(small_run.directory), "threshold": 0.45, "symbol": SYMBOL}
    warmup = MlSignal(**params).warmup_bars()
    assert warmup > 100
    with LiveBinanceServer({SYMBOL: frame}, interval="1h", live_from=LIVE_FROM) as server:
        run = PaperRun(server, [MlSignal(**params)], tmp_path / "paper.sqlite", warmup_bars=100,
                       max_bars=LIVE, timeframe="1h")
        result = await run.run_bars(LIVE)

    assert read_session(tmp_path / "paper.sqlite")["warmup_events"] == warmup  # 100 asked, raised to the need
    paper = list(read_events(tmp_path / "paper.sqlite"))
    live_ts = sorted(e.ts for e in paper if isinstance(e, Bar))[-LIVE:]
    live_signals = [e for e in paper if isinstance(e, Signal) and e.name == "ml" and e.ts >= live_ts[0]]
    assert [s.ts for s in live_signals] == live_ts  # a signal at every live bar: the warm-up readied the features
    assert all(s.contributions for s in live_signals if s.direction)
    replayed = frame.iloc[LIVE_FROM - warmup:LIVE_FROM + LIVE]
    backtest = run_backtest(MlSignal(**params), replayed, BacktestConfig(cash=Decimal(10_000),
                            markets=tuple(run.markets)), venue=SimSettings(), symbol=SYMBOL, warmup=warmup,
                            journal=tmp_path / "replay.sqlite")
    replay = list(read_events(tmp_path / "replay.sqlite"))
    assert trading(paper) == trading(replay)
    assert sum(isinstance(e, Signal) and e.direction != 0 for e in paper) > 0
    assert result is not None and result.balances == backtest.balances
