"""Paper trading keeps market time: an order made seconds (of wall clock) after a bar closed reaches the
simulated exchange at that bar's time, so it fills at the next bar's open as in a back-test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.sim import SimSettings
from adapters.sim.paper import MARKET_TIME, Paper
from adapters.sim.testing import ledger
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.events import Fill, OrderUpdate
from engine.markets import Market, Markets
from engine.testing.events import make_bar, make_order

MIN = 60_000_000_000
SECOND = 1_000_000_000


def fills_after_a_late_order(venue_settings: object) -> list[Fill]:
    """Bar 0 closes at 1 min; the order comes 5 s later by the wall clock; bars 1 and 2 follow."""
    bus = EventBus()
    markets = Markets([Market.from_symbol("BTC/USD")])
    book = ledger(markets, usd="100000")
    wall_clock = SimulatedClock(bus)  # what the session's clock would say: not what the paper venue goes by
    venue = venue_settings.build(bus, wall_clock, markets, book)  # type: ignore[attr-defined]
    fills: list[Fill] = []
    bus.subscribe(Fill, fills.append)
    bus.subscribe(OrderUpdate, lambda update: None)
    venue.on_market_data(make_bar(1 * MIN, 100.0, interval=MIN))
    bus.dispatch()
    venue.on_order(make_order("late", quantity="1", ts=1 * MIN + 5 * SECOND))
    bus.dispatch()
    for i, open_ in ((2, 101.0), (3, 102.0)):
        venue.on_market_data(make_bar(i * MIN, open_ + 0.5, open=open_, interval=MIN))
        bus.dispatch()
    return fills


def test_a_paper_order_made_after_the_bar_closed_fills_at_the_next_open_as_in_a_back_test() -> None:
    paper = fills_after_a_late_order(Paper(SimSettings(fee_bps=0)))
    assert [(f.price, f.ts) for f in paper] == [(Decimal("101"), 1 * MIN)]  # bar 1's open, stamped at its open
    on_the_wall_clock = fills_after_a_late_order(SimSettings(fee_bps=0))
    assert [f.price for f in on_the_wall_clock] == [Decimal("102")]  # a bar later: what market time avoids


def test_paper_settings_say_how_it_differs_and_its_clock_raises_no_alarms() -> None:
    paper = Paper(SimSettings(fee_bps=7.5))
    assert MARKET_TIME in paper.assumptions() and paper.to_dict()["venue"] == "paper"
    assert paper.to_dict()["fee_bps"] == 7.5 and paper.reserve_fee_rate() == SimSettings(fee_bps=7.5).reserve_fee_rate()
    venue = paper.build(EventBus(), SimulatedClock(EventBus()), Markets([Market.from_symbol("BTC/USD")]),
                        ledger(Markets([Market.from_symbol("BTC/USD")]), usd="1"))
    with pytest.raises(NotImplementedError, match="session's clock"):
        venue._time.set_timer("x", 0)
