"""The Strategy API through whole back-tests on hand-made bars: hooks, order helpers, timers, errors."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from adapters.sim import SimSettings, SimulatedExchange
from engine.backtest import BacktestConfig, run_backtest
from engine.errors import ConfigError, EngineError, HandlerError, StrategyError
from engine.events import Bar, Fill, MarketData, OrderStatus, OrderType, OrderUpdate, Side, TimeInForce, Timer
from engine.ledger import Ledger
from engine.orders import OrderManager
from engine.strategy import Strategy

HOUR = 3600 * 10**9
SYMBOL = "BTC/USD"


def bars(closes: list[float]) -> pd.DataFrame:
    """Bars whose open is the previous close; high/low 1 above/below the larger/smaller of open and close."""
    opens = [closes[0], *closes[:-1]]
    index = pd.date_range("2024-01-01", periods=len(closes), freq="1h", tz="UTC", name="ts")
    return pd.DataFrame({"open": opens, "high": [max(o, c) + 1 for o, c in zip(opens, closes, strict=True)],
                         "low": [min(o, c) - 1 for o, c in zip(opens, closes, strict=True)], "close": closes,
                         "volume": [100.0] * len(closes)}, index=index)


class Scripted(Strategy):
    """Run ``script[i](self, bar)`` on the i-th bar; record every hook call."""

    def __init__(self, script: dict[int, Any]) -> None:
        super().__init__()
        self.script = script
        self.calls: list[tuple[str, Any]] = []
        self.n = 0

    def on_start(self) -> None:
        self.calls.append(("start", None))

    def on_bar(self, bar: Bar) -> None:
        action = self.script.get(self.n)
        self.n += 1
        if action:
            action(self, bar)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.calls.append(("update", (update.client_order_id, update.status, update.reason)))

    def on_fill(self, fill: Fill) -> None:
        # the ledger has already booked the fill when the strategy hears of it
        self.calls.append(("fill", (fill.client_order_id, fill.price, self.position(fill.symbol))))

    def on_timer(self, timer: Timer) -> None:
        self.calls.append(("timer", (timer.name, timer.ts, self.now())))

    def on_stop(self) -> None:
        self.calls.append(("stop", None))


def run(script: dict[int, Any], closes: list[float], **config: Any) -> tuple[Scripted, Any]:
    strategy = Scripted(script)
    venue = SimSettings(fee_bps=0, slippage="none")
    result = run_backtest(strategy, bars(closes), BacktestConfig(**config), venue=venue, symbol=SYMBOL)
    return strategy, result


def test_market_buy_fills_at_next_open_and_hooks_run_in_order() -> None:
    strategy, result = run({0: lambda s, b: s.buy(SYMBOL, 1)}, [100, 105, 103])
    kinds = [c[0] for c in strategy.calls]
    assert kinds == ["start", "update", "fill", "update", "stop"]
    assert strategy.calls[2][1] == ("Scripted-1", Decimal("100"), Decimal("1"))  # next open = 100
    assert result.ledger.balance("USD") == Decimal("9900")
    assert result.equity["equity"].tolist() == [10_000.0, 10_005.0, 10_003.0]


def test_limit_stop_and_cancel_helpers() -> None:
    script = {
        0: lambda s, b: (s.buy(SYMBOL, 1, price=97),  # rests; bar 2 trades through 97
                         s.buy(SYMBOL, 1, price=50),  # never fills, cancelled on bar 3
                         s.submit(Side.BUY, SYMBOL, 1, type=OrderType.STOP_MARKET, stop_price=104)),
        3: lambda s, b: s.cancel_all(SYMBOL),
    }
    _, result = run(script, [100, 103, 96, 106, 107])
    orders = result.orders.set_index("client_order_id")
    assert orders.loc["Scripted-1", "status"] == "filled" and orders.loc["Scripted-1", "average_price"] == 97
    assert orders.loc["Scripted-2", "status"] == "cancelled"
    assert orders.loc["Scripted-3", "status"] == "filled" and orders.loc["Scripted-3", "average_price"] == 104
    assert result.ledger.position(SYMBOL).quantity == Decimal(2)


def test_target_position_and_percent_count_open_orders() -> None:
    script = {
        0: lambda s, b: (s.target_position(SYMBOL, 2), s.target_position(SYMBOL, 2)),  # second is a no-op
        2: lambda s, b: s.target_percent(SYMBOL, 0.5),  # equity 10010 at close 105 -> 47.66... BTC
        4: lambda s, b: s.target_position(SYMBOL, 0),
    }
    _, result = run(script, [100, 100, 105, 106, 108, 110])
    assert len(result.orders) == 3
    quantities = result.orders["quantity"].tolist()
    assert quantities[0] == 2.0
    assert quantities[1] == pytest.approx(10_010 * 0.5 / 105 - 2, abs=1e-8)
    assert result.ledger.position(SYMBOL).quantity == 0
    assert result.stats["n_trades"] == 1


def test_overspending_order_is_rejected_with_reason_and_changes_nothing() -> None:
    strategy, result = run({0: lambda s, b: s.buy(SYMBOL, 1000)}, [100, 101])
    update = next(c[1] for c in strategy.calls if c[0] == "update")
    assert update[1] is OrderStatus.REJECTED and "USD" in update[2] and "free" in update[2]
    assert result.ledger.balance("USD") == Decimal("10000") and result.ledger.reserved("USD") == 0
    assert result.orders.loc[0, "status"] == "rejected"


def test_set_aside_cash_cannot_be_spent() -> None:
    _, result = run({0: lambda s, b: s.buy(SYMBOL, 60)}, [100, 101], set_aside=Decimal(5000))
    assert result.orders.loc[0, "status"] == "rejected"
    _, result = run({0: lambda s, b: s.buy(SYMBOL, 40)}, [100, 101], set_aside=Decimal(5000))
    assert result.orders.loc[0, "status"] == "filled"


def test_ioc_and_post_only_flags_reach_the_venue() -> None:
    script = {0: lambda s, b: (s.buy(SYMBOL, 1, price=90, time_in_force=TimeInForce.IOC),
                               s.buy(SYMBOL, 1, price=150, post_only=True))}
    _, result = run(script, [100, 101, 102])
    statuses = result.orders.set_index("client_order_id")["status"]
    assert statuses["Scripted-1"] in ("cancelled", "expired")
    assert statuses["Scripted-2"] in ("rejected", "cancelled")


def test_timers_fire_between_bars_with_the_clock_at_their_time() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC").value
    script = {0: lambda s, b: s.set_timer("half-hour", b.ts + HOUR // 2, interval=HOUR)}
    strategy, _ = run(script, [100, 101, 102])
    timers = [c[1] for c in strategy.calls if c[0] == "timer"]
    first_close = start + HOUR
    assert timers == [("half-hour", first_close + HOUR // 2, first_close + HOUR // 2),
                      ("half-hour", first_close + 3 * HOUR // 2, first_close + 3 * HOUR // 2)]


def test_ledger_is_read_only_to_strategies() -> None:
    def poke(s: Strategy, b: Bar) -> None:
        assert s.ledger.balance("USD") == Decimal(10_000)
        with pytest.raises(AttributeError, match="read-only"):
            _ = s.ledger.apply_fill
        with pytest.raises(AttributeError, match="read-only"):
            s.ledger.x = 1

    strategy, _ = run({0: poke}, [100, 101])
    assert strategy.n == 2


def test_strategy_exception_stops_the_backtest_naming_hook_and_event() -> None:
    def boom(s: Strategy, b: Bar) -> None:
        raise ZeroDivisionError("oops")

    with pytest.raises(HandlerError, match=r"Scripted\.on_bar.*Bar\(ts=.*ZeroDivisionError: oops"):
        run({1: boom}, [100, 101, 102])


def test_parameters_are_checked_and_coerced() -> None:
    class P(Strategy):
        params = {"n": 3, "ratio": 0.5, "on": False, "name": "x"}

    assert P(n="7", ratio="0.25", on="yes").p == {"n": 7, "ratio": 0.25, "on": True, "name": "x"}
    with pytest.raises(ConfigError, match="unknown parameter 'm'"):
        P(m=1)
    with pytest.raises(ConfigError, match="parameter 'on' must be a bool"):
        P(on="maybe")


def test_two_fills_of_one_bar_that_the_cash_cannot_pay_together_cancel_the_second() -> None:
    # Each buy of 45 at the close of 100 is affordable alone (4500 reserved each, 1000 free). The next bar gaps up
    # to 120: the first fill takes 5400 (its 4500 and 900 of the free cash), the second would need 5400 of the
    # 4600 left. The real ledger must count the first fill before the bus books it, and refuse the second.
    frame = bars([100, 120, 121])
    frame.loc[frame.index[1], ["open", "low"]] = [120.0, 119.0]  # a gap: bar 1 opens at 120, not at 100
    strategy = Scripted({0: lambda s, b: (s.buy(SYMBOL, 45), s.buy(SYMBOL, 45))})
    result = run_backtest(strategy, frame, venue=SimSettings(fee_bps=0, slippage="none"), symbol=SYMBOL)
    orders = result.orders.set_index("client_order_id")
    assert orders.loc["Scripted-1", "status"] == "filled"
    assert orders.loc["Scripted-2", "status"] == "cancelled"
    reason = next(r for c, (cid, status, r) in ((c[0], c[1]) for c in strategy.calls if c[0] == "update")
                  if cid == "Scripted-2" and status is OrderStatus.CANCELLED)
    assert "USD" in reason and "5400" in reason
    ledger = result.ledger
    assert ledger.balance("USD") == Decimal("4600") and ledger.balance("BTC") == Decimal("45")
    assert ledger.reserved("USD") == 0
    assert [c[0] for c in strategy.calls][-1] == "stop"


@pytest.mark.parametrize(("action", "reason"), [
    (lambda s: s.buy(SYMBOL, 1e-9), "quantity 1e-09 rounds to 0E-8 at the increment 1E-8"),
    (lambda s: s.buy(SYMBOL, float("nan")), "quantity nan is not a finite number"),
    (lambda s: s.sell(SYMBOL, float("inf")), "quantity inf is not a finite number"),
    (lambda s: s.buy(SYMBOL, -2), "quantity -2 is not positive"),
    (lambda s: s.buy(SYMBOL, 1, price=float("nan")), "price nan is not a finite number"),
    (lambda s: s.buy(SYMBOL, 1, price=0.004), "price 0.004 rounds to 0.00 at the increment 0.01"),
    (lambda s: s.submit(Side.BUY, SYMBOL, 1, type=OrderType.STOP_MARKET, stop_price=float("-inf")),
     "stop_price -inf is not a finite number"),
    (lambda s: s.submit(Side.BUY, SYMBOL, 1, type=OrderType.LIMIT), "limit order needs price"),
    (lambda s: s.target_position(SYMBOL, float("nan")), "quantity nan is not a finite number"),
])
def test_an_order_that_cannot_be_sent_comes_back_rejected_and_the_run_goes_on(action: Any, reason: str) -> None:
    script = {0: lambda s, b: action(s), 1: lambda s, b: s.buy(SYMBOL, 1)}
    strategy, result = run(script, [100, 101, 102])
    first = strategy.calls[1]
    assert first[0] == "update"
    cid, status, said = first[1]
    assert (cid, status) == ("Scripted-1", OrderStatus.REJECTED)
    assert said == f"order 'Scripted-1' on {SYMBOL}: {reason}"
    orders = result.orders.set_index("client_order_id")
    assert orders.loc["Scripted-1", "status"] == "rejected" and orders.loc["Scripted-1", "reason"] == said
    assert orders.loc["Scripted-2", "status"] == "filled"  # the next order of the run went through
    assert result.ledger.position(SYMBOL).quantity == 1 and result.ledger.reserved("USD") == 0


def test_a_failing_kernel_component_is_an_engine_error_naming_it_and_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def on_bar(self: Ledger, bar: Bar) -> None:
        raise ArithmeticError("a broken invariant")

    monkeypatch.setattr(Ledger, "on_bar", on_bar)
    with pytest.raises(EngineError) as info:
        run({}, [100, 101])
    assert not isinstance(info.value, StrategyError)
    assert info.value.component == "ledger" and isinstance(info.value.event, Bar)
    assert re.match(r"engine error in the ledger \(Ledger\.on_bar\) on Bar\(ts=.*ArithmeticError: a broken invariant",
                    str(info.value))


def test_a_failing_venue_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def on_market_data(self: SimulatedExchange, event: MarketData) -> None:
        raise KeyError("lost book")

    class AsyncAudit:  # a coroutine handler: the kernel's general path instead of the replay loop
        async def on_bar(self, bar: Bar) -> None: ...

    monkeypatch.setattr(SimulatedExchange, "on_market_data", on_market_data)
    for handlers in ([], [AsyncAudit()]):
        with pytest.raises(EngineError, match=r"engine error in the venue \(SimulatedExchange\.on_market_data\) "
                                              r"on Bar.*KeyError: 'lost book'"):
            run_backtest(Scripted({}), bars([100, 101]), venue=SimSettings(), symbol=SYMBOL, handlers=handlers)


def test_a_failing_order_manager_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def on_order_update(self: OrderManager, update: OrderUpdate) -> None:
        raise RuntimeError("no record")

    monkeypatch.setattr(OrderManager, "on_order_update", on_order_update)
    with pytest.raises(EngineError, match=r"in the order manager \(OrderManager\.on_order_update\) on OrderUpdate"):
        run({0: lambda s, b: s.buy(SYMBOL, 1)}, [100, 101])


def test_a_failing_user_handler_is_a_strategy_error() -> None:
    class Audit:
        def on_bar(self, bar: Bar) -> None:
            raise ValueError("user bug")

    with pytest.raises(StrategyError, match=r"Audit\.on_bar.*ValueError: user bug") as info:
        run_backtest(Scripted({}), bars([100, 101]), venue=SimSettings(), symbol=SYMBOL, handlers=[Audit()])
    assert not isinstance(info.value, EngineError)
