"""The simulated exchange's per-symbol book: every open order of one symbol, where it waits, in priority order.

An order is in exactly one place at a time, named by its ``stage``:

- ``NEW``: accepted, waiting for its first eligible market event (``active_at``);
- ``TAKING``: takes liquidity at the next open (market orders and the remainder of marketable limits);
- ``RESTING``: a maker limit in ``bids`` (best price first) or ``asks``, then by time;
- ``STOP``: an untriggered stop in ``buy_stops`` (lowest trigger first) or ``sell_stops`` (highest first);
- ``DETACHED`` while the matcher handles it, ``CLOSED`` once terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from sortedcontainers import SortedKeyList

from engine.events import CancelOrder, Order, OrderStatus, Side
from engine.markets import Market

NEW, TAKING, RESTING, STOP, DETACHED, CLOSED = range(6)


@dataclass(slots=True, eq=False)
class SimOrder:
    """The venue's copy of one order and what has happened to it."""

    order: Order
    seq: int
    venue_order_id: str
    active_at: int
    buy: bool
    limit: Decimal | None
    limit_f: float  # the limit as a float, to compare with market data (exact for any price given as text)
    stop: Decimal | None
    stop_f: float
    remaining: Decimal
    filled: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    stage: int = NEW
    status: OrderStatus = OrderStatus.ACCEPTED
    triggered: bool = False
    rest_from: int = 0  # a resting order fills only in market data that opened at or after this

    @classmethod
    def from_order(cls, order: Order, seq: int, active_at: int) -> SimOrder:
        price, stop = order.price, order.stop_price
        return cls(order=order, seq=seq, venue_order_id=f"sim-order-{seq}", active_at=active_at,
                   buy=order.side is Side.BUY, limit=price, limit_f=0.0 if price is None else float(price),
                   stop=stop, stop_f=0.0 if stop is None else float(stop), remaining=order.quantity)

    @property
    def average_price(self) -> Decimal | None:
        return self.notional / self.filled if self.filled else None

    def marketable(self, price: float) -> bool:
        """Tell whether this limit order would take liquidity at ``price``."""
        return self.limit_f >= price if self.buy else self.limit_f <= price


def _bid_key(so: SimOrder) -> tuple[float, int]:
    return -so.limit_f, so.seq


def _ask_key(so: SimOrder) -> tuple[float, int]:
    return so.limit_f, so.seq


def _buy_stop_key(so: SimOrder) -> tuple[float, int]:
    return so.stop_f, so.seq


def _sell_stop_key(so: SimOrder) -> tuple[float, int]:
    return -so.stop_f, so.seq


class SymbolBook:
    """The open orders and pending cancels of one symbol."""

    __slots__ = ("asks", "bids", "buy_stops", "cancels", "ceiling", "floor", "market", "new", "open_count",
                 "sell_stops", "taking")

    def __init__(self, market: Market) -> None:
        self.market = market
        self.new: list[SimOrder] = []
        self.taking: list[SimOrder] = []
        self.bids = SortedKeyList(key=_bid_key)
        self.asks = SortedKeyList(key=_ask_key)
        self.buy_stops = SortedKeyList(key=_buy_stop_key)
        self.sell_stops = SortedKeyList(key=_sell_stop_key)
        self.cancels: list[tuple[int, SimOrder, CancelOrder]] = []  # (effective ts, order, request), FIFO
        self.open_count = 0
        # A bar whose low is above ``floor`` and high below ``ceiling`` reaches no resting order and no stop.
        self.floor = -math.inf  # the best bid or highest sell stop
        self.ceiling = math.inf  # the best ask or lowest buy stop

    def add_new(self, so: SimOrder) -> None:
        so.stage = NEW
        self.new.append(so)
        self.open_count += 1

    def take_next_open(self, so: SimOrder) -> None:
        so.stage = TAKING
        self.taking.append(so)

    def rest(self, so: SimOrder, rest_from: int) -> None:
        so.stage = RESTING
        so.rest_from = rest_from
        (self.bids if so.buy else self.asks).add(so)
        self._bounds()

    def add_stop(self, so: SimOrder) -> None:
        so.stage = STOP
        (self.buy_stops if so.buy else self.sell_stops).add(so)
        self._bounds()

    def detach(self, so: SimOrder) -> None:
        """Take ``so`` out of wherever it waits."""
        stage = so.stage
        if stage == NEW:
            self.new.remove(so)
        elif stage == TAKING:
            self.taking.remove(so)
        elif stage == RESTING:
            (self.bids if so.buy else self.asks).remove(so)
            self._bounds()
        elif stage == STOP:
            (self.buy_stops if so.buy else self.sell_stops).remove(so)
            self._bounds()
        so.stage = DETACHED

    def close(self, so: SimOrder, status: OrderStatus) -> None:
        if so.stage != DETACHED:
            self.detach(so)
        so.stage = CLOSED
        so.status = status
        self.open_count -= 1

    def pop_active(self, open_ts: int) -> list[SimOrder]:
        """Remove and return the new orders active at ``open_ts``, oldest first."""
        new = self.new
        if not new:
            return []
        active = [so for so in new if so.active_at <= open_ts]
        if active:
            self.new = [so for so in new if so.active_at > open_ts] if len(active) < len(new) else []
            for so in active:
                so.stage = DETACHED
        return active

    def pop_taking(self) -> list[SimOrder]:
        """Remove and return the orders taking at this open."""
        taking = self.taking
        self.taking = []
        for so in taking:
            so.stage = DETACHED
        return taking

    def pop_stops_gapped(self, open_: float) -> list[SimOrder]:
        """Remove and return the stops the market opened beyond (buy: open >= stop; sell: open <= stop)."""
        if self.floor < open_ < self.ceiling:
            return []  # beyond every stop's bound: none gapped (and no sorted list to walk)
        gapped = []
        for so in self.buy_stops:
            if so.stop_f > open_:
                break
            gapped.append(so)
        for so in self.sell_stops:
            if so.stop_f < open_:
                break
            gapped.append(so)
        for so in gapped:
            self.detach(so)
        return gapped

    def _bounds(self) -> None:
        """Recompute the prices a range must reach for a resting order or a stop to matter."""
        floor = self.bids[0].limit_f if self.bids else -math.inf
        if self.sell_stops:
            floor = max(floor, self.sell_stops[0].stop_f)
        ceiling = self.asks[0].limit_f if self.asks else math.inf
        if self.buy_stops:
            ceiling = min(ceiling, self.buy_stops[0].stop_f)
        self.floor, self.ceiling = floor, ceiling

    def is_idle(self) -> bool:
        """Tell whether nothing is left to match: no open order and no pending cancel."""
        return not self.open_count and not self.cancels

    def open_orders(self) -> list[SimOrder]:
        """Return the open orders, oldest first."""
        found = [*self.new, *self.taking, *self.bids, *self.asks, *self.buy_stops, *self.sell_stops]
        return sorted(found, key=lambda so: so.seq)
