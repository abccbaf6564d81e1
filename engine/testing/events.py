"""Build events for tests with one line: every field has a plain default, numbers may be given as text or floats.

Booked values (prices, quantities, fees) become exact ``Decimal``s of the text given, so ``price="99.5"`` is
``Decimal("99.5")``; a trade id left out is new for each fill.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from engine.events import Bar, Fill, Liquidity, Order, OrderStatus, OrderType, OrderUpdate, Side

__all__ = ["make_bar", "make_fill", "make_order", "make_update"]

HOUR = 3600 * 10**9
_trade_ids = itertools.count(1)

Amount = str | int | float | Decimal


def _exact(value: Amount) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def make_bar(ts: int, close: float, *, symbol: str = "BTC/USD", open: float | None = None,
             high: float | None = None, low: float | None = None, volume: float = 1.0,
             interval: int = HOUR) -> Bar:
    """Return a bar stamped ``ts`` (its close time); open, high and low default to the close."""
    open_ = close if open is None else open
    return Bar(ts=ts, symbol=symbol, open=open_, high=max(open_, close) if high is None else high,
               low=min(open_, close) if low is None else low, close=close, volume=volume, interval=interval)


def make_order(client_order_id: str = "o1", side: Side = Side.BUY, quantity: Amount = "1",
               price: Amount | None = None, *, stop_price: Amount | None = None, type: OrderType | None = None,
               symbol: str = "BTC/USD", ts: int = 0) -> Order:
    """Return an order: a limit order when ``price`` is given, else a market order, unless ``type`` says."""
    kind = type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
    return Order(ts=ts, client_order_id=client_order_id, symbol=symbol, side=side, type=kind,
                 quantity=_exact(quantity), price=None if price is None else _exact(price),
                 stop_price=None if stop_price is None else _exact(stop_price))


def make_fill(client_order_id: str = "o1", side: Side = Side.BUY, quantity: Amount = "1", price: Amount = "100",
              *, fee: Amount = "0", fee_currency: str = "USD", symbol: str = "BTC/USD", ts: int = 0,
              trade_id: str | None = None, liquidity: Liquidity = Liquidity.TAKER) -> Fill:
    """Return a fill of ``client_order_id``; without ``trade_id`` it gets a new one."""
    return Fill(ts=ts, client_order_id=client_order_id,
                trade_id=f"t{next(_trade_ids)}" if trade_id is None else trade_id, symbol=symbol, side=side,
                price=_exact(price), quantity=_exact(quantity), fee=_exact(fee), fee_currency=fee_currency,
                liquidity=liquidity)


def make_update(client_order_id: str = "o1", status: OrderStatus = OrderStatus.ACCEPTED, *, ts: int = 0,
                symbol: str = "BTC/USD", reason: str = "", filled: Amount = "0",
                remaining: Amount = "0") -> OrderUpdate:
    """Return an update of ``client_order_id``'s status."""
    return OrderUpdate(ts=ts, client_order_id=client_order_id, symbol=symbol, status=status,
                       filled_quantity=_exact(filled), remaining_quantity=_exact(remaining), reason=reason)
