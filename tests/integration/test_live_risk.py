"""The risk engine in a paper session refuses the same orders for the same reasons as in the back-test of the same
bars: the limits are one object on one code path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import RiskBreach, Side
from engine.risk import RiskLimits
from engine.session_journal import read_events
from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, PaperRun, trading, wavy_bars
from tests.unit.test_risk import Scripted

HISTORY, WARMUP, LIVE = 40, 5, 12
BUY, SELL = Side.BUY, Side.SELL
CASES = {
    "orders": ({"max_order_notional": 5000, "max_open_orders": 2},
               {WARMUP: [(BUY, 10.0, None), (BUY, 60.0, None)],  # ~6,000 USDT: above the notional limit
                WARMUP + 1: [(BUY, 1.0, 50.0), (BUY, 1.0, 51.0), (BUY, 1.0, 52.0)],  # a third open order
                WARMUP + 3: [(SELL, 5.0, None)]},  # two orders still rest
               ["max_order_notional", "max_open_orders", "max_open_orders"]),
    "positions": ({"max_position": 60, "max_position_notional": 5000, "max_orders_per_minute": 2},
                  {WARMUP: [(BUY, 40.0, None), (BUY, 30.0, None)],  # 70 BTC: above 60
                   WARMUP + 1: [(BUY, 5.0, None), (SELL, 1.0, None), (SELL, 1.0, None)],  # a third this minute
                   WARMUP + 2: [(BUY, 15.0, None)]},  # 59 BTC at about 100: above 5,000 USDT
                  ["max_position", "max_orders_per_minute", "max_position_notional"]),
    "losses": ({"daily_loss_limit": 150, "max_drawdown": "0.02"},
               {WARMUP: [(BUY, 90.0, None)], **{WARMUP + i: [(BUY, 0.5, None)] for i in range(1, LIVE)}},
               None),  # the halts come where the market takes them: the same place in both
}


def breaches(path: Path) -> list[tuple[str, str, str, bool]]:
    return [(e.limit, e.detail, e.client_order_id, e.halted) for e in read_events(path) if isinstance(e, RiskBreach)]


@pytest.mark.parametrize("case", list(CASES))
async def test_each_limit_refuses_the_same_orders_for_the_same_reasons_in_paper_and_in_the_backtest(
        tmp_path: Path, case: str) -> None:
    limits, plan, expected = CASES[case]
    risk = RiskLimits.from_mapping(limits)
    frame = wavy_bars(HISTORY + LIVE + 5)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY) as server:
        run = PaperRun(server, [Scripted(plan)], tmp_path / "paper.sqlite", warmup_bars=WARMUP, max_bars=LIVE,
                       risk=risk)
        await run.run_bars(LIVE)
    backtest = run_backtest(Scripted(plan), frame.iloc[HISTORY - WARMUP:HISTORY + LIVE],
                            BacktestConfig(cash=Decimal(10_000), markets=tuple(run.markets), risk=risk),
                            venue=SimSettings(), symbol=SYMBOL, warmup=WARMUP, journal=tmp_path / "replay.sqlite")
    paper = trading(list(read_events(tmp_path / "paper.sqlite")))
    assert paper == trading(list(read_events(tmp_path / "replay.sqlite")))
    refused = breaches(tmp_path / "paper.sqlite")
    assert refused == breaches(tmp_path / "replay.sqlite")
    if expected is not None:
        assert [limit for limit, _, _, _ in refused] == expected
    else:  # the loss limits: a halt, then every order refused with its reason
        halts = [(limit, detail) for limit, detail, _, halted in refused if halted]
        assert halts, refused
        refusals = [f["reason"] for kind, f in paper if kind == "OrderUpdate" and f["reason"].startswith("risk")]
        assert refusals and all(r == f"risk limit {halts[0][0]}: {halts[0][1]}" for r in refusals)
    reasons = [f["reason"] for kind, f in paper if kind == "OrderUpdate" and f["reason"].startswith("risk limit")]
    assert len(reasons) >= 1
    assert len(backtest.fills) >= 1  # the orders under the limits went through
