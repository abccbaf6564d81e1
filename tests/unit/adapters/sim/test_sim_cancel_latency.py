"""Cancels (before and after fills, unknown orders) and latency on orders and cancels."""

from __future__ import annotations

from decimal import Decimal

from adapters.sim import ALREADY_CLOSED, UNKNOWN_ORDER
from adapters.sim.testing import MIN, Venue, t
from engine.events import OrderStatus, OrderUpdate

S = OrderStatus


def test_cancel_before_fill_cancels_at_the_next_open(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 101, 99.6, 100)
    venue.cancel("l1")
    venue.bar(2, 100, 101, 98, 100)  # would have filled
    assert venue.fills() == []
    assert venue.statuses("l1") == [S.ACCEPTED, S.CANCELLED]
    last = venue.last("l1")
    assert (last.ts, last.remaining_quantity, last.reason) == (t(2), Decimal("1"), "cancelled by request")
    assert venue.exchange.open_orders() == []


def test_cancel_of_a_new_order_before_it_ever_matched(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1")
    venue.cancel("m1")
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    assert venue.statuses("m1") == [S.ACCEPTED, S.CANCELLED]


def test_cancel_after_fill_is_rejected_as_unknown_like_an_exchange(venue: Venue) -> None:
    # Binance answers a cancel of a closed order as of one it never saw (-2011 "Unknown order sent."): the venue
    # keeps open orders only; the order manager is the record of every order.
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1")
    venue.bar(1, 100, 101, 99, 100)
    venue.cancel("m1")
    assert venue.statuses("m1") == [S.ACCEPTED, S.FILLED, S.REJECTED]
    assert venue.last("m1").reason == UNKNOWN_ORDER


def test_cancel_of_an_unknown_order_is_rejected(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.cancel("nope")
    assert venue.events == [OrderUpdate(ts=t(1), client_order_id="nope", symbol="BTC/USD", status=S.REJECTED,
                                        reason=UNKNOWN_ORDER)]


def test_cancel_of_a_partly_filled_order_keeps_its_fills(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "2")
    venue.bar(1, 100, 101, 99, 100, v=5)
    venue.cancel("m1")
    venue.bar(2, 100, 101, 99, 100, v=500)
    assert venue.statuses("m1") == [S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCELLED]
    last = venue.last("m1")
    assert (last.filled_quantity, last.remaining_quantity, last.average_price) == (
        Decimal("0.5"), Decimal("1.5"), Decimal("100.00"))


def test_cancel_arriving_after_the_fill_is_too_late(make_venue) -> None:
    venue = make_venue(latency_ns=30_000_000_000)  # 30 s
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="99.5")  # active at t(1) + 30 s: bar 1 opened before
    venue.bar(1, 100, 101, 98, 100)
    assert venue.fills() == []
    venue.bar(2, 100, 101, 99.6, 100)
    venue.cancel("l1")  # sent at t(3), reaches the venue at t(3) + 30 s: bar 3 opened before that
    venue.bar(3, 100, 101, 99, 100)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(4), Decimal("99.50"))]
    venue.bar(4, 100, 101, 99, 100)
    assert venue.statuses("l1") == [S.ACCEPTED, S.FILLED, S.REJECTED]
    assert (venue.last("l1").ts, venue.last("l1").reason) == (t(4), ALREADY_CLOSED)


def test_cancel_with_latency_takes_effect_at_the_first_bar_opening_after_it(make_venue) -> None:
    venue = make_venue(latency_ns=1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "sell", "1", "limit", price="101")
    venue.bar(1, 100, 100.5, 99, 100)
    venue.bar(2, 100, 100.5, 99, 100)
    venue.cancel("l1")
    venue.bar(3, 100, 100.5, 99, 100)  # the cancel is not in yet, the order is live but not reached
    assert venue.statuses("l1") == [S.ACCEPTED]
    venue.bar(4, 100, 102, 99, 100)  # would fill, but the cancel took effect at t(3) + 1 ns, before it opened
    assert venue.fills() == []
    assert venue.statuses("l1") == [S.ACCEPTED, S.CANCELLED]
    assert venue.last("l1").ts == t(4)


def test_order_only_matches_bars_that_opened_after_it_arrived(make_venue) -> None:
    venue = make_venue(latency_ns=MIN // 2)
    venue.order("m1", "buy", "1", ts=t(1))  # arrives at t(1) + 30 s
    venue.bar(1, 100, 101, 99, 100)
    venue.bar(2, 101, 102, 100, 101)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(2), Decimal("101.00"))]


def test_a_longer_bar_that_opened_before_the_order_does_not_fill_it(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1", ts=t(1) + MIN // 2)
    venue.bar(1, 100, 101, 99, 100)  # opened at t(1), half a minute before the order
    assert venue.fills() == []


def test_acknowledgement_is_never_stamped_before_the_order(venue: Venue) -> None:
    venue.order("m1", "buy", "1", ts=t(1) + 5)  # the clock is still at 0
    assert venue.last("m1").ts == t(1) + 5


def test_a_client_order_id_is_refused_only_while_its_order_is_open(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("a", "buy", "1", "limit", price="50")
    venue.order("a", "buy", "1")
    assert venue.last("a").reason == "duplicate client order id 'a': an order with it is open"
    venue.order("b", "buy", "1")
    venue.bar(1, 100, 101, 99, 100)
    venue.order("b", "sell", "1")  # b filled: its id is free again, as on Binance (the order manager never reuses one)
    assert venue.statuses("b") == [S.ACCEPTED, S.FILLED, S.ACCEPTED]
