"""A fake ``Source`` that serves a frame page by page and records every call, for catalog and CLI tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.datagen.query import Query

NOW = pd.Timestamp("2030-01-01", tz="UTC").value  # a fixed clock after every bar of the tests


def hourly(start: str = "2024-01-01", n: int = 24 * 60, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` valid hourly bars from ``start`` with distinct, recognisable closes."""
    index = pd.date_range(start, periods=n, freq="1h", tz="UTC", name="ts").as_unit("ns")
    close = 100.0 + np.random.default_rng(seed).random(n).cumsum()
    return pd.DataFrame({"open": close - 0.25, "high": close + 1.0, "low": close - 1.0, "close": close,
                         "volume": np.arange(1, n + 1, dtype=np.float64)}, index=index)


class FakeSource:
    """Serve the rows of ``frame`` inside the asked range, ``page`` rows per page, recording each call.

    ``fail_after`` pages into a call, raise ``ConnectionError`` (once), as a dropped connection would.
    """

    def __init__(self, frame: pd.DataFrame, *, page: int = 100, fail_after: int | None = None) -> None:
        self.frame, self.page, self.fail_after = frame, page, fail_after
        self.calls: list[tuple[pd.Timestamp | None, pd.Timestamp | None]] = []
        self.queries: list[Query] = []

    def fetch(self, query: Query, on_page: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        self.calls.append((query.start, query.end))
        self.queries.append(query)
        index = self.frame.index
        part = self.frame[(index >= query.start) & (index < query.end)]
        for k, first in enumerate(range(0, len(part), self.page)):
            if self.fail_after is not None and k == self.fail_after:
                self.fail_after = None
                raise ConnectionError("connection reset by peer")
            if on_page is not None:
                on_page(part.iloc[first:first + self.page])
        return part


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
