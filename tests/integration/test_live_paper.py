"""A paper session, run by the real ccxt.pro client against the loopback Binance server, equals the back-test of
the bars it saw: every bar reaches the strategy once and in order, equal to the server's, and the orders and
fills of the two journals are the same."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import Bar, Fill, Order, OrderUpdate, Quote, Trade
from engine.kernel import WARMING_UP
from engine.session_journal import read_events, read_session
from engine.testing.binance_live import LiveBinanceServer
from strategies.sma_cross import SmaCross
from tests.integration.live_kit import MIN, SYMBOL, PaperRun, wavy_bars

HISTORY, WARMUP, LIVE = 60, 20, 40


def trading(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The bars, orders, order updates and fills of a journal, without the times the engine's own clock stamps
    (an order's, a refusal's: the wall clock live, the bar's close in a back-test). The paper venue goes by
    market time, so its acknowledgements and fills keep their times."""
    kept = []
    for event in events:
        if isinstance(event, Bar | Order | OrderUpdate | Fill):
            fields = dataclasses.asdict(event)
            if isinstance(event, Order) or (isinstance(event, OrderUpdate) and event.reason == WARMING_UP):
                fields.pop("ts")
            kept.append((type(event).__name__, fields))
    return kept


async def test_a_paper_session_takes_every_bar_once_in_order_and_trades_as_its_replay(tmp_path: Path) -> None:
    frame = wavy_bars(HISTORY + LIVE + 5)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "paper.sqlite", warmup_bars=WARMUP,
                       max_bars=LIVE)
        try:
            task = await run.start()
            await run.close_bars(LIVE)
            result = await task
        finally:
            await run.close()
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
    symbols = [SYMBOL, "ETH/USDT"]
    frames = {SYMBOL: wavy_bars(40), "ETH/USDT": wavy_bars(40, seed=11) / 20}
    frames["ETH/USDT"]["volume"] *= 20
    market = MarketLog()
    with LiveBinanceServer(frames, live_from=30) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "two.sqlite", warmup_bars=5, max_bars=6,
                       symbols=symbols, handlers=[market], trades=True, quotes=True)
        try:
            task = await run.start()
            await server.wait_for_subscriptions("btcusdt@trade", "ethusdt@trade")
            await run.close_bars(6)
            result = await task
        finally:
            await run.close()
        served = {s: server.closed_bars(s) for s in symbols}
    for symbol in symbols:
        seen = [[(b.ts - MIN) // 1_000_000, b.open, b.high, b.low, b.close, b.volume]
                for b in run.seen.bars if b.symbol == symbol]
        assert seen == served[symbol][25:36]
        trades = [t for t in market.trades if t.symbol == symbol]
        assert [t.price for t in trades] == [row[4] for row in served[symbol][30:36]]  # one trade a bar, once
        assert len({t.trade_id for t in trades}) == len(trades)
        assert any(q.symbol == symbol and q.bid < q.ask for q in market.quotes)
    assert result is not None and result.stats["n_bars"] == 6
