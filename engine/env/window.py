"""Fixed windows over a stream, and window statistics that one code computes both streaming and in batch.

Why one code: the environment's values must be identical in a back-test, live, and a research notebook. A
statistic of a window is written once, as a function of a 2-D block (one window per row, oldest value first)
that reduces along the rows with numpy. Streaming passes the one current window as a 1-row block; batch passes
C-contiguous blocks of every window of a series (``rolling``). numpy reduces each row of a C-contiguous block the
same way whatever the number of rows, so both give the same floats (``tests/unit/env`` checks every statistic for
equality, not closeness). Logarithms go through ``math.log`` on both paths (``log_ratio``, ``log_ratios``),
because numpy's vectorised ``log`` may differ from the scalar one in the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.datagen.frames import to_interval
from engine.errors import ConfigError

YEAR_NS = 365 * 86_400 * 1_000_000_000
"""A 365-day year in nanoseconds: every annualisation of ``engine.env`` is on this calendar."""

NAN = float("nan")
BlockStat = Callable[[np.ndarray], np.ndarray]
# Rows of a batch block: bounds the memory of a batch to about 32 MB of float64 whatever the series length.
_BLOCK_VALUES = 1 << 22


def periods_per_year(interval_ns: int) -> float:
    """Return how many bars of ``interval_ns`` fit in a 365-day year."""
    if interval_ns <= 0:
        raise ConfigError(f"bar interval must be positive, got {interval_ns} ns")
    return YEAR_NS / interval_ns


def log_ratio(a: float, b: float) -> float:
    """Return ``ln(a / b)``, NaN unless both are positive and finite (a bad print must not stop the bus)."""
    if a > 0.0 and b > 0.0 and a != math.inf and b != math.inf:
        return math.log(a / b)
    return NAN


def log_ratios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``log_ratio`` of every pair: the batch twin, computed by the same scalar code."""
    return np.fromiter(map(log_ratio, a.tolist(), b.tolist()), dtype=np.float64, count=len(a))


def check_window(name: str, value: int, minimum: int) -> None:
    """Raise ``ConfigError`` unless ``value`` is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


class Window:
    """The last ``size`` values pushed, oldest first, readable as a contiguous array in O(1).

    Each value is written twice, at ``i`` and ``i + size`` of a buffer of ``2 * size``, so the window is always the
    slice ``buffer[i + 1 : i + 1 + size]``: no copy and no roll per push.
    """

    __slots__ = ("_buffer", "_position", "count", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = np.full(2 * size, np.nan)
        self._position = 0
        self.count = 0

    def push(self, value: float) -> None:
        """Append ``value``, dropping the oldest once the window is full."""
        i = self._position
        self._buffer[i] = value
        self._buffer[i + self.size] = value
        self._position = i + 1 if i + 1 < self.size else 0
        self.count += 1

    @property
    def full(self) -> bool:
        return self.count >= self.size

    def block(self) -> np.ndarray:
        """Return the window as a 1-row block (a view): the argument of a ``BlockStat``."""
        start = self._position
        return self._buffer[start:start + self.size].reshape(1, self.size)

    def stat(self, stat: BlockStat, width: int) -> list[float]:
        """Return ``stat`` of the window as ``width`` floats, all NaN until the window is full."""
        if self.count < self.size:
            return [NAN] * width
        return stat(self.block())[0].tolist()


def rolling(values: np.ndarray, size: int, stat: BlockStat, width: int) -> np.ndarray:
    """Return ``stat`` of every window of ``size`` values ending at each row: ``(len(values), width)``, NaN first.

    Row ``i`` holds the statistic of ``values[i - size + 1 : i + 1]``, as ``Window.stat`` gives after pushing
    ``values[: i + 1]``.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.full((len(values), width), np.nan)
    if len(values) < size:
        return out
    view = sliding_window_view(values, size)
    rows = max(1, _BLOCK_VALUES // size)
    for start in range(0, len(view), rows):
        block = np.ascontiguousarray(view[start:start + rows])
        out[start + size - 1:start + size - 1 + len(block)] = stat(block)
    return out


# -- statistics of a block (n windows x size values) -> (n, width) ----------------------------------------------
def mean_of(block: np.ndarray) -> np.ndarray:
    """Return the arithmetic mean of each window: ``(n, 1)``."""
    return (block.sum(axis=1) / block.shape[1])[:, None]


def std_of(block: np.ndarray) -> np.ndarray:
    """Return the sample standard deviation (ddof 1, as pandas) of each window: ``(n, 1)``."""
    size = block.shape[1]
    deviation = block - (block.sum(axis=1) / size)[:, None]
    return np.sqrt((deviation * deviation).sum(axis=1) / (size - 1))[:, None]


MOMENT_NAMES: tuple[str, ...] = ("mean", "std", "skew", "kurt")


def moments_of(block: np.ndarray) -> np.ndarray:
    """Return mean, sample std, skewness and excess kurtosis of each window: ``(n, 4)``.

    With ``m_k = sum((x - mean)^k) / n``: std = ``sqrt(m_2 n / (n - 1))``; skewness is the adjusted
    Fisher-Pearson ``G1 = sqrt(n (n - 1)) / (n - 2) * m_3 / m_2^1.5``; kurtosis is the bias-corrected excess
    ``G2 = (n - 1) / ((n - 2)(n - 3)) * ((n + 1) m_4 / m_2^2 - 3 (n - 1))``: the definitions of pandas'
    ``skew``/``kurt`` and Excel's ``SKEW``/``KURT``. Skewness and kurtosis of a constant window are NaN.
    """
    n = block.shape[1]
    mean = block.sum(axis=1) / n
    deviation = block - mean[:, None]
    square = deviation * deviation
    m2 = square.sum(axis=1) / n
    m3 = (square * deviation).sum(axis=1) / n
    m4 = (square * square).sum(axis=1) / n
    out = np.empty((block.shape[0], 4))
    out[:, 0] = mean
    out[:, 1] = np.sqrt(m2 * n / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = m2 == 0.0
        out[:, 2] = np.where(flat, np.nan, math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2 ** 1.5)
        out[:, 3] = np.where(flat, np.nan,
                             (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * m4 / (m2 * m2) - 3.0 * (n - 1)))
    return out


def order_stats(quantiles: Sequence[float]) -> BlockStat:
    """Return a statistic giving min, max, then each quantile of ``quantiles`` of each window.

    Quantiles interpolate linearly between order statistics (numpy's and pandas' default): with the window
    sorted into ``s`` and ``h = q (n - 1)``, ``Q(q) = s[floor h] + (h - floor h)(s[floor h + 1] - s[floor h])``.
    A window holding a NaN gives NaN throughout.
    """
    positions = []
    for q in quantiles:
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"quantiles must lie in [0, 1], got {q!r}")
        positions.append(q)

    def stat(block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        ordered = np.sort(block, axis=1)
        out = np.empty((block.shape[0], 2 + len(positions)))
        out[:, 0] = ordered[:, 0]
        out[:, 1] = ordered[:, -1]
        for j, q in enumerate(positions):
            h = q * (n - 1)
            low = math.floor(h)
            high = min(low + 1, n - 1)
            lower = ordered[:, low]
            out[:, 2 + j] = lower + (ordered[:, high] - lower) * (h - low)
        out[np.isnan(block).any(axis=1)] = np.nan  # NaN sorts last: without this a low quantile would be finite
        return out

    return stat


def quantile_name(q: float) -> str:
    """Name a quantile by its percent: 0.05 -> ``q5``, 0.5 -> ``q50``, 0.025 -> ``q2.5``."""
    return f"q{round(q * 100, 6):g}"


class BarFilter:
    """Let through the bars of one symbol (any, when None) and one interval: the configured one, else the first seen.

    A component fed a mixed bus (several symbols, or 1h bars beside 1d bars) must not mix their returns.
    ``per_year`` is the number of such bars in a 365-day year (NaN until the interval is known).
    """

    __slots__ = ("interval", "per_year", "symbol")

    def __init__(self, symbol: str | None, interval_ns: int) -> None:
        self.symbol = symbol
        self.interval = interval_ns
        self.per_year = periods_per_year(interval_ns) if interval_ns else NAN

    def accepts(self, symbol: str, interval: int) -> bool:
        if self.symbol is not None and symbol != self.symbol:
            return False
        if interval != self.interval:
            if self.interval:
                return False
            self.interval = interval
            self.per_year = periods_per_year(interval)
        return True


def timeframe_ns(owner: str, timeframe: str | None) -> int:
    """Return a configured timeframe in ns (0 when None: taken from the data); a bad one is a ``ConfigError``."""
    if timeframe is None:
        return 0
    try:
        return int(to_interval(timeframe).value)
    except ValueError as exc:
        raise ConfigError(f"{owner}: timeframe {timeframe!r} is not a duration") from exc
