"""The risk engine in a paper session refuses the same orders for the same reasons as in the back-test of the same
bars: the limits are one object on one code path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import RiskBreach, Side
from engine.risk import RiskLimits
from engine.session_journal import read_events
from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, PaperRun, trading, wavy_bars
from tests.unit.test_risk import Scripted

HISTORY, WARMUP, LIVE = 40, 5, 6
LIMITS = RiskLimits.from_mapping({"max_order_notional": 5000, "max_open_orders": 2})
PLAN = {WARMUP: [(Side.BUY, 10.0, None), (Side.BUY, 60.0, None)],  # ~6,000 USDT: above the notional limit
        WARMUP + 1: [(Side.BUY, 1.0, 50.0), (Side.BUY, 1.0, 51.0), (Side.BUY, 1.0, 52.0)],  # a third open order
        WARMUP + 3: [(Side.SELL, 5.0, None)]}


def breaches(path: Path) -> list[tuple[str, str, str]]:
    return [(e.limit, e.detail, e.client_order_id) for e in read_events(path) if isinstance(e, RiskBreach)]


async def test_a_limit_refuses_the_same_orders_for_the_same_reasons_in_paper_and_in_the_backtest(
        tmp_path: Path) -> None:
    frame = wavy_bars(HISTORY + LIVE + 5)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY) as server:
        run = PaperRun(server, [Scripted(PLAN)], tmp_path / "paper.sqlite", warmup_bars=WARMUP, max_bars=LIVE,
                       risk=LIMITS)
        await run.run_bars(LIVE)
    backtest = run_backtest(Scripted(PLAN), frame.iloc[HISTORY - WARMUP:HISTORY + LIVE],
                            BacktestConfig(cash=Decimal(10_000), markets=tuple(run.markets), risk=LIMITS),
                            venue=SimSettings(), symbol=SYMBOL, warmup=WARMUP, journal=tmp_path / "replay.sqlite")
    paper = trading(list(read_events(tmp_path / "paper.sqlite")))
    replay = trading(list(read_events(tmp_path / "replay.sqlite")))
    assert paper == replay
    refused = breaches(tmp_path / "paper.sqlite")
    # the sell too: two orders still rest
    assert [limit for limit, _, _ in refused] == ["max_order_notional", "max_open_orders", "max_open_orders"]
    assert refused == breaches(tmp_path / "replay.sqlite")
    reasons = [f["reason"] for kind, f in paper if kind == "OrderUpdate" and f["reason"].startswith("risk limit")]
    assert reasons == [f"risk limit {limit}: {detail}" for limit, detail, _ in refused]
    assert len(backtest.fills) >= 1  # the order under the limit went through
