"""Exact conversion of the simulator's float arithmetic to booked Decimals on a market's increments.

Float results such as ``100 * 1.001`` carry noise in the last bits (``100.09999999999999``); rounding that
straight up to the next tick would cost the trader a whole increment for nothing. Values are therefore first
rounded to a millionth of an increment, then to the increment in the direction asked.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal

from engine.markets import to_decimal

_CONTEXT = Context(prec=50)  # room for large volumes on fine increments
_NOISE = Decimal("1e-6")  # of one increment


def _steps(value: float | Decimal, increment: Decimal) -> Decimal:
    return _CONTEXT.divide(to_decimal(value), increment).quantize(_NOISE, ROUND_HALF_EVEN, _CONTEXT)


def ceil_to(value: float | Decimal, increment: Decimal) -> Decimal:
    """Round ``value`` up to a multiple of ``increment``."""
    return _steps(value, increment).to_integral_value(ROUND_CEILING) * increment


def floor_to(value: float | Decimal, increment: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``increment``."""
    return _steps(value, increment).to_integral_value(ROUND_FLOOR) * increment


def price_against(price: float, buy: bool, increment: Decimal) -> Decimal:
    """Round a taker's fill price to the increment against the trader: up for a buy, down for a sell.

    A sell never rounds below one increment, so a fill price is always positive.
    """
    if buy:
        return ceil_to(price, increment)
    return max(floor_to(price, increment), increment)
