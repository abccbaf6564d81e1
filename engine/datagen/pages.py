"""Store a source's pages as they arrive, so that a download that fails or is killed resumes after them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from engine.datagen import storage
from engine.datagen.query import Query
from engine.datagen.schemas import next_start
from engine.datagen.storage import stamp

Range = tuple[int, int]


class PageWriter:
    """Receive a source's pages for ``[start, end)``, store them in batches, and grow the coverage.

    ``store(frame, covered)`` writes a batch of rows (None: no rows) and records ``covered`` as fetched; ``unit`` is
    the data set's partition unit, so a batch is stored whenever a partition is complete.
    """

    def __init__(self, query: Query, start: int, end: int, *, unit: str, flush_rows: int,
                 store: Callable[[pd.DataFrame | None, Range], None],
                 on_page: Callable[[pd.DataFrame], None] | None) -> None:
        self.query, self.start, self.end, self.on_page = query, start, end, on_page
        self.unit, self.flush_rows, self.store = unit, flush_rows, store
        self.buffer: list[pd.DataFrame] = []
        self.buffered = 0
        self.pages = 0
        self.proven = self.pending = start  # coverage so far: [start, proven); after the buffer: pending

    def page(self, chunk: pd.DataFrame) -> None:
        self.pages += 1
        chunk = storage.with_ns_index(chunk)
        stamps = pd.DatetimeIndex(chunk.index).asi8 if len(chunk) else np.empty(0, dtype=np.int64)
        inside = (stamps >= self.start) & (stamps < self.end)  # what was asked for; a forming bar is not
        if not inside.all():
            chunk, stamps = chunk.iloc[np.flatnonzero(inside)], stamps[inside]
        if len(chunk):
            if self.buffer and storage.partition_labels(stamps[-1:], self.unit)[0] != storage.partition_labels(
                    pd.DatetimeIndex(self.buffer[0].index).asi8[:1], self.unit)[0]:
                self.flush()  # a partition is complete: store it before starting the next
            self.buffer.append(chunk)
            self.buffered += len(chunk)
            last = stamp(int(stamps[-1]))
            self.pending = min(next_start(self.query.kind, self.query.timeframe, last).value, self.end)
            if self.buffered >= self.flush_rows:
                self.flush()
        if self.on_page is not None:
            self.on_page(chunk)

    def flush(self) -> None:
        """Store the buffered pages, then extend coverage to the resume point after them."""
        if not self.buffer:
            return
        frame = self.buffer[0] if len(self.buffer) == 1 else pd.concat(self.buffer)
        self.buffer, self.buffered = [], 0
        self.proven = self.pending
        self.store(frame, (self.start, self.proven))

    def finish(self) -> None:
        """The source answered for the whole range: store the rest and cover all of it, rows or none."""
        self.flush()
        self.store(None, (self.start, self.end))
