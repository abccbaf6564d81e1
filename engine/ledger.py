"""The portfolio of record: balances per currency, reservations, set-aside, positions, fees and PnL.

Everything booked is an exact ``Decimal``; market marks are floats, because ``mark`` and ``equity`` run on
every bar. Each write either applies completely or raises and changes nothing: every check and every sum is
computed first, and only then are the results stored. Every change of a balance, a reservation or a set-aside
is appended to ``journal``, so a session can be audited and reconciled line by line.

The account is spot for now (no shorting, no margin). The position arithmetic is already signed (average cost,
realized PnL on reductions, flips open at the fill price), so a futures account can reuse it and replace only
the cash checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.errors import ConfigError, InsufficientFunds, OrderRejected
from engine.events import Bar, Fill, Order, OrderUpdate, Side
from engine.markets import Markets, Route, to_decimal
from engine.ports import Clock
from engine.position import Position, traded_at
from engine.store import Journal, journal_table
from engine.store import JournalEntry as JournalEntry  # re-exported: the ledger's journal is read as these

_ZERO = Decimal(0)
_ONE = Decimal(1)



@dataclass(slots=True)
class _Reservation:
    currency: str
    per_unit: Decimal  # reserved per unit of quantity still to fill: exact, so no rounding dust accumulates
    remaining: Decimal

    @property
    def amount(self) -> Decimal:
        return self.remaining * self.per_unit


@dataclass(slots=True)
class _FillPlan:
    changes: list[tuple[str, str, Decimal, Decimal]]  # (kind, currency, amount, balance after)
    position: Position
    remaining: Decimal | None  # the order's remaining reserved quantity after the fill; None: no reservation
    reference: str  # what the fill's journal rows name it by (_reference)


def _check_amount(what: str, value: object, *, allow_zero: bool = False) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{what} must be a {kind} finite Decimal, got {value!r}")
    return value


class Ledger:
    """Book deposits, reservations and fills of one account, and value it at the latest marks.

    Parameters
    ----------
    markets
        The run's markets; symbols of orders and fills must be among them.
    account_currency
        The currency ``equity`` is valued in, and the default one of ``set_aside``.
    initial_balances
        Deposited at construction (journal note ``initial``); zero amounts are skipped.
    reserve_fee_rate
        Buy reservations hold ``quantity * price * (1 + reserve_fee_rate)`` so the fee of the fill is covered.
    clock
        Timestamps of journal entries that are not fills; without it they are 0.
    """

    def __init__(self, markets: Markets, account_currency: str, initial_balances: Mapping[str, Decimal], *,
                 reserve_fee_rate: Decimal = _ZERO, clock: Clock | None = None) -> None:
        if not isinstance(reserve_fee_rate, Decimal) or not reserve_fee_rate.is_finite() or reserve_fee_rate < 0:
            raise ConfigError(f"reserve_fee_rate must be a non-negative Decimal, got {reserve_fee_rate!r}")
        self.markets = markets
        self.account_currency = account_currency
        self.reserve_fee_rate = reserve_fee_rate
        self._buy_reserve_factor = _ONE + reserve_fee_rate
        self._clock = clock
        self._journal = journal_table()
        self.journal = Journal(self._journal)
        self._balances: dict[str, Decimal] = {}
        self._reserved: dict[str, Decimal] = {}
        self._set_aside: dict[str, Decimal] = {}
        self._reservations: dict[str, _Reservation] = {}
        self._holders: dict[str, dict[str, _Reservation]] = {}  # the same reservations by currency, then order id
        self._positions: dict[str, Position] = {}
        self._fees: dict[str, Decimal] = {}
        self._marks: dict[str, float] = {}
        self._routes: dict[str, Route] = {}
        # Float shadows for the hot path, rebuilt after every booked change (see _revalue).
        self._account_float = 0.0
        self._direct: list[tuple[str, float, float]] = []  # (symbol, quantity held, fallback price)
        self._indirect: list[tuple[float, tuple[tuple[str, bool, float], ...]]] = []
        self._unvalued: list[str] = []
        self._slow = False
        for currency, amount in initial_balances.items():
            if amount:
                self.deposit(currency, amount, note="initial")

    # -- reads ---------------------------------------------------------------------------------------------
    def balance(self, currency: str) -> Decimal:
        """Return the total held in ``currency``, reserved and set aside included."""
        return self._balances.get(currency, _ZERO)

    def balances(self) -> dict[str, Decimal]:
        """Return every non-zero balance by currency."""
        return {c: b for c, b in self._balances.items() if b}

    def reserved(self, currency: str) -> Decimal:
        """Return what open orders hold in ``currency``."""
        return self._reserved.get(currency, _ZERO)

    def reservation(self, client_order_id: str) -> Decimal:
        """Return what one order still holds (0 if it holds nothing), in its reservation currency."""
        reservation = self._reservations.get(client_order_id)
        return _ZERO if reservation is None else reservation.amount

    def set_aside_amount(self, currency: str | None = None) -> Decimal:
        """Return what the user set aside in ``currency`` (default: the account currency)."""
        return self._set_aside.get(currency or self.account_currency, _ZERO)

    def free(self, currency: str) -> Decimal:
        """Return what new orders may spend: balance less reservations and set-aside."""
        return (self._balances.get(currency, _ZERO) - self._reserved.get(currency, _ZERO)
                - self._set_aside.get(currency or self.account_currency, _ZERO))

    def position(self, symbol: str) -> Position:
        """Return the position in ``symbol``, flat if it never traded."""
        position = self._positions.get(symbol)
        return Position(symbol) if position is None else position

    def positions(self) -> dict[str, Position]:
        """Return the non-flat positions by symbol."""
        return {s: p for s, p in self._positions.items() if p.quantity}

    def realized_pnl(self) -> Decimal:
        """Return the realized PnL summed over symbols (in their quote currencies; fees not included)."""
        return sum((p.realized_pnl for p in self._positions.values()), _ZERO)

    def fees_paid(self) -> dict[str, Decimal]:
        """Return the fees paid by fee currency (rebates count negative)."""
        return dict(self._fees)

    def last_price(self, symbol: str) -> float | None:
        """Return the latest mark of ``symbol``, or None before the first."""
        return self._marks.get(symbol)

    def mark(self, symbol: str, price: float) -> None:
        """Record the latest price of ``symbol``; equity and unrealized PnL are valued at it."""
        self._marks[symbol] = price

    def equity(self) -> float:
        """Return every balance valued in the account currency at the latest marks.

        A symbol without a mark is valued at its position's average price (0 if it never traded). Raise
        ``ConfigError`` when a currency is held that no chain of markets connects to the account currency,
        rather than silently valuing it at nothing.
        """
        total = self._account_float
        marks = self._marks
        for symbol, quantity, fallback in self._direct:
            total += quantity * marks.get(symbol, fallback)
        if self._slow:
            total += self._indirect_value()
        return total

    def unrealized_pnl(self, symbol: str) -> float:
        """Return the PnL of the open position in ``symbol`` at its mark (0 without a mark)."""
        position = self._positions.get(symbol)
        price = self._marks.get(symbol)
        if position is None or not position.quantity or price is None:
            return 0.0
        return float(position.quantity) * price - float(position.cost)

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of everything booked, so callers can compare states or reconcile with a venue."""
        return {
            "balances": dict(self._balances), "reserved": dict(self._reserved), "set_aside": dict(self._set_aside),
            "reservations": {k: (r.currency, r.per_unit, r.remaining) for k, r in self._reservations.items()},
            "positions": dict(self._positions),
            "fees": dict(self._fees), "marks": dict(self._marks), "journal": list(self.journal),
        }

    # -- writes --------------------------------------------------------------------------------------------
    def deposit(self, currency: str, amount: Decimal, ts: int | None = None, note: str = "") -> None:
        """Add ``amount`` to ``currency`` (``ts`` defaults to the clock's now)."""
        _check_amount(f"deposit of {currency}", amount)
        self._book("deposit", currency, amount, self.balance(currency) + amount, self._now(ts), note)
        self._revalue()

    def withdraw(self, currency: str, amount: Decimal, ts: int | None = None, note: str = "") -> None:
        """Take ``amount`` of ``currency`` out of the account; only free funds can leave."""
        _check_amount(f"withdrawal of {currency}", amount)
        free = self.free(currency)
        if amount > free:
            raise InsufficientFunds(f"withdrawal of {amount} {currency}: only {free} {currency} free")
        self._book("withdraw", currency, -amount, self.balance(currency) - amount, self._now(ts), note)
        self._revalue()

    def set_aside(self, amount: Decimal, currency: str | None = None) -> None:
        """Hold ``amount`` back from strategies (a user reserve); it still counts in equity."""
        currency = currency or self.account_currency
        _check_amount(f"set-aside of {currency}", amount)
        free = self.free(currency)
        if amount > free:
            raise InsufficientFunds(f"set aside {amount} {currency}: only {free} {currency} free")
        after = self.set_aside_amount(currency) + amount
        self._set_aside[currency] = after
        self._journal.append((self._now(None), "set_aside", currency, amount, after, ""))

    def release_set_aside(self, amount: Decimal, currency: str | None = None) -> None:
        """Give ``amount`` of the set-aside back to strategies."""
        currency = currency or self.account_currency
        _check_amount(f"release of set-aside {currency}", amount)
        held = self.set_aside_amount(currency)
        if amount > held:
            raise ValueError(f"release of set-aside {amount} {currency}: only {held} {currency} set aside")
        self._set_aside[currency] = held - amount
        self._journal.append((self._now(None), "release_set_aside", currency, -amount, held - amount, ""))

    def reserve(self, order: Order, reference_price: Decimal | float | None = None) -> None:
        """Hold what ``order`` may spend: quote at its price (plus the fee rate) for buys, base for sells.

        A buy is priced at its limit price, else its stop price, else ``reference_price`` (market orders; a float,
        such as the last price, is read as the Decimal of its shortest repr, only then: that costs about 2 us).
        Raise ``OrderRejected`` for a reused client order id or a market buy without a reference price, and
        ``InsufficientFunds`` when the amount exceeds what is free.
        """
        market = self.markets[order.symbol]
        cid = order.client_order_id
        if cid in self._reservations:  # ids are the order manager's to keep unique: this only guards the books
            raise OrderRejected(f"order {cid!r}: duplicate client order id")
        if order.side is Side.BUY:
            price = order.price if order.price is not None else order.stop_price
            if price is None:
                price = _exact(f"order {cid!r}: reference price", reference_price)
            if price is None:
                raise OrderRejected(f"order {cid!r}: a {order.type.value} buy of {order.symbol} needs a reference "
                                    f"price to reserve {market.quote}")
            if not _is_positive(price):
                _check_amount(f"order {cid!r}: reference price", price)
            currency, per_unit = market.quote, price * self._buy_reserve_factor
        else:
            currency, per_unit = market.base, _ONE
        needed = order.quantity * per_unit
        free = self.free(currency)
        if needed > free:
            raise InsufficientFunds(f"order {cid!r} ({order.side.value} {order.quantity} {order.symbol}): needs "
                                    f"{needed} {currency}, only {free} {currency} free")
        reservation = _Reservation(currency, per_unit, order.quantity)
        self._reservations[cid] = reservation
        holders = self._holders.get(currency)
        if holders is None:
            holders = self._holders[currency] = {}
        holders[cid] = reservation
        self._reserve_changed(currency, needed, self._now(None), cid)

    def release(self, client_order_id: str, *, ts: int | None = None) -> None:
        """Give back what is left of an order's reservation; an unknown or finished order is ignored."""
        reservation = self._reservations.pop(client_order_id, None)
        if reservation is None:
            return
        del self._holders[reservation.currency][client_order_id]
        amount = reservation.amount
        if amount:
            self._reserve_changed(reservation.currency, -amount, self._now(ts), client_order_id)

    def check_fill(self, fill: Fill, pending: Sequence[Fill]) -> None:
        """Raise if ``fill`` cannot be booked after ``pending``; never change anything.

        ``pending`` are the fills a venue published before this one that the bus has not booked yet (the earlier
        fills of the same market event): the account must be able to pay for all of them in turn, or booking
        the last would fail inside the bus. Raise ``InsufficientFunds`` when it cannot, ``ValueError`` for a
        malformed fill.
        """
        self._check_fill(fill, pending)

    def apply_fill(self, fill: Fill) -> None:
        """Book ``fill``: balances, fee, the order's reservation, the position and the journal, all or nothing."""
        plan = self._plan_fill(fill)
        ts, reference = fill.ts, plan.reference
        balances, append = self._balances, self._journal.append
        for kind, currency, amount, after in plan.changes:  # _book, once per change
            balances[currency] = after
            append((ts, kind, currency, amount, after, reference))
        self._positions[fill.symbol] = plan.position
        if fill.fee:
            self._fees[fill.fee_currency] = self._fees.get(fill.fee_currency, _ZERO) + fill.fee
        reservation = self._reservations.get(fill.client_order_id)
        if reservation is not None and plan.remaining is not None:
            change = (plan.remaining - reservation.remaining) * reservation.per_unit
            if plan.remaining:
                reservation.remaining = plan.remaining
            else:
                del self._reservations[fill.client_order_id]
                del self._holders[reservation.currency][fill.client_order_id]
            if change:
                self._reserve_changed(reservation.currency, change, fill.ts, fill.client_order_id)
        self._revalue()

    # -- bus handlers (the kernel subscribes the ledger first, so it books fills before strategies see them) ---
    def on_fill(self, fill: Fill) -> None:
        """Book a fill from the venue (``apply_fill``)."""
        self.apply_fill(fill)

    def on_order_update(self, update: OrderUpdate) -> None:
        """Release what a finished order still holds; venues publish an order's fills before its FILLED update."""
        if update.client_order_id in self._reservations and update.status.is_terminal:
            self.release(update.client_order_id, ts=update.ts)

    def on_bar(self, bar: Bar) -> None:
        """Mark the bar's symbol at its close."""
        self._marks[bar.symbol] = bar.close

    # -- internals -----------------------------------------------------------------------------------------
    def _now(self, ts: int | None) -> int:
        if ts is not None:
            return ts
        return self._clock.now() if self._clock is not None else 0

    def _book(self, kind: str, currency: str, amount: Decimal, after: Decimal, ts: int, reference: str) -> None:
        self._balances[currency] = after
        self._journal.append((ts, kind, currency, amount, after, reference))

    def _reserve_changed(self, currency: str, amount: Decimal, ts: int, reference: str) -> int:
        """Store the new total reserved in ``currency`` and journal the change; return the journal row."""
        # Summed afresh rather than adjusted, so the total is exactly 0 once no order holds the currency.
        holders = self._holders.get(currency)
        if not holders:
            total = _ZERO
        elif len(holders) == 1:  # the usual case: no list and no sum to build (the same Decimal as sum's)
            for held in holders.values():
                total = _ZERO + held.remaining * held.per_unit
        else:
            total = sum([r.remaining * r.per_unit for r in holders.values()], _ZERO)
        self._reserved[currency] = total
        return self._journal.append((ts, "reserve" if amount > 0 else "release", currency, amount, total,
                                     reference))

    def _check_fill(self, fill: Fill, pending: Sequence[Fill]) -> list[tuple[str, str, Decimal]]:
        """Validate ``fill`` and raise unless it can be paid once ``pending`` are booked; return its moves.

        Only what the check needs: the values booking it leads to are planned by ``_plan_fill``.
        """
        price, quantity, fee = fill.price, fill.quantity, fill.fee
        if not (isinstance(price, Decimal) and isinstance(quantity, Decimal) and price.is_finite()
                and quantity.is_finite() and price > 0 and quantity > 0):
            _check_amount(f"{_who(fill)}: price", price)
            _check_amount(f"{_who(fill)}: quantity", quantity)
        if not isinstance(fee, Decimal) or not fee.is_finite():
            raise ValueError(f"{_who(fill)}: fee must be a finite Decimal, got {fee!r}")
        if fee and not fill.fee_currency:
            raise ValueError(f"{_who(fill)}: fee {fee} has no fee currency")
        market = self.markets[fill.symbol]
        moves = _moves(fill, market.base, market.quote)
        net: dict[str, Decimal] = {}
        for _, currency, amount in moves:
            net[currency] = net.get(currency, _ZERO) + amount
        reservation = self._reservations.get(fill.client_order_id)
        for currency, amount in net.items():
            if amount < 0:  # what is free, and what this fill releases of its order's reservation
                available = self._free_after(pending, currency) if pending else self.free(currency)
                if reservation is not None and reservation.currency == currency:
                    held = self._held_after(pending, fill.client_order_id) if pending else reservation.remaining
                    available += min(quantity, held) * reservation.per_unit
                if -amount > available:
                    raise InsufficientFunds(f"{_who(fill)} ({fill.side.value} {quantity} at {price}): needs {-amount} "
                                            f"{currency}, only {available} {currency} available (free plus what "
                                            f"the fill releases of its order's reservation"
                                            f"{', after the fills before it' if pending else ''})")
        return moves

    def _plan_fill(self, fill: Fill) -> _FillPlan:
        """Check ``fill`` and compute every booked value it leads to, without storing any."""
        moves = self._check_fill(fill, ())
        market = self.markets[fill.symbol]
        price, quantity, fee, fee_currency = fill.price, fill.quantity, fill.fee, fill.fee_currency
        base, quote = market.base, market.quote
        # The balance of each currency after each move.
        balances = self._balances
        running: dict[str, Decimal] = {}
        changes = []
        for kind, currency, amount in moves:
            before = running.get(currency)
            after = (balances.get(currency, _ZERO) if before is None else before) + amount
            running[currency] = after
            changes.append((kind, currency, amount, after))
        # The position follows the coins actually gained or given: a fee in the base currency is valued at the
        # fill price as a fee, and the holding changes by the quantity net of it.
        traded = quantity if fill.side is Side.BUY else -quantity
        fee_value = _ZERO
        if fee_currency == quote:
            fee_value = fee
        elif fee_currency == base:
            traded -= fee
            fee_value = fee * price
        position = traded_at(self._positions.get(fill.symbol) or Position(fill.symbol), traded, price, fee_value,
                          market.price_increment * market.size_increment)
        reservation = self._reservations.get(fill.client_order_id)
        remaining = None if reservation is None else max(reservation.remaining - quantity, _ZERO)
        return _FillPlan(changes, position, remaining, _reference(fill))

    def _free_after(self, pending: Sequence[Fill], currency: str) -> Decimal:
        """Return what would be free in ``currency`` once ``pending`` are booked: their moves change the balance,
        and each shrinks its order's reservation."""
        balance = self._balances.get(currency, _ZERO)
        left: dict[str, Decimal] = {}  # reserved quantity each order of ``pending`` keeps after its fills
        for earlier in pending:
            market = self.markets[earlier.symbol]
            for _, moved, amount in _moves(earlier, market.base, market.quote):
                if moved == currency:
                    balance += amount
            held = self._reservations.get(earlier.client_order_id)
            if held is not None:
                cid = earlier.client_order_id
                left[cid] = max(left.get(cid, held.remaining) - earlier.quantity, _ZERO)
        reserved = self._reserved.get(currency, _ZERO)
        for cid, remaining in left.items():
            held = self._reservations[cid]
            if held.currency == currency:
                reserved -= (held.remaining - remaining) * held.per_unit
        return balance - reserved - self._set_aside.get(currency, _ZERO)

    def _held_after(self, pending: Sequence[Fill], client_order_id: str) -> Decimal:
        """Return the quantity the order ``client_order_id`` still holds funds for once ``pending`` are booked."""
        held = self._reservations[client_order_id].remaining
        for earlier in pending:
            if earlier.client_order_id == client_order_id:
                held = max(held - earlier.quantity, _ZERO)
        return held

    def _route(self, currency: str) -> Route | None:
        """Return (cached) the shortest chain of markets that prices ``currency`` in the account currency."""
        route = self._routes.get(currency)
        if route is None and currency != self.account_currency:
            route = self.markets.route(currency, self.account_currency)
            if route is not None:  # a miss is not cached: a market may be added later
                self._routes[currency] = route
        return route

    def _fallback_price(self, symbol: str) -> float:
        position = self._positions.get(symbol)
        return float(position.average_price) if position is not None else 0.0

    def _revalue(self) -> None:
        """Rebuild the float shadows that ``equity`` reads, after a booked change."""
        direct: list[tuple[str, float, float]] = []
        indirect: list[tuple[float, tuple[tuple[str, bool, float], ...]]] = []
        unvalued: list[str] = []
        account = self.account_currency
        for currency, amount in self._balances.items():
            if not amount or currency == account:
                continue
            route = self._routes.get(currency) or self._route(currency)
            if route is None:
                unvalued.append(currency)
            elif len(route) == 1 and not route[0][1]:
                direct.append((route[0][0], float(amount), self._fallback_price(route[0][0])))
            else:
                indirect.append((float(amount), tuple((s, inv, self._fallback_price(s)) for s, inv in route)))
        self._account_float = float(self._balances.get(account, _ZERO))
        self._direct, self._indirect, self._unvalued = direct, indirect, unvalued
        self._slow = bool(indirect or unvalued)

    def _indirect_value(self) -> float:
        if self._unvalued:
            raise ConfigError(f"cannot value {', '.join(self._unvalued)} in {self.account_currency}: no market "
                              f"connects them; add one to the run's markets")
        total = 0.0
        marks = self._marks
        for value, steps in self._indirect:
            for symbol, inverted, fallback in steps:
                price = marks.get(symbol, fallback)
                value = (value / price if price else 0.0) if inverted else value * price
            total += value
        return total


def _exact(what: str, value: Decimal | float | None) -> Decimal | None:
    """Return a float as the Decimal of its shortest repr, refusing NaN and infinities; a Decimal or None as is."""
    if not isinstance(value, float):
        return value
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return to_decimal(value)


def _is_positive(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > 0


def _moves(fill: Fill, base: str, quote: str) -> list[tuple[str, str, Decimal]]:
    """Return the (journal kind, currency, signed amount) changes of balance that booking ``fill`` makes."""
    notional = fill.price * fill.quantity
    if fill.side is Side.BUY:
        moves = [("fill", quote, -notional), ("fill", base, fill.quantity)]
    else:
        moves = [("fill", base, -fill.quantity), ("fill", quote, notional)]
    if fill.fee:
        moves.append(("fee", fill.fee_currency, -fill.fee))
    return moves


def _reference(fill: Fill) -> str:
    """Return what the journal's rows of a fill name it by."""
    return f"{fill.client_order_id}/{fill.trade_id}"


def _who(fill: Fill) -> str:
    return f"fill {fill.trade_id!r} of order {fill.client_order_id!r} on {fill.symbol}"
