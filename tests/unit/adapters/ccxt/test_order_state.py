"""The execution client's belief about its orders: forward moves only, each trade once, and a fill always handed on
before the update that finishes its order, whatever order the exchange's reports come in."""

from __future__ import annotations

from decimal import Decimal

from adapters.ccxt.order_state import NEXT, OrderTracker
from engine.events import Fill, Liquidity, OrderStatus, OrderUpdate, Side
from engine.testing.events import make_order, make_update

S = OrderStatus


def fill(trade_id: str, quantity: str, cid: str = "o1") -> Fill:
    return Fill(ts=1, client_order_id=cid, trade_id=trade_id, symbol="BTC/USD", side=Side.BUY, price=Decimal(100),
                quantity=Decimal(quantity), fee=Decimal(0), fee_currency="USD", liquidity=Liquidity.TAKER)


def kinds(events: list) -> list[str]:
    return [e.status.name if isinstance(e, OrderUpdate) else f"fill {e.trade_id}" for e in events]


def test_stale_and_repeated_reports_are_dropped() -> None:
    tracker = OrderTracker()
    tracker.add(make_order("o1", quantity="1"))
    assert kinds(tracker.update(make_update("o1", S.ACCEPTED))) == ["ACCEPTED"]
    assert tracker.update(make_update("o1", S.ACCEPTED)) == []  # repeated
    assert kinds(tracker.fill(fill("t1", "1"))) == ["fill t1"]
    assert tracker.fill(fill("t1", "1")) == []  # the same trade twice (a reconnect, a REST check)
    assert kinds(tracker.update(make_update("o1", S.FILLED, filled="1"))) == ["FILLED"]
    assert tracker.update(make_update("o1", S.ACCEPTED)) == []  # a stale NEW after FILLED
    assert tracker.update(make_update("o1", S.CANCELLED, filled="1")) == []  # nothing leaves a final state
    assert tracker.update(make_update("other", S.ACCEPTED)) == []  # not ours
    assert not tracker.orders["o1"].open


def test_an_update_reporting_more_filled_than_the_fills_waits_for_them() -> None:
    tracker = OrderTracker()
    tracker.add(make_order("o1", quantity="1"))
    assert tracker.update(make_update("o1", S.FILLED, filled="1")) == []  # the stream's order before its trades
    assert kinds(tracker.fill(fill("t1", "0.4"))) == ["fill t1"]
    assert kinds(tracker.fill(fill("t2", "0.6"))) == ["fill t2", "FILLED"]  # the ledger books both fills first
    assert tracker.orders["o1"].status is S.FILLED


def test_a_fill_before_the_acknowledgement_means_the_exchange_has_the_order() -> None:
    tracker = OrderTracker()
    tracker.add(make_order("o1", quantity="2"))
    assert kinds(tracker.fill(fill("t1", "1"))) == ["fill t1"]
    assert tracker.orders["o1"].status is S.ACCEPTED
    assert tracker.update(make_update("o1", S.ACCEPTED)) == []  # the late acknowledgement changes nothing
    assert kinds(tracker.update(make_update("o1", S.PARTIALLY_FILLED, filled="1"))) == ["PARTIALLY_FILLED"]
    assert tracker.update(make_update("o1", S.PARTIALLY_FILLED, filled="1")) == []


def test_every_final_state_is_final_and_submitted_can_go_anywhere_but_back() -> None:
    for status, moves in NEXT.items():
        if status.is_terminal:
            assert moves == frozenset()
    assert S.SUBMITTED not in set().union(*NEXT.values())
