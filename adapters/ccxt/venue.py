"""The venue of a real-money session, as ``engine.live.LiveSession`` takes one: built into a ``CcxtExecution``
whose reports go to the live loop's inbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.ccxt.execution import CcxtExecution
from engine.markets import Markets
from engine.ports import Clock, EventSink

__all__ = ["Exchange"]


class Exchange:
    """An exchange reached through a ccxt.pro client that holds the account's keys and has its markets loaded."""

    reports_arrive_on_their_own = True  # the session hands the client its inbox, not the bus

    def __init__(self, client: Any, *, check_every: float = 30.0, stale_after: float = 120.0,
                 settle_for: float = 30.0, cancel_on_stop: bool = True) -> None:
        self.client = client
        self.cancel_on_stop = cancel_on_stop
        self.check_every = check_every
        self.stale_after = stale_after
        self.settle_for = settle_for

    def reserve_fee_rate(self) -> Decimal:
        """The highest fee rate the exchange states for its markets (0.1% when it states none)."""
        rates = [Decimal(str(market[side])) for market in (self.client.markets or {}).values()
                 for side in ("taker", "maker") if market.get(side) is not None]
        return max(rates, default=Decimal("0.001"))

    def build(self, reports: EventSink, clock: Clock, markets: Markets, ledger: Any) -> CcxtExecution:
        return CcxtExecution(self.client, reports, markets, clock.now, check_every=self.check_every,
                             stale_after=self.stale_after, settle_for=self.settle_for,
                             cancel_on_stop=self.cancel_on_stop)

    def assumptions(self) -> list[str]:
        return [f"Orders went to {self.client.id}: its fills, prices and fees, read from its own text, were booked "
                "as it reported them; nothing was simulated."]

    def to_dict(self) -> dict[str, Any]:
        return {"venue": "exchange", "exchange": self.client.id, "cancel_on_stop": self.cancel_on_stop}
