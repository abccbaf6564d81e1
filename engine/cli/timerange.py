"""``--timerange START-END``: the bars a command uses, in freqtrade's form or with ISO dates.

Accepted: ``20240101-20240601`` (freqtrade), ``20240101-`` or ``-20240601`` (one side open), Unix seconds
(``1704067200-``), ISO dates and times (``2024-01-01-2024-06-01``, ``2024-01-01T12:00..2024-02-01``; ``..``
separates the two sides too). As in the data catalog's queries, START is inclusive and END exclusive, both UTC,
and a bar belongs to the range when its open time does.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from engine.errors import ConfigError

HELP = ("use only the bars from START (inclusive) to END (exclusive), UTC: 20240101-20240601 as freqtrade writes "
        "it, either side may be empty (20240101-), or ISO dates (2024-01-01..2024-06-01)")

_SIDE = re.compile(r"\d{8}|\d{9,10}|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?")


def parse_timerange(text: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Return ``(start, end)`` of ``text`` (``None`` for an open side); ``ConfigError`` names a bad range."""
    splits = [(text[:i], text[i + len(sep):]) for sep in ("..", "-") for i in _positions(text, sep)]
    for left, right in splits:
        if (not left or _SIDE.fullmatch(left)) and (not right or _SIDE.fullmatch(right)):
            start, end = _time(left, text), _time(right, text)
            if start is None and end is None:
                break
            if start is not None and end is not None and start >= end:
                raise ConfigError(f"--timerange {text}: the start {start:%Y-%m-%d %H:%M} is not before the end "
                                  f"{end:%Y-%m-%d %H:%M}")
            return start, end
    raise ConfigError(f"--timerange {text!r} is not a range: give START-END as 20240101-20240601, 20240101-, "
                      "-20240601, or ISO dates 2024-01-01..2024-06-01")


def apply_timerange(frame: pd.DataFrame, text: str | None, what: str = "the data") -> pd.DataFrame:
    """Return the bars of ``frame`` inside the range ``text`` (all of them when ``text`` is None); a range
    holding none of them is a ``ConfigError`` naming the range and the data's own span."""
    if text is None:
        return frame
    start, end = parse_timerange(text)
    index = pd.DatetimeIndex(frame.index)
    keep = np.ones(len(index), dtype=bool)
    if start is not None:
        keep &= index >= start
    if end is not None:
        keep &= index < end
    if not keep.any():
        span = (f"{index[0]:%Y-%m-%d %H:%M} to {index[-1]:%Y-%m-%d %H:%M} UTC" if len(index) else "no bars")
        raise ConfigError(f"--timerange {text}: no bars of {what} in that range ({what} spans {span})")
    return frame[keep]


def _positions(text: str, sep: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(sep), text)]


def _time(side: str, text: str) -> pd.Timestamp | None:
    if not side:
        return None
    try:
        stamp = pd.Timestamp(int(side), unit="s") if side.isdigit() and len(side) != 8 else pd.Timestamp(side)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"--timerange {text}: cannot read {side!r} as a date ({exc})") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
