"""The risk engine in a back-test: each limit refuses the order that would break it, naming the limit and the
figures, and lets the others through; the loss limits halt after the loss, not before; every breach is journaled;
bad limits are refused naming the key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, BacktestResult, run_backtest
from engine.cli import main
from engine.errors import ConfigError
from engine.events import Bar, OrderStatus, OrderType, RiskBreach, Side
from engine.risk import RiskLimits
from engine.session_journal import read_events
from engine.strategy import Strategy

# A step: (side, quantity, limit price or None for market)
Step = tuple[Side, float, float | None]


class Scripted(Strategy):
    """Send the orders of ``plan`` on the bars they are keyed by (0: the first bar the strategy sees)."""

    def __init__(self, plan: Mapping[int, Sequence[Step]]) -> None:
        super().__init__()
        self.plan = plan
        self.seen = 0
        self.sent: list[str] = []

    def on_bar(self, bar: Bar) -> None:
        for side, quantity, price in self.plan.get(self.seen, ()):
            kind = OrderType.MARKET if price is None else OrderType.LIMIT
            record = self.submit(side, bar.symbol, quantity, price=price, type=kind)
            self.sent.append(record.order.client_order_id)
        self.seen += 1


def bars(closes: Sequence[float], *, freq: str = "1min", start: str = "2024-01-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=len(closes), freq=freq, tz="UTC", name="ts")
    opens = [closes[0], *closes[:-1]]
    return pd.DataFrame({"open": opens, "high": [max(o, c) for o, c in zip(opens, closes, strict=True)],
                         "low": [min(o, c) for o, c in zip(opens, closes, strict=True)], "close": list(closes),
                         "volume": [1e6] * len(closes)}, index=index)


def run(plan: Mapping[int, Sequence[Step]], closes: Sequence[float], journal: Path | None = None,
        freq: str = "1min", **limits: Any) -> tuple[BacktestResult, Scripted]:
    strategy = Scripted(plan)
    result = run_backtest(strategy, bars(closes, freq=freq), BacktestConfig(risk=RiskLimits.from_mapping(limits)),
                          venue=SimSettings(fee_bps=0), symbol="BTC/USD", journal=journal)
    return result, strategy


def outcomes(result: BacktestResult) -> list[tuple[str, str]]:
    """Each order's status and reason, in the order they were sent."""
    orders = result.orders
    return [(str(s), str(r) if isinstance(r, str) else "") for s, r in zip(orders["status"], orders["reason"],
                                                                         strict=True)]


BUY, SELL = Side.BUY, Side.SELL
FLAT = [100.0] * 10


def status_and_reason(result: BacktestResult, i: int) -> tuple[OrderStatus, str]:
    status, reason = outcomes(result)[i]
    return OrderStatus(status), reason


def test_max_order_notional_refuses_the_order_above_it_with_the_figures() -> None:
    result, _ = run({1: [(BUY, 10, None), (BUY, 60, None)]}, FLAT, max_order_notional=5000)
    assert status_and_reason(result, 0)[0] is OrderStatus.FILLED
    assert status_and_reason(result, 1) == (
        OrderStatus.REJECTED, "risk limit max_order_notional: the order's notional 6000 USD is above 5000")


def test_max_position_counts_open_orders_and_never_refuses_a_move_toward_flat() -> None:
    plan = {1: [(BUY, 1, None)], 3: [(BUY, 1, 90.0), (BUY, 1, None)], 5: [(SELL, 1, None)]}
    result, _ = run(plan, FLAT, max_position="2")
    statuses = [status_and_reason(result, i) for i in range(4)]
    assert statuses[0][0] is OrderStatus.FILLED and statuses[1][0] is OrderStatus.ACCEPTED  # 1 held, 1 resting
    assert statuses[2] == (OrderStatus.REJECTED,
                           "risk limit max_position: BTC/USD would reach 3 (open orders counted), above 2")
    assert statuses[3][0] is OrderStatus.FILLED  # a sell of a long position: toward flat


def test_max_position_notional_prices_the_position_at_the_orders_price() -> None:
    result, _ = run({1: [(BUY, 30, None)], 2: [(BUY, 30, None)]}, FLAT, max_position_notional=5000)
    assert status_and_reason(result, 0)[0] is OrderStatus.FILLED
    assert status_and_reason(result, 1) == (
        OrderStatus.REJECTED, "risk limit max_position_notional: BTC/USD would reach 6000 USD at 100 (open orders "
                              "counted), above 5000")


def test_max_open_orders_and_max_orders_per_minute() -> None:
    resting = [(BUY, 1, 50.0), (BUY, 1, 51.0), (BUY, 1, 52.0)]
    result, _ = run({1: resting}, FLAT, max_open_orders=2)
    assert [s for s, _ in outcomes(result)] == ["accepted", "accepted", "rejected"]
    assert outcomes(result)[2][1] == "risk limit max_open_orders: 2 orders are open, the limit is 2"
    market = [(BUY, 1, None)] * 3
    result, _ = run({1: market, 2: market}, FLAT, max_orders_per_minute=2)
    assert [s for s, _ in outcomes(result)] == ["filled", "filled", "rejected"] * 2  # a minute on, two more
    assert outcomes(result)[2][1] == ("risk limit max_orders_per_minute: 2 orders were sent in the last minute, "
                                      "the limit is 2")


def test_the_daily_loss_limit_halts_after_the_loss_not_before_and_lifts_the_next_day(tmp_path: Path) -> None:
    # hourly bars: day one falls from 100 to 80 while holding 50 BTC (a loss of 1,000), day two is flat
    closes = [100.0, 100.0, 96.0, 92.0, 88.0, 84.0, 80.0] + [80.0] * 30
    plan = {0: [(BUY, 50, None)], 3: [(BUY, 1, None)], 6: [(BUY, 1, None)], 30: [(BUY, 1, None)]}
    journal = tmp_path / "risk.journal"
    result, _ = run(plan, closes, journal=journal, freq="1h", daily_loss_limit=500)
    statuses = outcomes(result)
    assert statuses[0][0] == "filled" and statuses[1][0] == "filled"  # lost 400 by bar 3: under the limit
    assert statuses[2][0] == "rejected" and statuses[2][1].startswith(
        "risk limit daily_loss_limit: lost 604.00 USD since the UTC day began (limit 500)")  # 50 + 1 BTC
    assert statuses[3][0] == "filled"  # the next UTC day
    breaches = [e for e in read_events(journal) if isinstance(e, RiskBreach)]
    assert [(b.limit, b.halted) for b in breaches] == [("daily_loss_limit", True), ("daily_loss_limit", False)]


def test_max_drawdown_halts_for_the_rest_of_the_session(tmp_path: Path) -> None:
    closes = [100.0, 100.0, 120.0, 110.0, 100.0, 95.0, 130.0, 130.0]
    plan = {0: [(BUY, 50, None)], 3: [(SELL, 1, None)], 5: [(SELL, 1, None)], 7: [(SELL, 1, None)]}
    result, _ = run(plan, closes, journal=tmp_path / "j", max_drawdown="0.1")
    assert [s for s, _ in outcomes(result)] == ["filled", "filled", "rejected", "rejected"]
    assert "risk limit max_drawdown: equity" in outcomes(result)[2][1] and "limit 10.0%" in outcomes(result)[2][1]
    breaches = [e for e in read_events(tmp_path / "j") if isinstance(e, RiskBreach)]
    assert [(b.limit, b.halted) for b in breaches] == [("max_drawdown", True)]  # once, never lifted


def test_a_refusal_is_journaled_with_the_order_it_refused(tmp_path: Path) -> None:
    result, strategy = run({1: [(BUY, 60, None)]}, FLAT, journal=tmp_path / "j", max_order_notional=5000)
    (breach,) = [e for e in read_events(tmp_path / "j") if isinstance(e, RiskBreach)]
    assert (breach.limit, breach.client_order_id, breach.halted) == ("max_order_notional", strategy.sent[0], False)
    assert result.config["risk"] == {"max_order_notional": "5000"}


@pytest.mark.parametrize(("limits", "named"), [
    ({"max_notional": 1}, "unknown risk limit 'max_notional'"),
    ({"max_open_orders": 1.5}, "max_open_orders must be a whole number"),
    ({"max_order_notional": -5}, "max_order_notional must be positive"),
    ({"max_drawdown": 20}, "max_drawdown is a fraction"),
    ({"daily_loss_limit": True}, "daily_loss_limit must be a number"),
    ({"max_position": "nan"}, "max_position must be a number"),
])
def test_bad_limits_are_refused_naming_the_key(limits: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        RiskLimits.from_mapping(limits)


def test_the_backtest_command_takes_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--risk", "max_open_orders=x", "--quiet"]) == 2
    assert "max_open_orders must be a whole number" in capsys.readouterr().err
    assert main(["backtest", "--risk", "max_order_notional=1", "--quiet", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"max_order_notional": "1"' in out and '"n_trades": 0' in out


def test_limits_never_change_a_run_they_do_not_touch() -> None:
    plan = {1: [(BUY, 10, None)], 4: [(SELL, 10, None)]}
    plain, _ = run(plan, FLAT)
    limited, _ = run(plan, FLAT, max_order_notional=100_000, max_open_orders=5, daily_loss_limit=10_000)
    assert outcomes(plain) == outcomes(limited)
    assert Decimal(str(plain.stats["final_equity"])) == Decimal(str(limited.stats["final_equity"]))
