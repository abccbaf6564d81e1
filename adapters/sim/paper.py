"""Paper trading: the simulated exchange on live market data, deciding as a back-test of the same data would.

The simulator matches orders against the market events it sees (bars, trades). Live, an order made on bar t's
close reaches it a few milliseconds after bar t+1 opened, by the wall clock; judged by that clock it would miss
t+1's open and fill a bar later than the back-test says. On bar data nothing tells the paper venue what the
market did in those milliseconds, so it keeps *market time*: an order or a cancel arrives at the time of the
latest market event it has seen, plus the configured ``latency_ms`` (set it to charge real reaction time).
That is the back-test's rule, so a paper session and its replay make the same fills (``mlct parity`` checks).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from adapters.sim.exchange import AccountCheck, SimulatedExchange
from adapters.sim.settings import SimSettings
from engine.events import CancelOrder, MarketData, Order
from engine.markets import Markets
from engine.ports import Clock, EventSink

__all__ = ["MARKET_TIME", "MarketTime", "Paper", "PaperVenue"]

MARKET_TIME = ("Paper trading keeps market time: an order or a cancel reaches the simulated exchange at the time "
               "of the latest market event it has seen (plus latency_ms), as in a back-test, not at the wall-clock "
               "time it was made.")


class MarketTime:
    """The paper venue's clock: the ``ts`` of the latest market event the venue has seen (timers are the
    session's, on its own clock)."""

    def __init__(self) -> None:
        self._now = 0

    def now(self) -> int:
        return self._now

    def see(self, ts: int) -> None:
        if ts > self._now:
            self._now = ts

    def set_timer(self, name: str, at: int, interval: int | None = None) -> None:
        raise NotImplementedError("the paper venue's market time raises no alarms: use the session's clock")

    def cancel_timer(self, name: str) -> None:
        raise NotImplementedError("the paper venue's market time raises no alarms: use the session's clock")


class PaperVenue:
    """An ``ExecutionClient``: the simulated exchange, with orders and cancels stamped in market time."""

    def __init__(self, exchange: SimulatedExchange, market_time: MarketTime) -> None:
        self.exchange = exchange
        self._time = market_time

    def on_market_data(self, event: MarketData) -> None:
        self._time.see(event.ts)
        self.exchange.on_market_data(event)

    def on_order(self, order: Order) -> None:
        self.exchange.on_order(replace(order, ts=self._time.now()))

    def on_cancel_order(self, cancel: CancelOrder) -> None:
        self.exchange.on_cancel_order(replace(cancel, ts=self._time.now()))

    async def start(self) -> None:
        await self.exchange.start()

    async def stop(self) -> None:
        await self.exchange.stop()


class Paper:
    """The venue of a paper session: ``SimSettings`` built as a ``PaperVenue`` (the session's clock is not used
    for matching; see the module's docstring)."""

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()

    def reserve_fee_rate(self) -> Decimal:
        return self.settings.reserve_fee_rate()

    def build(self, bus: EventSink, clock: Clock, markets: Markets, ledger: AccountCheck) -> PaperVenue:
        market_time = MarketTime()
        return PaperVenue(self.settings.build(bus, market_time, markets, ledger), market_time)

    def assumptions(self) -> list[str]:
        return [*self.settings.assumptions(), MARKET_TIME]

    def to_dict(self) -> dict[str, Any]:
        return {**self.settings.to_dict(), "venue": "paper"}
