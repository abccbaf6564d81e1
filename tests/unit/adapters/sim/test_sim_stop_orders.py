"""Stop-market and stop-limit orders: triggers inside the range and on gaps, both stop-limit paths, IOC/FOK."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.sim import FixedBpsSlippage
from adapters.sim.testing import Venue, t
from engine.events import Liquidity, OrderStatus

S = OrderStatus


def test_buy_stop_triggers_inside_the_range_and_fills_at_the_stop(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "buy", "1", "stop_market", stop="102")
    venue.bar(1, 100, 103, 99.5, 102.5)
    assert venue.statuses("s") == [S.ACCEPTED, S.TRIGGERED, S.FILLED]
    assert venue.updates("s")[1].ts == t(2)
    (fill,) = venue.fills()
    assert (fill.ts, fill.price, fill.liquidity, fill.fee) == (t(2), Decimal("102.00"), Liquidity.TAKER,
                                                               Decimal("0.20400000"))


def test_sell_stop_triggers_inside_the_range(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "sell", "1", "stop_market", stop="98")
    venue.bar(1, 100, 100.5, 97, 97.5)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(2), Decimal("98.00"))]


@pytest.mark.parametrize(("side", "stop", "open_"), [("buy", "102", 103.5), ("sell", "98", 96.25)])
def test_stop_gapped_through_at_the_open_fills_at_the_open(venue: Venue, side: str, stop: str,
                                                          open_: float) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", side, "1", "stop_market", stop=stop)
    venue.bar(1, open_, open_ + 1, open_ - 1, open_)
    assert venue.statuses("s") == [S.ACCEPTED, S.TRIGGERED, S.FILLED]
    assert venue.updates("s")[1].ts == t(1)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(1), Decimal(str(open_)))]


def test_stop_not_reached_waits_and_gaps_in_a_later_bar(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "sell", "1", "stop_market", stop="98")
    venue.bar(1, 100, 101, 98.01, 99)
    assert venue.statuses("s") == [S.ACCEPTED]
    venue.bar(2, 97.5, 98, 97, 97.5)
    assert [(f.ts, f.price) for f in venue.fills()] == [(t(2), Decimal("97.50"))]


def test_stop_market_fill_pays_slippage_from_the_stop(make_venue) -> None:
    venue = make_venue(slippage=FixedBpsSlippage(10))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "buy", "1", "stop_market", stop="102")
    venue.bar(1, 100, 103, 99.5, 102.5)  # 102 * 1.001 = 102.102 -> rounded up to 102.11
    assert [f.price for f in venue.fills()] == [Decimal("102.11")]


def test_stops_trigger_in_the_order_the_range_reaches_them(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("far", "buy", "1", "stop_market", stop="103")
    venue.order("near", "buy", "1", "stop_market", stop="102")
    venue.bar(1, 100, 104, 99.5, 103.5, v=10)  # cap 1: the nearer stop fills, the farther one waits for volume
    assert [(f.client_order_id, f.price) for f in venue.fills()] == [("near", Decimal("102.00"))]
    assert venue.statuses("far") == [S.ACCEPTED, S.TRIGGERED]
    venue.bar(2, 103.7, 104, 103, 103.5, v=10)  # its remainder is a market order now: next open
    assert [(f.client_order_id, f.ts, f.price) for f in venue.fills()][1:] == [("far", t(2), Decimal("103.70"))]


def test_stop_limit_marketable_at_the_trigger_fills_in_the_trigger_bar(make_venue) -> None:
    venue = make_venue(slippage=FixedBpsSlippage(100))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "buy", "1", "stop_limit", price="102.5", stop="102")
    venue.bar(1, 100, 103, 99.5, 102.5)  # taker at 102 * 1.01 = 103.02, capped at the limit 102.50
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED, S.FILLED]
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(2), Decimal("102.50"), Liquidity.TAKER)]


def test_stop_limit_not_marketable_at_the_trigger_rests_from_the_next_bar(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "buy", "1", "stop_limit", price="101.5", stop="102")
    venue.bar(1, 100, 103, 99, 101)  # triggers at 102; the range also went below 101.5, but we can't say when
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED]
    assert venue.fills() == []
    venue.bar(2, 102, 102.5, 101, 101.5)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(3), Decimal("101.50"), Liquidity.MAKER)]


def test_sell_stop_limit_gapped_fills_at_the_open_within_its_limit(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "sell", "1", "stop_limit", price="97.5", stop="98")
    venue.bar(1, 97.8, 98.5, 97, 98)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(1), Decimal("97.80"), Liquidity.TAKER)]


def test_stop_limit_gapped_beyond_its_limit_rests_from_the_next_bar(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "sell", "1", "stop_limit", price="97.5", stop="98")
    venue.bar(1, 97, 97.6, 96, 97)  # gapped below the limit: triggered, not marketable, waits
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED]
    venue.bar(2, 97, 98, 96.5, 97.9)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(3), Decimal("97.50"), Liquidity.MAKER)]


def test_stop_market_ioc_cancels_what_the_volume_cap_leaves(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "buy", "2", "stop_market", stop="102", tif="IOC")
    venue.bar(1, 100, 103, 99, 102, v=10)
    assert venue.statuses("s") == [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.CANCELLED]
    assert [(f.quantity, f.price) for f in venue.fills()] == [(Decimal("1"), Decimal("102.00"))]


def test_stop_limit_fok_not_marketable_at_the_trigger_expires(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "buy", "1", "stop_limit", price="101.5", stop="102", tif="FOK")
    venue.bar(1, 100, 103, 99, 101)
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED, S.EXPIRED]
    assert venue.last("sl").reason == "FOK: buy limit 101.5 not marketable at its trigger 102.0"


def test_stop_limit_gtc_remainder_keeps_taking_while_marketable(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "buy", "2", "stop_limit", price="103", stop="102")
    venue.bar(1, 100, 103, 99, 102, v=10)
    venue.bar(2, 102.5, 103, 102, 102.5, v=10)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [
        (t(2), Decimal("102.00"), Liquidity.TAKER), (t(2), Decimal("102.50"), Liquidity.TAKER)]


def test_stop_market_fok_is_killed_when_the_cap_cannot_fill_it_whole(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "sell", "2", "stop_market", stop="98", tif="FOK")
    venue.bar(1, 100, 100, 97, 97.5, v=10)
    assert venue.statuses("s") == [S.ACCEPTED, S.TRIGGERED, S.EXPIRED]
    assert venue.last("s").reason == "FOK: only 1.000 of 2 could fill (volume cap)"
    assert venue.fills() == []


def test_stop_market_fok_fills_whole_at_the_stop(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "sell", "2", "stop_market", stop="98", tif="FOK")
    venue.bar(1, 100, 100, 97, 97.5, v=10)
    assert venue.statuses("s") == [S.ACCEPTED, S.TRIGGERED, S.FILLED]
    assert [(f.price, f.quantity) for f in venue.fills()] == [(Decimal("98.00"), Decimal("2"))]


def test_stop_limit_ioc_marketable_at_the_trigger_cancels_its_remainder(make_venue) -> None:
    venue = make_venue(volume_share=0.1)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "sell", "3", "stop_limit", price="97.5", stop="98", tif="IOC")
    venue.bar(1, 100, 100, 97, 97.5, v=10)
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.CANCELLED]
    assert [(f.price, f.quantity) for f in venue.fills()] == [(Decimal("98.00"), Decimal("1"))]


def test_stop_limit_ioc_not_marketable_at_the_trigger_is_cancelled(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "sell", "1", "stop_limit", price="98.5", stop="98", tif="IOC")
    venue.bar(1, 100, 100, 97, 99)
    assert venue.statuses("sl") == [S.ACCEPTED, S.TRIGGERED, S.CANCELLED]
    assert venue.last("sl").reason == "IOC: sell limit 98.5 not marketable at its trigger 98.0"


def test_stop_limit_gtc_inside_the_range_sell_side_rests_then_fills_as_maker(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("sl", "sell", "1", "stop_limit", price="98.5", stop="98")
    venue.bar(1, 100, 100, 97, 99)  # triggered at 98; back above 98.5 later in the bar, but not eligible yet
    assert venue.fills() == []
    venue.bar(2, 98, 98.6, 97.5, 98)
    assert [(f.ts, f.price, f.liquidity) for f in venue.fills()] == [(t(3), Decimal("98.50"), Liquidity.MAKER)]
