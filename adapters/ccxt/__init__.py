"""The outside world through ccxt: markets as the exchange states them (more to come: feeds, execution)."""

from adapters.ccxt.markets import markets_from_exchange

__all__ = ["markets_from_exchange"]
