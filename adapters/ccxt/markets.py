"""Markets as the exchange states them: tick size, lot step, minimum size and notional from ccxt's ``load_markets``.

A live session checks orders by the same rules as a back-test (``engine.markets.Market.check_order``), so those
rules must be the exchange's own, read from the client after ``load_markets``, never typed in by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from engine.errors import ConfigError
from engine.markets import Market, Markets

__all__ = ["markets_from_exchange"]

# ccxt's precision modes (ccxt.DECIMAL_PLACES, ccxt.TICK_SIZE), named here so the module needs no ccxt import.
_DECIMAL_PLACES, _TICK_SIZE = 2, 4


def markets_from_exchange(exchange: Any, symbols: Iterable[str]) -> Markets:
    """Return the ``Markets`` of ``symbols`` as ``exchange`` (a ccxt client whose markets are loaded) states them.

    Raise ``ConfigError`` naming a symbol the exchange does not list, or a precision the engine cannot express.
    """
    loaded: Mapping[str, Any] | None = getattr(exchange, "markets", None)
    exchange_id = getattr(exchange, "id", "exchange")
    if not loaded:
        raise ConfigError(f"{exchange_id}: markets are not loaded (call load_markets first)")
    mode = getattr(exchange, "precisionMode", _TICK_SIZE)
    markets = Markets()
    for symbol in symbols:
        market = loaded.get(symbol)
        if market is None:
            raise ConfigError(f"{exchange_id} does not list symbol {symbol!r}")
        markets.add(_market(exchange_id, symbol, market, mode))
    return markets


def _market(exchange_id: str, symbol: str, market: Mapping[str, Any], mode: int) -> Market:
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    who = f"{exchange_id} {symbol}"
    return Market(symbol=symbol, base=market["base"], quote=market["quote"],
                  price_increment=_increment(who, "price", precision.get("price"), mode),
                  size_increment=_increment(who, "amount", precision.get("amount"), mode),
                  min_size=_limit((limits.get("amount") or {}).get("min")),
                  min_notional=_limit((limits.get("cost") or {}).get("min")))


def _increment(who: str, name: str, value: Any, mode: int) -> Decimal:
    """Return the step of ``name`` as a Decimal, from a tick size or a number of decimal places."""
    if value is None:
        raise ConfigError(f"{who}: the exchange states no {name} precision")
    if mode == _TICK_SIZE:
        return Decimal(str(value))
    if mode == _DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    raise ConfigError(f"{who}: {name} precision in significant digits ({value!r}) has no fixed step")


def _limit(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))
