"""The trading account behind the loopback Binance server: balances, orders, matching, fills and their reports.

Pure bookkeeping, no I/O: ``LiveBinanceServer`` (through ``engine.testing.binance_trading``) feeds it orders and
closed bars and sends what it returns (REST answers, user-stream messages). Amounts are ``Decimal`` so that a test
can compare a ledger with the server to the last digit.

Semantics (chosen to be simple and stated, not to model an order book):

- The price now of a symbol is the forming bar's open rounded to the tick (0.01), the last close once the frame
  is exhausted. A MARKET order fills at once, in full, at that price as taker. A LIMIT order that is marketable
  at it (buy: price now <= limit; sell: price now >= limit) fills at once at the price now, as taker. Otherwise
  GTC rests and fills in full, at its limit, as maker, when a closed bar traded through it (buy: low < limit;
  sell: high > limit); IOC and FOK expire (there is no partial fill: liquidity is unlimited).
- Fees are charged in the quote asset: ``round(rate * price * qty, 8)`` (half up). A buy pays notional + fee, a
  sell receives notional - fee.
- A resting buy locks ``limit * qty`` + its maker fee, a resting sell locks its quantity; a fill releases
  exactly the lock. A buy needs free quote for notional + taker fee at its limit (market: at the price now).
- A client order id is refused only while an order with it is open ("Duplicate order sent."): once that order is
  closed, the id is accepted again and a second order is made, as on Binance. A lookup by client id finds the
  latest order that had it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["Account", "AccountError", "Fill", "Filters", "Order", "OrderRequest", "Outcome", "execution_report", "fmt"]

_EIGHT = Decimal("1e-8")
_ZERO = Decimal(0)
_OPEN = ("NEW", "PARTIALLY_FILLED")
_CLIENT_ID_CHARS = frozenset(".:/_-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def fmt(x: Decimal) -> str:
    """Format an amount as Binance does: eight decimals, positional."""
    return f"{x.quantize(_EIGHT, ROUND_HALF_EVEN):f}"


class AccountError(Exception):
    """A request Binance refuses: the HTTP status and Binance's code and message to answer with."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.status, self.code, self.msg = status, code, msg


def _rejected(code: int, msg: str) -> AccountError:
    return AccountError(400, code, msg)


@dataclass(frozen=True, slots=True)
class Filters:
    """A symbol's PRICE_FILTER, LOT_SIZE and NOTIONAL filters, read from the exchangeInfo entry it is listed with."""

    base: str
    quote: str
    tick: Decimal
    min_price: Decimal
    max_price: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Filters:
        """Return the filters of one ``exchangeInfo`` ``symbols[]`` entry."""
        f = {entry["filterType"]: entry for entry in info["filters"]}
        price, lot, notional = f["PRICE_FILTER"], f["LOT_SIZE"], f["NOTIONAL"]
        return cls(info["baseAsset"], info["quoteAsset"], Decimal(price["tickSize"]), Decimal(price["minPrice"]),
                   Decimal(price["maxPrice"]), Decimal(lot["stepSize"]), Decimal(lot["minQty"]),
                   Decimal(lot["maxQty"]), Decimal(notional["minNotional"]))


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as sent to ``POST /api/v3/order`` (already parsed)."""

    symbol: str
    side: str  # BUY or SELL
    type: str  # MARKET or LIMIT
    quantity: Decimal
    price: Decimal | None
    time_in_force: str  # GTC, IOC or FOK (GTC for a market order, as Binance reports it)
    client_id: str | None


@dataclass(slots=True)
class Order:
    """One order and its state; ``locked`` is what it holds of ``lock_asset`` while open."""

    order_id: int
    client_id: str
    symbol: str
    market_id: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal  # 0 for a market order
    time: int
    update_time: int
    status: str = "NEW"
    executed: Decimal = _ZERO
    quote: Decimal = _ZERO
    locked: Decimal = _ZERO
    lock_asset: str = ""

    @property
    def is_open(self) -> bool:
        """Return whether the order is on the book (its client id is taken)."""
        return self.status in _OPEN


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of an order (the account's side of it)."""

    trade_id: int
    order_id: int
    symbol: str
    market_id: str
    price: Decimal
    qty: Decimal
    quote: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(slots=True)
class _Balance:
    free: Decimal = _ZERO
    locked: Decimal = _ZERO


@dataclass(slots=True)
class Outcome:
    """What one account operation did: the order, its new fills and the user-stream messages to push, in order."""

    order: Order
    fills: list[Fill] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class Account:
    """A spot account that matches orders against a market it is told about; thread-safe.

    Parameters
    ----------
    balances
        Asset -> free amount at start.
    filters
        Unified symbol -> its filters (also gives its base and quote assets and its Binance id, ``BASE+QUOTE``).
    taker_fee, maker_fee
        Fee rates, charged in the quote asset.
    """

    def __init__(self, balances: Mapping[str, float | str | Decimal], filters: Mapping[str, Filters], *,
                 taker_fee: float | str | Decimal = "0.001", maker_fee: float | str | Decimal = "0.001") -> None:
        self._lock = threading.Lock()
        self._filters = dict(filters)
        self._taker, self._maker = _decimal(taker_fee, "taker_fee"), _decimal(maker_fee, "maker_fee")
        self._balances: dict[str, _Balance] = {}
        for f in self._filters.values():
            self._balances.setdefault(f.base, _Balance())
            self._balances.setdefault(f.quote, _Balance())
        for asset, amount in balances.items():
            self._balances[asset] = _Balance(_decimal(amount, f"balances[{asset!r}]"))
        self._orders: dict[int, Order] = {}
        self._fills: list[Fill] = []
        self._next_order = self._next_trade = 1
        self._placed: Counter[str] = Counter()  # orders accepted, by client id
        self.update_time = 0

    @property
    def taker_fee(self) -> Decimal:
        """Return the taker fee rate."""
        return self._taker

    @property
    def maker_fee(self) -> Decimal:
        """Return the maker fee rate."""
        return self._maker

    # -- queries ----------------------------------------------------------------------------------------------
    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Return asset -> (free, locked)."""
        with self._lock:
            return {asset: (b.free, b.locked) for asset, b in self._balances.items()}

    def placed_orders(self) -> Counter[str]:
        """Return the count of orders accepted (placed and matched), by client order id."""
        with self._lock:
            return Counter(self._placed)

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        """Return the order of ``symbol`` with ``order_id`` (else the latest with ``client_id``), or None."""
        with self._lock:
            return self._find(symbol, order_id, client_id)

    def open_orders(self, symbol: str | None) -> list[Order]:
        """Return the open orders (of ``symbol`` when given), oldest first."""
        with self._lock:
            return [o for o in self._orders.values() if o.is_open and symbol in (None, o.symbol)]

    def fills(self, symbol: str) -> list[Fill]:
        """Return ``symbol``'s fills, oldest first."""
        with self._lock:
            return [f for f in self._fills if f.symbol == symbol]

    # -- operations -------------------------------------------------------------------------------------------
    def place(self, request: OrderRequest, price_now: float, now_ms: int) -> Outcome:
        """Check ``request`` as Binance does, accept it and match it at ``price_now``; raise ``AccountError``."""
        f = self._filters[request.symbol]
        now = _on_tick(price_now, f.tick)
        self._check(request, f, now)
        with self._lock:
            cid = request.client_id
            if cid is not None and any(o.is_open and o.client_id == cid for o in self._orders.values()):
                raise _rejected(-2010, "Duplicate order sent.")
            limit = request.price
            marketable = limit is None or (now <= limit if request.side == "BUY" else now >= limit)
            if request.side == "BUY":
                at = now if limit is None else limit
                need, asset = at * request.quantity + self._fee(self._taker, at * request.quantity), f.quote
            else:
                need, asset = request.quantity, f.base
            if self._balances[asset].free < need:
                raise _rejected(-2010, "Account has insufficient balance for requested action.")
            order = Order(self._next_order, cid or f"x-loopback{self._next_order}", request.symbol,
                          f.base + f.quote, request.side, request.type, request.time_in_force, request.quantity,
                          limit if limit is not None else _ZERO, now_ms, now_ms)
            self._next_order += 1
            self._orders[order.order_id] = order
            self._placed[order.client_id] += 1
            outcome = Outcome(order, events=[execution_report(order, "NEW", now_ms)])
            if marketable:
                self._fill(outcome, now, maker=False, now_ms=now_ms)
            elif request.time_in_force == "GTC":
                self._lock_for(order, f, now_ms, outcome)
            else:
                order.status = "EXPIRED"
                outcome.events.append(execution_report(order, "EXPIRED", now_ms))
            return outcome

    def cancel(self, symbol: str, order_id: int | None, client_id: str | None, cancel_id: str,
               now_ms: int) -> Outcome:
        """Cancel an open order; raise ``AccountError`` -2011 when there is none."""
        with self._lock:
            order = self._find(symbol, order_id, client_id)
            if order is None or not order.is_open:
                raise _rejected(-2011, "Unknown order sent.")
            order.status, order.update_time = "CANCELED", now_ms
            outcome = Outcome(order, events=[execution_report(order, "CANCELED", now_ms, cancel_id=cancel_id)])
            self._release(order, now_ms, outcome)
            return outcome

    def bar_closed(self, symbol: str, high: float, low: float, now_ms: int) -> list[Outcome]:
        """Fill ``symbol``'s resting orders that the closed bar (``high``, ``low``) traded through, as maker."""
        hi, lo = Decimal(repr(float(high))), Decimal(repr(float(low)))
        with self._lock:
            outcomes = []
            for order in [o for o in self._orders.values() if o.is_open and o.symbol == symbol]:
                if (lo < order.price) if order.side == "BUY" else (hi > order.price):
                    outcome = Outcome(order)
                    self._release(order, now_ms, None)
                    self._fill(outcome, order.price, maker=True, now_ms=now_ms)
                    outcomes.append(outcome)
            return outcomes

    # -- internals (under the lock) ---------------------------------------------------------------------------
    def _find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        if order_id is not None:
            order = self._orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        matches = [o for o in self._orders.values() if o.symbol == symbol and o.client_id == client_id]
        return matches[-1] if matches else None

    @staticmethod
    def _fee(rate: Decimal, quote: Decimal) -> Decimal:
        return (rate * quote).quantize(_EIGHT, ROUND_HALF_UP)

    @staticmethod
    def _check(request: OrderRequest, f: Filters, now: Decimal) -> None:
        if request.client_id is not None and not (
                0 < len(request.client_id) <= 36 and set(request.client_id) <= _CLIENT_ID_CHARS):
            raise _rejected(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                                   "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        price, qty = request.price, request.quantity
        if price is not None and (not f.min_price <= price <= f.max_price or price % f.tick):
            raise _rejected(-1013, "Filter failure: PRICE_FILTER")
        if not f.min_qty <= qty <= f.max_qty or qty % f.step:
            raise _rejected(-1013, "Filter failure: LOT_SIZE")
        if (now if price is None else price) * qty < f.min_notional:
            raise _rejected(-1013, "Filter failure: NOTIONAL")

    def _lock_for(self, order: Order, f: Filters, now_ms: int, outcome: Outcome) -> None:
        if order.side == "BUY":
            notional = order.price * order.quantity
            order.locked, order.lock_asset = notional + self._fee(self._maker, notional), f.quote
        else:
            order.locked, order.lock_asset = order.quantity, f.base
        b = self._balances[order.lock_asset]
        b.free -= order.locked
        b.locked += order.locked
        outcome.events.append(self._position(now_ms, order.lock_asset))

    def _release(self, order: Order, now_ms: int, outcome: Outcome | None) -> None:
        b = self._balances[order.lock_asset]
        b.free += order.locked
        b.locked -= order.locked
        asset, order.locked = order.lock_asset, _ZERO
        if outcome is not None:
            outcome.events.append(self._position(now_ms, asset))

    def _fill(self, outcome: Outcome, price: Decimal, *, maker: bool, now_ms: int) -> None:
        order = outcome.order
        f = self._filters[order.symbol]
        qty = order.quantity - order.executed
        quote = price * qty
        fee = self._fee(self._maker if maker else self._taker, quote)
        base, quote_b = self._balances[f.base], self._balances[f.quote]
        buy = order.side == "BUY"
        base.free += qty if buy else -qty
        quote_b.free += -(quote + fee) if buy else quote - fee
        fill = Fill(self._next_trade, order.order_id, order.symbol, order.market_id, price, qty, quote, fee,
                    f.quote, now_ms, buy, maker)
        self._next_trade += 1
        self._fills.append(fill)
        order.executed += qty
        order.quote += quote
        order.status, order.update_time = "FILLED", now_ms
        outcome.fills.append(fill)
        outcome.events.append(execution_report(order, "TRADE", now_ms, fill=fill))
        outcome.events.append(self._position(now_ms, f.base, f.quote))

    def _position(self, now_ms: int, *assets: str) -> dict[str, Any]:
        self.update_time = now_ms
        return {"e": "outboundAccountPosition", "E": now_ms, "u": now_ms,
                "B": [{"a": a, "f": fmt(self._balances[a].free), "l": fmt(self._balances[a].locked)}
                      for a in assets]}


def execution_report(order: Order, exec_type: str, now_ms: int, *, fill: Fill | None = None,
                     cancel_id: str | None = None) -> dict[str, Any]:
    """Return Binance's ``executionReport`` of ``order`` for one event (NEW, TRADE, CANCELED or EXPIRED).

    On a cancel, ``c`` is the cancel request's client id and ``C`` the order's (ccxt reads ``C`` first).
    """
    last_qty, last_price = (fill.qty, fill.price) if fill is not None else (_ZERO, _ZERO)
    return {
        "e": "executionReport", "E": now_ms, "s": order.market_id,
        "c": cancel_id if cancel_id is not None else order.client_id, "S": order.side, "o": order.type,
        "f": order.time_in_force, "q": fmt(order.quantity), "p": fmt(order.price), "P": fmt(_ZERO),
        "F": fmt(_ZERO), "g": -1, "C": order.client_id if cancel_id is not None else "", "x": exec_type,
        "X": order.status if exec_type != "NEW" else "NEW", "r": "NONE", "i": order.order_id,
        "l": fmt(last_qty), "z": fmt(order.executed), "L": fmt(last_price),
        "n": fmt(fill.commission) if fill is not None else "0", "N": fill.commission_asset if fill else None,
        "T": now_ms, "t": fill.trade_id if fill is not None else -1, "I": 0,
        "w": order.is_open and order.type == "LIMIT", "m": bool(fill and fill.is_maker), "M": False,
        "O": order.time, "Z": fmt(order.quote), "Y": fmt(fill.quote) if fill is not None else fmt(_ZERO),
        "Q": fmt(_ZERO), "W": order.time, "V": "NONE",
    }


def _on_tick(price: float, tick: Decimal) -> Decimal:
    return Decimal(repr(float(price))).quantize(tick, ROUND_HALF_EVEN)


def _decimal(x: float | str | Decimal, name: str) -> Decimal:
    try:
        value = Decimal(repr(x) if isinstance(x, float) else x)
    except InvalidOperation:
        raise ValueError(f"{name} must be a number, got {x!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite, non-negative number, got {x!r}")
    return value

