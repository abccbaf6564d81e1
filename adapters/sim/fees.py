"""Trading fees: a rate of the notional, in the quote currency, quantized like a venue books it."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal


def trade_fee(price: Decimal, quantity: Decimal, rate: Decimal, precision: Decimal) -> Decimal:
    """Return ``price * quantity * rate`` quantized (half-even) to ``precision``.

    Examples
    --------
    >>> trade_fee(Decimal("100.10"), Decimal("2"), Decimal("0.001"), Decimal("1e-8"))
    Decimal('0.20020000')
    """
    return (price * quantity * rate).quantize(precision, ROUND_HALF_EVEN)
