"""The fill log and finished orders: packed, and read back equal to what was booked."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.events import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from engine.store import key_index
from engine.store.order_log import FillLog, FinishedOrders, OrderRecord
from engine.store.packed import BLOCK_ROWS


def fill(i: int) -> Fill:
    return Fill(ts=i, client_order_id=f"o{i}", trade_id=f"t{i}", symbol="BTC/USD",
                side=Side.BUY if i % 2 else Side.SELL, price=D("100.10") + i, quantity=D("0.50"),
                fee=D("0.0500") * i, fee_currency="USD", liquidity=Liquidity.MAKER, venue_order_id=f"v{i}")


def test_fill_log_gives_back_equal_fills_and_rows_and_columns() -> None:
    log = FillLog()
    fills = [fill(i) for i in range(4100)]
    assert [log.append(f) for f in fills] == list(range(4100))
    assert log == fills and log[4099] == fills[4099] and log[-4100] == fills[0]
    assert [tuple(r) for r in log.rows()] == [tuple(getattr(f, n) for n in ("ts", "client_order_id", "trade_id",
        "symbol", "side", "price", "quantity", "fee", "fee_currency", "liquidity", "venue_order_id")) for f in fills]
    assert log.column("price") == [f.price for f in fills]
    assert list(log.in_time_order()) == list(log.rows())
    assert log.is_time_ordered()
    prices, sides = zip(*log.column_blocks("price", "side"), strict=True)  # one list per field and block
    assert [len(b) for b in prices] == [BLOCK_ROWS] * (4100 // BLOCK_ROWS) + [4100 % BLOCK_ROWS]
    assert [v for b in prices for v in b] == [f.price for f in fills]
    assert [v for b in sides for v in b] == [f.side for f in fills]
    assert [v for b in log.float_blocks("fee") for v in b] == [float(f.fee) for f in fills]
    late = FillLog()
    for f in [*fills[:BLOCK_ROWS], fill(0), *fills[BLOCK_ROWS:]]:  # the tail starts before the end of the packed block
        late.append(f)
    assert not late.is_time_ordered()


def test_fill_log_sorts_by_time_only_when_booking_order_is_not_time_order() -> None:
    log = FillLog()
    assert log.is_time_ordered()
    for ts in (3, 1, 2, 1):
        log.append(fill(ts))
    assert not log.is_time_ordered()
    assert [r.ts for r in log.in_time_order()] == [1, 1, 2, 3]
    assert [r.client_order_id for r in log.in_time_order()] == ["o1", "o1", "o2", "o3"]


def finished(cid: str, fills: list[Fill]) -> OrderRecord:
    order = Order(ts=1, client_order_id=cid, symbol="BTC/USD", side=Side.BUY, type=OrderType.LIMIT,
                  quantity=D("0.50"), price=D("100"))
    return OrderRecord(order, OrderStatus.FILLED, sum((f.quantity for f in fills), D(0)),
                       sum((f.quantity * f.price for f in fills), D(0)), sum((f.fee for f in fills), D(0)),
                       updated_ts=len(fills), fills=fills)


@pytest.mark.parametrize("colliding", [False, True])
def test_finished_orders_are_found_by_id_even_when_every_fingerprint_collides(monkeypatch: pytest.MonkeyPatch,
                                                                            colliding: bool) -> None:
    monkeypatch.setattr(key_index, "MERGE_AT_LEAST", 64)  # ids sit both in the merged arrays and the recent dict
    if colliding:  # every key gets the same fingerprint: only the check against the packed row tells them apart
        monkeypatch.setattr(key_index, "hash", lambda key: 7, raising=False)
    log = FillLog()
    orders = FinishedOrders(log)
    records = [finished(f"o{i}", [fill(i)]) for i in range(300)]
    assert [orders.add(r, [log.append(r.fills[0])]) for r in records] == list(range(300))
    assert [orders.find(f"o{i}") for i in range(300)] == list(range(300))
    assert orders.find("o300") is None and orders.find("") is None
    assert orders.get(150) == (records[150], (150,)) and orders.get(150)[0] is not records[150]
    reopened = finished("o150", [fill(150), fill(301)])  # a late fill: the order is packed again, under its id
    assert orders.add(reopened, [150, log.append(fill(301))]) == 300
    assert orders.find("o150") == 300 and orders.get(300)[0] == reopened
    assert orders.find("o151") == 151
