"""Risk limits that hold whatever the strategy does: pre-trade checks between the strategies and the venue, and
halts on losses. The kernel builds the same ``RiskEngine`` in a back-test, a paper session and a live one, so a
limit refuses the same order for the same reason in all three.

Pre-trade (``RiskEngine.check``, called by the order manager after the market's own checks, before funds are
reserved): an order's notional, the position it could lead to (quantity and notional, open orders counted; an
order that brings a position closer to flat always passes), the open orders, and the orders sent in the last
minute. A refused order comes back to the strategy as a ``REJECTED`` update naming the limit and the figures.

Orders a minute are counted in market time (the latest market event's), so a paper session fed bars faster than
real time refuses what its back-test refuses; live, market time is the exchange's clock.

On losses (each bar and fill, after the ledger booked it): the loss since the UTC day began halts new orders until
the next day; the drawdown from the session's peak equity halts them for the rest of the session. Cancels still go
out. Every refusal and halt is published as a ``RiskBreach`` event, so the journal keeps it.

Notional figures are in the symbol's quote currency; loss figures in the account currency (the ledger's equity).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from engine.bus import EventBus
from engine.errors import ConfigError, OrderRejected
from engine.events import Bar, Fill, MarketData, Order, RiskBreach, Side
from engine.markets import Markets
from engine.orders import OrderManager
from engine.ports import Clock

__all__ = ["RiskEngine", "RiskLimits"]

_MINUTE = 60_000_000_000
_DAY = 86_400_000_000_000
_INTEGERS = frozenset({"max_open_orders", "max_orders_per_minute"})


@dataclass(frozen=True)
class RiskLimits:
    """The session's limits; None leaves a limit off. ``max_drawdown`` is a fraction of the peak (0.2 = 20%)."""

    max_order_notional: Decimal | None = None
    max_position: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_minute: int | None = None
    daily_loss_limit: Decimal | None = None
    max_drawdown: Decimal | None = None

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if not float(value) > 0:
                raise ConfigError(f"risk limit {name} must be positive, got {value}")
        if self.max_drawdown is not None and not self.max_drawdown < 1:
            raise ConfigError(f"risk limit max_drawdown is a fraction of the peak below 1 (0.2 = 20%), got "
                              f"{self.max_drawdown}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "[risk]") -> RiskLimits:
        """Read limits from a config table or ``KEY=VALUE`` options, naming ``where`` and the key in any error."""
        known = [f.name for f in fields(cls)]
        read: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}: unknown risk limit {key!r} (known: {', '.join(known)})")
            try:
                if isinstance(value, bool):
                    raise ValueError
                read[key] = int(str(value)) if key in _INTEGERS else Decimal(str(value))
                if key not in _INTEGERS and not read[key].is_finite():
                    raise ValueError
            except (ValueError, InvalidOperation):
                kind = "a whole number" if key in _INTEGERS else "a number"
                raise ConfigError(f"{where}: {key} must be {kind}, got {value!r}") from None
        try:
            return cls(**read)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, str | int]:
        """The limits that are on, as the result and the journal record them."""
        out: dict[str, str | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value if isinstance(value, int) else str(value)
        return out


class RiskEngine:
    """Apply ``limits`` to one session: the order manager calls ``check`` for each order; bars and fills move the
    loss limits. Built by the kernel, which subscribes it after the ledger."""

    def __init__(self, limits: RiskLimits, *, bus: EventBus, clock: Clock, ledger: Any, orders: OrderManager,
                 markets: Markets) -> None:
        self.limits = limits
        self._bus, self._clock, self._ledger, self._orders, self._markets = bus, clock, ledger, orders, markets
        self._sent: deque[int] = deque()  # when the orders of the last minute were sent
        self._day: int | None = None
        self._day_start = 0.0  # equity when the UTC day began
        self._last_equity = 0.0
        self.peak = 0.0
        orders.risk = self
        self._market_now: int | None = None  # the latest market event's time: the per-minute count's clock
        if limits.max_orders_per_minute is not None:
            bus.subscribe(MarketData, self._on_market_data)
        if limits.daily_loss_limit is not None or limits.max_drawdown is not None:
            bus.subscribe(Bar, self.on_equity_change)
            bus.subscribe(Fill, self.on_equity_change)

    # -- pre-trade ---------------------------------------------------------------------------------------------
    def check(self, order: Order, reference_price: Decimal | float | None) -> None:
        """Raise ``OrderRejected`` naming the first limit ``order`` would break, after publishing the breach."""
        limits = self.limits
        quote = self._markets[order.symbol].quote
        price = order.price if order.price is not None else order.stop_price
        if price is None and reference_price is not None:
            price = reference_price if isinstance(reference_price, Decimal) else Decimal(repr(reference_price))
        notional = None if price is None else order.quantity * price
        if limits.max_order_notional is not None and notional is not None and notional > limits.max_order_notional:
            self._refuse(order, "max_order_notional",
                         f"the order's notional {_figure(notional)} {quote} is above {limits.max_order_notional}")
        if limits.max_position is not None or limits.max_position_notional is not None:
            self._check_position(order, price, quote)
        if limits.max_open_orders is not None:
            count = len(self._orders.open_orders())
            if count >= limits.max_open_orders:
                self._refuse(order, "max_open_orders", f"{count} orders are open, the limit is "
                                                       f"{limits.max_open_orders}")
        if limits.max_orders_per_minute is not None:
            now = self._now()
            sent = self._sent
            while sent and sent[0] <= now - _MINUTE:
                sent.popleft()
            if len(sent) >= limits.max_orders_per_minute:
                self._refuse(order, "max_orders_per_minute", f"{len(sent)} orders were sent in the last minute, "
                                                             f"the limit is {limits.max_orders_per_minute}")

    def _check_position(self, order: Order, price: Decimal | None, quote: str) -> None:
        symbol = order.symbol
        before = self._ledger.position(symbol).quantity + self._orders.open_quantity(symbol)
        after = before + (order.quantity if order.side is Side.BUY else -order.quantity)
        if abs(after) <= abs(before):
            return  # toward flat: never refused
        limits = self.limits
        if limits.max_position is not None and abs(after) > limits.max_position:
            self._refuse(order, "max_position", f"{symbol} would reach {_figure(after)} (open orders counted), "
                                                f"above {limits.max_position}")
        if limits.max_position_notional is not None and price is not None:
            notional = abs(after) * price
            if notional > limits.max_position_notional:
                self._refuse(order, "max_position_notional",
                             f"{symbol} would reach {_figure(notional)} {quote} at {_figure(price)} (open orders "
                             f"counted), above {limits.max_position_notional}")

    def _refuse(self, order: Order, limit: str, detail: str) -> NoReturn:
        self._bus.publish(RiskBreach(ts=self._clock.now(), limit=limit, detail=detail,
                                     client_order_id=order.client_order_id))
        raise OrderRejected(f"risk limit {limit}: {detail}")

    @property
    def day_start(self) -> float | None:
        """Equity when the UTC day began, which the daily loss is counted from (None before the first bar, or
        when no loss limit is on: then nothing follows equity)."""
        return None if self._day is None else self._day_start

    def sent(self, order: Order) -> None:
        """Count ``order`` among the last minute's (the order manager calls it once the order passed every check)."""
        if self.limits.max_orders_per_minute is not None:
            self._sent.append(self._now())

    def _on_market_data(self, event: MarketData) -> None:
        self._market_now = event.ts if self._market_now is None else max(self._market_now, event.ts)

    def _now(self) -> int:
        """Market time: a paper session that replays history fast counts its orders as its back-test does."""
        return self._clock.now() if self._market_now is None else self._market_now

    # -- losses ------------------------------------------------------------------------------------------------
    def on_equity_change(self, event: Bar | Fill) -> None:
        """Follow equity; halt on the day's loss or the drawdown from the peak, lift the day's halt next day."""
        equity = self._ledger.equity()
        day = event.ts // _DAY
        if day != self._day:
            if self._day is not None:
                self._lift("daily_loss_limit", "a new UTC day began: trading resumes")
            self._day_start = self._last_equity if self._day is not None else equity
            self._day = day
        self._last_equity = equity
        self.peak = max(self.peak, equity)
        limits = self.limits
        if limits.daily_loss_limit is not None:
            lost = self._day_start - equity
            if lost >= float(limits.daily_loss_limit):
                self._halt("daily_loss_limit", f"lost {lost:,.2f} {self._ledger.account_currency} since the UTC day "
                                               f"began (limit {limits.daily_loss_limit}): no new orders until the "
                                               "day ends")
        if limits.max_drawdown is not None and self.peak > 0:
            drawdown = (self.peak - equity) / self.peak
            if drawdown >= float(limits.max_drawdown):
                self._halt("max_drawdown", f"equity {equity:,.2f} is {drawdown:.1%} below the session's peak "
                                           f"{self.peak:,.2f} (limit {float(limits.max_drawdown):.1%}): no new "
                                           "orders for the rest of the session")

    def _halt(self, limit: str, detail: str) -> None:
        by = f"risk {limit}"
        if by in self._orders.halts:
            return
        self._orders.halt(f"risk limit {limit}: {detail}", by=by)
        self._bus.publish(RiskBreach(ts=self._clock.now(), limit=limit, detail=detail, halted=True))

    def _lift(self, limit: str, detail: str) -> None:
        by = f"risk {limit}"
        if by in self._orders.halts:
            self._orders.halt(None, by=by)
            self._bus.publish(RiskBreach(ts=self._clock.now(), limit=limit, detail=detail, halted=False))


def _figure(value: Decimal) -> str:
    return format(value.normalize(), "f")
