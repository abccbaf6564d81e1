"""Events and commands that travel on the bus.

Every event carries ``ts``: integer nanoseconds UTC, the time the thing happened at its source.
Events are slotted, keyword-only dataclasses that nobody mutates. This module imports nothing of ours.

The family base classes (``Event``, ``MarketData``, ``Command``) hold no fields, so that a subscription to a
base class receives every subclass while each concrete event stays a plain dataclass.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class Event:
    """Base of everything that travels on the bus."""

    __slots__ = ()
    ts: int


class MarketData(Event):
    """Something the market did: a bar, a trade, a quote, a funding rate, a volatility print."""

    __slots__ = ()
    symbol: str


class Command(Event):
    """A request addressed to a venue (submit, cancel); named in the imperative."""

    __slots__ = ()


# Not frozen: the bar feed builds each Bar by filling a bare instance's slots, which a frozen class refuses, and
# that pays (benchmarks/README.md). Nobody else sets a field: treat a Bar as immutable.
@dataclass(slots=True, kw_only=True)
class Bar(MarketData):
    """OHLCV of one interval, stamped at its close (``ts``); it opened at ``ts - interval``."""

    ts: int
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    interval: int

    @property
    def open_ts(self) -> int:
        return self.ts - self.interval


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(MarketData):
    """One print on the tape."""

    ts: int
    symbol: str
    price: float
    quantity: float
    aggressor: int = 0  # +1 buyer-initiated, -1 seller-initiated, 0 unknown
    trade_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote(MarketData):
    """Best bid and ask."""

    ts: int
    symbol: str
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRate(MarketData):
    """A perpetual swap's funding rate for one funding interval."""

    ts: int
    symbol: str
    rate: float
    next_funding_ts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class VolIndex(MarketData):
    """An implied or realized volatility print (annualised, as a fraction)."""

    ts: int
    symbol: str
    value: float
    kind: str = "implied"


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal(Event):
    """A named view of the market: direction -1/0/+1, strength, and what drove it."""

    ts: int
    name: str
    symbol: str
    direction: int
    strength: float = 1.0
    contributions: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"Signal {self.name!r}: direction must be -1, 0 or 1, got {self.direction!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer(Event):
    """A clock alarm that a handler asked for."""

    ts: int
    name: str


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    sign: int  # +1 buy, -1 sell

    def __init__(self, value: str) -> None:
        self.sign = 1 if value == "buy" else -1


class OrderType(enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(enum.Enum):
    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "FOK"  # fill or kill: fill all now or nothing


class OrderStatus(enum.Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Tell whether the order is over: filled, cancelled, rejected or expired."""
        return self in _TERMINAL


_TERMINAL = frozenset((OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED))


class Liquidity(enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


# Not frozen, like OrderUpdate and Fill: a frozen dataclass's constructor sets each field through
# object.__setattr__, and an order's four events cost 9% of the order's instructions frozen (benchmarks/README.md).
# Nobody sets a field once an event is made (tests/unit/test_events.py): treat them as immutable.
@dataclass(slots=True, kw_only=True)
class Order(Command):
    """A request to trade, exact as it is sent to the venue.

    ``price`` is the limit price (limit and stop-limit orders); ``stop_price`` the trigger (stop orders).
    The constructor refuses shapes no venue accepts, naming the field and the value.
    """

    ts: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Runs for every order: market and limit orders pass with identity tests and no message is built; any
        # other shape, or a broken rule, goes through the full check, which names the first rule broken.
        kind = self.type
        if kind is OrderType.MARKET:
            usual = self.price is None and self.stop_price is None
        elif kind is OrderType.LIMIT:
            usual = self.stop_price is None and _is_positive(self.price)
        else:
            usual = False  # stop orders are rare: checked in full
        if not (usual and _is_positive(self.quantity)) or self.post_only:
            self._check_in_full()

    def _check_in_full(self) -> None:
        """Raise ``ValueError`` naming the first field that breaks a rule of the order's shape."""
        who = f"order {self.client_order_id!r} on {self.symbol}"
        if not _is_positive(self.quantity):
            raise ValueError(f"{who}: quantity must be a positive finite Decimal, got {self.quantity!r}")
        needs_price = self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        for name, value, needed in (("price", self.price, needs_price), ("stop_price", self.stop_price, needs_stop)):
            if needed and value is None:
                raise ValueError(f"{who}: {self.type.value} order needs {name}")
            if not needed and value is not None:
                raise ValueError(f"{who}: {self.type.value} order takes no {name}, got {value!r}")
            if value is not None and not _is_positive(value):
                raise ValueError(f"{who}: {name} must be a positive finite Decimal, got {value!r}")
        if self.post_only and self.type is not OrderType.LIMIT:
            raise ValueError(f"{who}: post_only applies to limit orders only, not {self.type.value}")
        if self.post_only and self.time_in_force is not TimeInForce.GTC:
            raise ValueError(f"{who}: post_only needs GTC, got {self.time_in_force.value}")


def refused_order(**fields: Any) -> Order:
    """Return the record of a request that breaks a rule of an order's shape, unchecked.

    Such a request is never sent: it is only kept, as asked, beside the rejection that names the rule.
    """
    order = object.__new__(Order)
    for field_ in dataclasses.fields(Order):
        if field_.name in fields:
            value = fields[field_.name]
        elif field_.default_factory is not dataclasses.MISSING:
            value = field_.default_factory()
        else:
            value = field_.default
        object.__setattr__(order, field_.name, value)
    return order


def _is_positive(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder(Command):
    """Ask the venue to cancel an open order."""

    ts: int
    client_order_id: str
    symbol: str


@dataclass(slots=True, kw_only=True)  # not frozen: see Order
class OrderUpdate(Event):
    """What happened to an order: accepted, rejected (with a reason), triggered, filled, cancelled, expired."""

    ts: int
    client_order_id: str
    symbol: str
    status: OrderStatus
    filled_quantity: Decimal = Decimal(0)
    remaining_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    reason: str = ""
    venue_order_id: str = ""


@dataclass(slots=True, kw_only=True)  # not frozen: see Order
class Fill(Event):
    """One execution of an order: exact price, quantity and fee as booked."""

    ts: int
    client_order_id: str
    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    venue_order_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerFailed(Event):
    """A handler raised while the loop kept going (live); the risk engine may halt on it."""

    ts: int
    handler: str
    event: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskBreach(Event):
    """A risk limit stopped something (``engine.risk``): an order refused (``client_order_id``), or trading halted
    or resumed. Published, so the journal keeps every breach."""

    ts: int
    limit: str
    detail: str
    halted: bool = False
    client_order_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class KillSwitch(Event):
    """Someone pulled the kill switch (``engine.kill_switch``): trading halts at once, open orders are cancelled
    and positions closed at market if asked, then the session stops. Journaled with who asked and why."""

    ts: int
    by: str
    reason: str
    cancel: bool = False
    flatten: bool = False
