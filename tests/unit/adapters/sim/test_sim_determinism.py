"""Identical inputs give identical event streams; the rules are written down; the idle path publishes nothing."""

from __future__ import annotations

from adapters.sim import ASSUMPTIONS, FixedBpsSlippage, SimulatedExchange
from adapters.sim.testing import Venue
from engine.events import Event
from engine.ports import ExecutionClient


def _session(make_venue) -> list[Event]:
    venue: Venue = make_venue(volume_share=0.2, slippage=FixedBpsSlippage(5), latency_ns=1,
                              balances={"usd": "100000", "btc": "100"})
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m", "buy", "3")
    venue.order("l", "sell", "2", "limit", price="101.5")
    venue.order("s", "sell", "1", "stop_market", stop="98.5")
    venue.order("sl", "buy", "1", "stop_limit", price="103", stop="102.5")
    venue.order("i", "buy", "1", "limit", price="100.1", tif="IOC")
    prices = [(100.2, 102, 98, 101), (101, 103, 100.5, 102.8), (102.5, 102.9, 98, 98.4), (98.2, 99, 97, 98)]
    for i, (o, h, low, c) in enumerate(prices, start=1):
        venue.bar(i, o, h, low, c, v=10)
        if i == 2:
            venue.cancel("l")
            venue.order("f", "sell", "1", tif="FOK")
    return list(venue.events)


def test_two_identical_runs_publish_identical_events(make_venue) -> None:
    first, second = _session(make_venue), _session(make_venue)
    assert first == second
    assert len(first) > 15  # a session that exercised something


def test_the_exchange_is_an_execution_client(venue: Venue) -> None:
    assert isinstance(venue.exchange, ExecutionClient)
    assert isinstance(venue.exchange, SimulatedExchange)


def test_assumptions_are_one_line_each() -> None:
    assert len(ASSUMPTIONS) >= 10
    assert all(isinstance(a, str) and a and "\n" not in a for a in ASSUMPTIONS)


def test_market_data_without_open_orders_publishes_nothing(venue: Venue) -> None:
    for i in range(5):
        venue.bar(i, 100, 101, 99, 100)
    assert venue.events == []
    assert venue.bus.pending() == 0
