"""A position of one symbol at its average cost, and the one function that moves it by a trade."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["Position", "traded_at"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Position:
    """Net traded quantity of one symbol at its average cost; ``cost`` is the exact signed cost basis.

    ``average_price`` is ``cost / quantity`` (rounded to the Decimal context); ``cost`` is kept because a quotient
    cannot keep the books exact. ``fees`` are in the symbol's quote currency: fees paid in the base currency are
    valued at the fill price, fees paid in a third currency are only in ``Ledger.fees_paid``. Coins that were
    deposited rather than bought have no cost basis, so selling them shows as a negative quantity.
    """

    symbol: str
    quantity: Decimal = _ZERO
    average_price: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    fees: Decimal = _ZERO
    cost: Decimal = _ZERO


def traded_at(position: Position, traded: Decimal, price: Decimal, fee: Decimal, quantum: Decimal) -> Position:
    """Return ``position`` after its holding changed by ``traded`` (signed) at ``price``, average-cost method.

    A reduction realizes ``price * closed - cost share``; the cost share of a partial reduction is rounded to
    ``quantum`` (price increment x size increment) so that the cost basis keeps a bounded number of digits and
    cash + cost + fees == initial cash + realized PnL holds exactly. Beyond flat, the rest opens at ``price``.
    """
    quantity, cost, realized = position.quantity, position.cost, position.realized_pnl
    if traded and quantity and (traded > 0) != (quantity > 0):
        closed = traded if abs(traded) <= abs(quantity) else -quantity  # signed like ``traded``
        share = cost if closed == -quantity else (cost * -closed / quantity).quantize(quantum, ROUND_HALF_EVEN)
        realized += -closed * price - share
        quantity += closed
        cost -= share
        traded -= closed
    if traded:
        quantity += traded
        cost += traded * price
    average = cost / quantity if quantity else _ZERO
    return Position(position.symbol, quantity, average, realized, position.fees + fee, cost)
