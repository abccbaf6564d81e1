"""The test kit's event builders: exact values from text, new trade ids, the shapes the engine expects."""

from __future__ import annotations

from decimal import Decimal

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.events import OrderStatus, OrderType, Side, Timer
from engine.testing.events import make_bar, make_fill, make_order, make_update


def test_builders_make_exact_values_and_new_trade_ids() -> None:
    first, second = make_fill(price="99.5", quantity=0.1), make_fill()
    assert first.price == Decimal("99.5") and first.quantity == Decimal("0.1")
    assert first.trade_id != second.trade_id
    assert make_order(price="100").type is OrderType.LIMIT and make_order().type is OrderType.MARKET
    assert make_order(side=Side.SELL, stop_price="90", type=OrderType.STOP_MARKET).stop_price == Decimal(90)
    assert make_update(status=OrderStatus.FILLED, filled="2").filled_quantity == Decimal(2)
    bar = make_bar(60, 101.0, open=100.0)
    assert (bar.open, bar.high, bar.low, bar.close) == (100.0, 101.0, 100.0, 101.0)


def test_the_simulated_clock_is_the_controllable_clock() -> None:
    bus = EventBus()
    fired: list[tuple[str, int, int]] = []
    clock = SimulatedClock(bus)
    bus.subscribe(Timer, lambda timer: fired.append((timer.name, timer.ts, clock.now())))
    clock.set_timer("every", at=10, interval=10)
    clock.set_timer("once", at=15)
    clock.advance_to(30)
    bus.dispatch()
    assert [name for name, _, _ in fired] == ["every", "once", "every", "every"]
    assert [ts for _, ts, _ in fired] == [10, 15, 20, 30] and clock.now() == 30
