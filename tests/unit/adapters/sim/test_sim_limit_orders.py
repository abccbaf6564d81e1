"""Limit orders: marketable at the open, resting makers, IOC/FOK, post-only, price-time priority."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.sim import FixedBpsSlippage
from adapters.sim.testing import Venue, t
from engine.events import Liquidity, OrderStatus

S = OrderStatus


def test_limit_marketable_at_the_open_fills_at_the_open_as_taker(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="102")
    venue.bar(1, 101, 103, 100, 102)
    (fill,) = venue.fills()
    assert (fill.ts, fill.price, fill.liquidity, fill.fee) == (t(1), Decimal("101.00"), Liquidity.TAKER,
                                                               Decimal("0.20200000"))


def test_marketable_limit_slippage_is_capped_at_the_limit(make_venue) -> None:
    venue = make_venue(slippage=FixedBpsSlippage(200))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("b", "buy", "1", "limit", price="102")
    venue.order("s", "sell", "1", "limit", price="100.5")
    venue.bar(1, 101, 103, 100, 102)  # buy: 101 * 1.02 = 103.02 > 102; sell: 101 * 0.98 = 98.98 < 100.5
    assert [(f.client_order_id, f.price) for f in venue.fills()] == [("b", Decimal("102.00")),
                                                                      ("s", Decimal("100.50"))]


def test_resting_buy_limit_fills_at_its_price_as_maker_only_when_traded_through(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 101, 99.5, 100)  # touches 99.5 only: no fill
    assert venue.fills() == []
    venue.bar(2, 100, 100.5, 99.4, 100)
    (fill,) = venue.fills()
    assert (fill.ts, fill.price, fill.liquidity, fill.fee) == (t(3), Decimal("99.50"), Liquidity.MAKER,
                                                               Decimal("0.09950000"))
    assert venue.statuses("l1") == [S.ACCEPTED, S.FILLED]


def test_resting_sell_limit_fills_when_high_trades_through(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "sell", "2", "limit", price="101.25")
    venue.bar(1, 100, 101.25, 99, 100)
    venue.bar(2, 100, 101.26, 99, 100)
    assert [(f.ts, f.price, f.quantity, f.liquidity) for f in venue.fills()] == [
        (t(3), Decimal("101.25"), Decimal("2"), Liquidity.MAKER)]


def test_touch_mode_fills_a_limit_the_bar_only_touches(make_venue) -> None:
    venue = make_venue(limit_fill="touch")
    venue.bar(0, 100, 101, 99, 100)
    venue.order("b", "buy", "1", "limit", price="99.5")
    venue.order("s", "sell", "1", "limit", price="101")
    venue.bar(1, 100, 101, 99.5, 100)
    assert [(f.client_order_id, f.ts, f.price) for f in venue.fills()] == [
        ("b", t(2), Decimal("99.50")), ("s", t(2), Decimal("101.00"))]


def test_new_limit_below_the_open_rests_and_fills_in_the_same_bar(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 100.5, 99, 99.8)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(2), Decimal("99.50"), Liquidity.MAKER)]


def test_resting_limit_gapped_through_fills_at_its_limit_at_the_open(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 101, 99.6, 100)
    venue.bar(2, 98, 99, 97, 98)  # opened below the bid: filled at the limit, not at the better open
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(2), Decimal("99.50"), Liquidity.MAKER)]


def test_price_then_time_priority_among_resting_orders(make_venue) -> None:
    venue = make_venue(volume_share=0.15)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("A", "buy", "1", "limit", price="99")
    venue.order("B", "buy", "1", "limit", price="99.5")
    venue.order("C", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 100.5, 98.5, 99, v=10)  # cap 1.5: best price first (B, then C by time), A waits
    venue.bar(2, 100, 100.5, 98.5, 99, v=10)
    assert [(f.client_order_id, f.ts, f.quantity, f.price) for f in venue.fills()] == [
        ("B", t(2), Decimal("1"), Decimal("99.50")), ("C", t(2), Decimal("0.5"), Decimal("99.50")),
        ("C", t(3), Decimal("0.5"), Decimal("99.50")), ("A", t(3), Decimal("1"), Decimal("99.00"))]
    assert venue.statuses("C") == [S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED]


def test_sell_side_priority_is_lowest_price_first(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("high", "sell", "1", "limit", price="101")
    venue.order("low", "sell", "1", "limit", price="100.5")
    venue.bar(1, 100, 102, 99.5, 101, v=10)  # cap 1
    assert [f.client_order_id for f in venue.fills()] == ["low"]


def test_the_open_is_matched_before_resting_orders(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("rest", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 101, 99.6, 100, v=10)
    venue.order("mkt", "buy", "1")
    venue.bar(2, 100, 101, 99, 100, v=10)  # cap 1: the market order at the open takes it all
    assert [f.client_order_id for f in venue.fills()] == ["mkt"]
    venue.bar(3, 100, 101, 99, 100, v=10)
    assert [f.client_order_id for f in venue.fills()] == ["mkt", "rest"]


def test_marketable_limit_remainder_keeps_taking_at_the_next_open(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "2", "limit", price="102")
    venue.bar(1, 101, 102.5, 100.5, 101, v=10)
    venue.bar(2, 101.5, 102.5, 101, 102, v=10)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [
        (t(1), Decimal("101.00"), Liquidity.TAKER), (t(2), Decimal("101.50"), Liquidity.TAKER)]


def test_marketable_limit_remainder_rests_once_the_open_is_beyond_it(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "buy", "2", "limit", price="102")
    venue.bar(1, 101, 102.5, 100.5, 101, v=10)
    venue.bar(2, 103, 104, 101.5, 102, v=10)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [
        (t(1), Decimal("101.00"), Liquidity.TAKER), (t(3), Decimal("102.00"), Liquidity.MAKER)]


@pytest.mark.parametrize(("side", "price"), [("buy", "99.99"), ("sell", "100.01")])
def test_ioc_limit_not_marketable_at_the_open_is_cancelled(venue: Venue, side: str, price: str) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("i", side, "1", "limit", price=price, tif="IOC")
    venue.bar(1, 100, 101, 99, 100)  # trades through the limit later in the bar: IOC does not wait for it
    assert venue.fills() == []
    assert venue.statuses("i") == [S.ACCEPTED, S.CANCELLED]
    assert venue.last("i").reason == f"IOC: {side} limit {price} not marketable at the open 100.0"
    assert venue.last("i").ts == t(1)


def test_ioc_limit_marketable_fills_partly_and_cancels_the_rest(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("i", "sell", "3", "limit", price="99", tif="IOC")
    venue.bar(1, 100, 101, 99, 100, v=20)
    assert [(f.price, f.quantity) for f in venue.fills()] == [(Decimal("100.00"), Decimal("2"))]
    assert venue.statuses("i") == [S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCELLED]
    assert venue.last("i").remaining_quantity == Decimal("1")


def test_fok_limit_not_marketable_expires(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("f", "buy", "1", "limit", price="99", tif="FOK")
    venue.bar(1, 100, 101, 98, 100)
    assert venue.fills() == []
    assert venue.statuses("f") == [S.ACCEPTED, S.EXPIRED]
    assert venue.last("f").reason == "FOK: buy limit 99 not marketable at the open 100.0"


def test_fok_limit_fills_whole_or_is_killed(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("whole", "buy", "1", "limit", price="101", tif="FOK")
    venue.order("killed", "buy", "1", "limit", price="101", tif="FOK")
    venue.bar(1, 100, 101, 99, 100, v=15)  # cap 1.5: the first fills whole, the second cannot
    assert venue.statuses("whole") == [S.ACCEPTED, S.FILLED]
    assert venue.statuses("killed") == [S.ACCEPTED, S.EXPIRED]
    assert venue.last("killed").reason == "FOK: only 0.500 of 1 could fill (volume cap)"
    assert [(f.client_order_id, f.quantity) for f in venue.fills()] == [("whole", Decimal("1"))]


def test_post_only_below_the_market_rests_and_fills_as_maker(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("p", "buy", "1", "limit", price="99.5", post_only=True)
    venue.bar(1, 100, 100.5, 99, 100)
    assert venue.statuses("p") == [S.ACCEPTED, S.FILLED]
    assert [(f.price, f.liquidity) for f in venue.fills()] == [(Decimal("99.50"), Liquidity.MAKER)]


def test_post_only_that_would_take_on_arrival_is_rejected(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("p", "sell", "1", "limit", price="99.9", post_only=True)
    assert venue.statuses("p") == [S.REJECTED]
    assert venue.last("p").reason == ("post-only order 'p' would take liquidity: sell limit 99.9 against last "
                                      "price 100.0")


def test_post_only_that_would_take_at_its_first_open_is_cancelled(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 101)
    venue.order("p", "buy", "1", "limit", price="100.5", post_only=True)  # below the last price: accepted
    venue.bar(1, 100.2, 101, 99, 100)  # but the market opens below it
    assert venue.fills() == []
    assert venue.statuses("p") == [S.ACCEPTED, S.CANCELLED]
    assert venue.last("p").reason == "post-only order would take liquidity: buy limit 100.5 against open 100.2"


def test_gtc_limit_rests_across_bars_until_filled(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l1", "sell", "1", "limit", price="105")
    for i in range(1, 4):
        venue.bar(i, 100, 104, 99, 100)
    assert venue.fills() == []
    venue.bar(4, 104, 106, 103, 105)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(5), Decimal("105.00"))]
    assert venue.exchange.open_orders() == []


def test_after_the_best_bid_is_cancelled_the_next_one_is_matched(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("best", "buy", "1", "limit", price="99.5")
    venue.order("next", "buy", "1", "limit", price="99")
    venue.bar(1, 100, 101, 99.6, 100)
    venue.cancel("best")
    venue.bar(2, 100, 101, 99.2, 100)  # would have filled "best" only
    assert venue.fills() == []
    venue.bar(3, 100, 101, 98.9, 100)
    assert [(f.client_order_id, f.price) for f in venue.fills()] == [("next", Decimal("99.00"))]


def test_touch_mode_matches_a_low_exactly_at_the_only_bid(make_venue) -> None:
    venue = make_venue(limit_fill="touch")
    venue.bar(0, 100, 101, 99, 100)
    venue.order("b", "buy", "1", "limit", price="99")
    venue.bar(1, 100, 101, 99.5, 100)
    venue.bar(2, 100, 101, 99, 100)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(3), Decimal("99.00"))]
