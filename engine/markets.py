"""Market specifications: what a venue accepts for a symbol, and exact conversion of floats to booked values."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from engine.errors import ConfigError, OrderRejected


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a float to the Decimal of its shortest repr (``0.1`` -> ``Decimal('0.1')``), refusing NaN/inf."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return Decimal(float.__repr__(value))  # not repr(): numpy floats print as np.float64(...)
    result = value if isinstance(value, Decimal) else Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


Route = tuple[tuple[str, bool], ...]  # (symbol, inverted) steps from one currency to another


@dataclass(frozen=True, slots=True, kw_only=True)
class Market:
    """One tradable symbol: its currencies and the increments and minimums the venue enforces."""

    symbol: str
    base: str
    quote: str
    price_increment: Decimal = Decimal("0.01")
    size_increment: Decimal = Decimal("0.00000001")
    min_size: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("price_increment", "size_increment"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ConfigError(f"market {self.symbol}: {name} must be a positive Decimal, got {value!r}")
        for name in ("min_size", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ConfigError(f"market {self.symbol}: {name} must be a non-negative Decimal, got {value!r}")

    @classmethod
    def from_symbol(cls, symbol: str, **kwargs: Decimal) -> Market:
        """Build a spot market from ``BASE/QUOTE`` with the default increments unless given."""
        base, sep, quote = symbol.partition("/")
        if not sep or not base or not quote or "/" in quote:
            raise ConfigError(f"symbol must look like BASE/QUOTE (e.g. BTC/USD), got {symbol!r}")
        return cls(symbol=symbol, base=base, quote=quote, **kwargs)

    def round_size(self, quantity: float | Decimal) -> Decimal:
        """Round a quantity down to the size increment (never more than asked)."""
        # A finite Decimal needs no conversion: twice an order, the call to to_decimal was most of the cost.
        value = quantity if type(quantity) is Decimal and quantity.is_finite() else to_decimal(quantity)
        return (value / self.size_increment).to_integral_value(ROUND_DOWN) * self.size_increment

    def round_price(self, price: float | Decimal) -> Decimal:
        """Round a price to the nearest price increment."""
        return (to_decimal(price) / self.price_increment).to_integral_value(ROUND_HALF_EVEN) * self.price_increment

    def check_order(self, client_order_id: str, quantity: Decimal, price: Decimal | None,
                    stop_price: Decimal | None, reference_price: Decimal | float | None) -> None:
        """Raise ``OrderRejected`` naming the rule an order breaks (increments, minimum size and notional).

        ``reference_price`` (the last price) serves the minimum notional of an order without a price; a float is
        read as the Decimal of its shortest repr, only then.
        """
        # Runs for every order twice (pre-trade and at the venue): messages are only built on failure.
        if quantity % self.size_increment:
            raise OrderRejected(f"{self._who(client_order_id)}: quantity {quantity} is not a multiple of the size "
                                f"increment {self.size_increment}")
        if quantity < self.min_size:
            raise OrderRejected(f"{self._who(client_order_id)}: quantity {quantity} is below the minimum size "
                                f"{self.min_size}")
        if price is not None and price % self.price_increment:
            raise self._off_price_increment(client_order_id, "price", price)
        if stop_price is not None and stop_price % self.price_increment:
            raise self._off_price_increment(client_order_id, "stop_price", stop_price)
        if not self.min_notional:
            return
        notional_price = price if price is not None else stop_price if stop_price is not None else reference_price
        if notional_price is None:
            return
        notional = quantity * to_decimal(notional_price)
        if notional < self.min_notional:
            raise OrderRejected(f"{self._who(client_order_id)}: notional {notional} is below the "
                                f"minimum {self.min_notional}")

    def _off_price_increment(self, client_order_id: str, name: str, value: Decimal) -> OrderRejected:
        return OrderRejected(f"{self._who(client_order_id)}: {name} {value} is not a multiple of the price "
                             f"increment {self.price_increment}")

    def _who(self, client_order_id: str) -> str:
        return f"order {client_order_id!r} on {self.symbol}"


class Markets:
    """The markets of a run, by symbol; an unknown symbol is a clear error."""

    def __init__(self, markets: list[Market] | None = None) -> None:
        self._by_symbol: dict[str, Market] = {}
        for market in markets or []:
            self.add(market)

    def add(self, market: Market) -> None:
        self._by_symbol[market.symbol] = market

    def __getitem__(self, symbol: str) -> Market:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            known = ", ".join(sorted(self._by_symbol)) or "none"
            raise ConfigError(f"unknown symbol {symbol!r} (known: {known})") from None

    def get(self, symbol: str) -> Market | None:
        """Return the market of ``symbol``, or None if the run has none."""
        return self._by_symbol.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[Market]:
        return iter(self._by_symbol.values())

    def route(self, currency: str, target: str) -> Route | None:
        """Return the shortest chain of markets that prices ``currency`` in ``target``, None if none connects them.

        Each step is (symbol, inverted): multiply by the symbol's price, or divide by it when inverted.
        """
        seen = {currency}
        frontier: deque[tuple[str, Route]] = deque([(currency, ())])
        while frontier:
            here, path = frontier.popleft()
            for market in self:
                for src, dst, inverted in ((market.base, market.quote, False), (market.quote, market.base, True)):
                    if src != here or dst in seen:
                        continue
                    step = (*path, (market.symbol, inverted))
                    if dst == target:
                        return step
                    seen.add(dst)
                    frontier.append((dst, step))
        return None

    def symbols(self) -> list[str]:
        return list(self._by_symbol)
