"""The latest rows of a symbol's inputs, kept to open an indicator's stream handle on them.

A deque of plain lists: appending a bar is one list and one deque append (no numpy call on the hot path); the
rows become numpy arrays only when a handle is opened, once per indicator and symbol, or when one is added.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

NAN = math.nan


class RecentRows:
    """The last ``capacity`` rows of ``width`` float columns (bar fields, then outputs other indicators read)."""

    __slots__ = ("count", "rows", "width")

    def __init__(self, width: int, capacity: int) -> None:
        self.width = width
        self.rows: deque[list[float]] = deque(maxlen=capacity)
        self.count = 0  # rows ever appended

    @property
    def capacity(self) -> int:
        return self.rows.maxlen or 0

    @property
    def filled(self) -> int:
        return len(self.rows)

    def append(self, row: list[float]) -> None:
        """Keep ``row`` by reference: the outputs of this bar, written into its later columns, are kept too."""
        self.rows.append(row)
        self.count += 1

    def column(self, column: int) -> np.ndarray:
        """Return the kept values of ``column``, oldest first, as a contiguous float64 array."""
        return np.fromiter((row[column] for row in self.rows), dtype=np.float64, count=len(self.rows))

    def resized(self, capacity: int, width: int) -> RecentRows:
        """Return a copy with room for ``capacity`` rows of ``width`` columns; new columns are NaN."""
        bigger = RecentRows(width, max(capacity, self.capacity))
        for row in self.rows:
            row.extend([NAN] * (width - len(row)))
            bigger.rows.append(row)
        bigger.count = self.count
        return bigger
