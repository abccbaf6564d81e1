"""The outside world through ccxt: markets as the exchange states them, closed bars from its streams (more to
come: the feed itself, execution)."""

from adapters.ccxt.bars import ClosedBars, Gap
from adapters.ccxt.markets import markets_from_exchange

__all__ = ["ClosedBars", "Gap", "markets_from_exchange"]
