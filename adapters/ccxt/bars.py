"""Closed bars, once each and in order, from ccxt's ``watch_ohlcv`` updates and ``fetch_ohlcv`` back-fill.

ccxt.pro hands back the bar in progress again and again as it changes, and drops Binance's "closed" flag. A bar is
therefore known closed when the exchange's raw message says so (the feed reads it where it can) or else when the
next one first appears. A stream that skips ahead (a reconnect, a lost message)
leaves a gap, which this reports for the feed to fetch by REST; rows that come late, twice or out of order are
dropped. The bars leave stamped at their close (``ts = open + interval``), as everywhere in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.events import Bar

__all__ = ["ClosedBars", "Gap"]

_MS = 1_000_000

Row = Sequence[float]  # ccxt's OHLCV row: [open time in ms, open, high, low, close, volume]


@dataclass(frozen=True)
class Gap:
    """Bars opening in ``[start, end)`` (ns) were never seen closed: fetch them by REST, then ``backfill``."""

    start: int
    end: int


class ClosedBars:
    """Track one symbol's bars of one interval; hand out each closed bar exactly once, in time order."""

    def __init__(self, symbol: str, interval: int) -> None:
        self.symbol = symbol
        self.interval = interval  # ns
        self._forming: Row | None = None  # the latest bar seen, still open
        self._last_open: int | None = None  # open time (ns) of the last bar handed out

    def update(self, rows: Iterable[Row], closed_through: int | None = None) -> tuple[list[Bar], Gap | None]:
        """Take rows of a ``watch_ohlcv`` update; return the bars that closed and a gap to back-fill, if any.

        ``closed_through`` is the open time (ns) of the latest bar the exchange itself said was closed (Binance's
        kline flag, read from the raw message): that bar is handed out now rather than when the next appears. An
        exchange that flags its closes and did not flag this bar's lost the closing message: the bar is part of
        the gap, fetched by REST, never handed out with values that may not be final.

        After a gap, the newest row is kept as the bar in progress and nothing later is handed out: the caller
        back-fills the gap, then calls ``update([], closed_through)`` to hand out that bar if it is closed.
        """
        closed: list[Bar] = []
        rows = list(rows)
        interval = self.interval
        for k, row in enumerate(rows):
            opened = int(row[0]) * _MS
            forming = self._forming
            missing_from = None
            if forming is not None:
                forming_open = int(forming[0]) * _MS
                if opened < forming_open:
                    continue  # late or out of order: that bar was handed out already, or is being replaced
                if opened > forming_open:  # the next bar appeared: the forming one is closed
                    if closed_through is not None and forming_open > closed_through:
                        missing_from = forming_open  # its closing message was lost
                    else:
                        closed.extend(self._hand_out([forming]))
                        if opened > forming_open + interval:
                            missing_from = forming_open + interval
            elif self._last_open is not None and opened > self._last_open + interval:
                missing_from = self._last_open + interval
            if missing_from is not None:
                newest = max(rows[k:], key=lambda r: int(r[0]))
                self._forming = newest
                return closed, Gap(missing_from, int(newest[0]) * _MS)
            if self._last_open is None or opened > self._last_open:
                self._forming = row
        forming = self._forming
        if closed_through is not None and forming is not None and int(forming[0]) * _MS <= closed_through:
            closed.extend(self._hand_out([forming]))
            self._forming = None
        return closed, None

    @property
    def next_open(self) -> int | None:
        """Return the open time (ns) of the first bar not handed out yet, or None before the first."""
        return None if self._last_open is None else self._last_open + self.interval

    def reset_stream(self) -> None:
        """Forget the bar in progress after the stream broke (a reconnect, a silent stall): its last values seen
        may not be its final ones, so it is fetched by REST with the gap the next update reports."""
        self._forming = None

    def backfill(self, rows: Iterable[Row], closed_by: int) -> list[Bar]:
        """Hand out the closed bars of a REST answer (a gap's, or the warm-up's) not yet handed out, in order.

        ``closed_by`` is the time (ns) the answer came: a bar not closed by then is the one in progress, which
        REST returns unfinished; it and the bar the stream is forming are left to the stream.
        """
        forming_open = None if self._forming is None else int(self._forming[0]) * _MS
        wanted = [row for row in rows if int(row[0]) * _MS + self.interval <= closed_by
                  and (forming_open is None or int(row[0]) * _MS < forming_open)]
        return self._hand_out(sorted(wanted, key=lambda row: row[0]))

    def _hand_out(self, rows: Iterable[Row]) -> list[Bar]:
        bars = []
        for row in rows:
            opened = int(row[0]) * _MS
            if self._last_open is not None and opened <= self._last_open:
                continue  # handed out already
            self._last_open = opened
            bars.append(Bar(ts=opened + self.interval, symbol=self.symbol, open=float(row[1]), high=float(row[2]),
                            low=float(row[3]), close=float(row[4]), volume=float(row[5]), interval=self.interval))
        return bars
