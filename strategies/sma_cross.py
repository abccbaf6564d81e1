"""Moving-average cross: long when the fast SMA crosses above the slow one, flat when it crosses below.

Parameters
----------
fast, slow
    Window lengths in bars (``fast < slow``).
size
    Share of equity to hold when long (0 < size <= 1). The order is sized at the signal bar's close and fills
    at the next bar's open, so keep a margin for the move between them and for the fee (default 0.95).
quantity
    Hold this fixed quantity when long instead (0, the default, sizes by ``size``).
symbol
    Trade only this symbol's bars (default: every symbol it sees, each on its own).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError
from engine.events import Bar
from engine.strategy import Strategy


@dataclass(slots=True)
class _Averages:
    """Running sums of the last ``fast`` and ``slow`` closes: O(1) per bar."""

    fast: int
    slow: int
    closes: deque[float] = field(default_factory=deque)
    fast_sum: float = 0.0
    slow_sum: float = 0.0
    previous_gap: float | None = None

    def update(self, close: float) -> float | None:
        """Add a close; return fast SMA minus slow SMA once the slow window is full."""
        # The sums are added to and taken from in the same order as the benchmark's bare loop, so that both
        # reach the same floats; they live in locals between one read and one write of each attribute.
        closes = self.closes
        closes.append(close)
        fast, slow = self.fast, self.slow
        fast_sum = self.fast_sum + close
        slow_sum = self.slow_sum + close
        n = len(closes)
        if n > fast:
            fast_sum -= closes[-fast - 1]
        if n > slow:
            slow_sum -= closes.popleft()
            n -= 1
        self.fast_sum, self.slow_sum = fast_sum, slow_sum
        if n < slow:
            return None
        return fast_sum / fast - slow_sum / slow


class SmaCross(Strategy):
    """Long on a golden cross of two simple moving averages, flat on the death cross."""

    params = {"fast": 10, "slow": 30, "size": 0.95, "quantity": 0.0, "symbol": ""}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        fast, slow, size = self.p["fast"], self.p["slow"], self.p["size"]
        if not 0 < fast < slow:
            raise ConfigError(f"SmaCross: need 0 < fast < slow, got fast={fast}, slow={slow}")
        if not 0 < size <= 1:
            raise ConfigError(f"SmaCross: size must be in (0, 1], got {size}")
        if self.p["quantity"] < 0:
            raise ConfigError(f"SmaCross: quantity must be >= 0, got {self.p['quantity']}")
        self._averages: dict[str, _Averages] = {}
        self._only: str = self.p["symbol"]  # read every bar: an attribute, not a lookup in p

    def warmup_bars(self) -> int:
        return int(self.p["slow"]) + 1  # a cross needs the slow average on two bars

    def chart_indicators(self) -> dict[str, dict[str, Any]]:
        return {f"fast SMA {self.p['fast']}": {"kind": "sma", "window": self.p["fast"]},
                f"slow SMA {self.p['slow']}": {"kind": "sma", "window": self.p["slow"]}}

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        if self._only and symbol != self._only:
            return
        averages = self._averages.get(symbol)
        if averages is None:
            averages = self._averages[symbol] = _Averages(self.p["fast"], self.p["slow"])
        gap = averages.update(bar.close)
        previous, averages.previous_gap = averages.previous_gap, gap
        if gap is None or previous is None:
            return
        if previous <= 0.0 < gap:
            if self.p["quantity"]:
                self.target_position(symbol, self.p["quantity"])
            else:
                self.target_percent(symbol, self.p["size"])
        elif previous >= 0.0 > gap:
            self.target_position(symbol, 0)
