"""A paper session, run by the real ccxt.pro client against the loopback Binance server, equals the back-test of
the bars it saw: every bar reaches the strategy once and in order, equal to the server's, and the orders and
fills of the two journals are the same."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import Bar, HandlerFailed, Quote, Timer, Trade
from engine.session_journal import read_events, read_session
from engine.testing.binance_live import LiveBinanceServer
from strategies.sma_cross import SmaCross
from tests.integration.live_kit import MIN, SYMBOL, PaperRun, trading, wait_until, wavy_bars

HISTORY, WARMUP, LIVE = 60, 20, 40


async def test_a_paper_session_takes_every_bar_once_in_order_and_trades_as_its_replay(tmp_path: Path) -> None:
    frame = wavy_bars(HISTORY + LIVE + 5)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "paper.sqlite", warmup_bars=WARMUP,
                       max_bars=LIVE)
        result = await run.run_bars(LIVE)
        served = server.closed_bars(SYMBOL)

    # Every bar reached the strategy once, in order, equal to the server's: the warm-up's and the live ones.
    seen = [[(b.ts - MIN) // 1_000_000, b.open, b.high, b.low, b.close, b.volume] for b in run.seen.bars]
    assert seen == served[HISTORY - WARMUP:HISTORY + LIVE]
    assert result is not None and result.stats["n_bars"] == LIVE
    paper_events = list(read_events(tmp_path / "paper.sqlite"))
    assert read_session(tmp_path / "paper.sqlite")["warmup_events"] == WARMUP

    # The back-test of the same bars, with the same warm-up, journaled the same way.
    replayed = frame.iloc[HISTORY - WARMUP:HISTORY + LIVE]
    backtest = run_backtest(SmaCross(fast=3, slow=8), replayed, BacktestConfig(cash=Decimal(10_000),
                            markets=tuple(run.markets)), venue=SimSettings(), symbol=SYMBOL, warmup=WARMUP,
                            journal=tmp_path / "replay.sqlite")
    replay_events = list(read_events(tmp_path / "replay.sqlite"))
    paper, replay = trading(paper_events), trading(replay_events)
    assert sum(kind == "Fill" for kind, _ in paper) >= 4  # the market made the cross trade: a real comparison
    assert paper == replay
    assert result.balances == backtest.balances and set(result.balances) <= {"USDT", "BTC"}
    pd.testing.assert_frame_equal(result.equity, backtest.equity)
    refused = [f["client_order_id"] for kind, f in paper if kind == "OrderUpdate" and f["status"].name == "REJECTED"]
    first_live = [i for i, (kind, _) in enumerate(paper) if kind == "Bar"][WARMUP]
    made_live = [f["client_order_id"] for kind, f in paper[first_live:] if kind == "Order"]
    assert made_live
    assert refused and not set(refused) & set(made_live)  # only orders made while warming up were refused


class MarketLog:
    """A handler that keeps the trades and quotes the session handled."""

    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.quotes: list[Quote] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_quote(self, quote: Quote) -> None:
        self.quotes.append(quote)


async def test_several_symbols_with_their_trades_and_quotes_reach_the_session(tmp_path: Path) -> None:
    """Trades once each (a repeated one dropped, a malformed one dropped and logged), quotes as they change."""
    symbols = [SYMBOL, "ETH/USDT"]
    frames = {SYMBOL: wavy_bars(40), "ETH/USDT": wavy_bars(40, seed=11) / 20}
    frames["ETH/USDT"]["volume"] *= 20
    market = MarketLog()
    with LiveBinanceServer(frames, live_from=30) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "two.sqlite", warmup_bars=9, max_bars=6,
                       symbols=symbols, handlers=[market], trades=True, quotes=True)
        try:
            task = await run.start()
            await server.wait_for_subscriptions("btcusdt@trade", "ethusdt@trade", "btcusdt@bookTicker",
                                                "ethusdt@bookTicker")
            faults = {1: lambda: server.inject("duplicate", stream="trade", symbol=SYMBOL),
                      2: lambda: server.inject("malformed", stream="trade", symbol=SYMBOL),
                      3: lambda: server.inject("malformed", stream="bookTicker", symbol="ETH/USDT")}
            await run.close_bars(6, before=lambda i: faults.get(i, lambda: None)())
            result = await task
        finally:
            await run.close()
        served = {s: server.closed_bars(s) for s in symbols}
    assert run.feed.health.faults["malformed"] >= 1
    for symbol in symbols:
        seen = [[(b.ts - MIN) // 1_000_000, b.open, b.high, b.low, b.close, b.volume]
                for b in run.seen.bars if b.symbol == symbol]
        assert seen == served[symbol][21:36]
        trades = [t for t in market.trades if t.symbol == symbol]
        closes = [row[4] for row in served[symbol][30:36]]
        if symbol == SYMBOL:
            del closes[2]  # the malformed trade
        assert [t.price for t in trades] == closes  # one trade a bar, once
        assert len({t.trade_id for t in trades}) == len(trades)
        assert any(q.symbol == symbol and q.bid < q.ask for q in market.quotes)
    assert result is not None and result.stats["n_bars"] == 6


class Alarmed(SmaCross):
    """The cross, plus an alarm 300 ms after the start whose wall-clock time is noted."""

    def on_start(self) -> None:
        self.started = time.monotonic()
        self.rang: list[float] = []
        self.set_timer("alarm", self.now() + 300_000_000)

    def on_timer(self, timer: Timer) -> None:
        self.rang.append(time.monotonic() - self.started)


class Faulty:
    """A user handler that fails on one bar."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars == self.fail_at:
            raise RuntimeError("a bug in a user's handler")


async def test_a_timer_fires_on_time_without_market_data_and_a_failing_handler_does_not_stop_the_session(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    strategy = Alarmed(fast=3, slow=8)
    faulty = Faulty(fail_at=12)  # the second live bar, after 10 of warm-up
    with LiveBinanceServer({SYMBOL: wavy_bars(40)}, live_from=30) as server:
        run = PaperRun(server, [strategy], tmp_path / "timer.sqlite", warmup_bars=10, max_bars=4, handlers=[faulty])
        try:
            task = await run.start()
            await wait_until(lambda: bool(strategy.rang), "the alarm", timeout=10)
            with caplog.at_level(logging.ERROR, logger="engine.bus"):
                await run.close_bars(4)
            result = await task
        finally:
            await run.close()
    assert len(run.seen.bars) == 10 + 4  # no bar arrived before the alarm rang; every bar after the failure came
    assert 0.29 <= strategy.rang[0] < 5.0
    failures = [e for e in read_events(tmp_path / "timer.sqlite") if isinstance(e, HandlerFailed)]
    assert len(failures) == 1 and "a bug in a user's handler" in failures[0].error
    assert "a bug in a user's handler" in caplog.text
    assert result is not None and result.stats["n_bars"] == 4
