"""The Strategy base class users subclass: hooks for events, helpers for orders, read-only views of the state.

A strategy cannot tell a back-test from a live session: it sees the bus's events, the injected clock, a
read-only ledger and an order manager, the same objects in both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from engine.bus import EventBus
from engine.errors import ConfigError
from engine.events import (
    Bar,
    Fill,
    Order,
    OrderType,
    OrderUpdate,
    Side,
    Signal,
    TimeInForce,
    Timer,
    refused_order,
)
from engine.markets import Markets, to_decimal
from engine.orders import OrderManager, OrderRecord
from engine.ports import Clock


class LedgerView:
    """Read-only access to the ledger: strategies look, only fills change it."""

    _READS = frozenset({"balance", "reserved", "set_aside_amount", "free", "position", "positions", "equity",
                        "unrealized_pnl", "realized_pnl", "fees_paid", "last_price", "journal",
                        "account_currency"})

    def __init__(self, ledger: Any) -> None:
        object.__setattr__(self, "_ledger", ledger)

    def __getattr__(self, name: str) -> Any:
        if name not in self._READS:
            raise AttributeError(f"the ledger is read-only to strategies: {name!r} is not available")
        return getattr(self._ledger, name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the ledger is read-only to strategies")


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What the kernel hands a strategy when it is attached."""

    bus: EventBus
    clock: Clock
    ledger: Any
    orders: OrderManager
    markets: Markets


class Strategy:
    """Subclass and override the hooks you need; only overridden hooks are subscribed to the bus.

    Parameters are declared in ``params`` with their defaults and given as keyword arguments; unknown or
    mistyped ones raise ``ConfigError`` naming the parameter.
    """

    params: ClassVar[Mapping[str, Any]] = {}
    _HOOKS: ClassVar[dict[str, type]] = {"on_bar": Bar, "on_signal": Signal, "on_order_update": OrderUpdate,
                                         "on_fill": Fill, "on_timer": Timer}

    def __init__(self, **params: Any) -> None:
        self.p: dict[str, Any] = dict(self.params)
        for key, value in params.items():
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise ConfigError(f"{type(self).__name__}: unknown parameter {key!r} (known: {known})")
            self.p[key] = _coerce(type(self).__name__, key, value, self.params[key])
        self.name = type(self).__name__
        self._ctx: StrategyContext | None = None
        self._timers: set[str] = set()

    # -- wiring --------------------------------------------------------------------------------------------
    def attach(self, context: StrategyContext) -> None:
        """Connect to a run: subscribe the overridden hooks to the bus."""
        self._ctx = context
        self.ledger = LedgerView(context.ledger)
        for name, event_type in self._HOOKS.items():
            method = getattr(self, name)
            if getattr(type(self), name) is getattr(Strategy, name):
                continue
            if name == "on_timer":
                context.bus.subscribe(Timer, self._dispatch_timer)
            else:
                context.bus.subscribe(event_type, method)

    def _dispatch_timer(self, timer: Timer) -> None:
        if timer.name in self._timers:
            self.on_timer(timer)

    @property
    def context(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"{self.name} is not attached to a run yet")
        return self._ctx

    def warmup_bars(self) -> int:
        """Return how many bars the strategy needs before its first decision (its longest window): a live
        session warms up on at least that many bars of history. Override when it is more than 0."""
        return 0

    def chart_indicators(self) -> dict[str, dict[str, Any]]:
        """Return the lines the report draws over the candles: ``{label: {"kind": "sma" | "ema" | "bollinger",
        "window": bars, "nbdev": width}}`` (``engine.report.indicators``). The report computes them from the saved
        closes, so a run records nothing for them. Override to show the strategy's own averages or bands."""
        return {}

    # -- hooks ---------------------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Called once before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """Called with each bar, after the venue's fills at its open have been booked."""

    def on_signal(self, signal: Signal) -> None:
        """Called with each signal from Analyze or ML handlers."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """Called when an order is accepted, rejected, triggered, filled, cancelled or expired."""

    def on_fill(self, fill: Fill) -> None:
        """Called with each fill, after the ledger booked it."""

    def on_timer(self, timer: Timer) -> None:
        """Called when a timer set with ``set_timer`` fires."""

    def on_stop(self) -> None:
        """Called once after the last event."""

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def halted(self) -> str | None:
        """Why orders are refused now (warming up on history before a live session, trading halted), or None."""
        return self.context.orders.halted

    def now(self) -> int:
        return self.context.clock.now()

    def position(self, symbol: str) -> Decimal:
        return self.context.ledger.position(symbol).quantity

    def equity(self) -> float:
        return self.context.ledger.equity()

    def open_orders(self, symbol: str | None = None) -> list[OrderRecord]:
        return self.context.orders.open_orders(symbol)

    def set_timer(self, name: str, at: int, interval: int | None = None) -> None:
        self._timers.add(name)
        self.context.clock.set_timer(name, at, interval)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, side: Side, symbol: str, quantity: float | Decimal, *, type: OrderType = OrderType.MARKET,
               price: float | Decimal | None = None, stop_price: float | Decimal | None = None,
               time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False,
               reduce_only: bool = False) -> OrderRecord:
        """Send an order of any type; quantity is rounded down and prices to the market's increments.

        Returns the order's record; a refused order comes back REJECTED with the reason (and an update).
        """
        ctx = self.context
        market = ctx.markets[symbol]
        cid = ctx.orders.next_id(self.name)
        now = ctx.clock.now()
        try:
            order = Order(ts=now, client_order_id=cid, symbol=symbol, side=side, type=type,
                          quantity=_rounded("quantity", quantity, market.round_size, market.size_increment),
                          price=None if price is None else _rounded("price", price, market.round_price,
                                                                    market.price_increment),
                          stop_price=None if stop_price is None else _rounded("stop_price", stop_price,
                                                                              market.round_price,
                                                                              market.price_increment),
                          time_in_force=time_in_force, post_only=post_only, reduce_only=reduce_only)
        except ValueError as exc:  # a value or a shape no venue takes: the strategy hears of it as a rejection
            reason = f"order {cid!r} on {symbol}: {exc}" if isinstance(exc, _Unsendable) else str(exc)
            requested = refused_order(ts=now, client_order_id=cid, symbol=symbol, side=side, type=type,
                                      quantity=_as_requested(quantity), price=_as_requested(price),
                                      stop_price=_as_requested(stop_price), time_in_force=time_in_force,
                                      post_only=post_only, reduce_only=reduce_only)
            return ctx.orders.refuse(requested, reason)
        return ctx.orders.submit(order, ctx.ledger.last_price(symbol))  # a float: read as a Decimal where needed

    def buy(self, symbol: str, quantity: float | Decimal, price: float | Decimal | None = None,
            **kwargs: Any) -> OrderRecord:
        """Buy at market, or with a limit when ``price`` is given."""
        kwargs.setdefault("type", OrderType.MARKET if price is None else OrderType.LIMIT)
        return self.submit(Side.BUY, symbol, quantity, price=price, **kwargs)

    def sell(self, symbol: str, quantity: float | Decimal, price: float | Decimal | None = None,
             **kwargs: Any) -> OrderRecord:
        """Sell at market, or with a limit when ``price`` is given."""
        kwargs.setdefault("type", OrderType.MARKET if price is None else OrderType.LIMIT)
        return self.submit(Side.SELL, symbol, quantity, price=price, **kwargs)

    def cancel(self, order: OrderRecord | str) -> None:
        self.context.orders.cancel(order if isinstance(order, str) else order.order.client_order_id)

    def cancel_all(self, symbol: str | None = None) -> None:
        for record in self.open_orders(symbol):
            self.cancel(record)

    def target_position(self, symbol: str, quantity: float | Decimal,
                        price: float | Decimal | None = None) -> OrderRecord | None:
        """Trade toward holding ``quantity`` of ``symbol``, counting open orders; None when already there."""
        ctx = self.context
        market = ctx.markets[symbol]
        try:
            target = to_decimal(quantity)
        except ValueError:  # refused as a buy of what was asked: no side can be told from it
            return self.buy(symbol, quantity, price)
        difference = target - ctx.ledger.position(symbol).quantity - ctx.orders.open_quantity(symbol)
        size = market.round_size(abs(difference))
        if not size:
            return None
        return self.buy(symbol, size, price) if difference > 0 else self.sell(symbol, size, price)

    def target_percent(self, symbol: str, percent: float,
                       price: float | Decimal | None = None) -> OrderRecord | None:
        """Trade toward holding ``percent`` of equity (1.0 = all of it) in ``symbol`` at the last price."""
        reference = float(price) if price is not None else self._last_price(symbol)
        return self.target_position(symbol, self.equity() * percent / reference, price)

    def _last_price(self, symbol: str) -> float:
        price = self.context.ledger.last_price(symbol)
        if price is None:
            raise ConfigError(f"{self.name}: no price seen yet for {symbol!r}")
        return float(price)


class _Unsendable(ValueError):
    """A value of an order no venue takes (the message names the field; the caller adds the order)."""


def _rounded(name: str, value: float | Decimal, round_: Callable[[float | Decimal], Decimal],
             increment: Decimal) -> Decimal:
    """Return ``value`` rounded by ``round_``; raise ``_Unsendable`` if it is not a finite number or not positive
    once rounded."""
    try:
        rounded = round_(value)
    except (ValueError, TypeError, ArithmeticError):
        raise _Unsendable(f"{name} {value!r} is not a finite number") from None
    if rounded <= 0:
        if value <= 0:
            raise _Unsendable(f"{name} {value!r} is not positive")
        raise _Unsendable(f"{name} {value!r} rounds to {rounded} at the increment {increment}")
    return rounded


def _as_requested(value: float | Decimal | None) -> Decimal | None:
    """Return a value of a refused request as a Decimal, as asked (NaN and infinities included)."""
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(float.__repr__(float(value)))
    except (TypeError, ValueError):
        return Decimal("NaN")


def _coerce(owner: str, key: str, value: Any, default: Any) -> Any:
    """Convert a parameter given as text (CLI, config) to the type of its default."""
    if default is None or not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return type(default)(value)
    except (TypeError, ValueError, ArithmeticError):
        raise ConfigError(f"{owner}: parameter {key!r} must be a {type(default).__name__}, got {value!r}") from None

