"""Market orders: next open, taker fees, volume cap across bars, IOC/FOK, latency."""

from __future__ import annotations

from decimal import Decimal

from adapters.sim.testing import MIN, Venue, t
from engine.events import Fill, Liquidity, OrderStatus, OrderUpdate, Side

S = OrderStatus


def test_market_order_made_on_bar_t_fills_at_bar_t_plus_1_open_as_taker(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100.5)
    venue.order("m1", "buy", "2")
    assert venue.statuses("m1") == [S.ACCEPTED]
    venue.bar(1, 101, 103, 100, 102)
    assert venue.fills() == [Fill(ts=t(1), client_order_id="m1", trade_id="sim-1", symbol="BTC/USD", side=Side.BUY,
                                  price=Decimal("101.00"), quantity=Decimal("2"), fee=Decimal("0.40400000"),
                                  fee_currency="USD", liquidity=Liquidity.TAKER, venue_order_id="sim-order-1")]
    assert venue.last("m1") == OrderUpdate(ts=t(1), client_order_id="m1", symbol="BTC/USD", status=S.FILLED,
                                           filled_quantity=Decimal("2"), remaining_quantity=Decimal("0"),
                                           average_price=Decimal("101.00"), venue_order_id="sim-order-1")


def test_market_sell_fills_at_next_open(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "sell", "0.5")
    venue.bar(1, 99.37, 100, 98, 99)
    (fill,) = venue.fills()
    assert (fill.side, fill.price, fill.quantity, fill.fee, fill.ts) == (
        Side.SELL, Decimal("99.37"), Decimal("0.5"), Decimal("0.09937000"), t(1))


def test_market_order_is_not_filled_by_the_bar_it_was_made_on(venue: Venue) -> None:
    venue.order("m1", "buy", "1", ts=t(1) + 1)  # made inside bar 1, after it opened
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    venue.bar(2, 100.2, 101, 99, 100)
    assert [f.price for f in venue.fills()] == [Decimal("100.20")]


def test_gtc_market_remainder_fills_at_following_opens_under_volume_cap(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "2")
    venue.bar(1, 101, 102, 100, 101, v=5)  # cap 0.5
    venue.bar(2, 102, 103, 101, 102, v=5)  # cap 0.5
    venue.bar(3, 103, 104, 102, 103, v=50)  # cap 5: the last 1 fills
    assert [(f.ts, f.price, f.quantity) for f in venue.fills()] == [
        (t(1), Decimal("101.00"), Decimal("0.5")), (t(2), Decimal("102.00"), Decimal("0.5")),
        (t(3), Decimal("103.00"), Decimal("1"))]
    assert venue.statuses("m1") == [S.ACCEPTED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED]
    last = venue.last("m1")
    assert (last.filled_quantity, last.remaining_quantity, last.average_price) == (
        Decimal("2"), Decimal("0"), Decimal("102.25"))


def test_volume_cap_is_shared_by_all_orders_of_a_symbol_in_time_order(make_venue) -> None:
    venue = make_venue(volume_share=0.15)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("a", "buy", "1")
    venue.order("b", "sell", "1")
    venue.bar(1, 100, 101, 99, 100, v=10)  # cap 1.5
    assert [(f.client_order_id, f.quantity) for f in venue.fills()] == [("a", Decimal("1")), ("b", Decimal("0.5"))]
    venue.bar(2, 100.5, 101, 99, 100, v=10)
    assert [(f.client_order_id, f.quantity, f.price) for f in venue.fills()][2:] == [
        ("b", Decimal("0.5"), Decimal("100.50"))]


def test_gtc_market_order_waits_through_a_bar_without_volume(make_venue) -> None:
    venue = make_venue(volume_share=0.5)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1")
    venue.bar(1, 100, 100, 100, 100, v=0)
    assert venue.fills() == [] and venue.statuses("m1") == [S.ACCEPTED]
    venue.bar(2, 100.1, 101, 99, 100, v=4)
    assert [f.price for f in venue.fills()] == [Decimal("100.10")]


def test_ioc_market_fills_what_it_can_and_cancels_the_rest(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "2", tif="IOC")
    venue.bar(1, 101, 102, 100, 101, v=5)
    assert [f.quantity for f in venue.fills()] == [Decimal("0.5")]
    assert venue.statuses("m1") == [S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCELLED]
    last = venue.last("m1")
    assert (last.ts, last.filled_quantity, last.remaining_quantity, last.reason) == (
        t(1), Decimal("0.5"), Decimal("1.5"), "IOC: remainder 1.500 not filled (volume cap)")
    venue.bar(2, 101, 102, 100, 101, v=500)
    assert len(venue.fills()) == 1


def test_ioc_market_fills_whole_when_volume_allows(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "sell", "2", tif="IOC")
    venue.bar(1, 101, 102, 100, 101, v=50)
    assert venue.statuses("m1") == [S.ACCEPTED, S.FILLED]


def test_fok_market_is_killed_when_the_volume_cap_cannot_fill_it_whole(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("k", "buy", "2", tif="FOK")
    venue.order("ok", "buy", "0.4", tif="FOK")
    venue.bar(1, 101, 102, 100, 101, v=5)  # cap 0.5: "k" cannot fill whole, "ok" can
    assert venue.statuses("k") == [S.ACCEPTED, S.EXPIRED]
    assert venue.last("k").reason == "FOK: only 0.500 of 2 could fill (volume cap)"
    assert venue.statuses("ok") == [S.ACCEPTED, S.FILLED]
    assert [(f.client_order_id, f.quantity) for f in venue.fills()] == [("ok", Decimal("0.4"))]


def test_latency_pushes_a_market_fill_one_bar_later(make_venue) -> None:
    venue = make_venue(latency_ns=1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1")  # made at t(1), reaches the venue at t(1) + 1 ns: bar 1 opened before that
    venue.bar(1, 101, 102, 100, 101)
    assert venue.fills() == []
    venue.bar(2, 102, 103, 101, 102)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(2), Decimal("102.00"))]


def test_latency_shorter_than_the_gap_to_the_next_open_changes_nothing(make_venue) -> None:
    venue = make_venue(latency_ns=MIN // 2)
    venue.order("m1", "buy", "1", ts=t(1) - MIN // 2)  # made half a bar before bar 1 opens
    venue.bar(1, 101, 102, 100, 101)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(1), Decimal("101.00"))]
