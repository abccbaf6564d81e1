"""The order manager: records of open orders change in place; finished ones are packed and read back equal."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.errors import ConfigError
from engine.events import Fill, Liquidity, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.ledger import Ledger
from engine.markets import Market, Markets
from engine.orders import OrderManager
from engine.testing.events import make_fill, make_update

SYMBOL = "BTC/USD"


def manager(cash: str = "100000") -> tuple[OrderManager, EventBus, list[object]]:
    bus = EventBus()
    markets = Markets([Market.from_symbol(SYMBOL, min_size=D("0.001"))])
    clock = SimulatedClock(bus)
    ledger = Ledger(markets, "USD", {"USD": D(cash)}, clock=clock)
    orders = OrderManager(bus, clock, ledger, markets)
    bus.subscribe(Fill, ledger.on_fill)
    bus.subscribe(OrderUpdate, ledger.on_order_update)
    bus.subscribe(OrderUpdate, orders.on_order_update)
    bus.subscribe(Fill, orders.on_fill)
    sent: list[object] = []
    bus.subscribe(Order, sent.append)
    return orders, bus, sent


def limit(cid: str, quantity: str, price: str, side: Side = Side.BUY) -> Order:
    return Order(ts=1, client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.LIMIT, quantity=D(quantity),
                 price=D(price))


def fill(cid: str, trade: str, quantity: str, price: str, ts: int) -> Fill:
    return make_fill(cid, Side.BUY, quantity, price, fee="0.10", symbol=SYMBOL, ts=ts, trade_id=trade,
                     liquidity=Liquidity.MAKER)


def update(cid: str, status: OrderStatus, ts: int, reason: str = "") -> OrderUpdate:
    return make_update(cid, status, ts=ts, symbol=SYMBOL, reason=reason)


def test_a_finished_order_is_packed_and_read_back_equal_to_its_last_state() -> None:
    orders, bus, _ = manager()
    record = orders.submit(limit("a", "2", "100"))
    bus.publish(fill("a", "t1", "0.5", "100", ts=5))
    bus.publish(fill("a", "t2", "1.5", "99.50", ts=6))
    bus.publish(update("a", OrderStatus.FILLED, ts=6))
    bus.dispatch()
    assert "a" not in orders._held  # packed: the manager no longer holds the object
    got = orders.get("a")
    assert got == record and got is not record
    assert got.status is OrderStatus.FILLED and got.filled_quantity == D(2) and got.average_price == D("99.625")
    assert got.fills == [fill("a", "t1", "0.5", "100", ts=5), fill("a", "t2", "1.5", "99.50", ts=6)]
    assert not orders.open_orders()


def test_iteration_and_rows_keep_submission_order_for_open_and_finished_orders() -> None:
    orders, bus, _ = manager()
    for cid in ("a", "b", "c"):
        orders.submit(limit(cid, "1", "100"))
    bus.publish(update("b", OrderStatus.CANCELLED, ts=3, reason="by request"))
    bus.dispatch()
    assert [r.order.client_order_id for r in orders] == ["a", "b", "c"]
    assert [(r.client_order_id, r.status, r.reason) for r in orders.rows()] == [
        ("a", OrderStatus.SUBMITTED, ""), ("b", OrderStatus.CANCELLED, "by request"), ("c", OrderStatus.SUBMITTED, "")]
    assert [r.order.client_order_id for r in orders.open_orders()] == ["a", "c"]
    assert len(orders) == 3


def test_columns_read_open_orders_before_any_is_packed_and_mixed_with_packed_ones() -> None:
    orders, bus, _ = manager()
    for cid in ("a", "b"):
        orders.submit(limit(cid, "1", "100"))
    assert orders.column("client_order_id") == ["a", "b"] and orders.column("status") == [OrderStatus.SUBMITTED] * 2
    bus.publish(update("a", OrderStatus.CANCELLED, ts=3))
    bus.dispatch()
    orders.submit(limit("c", "1", "100"))
    assert orders.column("client_order_id") == ["a", "b", "c"]
    assert orders.column("status") == [OrderStatus.CANCELLED, OrderStatus.SUBMITTED, OrderStatus.SUBMITTED]


def test_a_pre_trade_rejection_is_kept_with_its_reason() -> None:
    orders, _, sent = manager(cash="50")
    record = orders.submit(limit("x", "1", "100"))
    assert record.status is OrderStatus.REJECTED and "only 50 USD free" in record.reason
    assert orders.get("x") == record and not sent


def test_a_late_fill_of_a_finished_order_reopens_its_record_and_is_booked() -> None:
    orders, bus, _ = manager()
    orders.submit(limit("a", "2", "100"))
    bus.publish(fill("a", "t1", "1", "100", ts=5))
    bus.publish(update("a", OrderStatus.CANCELLED, ts=6))
    bus.dispatch()
    bus.publish(fill("a", "t2", "0.5", "100", ts=7))  # the venue's report of a fill before the cancel took effect
    bus.dispatch()
    got = orders.get("a")
    assert got.filled_quantity == D("1.5") and [f.trade_id for f in got.fills] == ["t1", "t2"]
    assert got.status is OrderStatus.CANCELLED and got.updated_ts == 7
    assert [f.trade_id for f in orders.fills] == ["t1", "t2"]


def test_every_fill_on_the_bus_is_kept_in_booking_order_even_of_unknown_orders() -> None:
    orders, bus, _ = manager()
    bus.publish(fill("not-ours", "t9", "1", "100", ts=1))
    bus.dispatch()
    assert [f.client_order_id for f in orders.fills] == ["not-ours"]
    assert "not-ours" not in orders._held
    with pytest.raises(KeyError):
        orders.get("not-ours")


def filled_orders(count: int) -> tuple[OrderManager, EventBus]:
    """Return a manager whose orders o0, o1, ... were each filled by one trade t0, t1, ... and finished."""
    orders, bus, _ = manager(cash="100000000")
    for i in range(count):
        cid = f"o{i}"
        orders.submit(limit(cid, "0.01", "100"))
        bus.publish(fill(cid, f"t{i}", "0.01", "100", ts=i))
        bus.publish(update(cid, OrderStatus.FILLED, ts=i))
        bus.dispatch()
    return orders, bus


def test_thousands_of_finished_orders_are_kept_packed() -> None:
    orders, _ = filled_orders(5000)
    assert not orders._held
    assert orders.get("o4321").fills[0].trade_id == "t4321"
    assert [r.client_order_id for r in orders.rows()][4095:4098] == ["o4095", "o4096", "o4097"]


def test_finished_orders_are_found_by_id_refused_as_duplicates_and_reopened_by_a_late_fill() -> None:
    # fingerprint collisions of the ids are tests/unit/store/test_order_log.py's: the store tells them apart
    orders, bus = filled_orders(300)
    orders.submit(limit("open", "0.01", "100"))
    assert [orders.get(f"o{i}").fills[0].trade_id for i in range(300)] == [f"t{i}" for i in range(300)]
    assert orders.get("open").status is OrderStatus.SUBMITTED
    for cid in ("o0", "o299", "open"):
        with pytest.raises(ConfigError, match="duplicate client order id"):
            orders.submit(limit(cid, "0.01", "100"))
    with pytest.raises(KeyError):
        orders.get("o300")
    bus.publish(fill("o150", "late", "0.01", "100", ts=400))  # a late fill reopens the right record
    bus.dispatch()
    assert [f.trade_id for f in orders.get("o150").fills] == ["t150", "late"]
    assert [f.trade_id for f in orders.get("o151").fills] == ["t151"]
    assert [r.client_order_id for r in orders.rows()] == [*(f"o{i}" for i in range(300)), "open"]
    assert orders.floats("filled_quantity")[[150, 151, 300]].tolist() == [0.02, 0.01, 0.0]


def test_columns_of_orders_finished_out_of_order_across_blocks_with_some_held() -> None:
    """Orders finish out of submission order over several packed blocks, some never fill, some stay open and
    one is reopened by a late fill: each column, read through the packed blocks, is that of the rows."""
    orders, bus, _ = manager(cash="100000000")
    count = 2300  # two full blocks and a tail
    for i in range(count):
        orders.submit(limit(f"o{i}", ("1", "0.25", "3")[i % 3], f"{100 + i % 7}.5"))
    for i in range(count):
        if i < 1100 or i % 5:  # the first block all filled; some of the later orders never fill
            bus.publish(fill(f"o{i}", f"t{i}", ("1", "0.25", "3")[i % 3], f"{99 + i % 11}.25", ts=i))
    finishing = [i for i in range(count) if i % 97 != 5]  # the others stay open
    for i in finishing[1::2] + finishing[0::2]:  # out of submission order
        bus.publish(update(f"o{i}", OrderStatus.FILLED if i < 1100 or i % 5 else OrderStatus.CANCELLED, ts=i + 1))
    bus.dispatch()
    bus.publish(fill("o8", "late", "0.5", "101", ts=9000))  # reopens a packed order
    bus.dispatch()
    assert len(orders._held) == len([i for i in range(count) if i % 97 == 5]) + 1
    rows = list(orders.rows())
    for name in ("ts", "client_order_id", "side", "status", "filled_quantity", "reason", "updated_ts"):
        assert orders.column(name) == [getattr(row, name) for row in rows]
    for name in ("quantity", "price", "filled_quantity", "fees"):
        assert orders.floats(name).tolist() == [float(getattr(row, name)) for row in rows]
    for name in ("ts", "updated_ts"):
        stamps = orders.int64s(name)
        assert stamps.dtype == "int64" and stamps.tolist() == [getattr(row, name) for row in rows]
    averages = orders.average_prices()
    expected = [float(r.filled_notional / r.filled_quantity) if r.filled_quantity else float("nan") for r in rows]
    assert np.array_equal(averages, expected, equal_nan=True) and np.isnan(averages).any()


def test_columns_of_orders_finished_as_submitted_are_the_packed_columns() -> None:
    orders, _ = filled_orders(1500)
    assert orders._in_packing_order()
    rows = list(orders.rows())
    assert orders.column("client_order_id") == [row.client_order_id for row in rows]
    assert orders.int64s("ts").tolist() == [row.ts for row in rows]
    assert orders.average_prices().tolist() == [100.0] * 1500


def test_a_live_sessions_ids_carry_its_tag_and_fit_an_exchanges_format() -> None:
    import re

    from engine.live import session_tag

    manager = OrderManager(EventBus(), SimulatedClock(EventBus()), None, Markets())  # type: ignore[arg-type]
    assert manager.next_id("SmaCross") == "SmaCross-1"  # a back-test's: the same in every replay
    manager.id_tag = session_tag(1_764_777_600_123_000_000)
    first = manager.next_id("AVeryLongStrategyClassNameIndeed")
    assert first.startswith(manager.id_tag) and first.endswith("-1")
    assert len(first) <= 36 and re.fullmatch(r"[.A-Z:/a-z0-9_-]+", first)
    assert session_tag(1_764_777_600_124_000_000) != manager.id_tag  # a session a millisecond later
