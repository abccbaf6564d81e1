"""The data query: what data, from where, over which time range. It is also the key of the local catalog.

The same query always returns the same standard frame (``engine.datagen.schemas`` documents one schema per
kind), whichever source answers it. ``start`` is inclusive and ``end`` exclusive, both UTC; a bar belongs to
the range when its open time does.

Text form (``Query.parse`` reads it, ``str(query)`` writes it; the command line takes it)::

    [SOURCE:][EXCHANGE:]SYMBOL[:TIMEFRAME][:KIND][@START..END]

    binance:BTC/USDT:1h                                   ccxt source, ohlcv, no range
    ccxt:binance:BTC/USDT:1h:ohlcv@2024-01-01..2024-02-01 the canonical form, as str() writes it
    binance:BTC/USDT:USDT:8h:funding@2024-01-01..         a perpetual's funding rates from 2024-01-01 on
    binance:BTC/USDT:trades@..2024-01-02                  trades (no timeframe) up to 2024-01-02
    csv:coinbase:BTC/USD:1h                               bars imported from a CSV file
    synthetic:SYN/USD:1m                                  generated bars

``SOURCE`` is one of ``SOURCES`` (default ``ccxt``, which needs an exchange). ``SYMBOL`` is the ccxt unified
symbol, settle currency included (``BTC/USDT:USDT``): every field after it that is neither a timeframe (``1m``,
``4h``, ``1d``...) nor a kind belongs to it. ``TIMEFRAME`` defaults to ``1h`` (none for trades), ``KIND`` to
``ohlcv``, in either order. ``START`` and ``END`` are ISO 8601 dates or times, UTC unless they carry an offset;
either may be left empty; ``@START`` alone means from START on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import pandas as pd

from engine.errors import ConfigError

KINDS = ("ohlcv", "trades", "funding", "mark", "index", "open_interest", "vol")
SOURCES = ("ccxt", "csv", "parquet", "synthetic")
_TIMEFRAME = re.compile(r"[1-9][0-9]*[smhdw]")
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """One data request. ``timeframe`` is a ccxt-style interval (``1m``, ``1h``, ``1d``); empty for trades."""

    source: str = "ccxt"
    exchange: str = ""
    symbol: str
    timeframe: str = "1h"
    kind: str = "ohlcv"
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"query source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"query kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.symbol or "/" not in self.symbol:
            raise ConfigError(f"query symbol must look like BASE/QUOTE (e.g. BTC/USDT), got {self.symbol!r}")
        if self.source == "ccxt" and not self.exchange:
            raise ConfigError("a ccxt query needs an exchange (e.g. binance)")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_utc(value, name))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ConfigError(f"query end {self.end} must be after start {self.start}")
        if self.kind == "trades":
            object.__setattr__(self, "timeframe", "")  # trades have no timeframe: one data set, whatever was given
        else:
            timeframe_delta(self.timeframe)  # raises ConfigError on a bad timeframe

    @classmethod
    def parse(cls, text: str) -> Query:
        """Read a query from its text form (see the module docstring); ``ConfigError`` names what is wrong."""
        body, at, span = text.strip().partition("@")
        fields = body.split(":")
        if any(not f for f in fields):
            raise ConfigError(f"query {text!r}: empty field between ':' (expected [SOURCE:][EXCHANGE:]SYMBOL"
                              f"[:TIMEFRAME][:KIND][@START..END])")
        source = fields.pop(0) if fields[0] in SOURCES else "ccxt"
        exchange = fields.pop(0) if fields and "/" not in fields[0] else ""
        if not fields or "/" not in fields[0]:
            raise ConfigError(f"query {text!r}: no symbol (BASE/QUOTE, e.g. binance:BTC/USDT:1h)")
        symbol, rest = [fields[0]], fields[1:]
        while rest and not (rest[0] in KINDS or _TIMEFRAME.fullmatch(rest[0])):
            symbol.append(rest.pop(0))  # settle currency or option suffix: BTC/USDT:USDT
        timeframe = kind = None
        for field in rest:
            if field in KINDS and kind is None:
                kind = field
            elif _TIMEFRAME.fullmatch(field) and timeframe is None:
                timeframe = field
            else:
                raise ConfigError(f"query {text!r}: {field!r} is neither a timeframe (1m, 1h, 1d...) nor a kind "
                                  f"({', '.join(KINDS)}), or is given twice")
        start = end = None
        if at:
            first, dots, last = span.partition("..")
            if not (first or last):
                raise ConfigError(f"query {text!r}: empty range after '@' (expected @START..END)")
            start = to_utc(first, "query start") if first else None
            end = to_utc(last, "query end") if dots and last else None
        return cls(source=source, exchange=exchange, symbol=":".join(symbol), timeframe=timeframe or "1h",
                   kind=kind or "ohlcv", start=start, end=end)

    def __str__(self) -> str:
        """Write the canonical text form, which ``Query.parse`` reads back to an equal query."""
        fields = [self.source, *([self.exchange] if self.exchange else []), self.symbol,
                  *([self.timeframe] if self.timeframe else []), self.kind]
        text = ":".join(fields)
        if self.start is not None or self.end is not None:
            text += f"@{format_time(self.start)}..{format_time(self.end)}"
        return text

    @property
    def dataset(self) -> Query:
        """Return the query without its time range: what identifies one stored data set in the catalog."""
        return replace(self, start=None, end=None)

    def with_range(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> Query:
        """Return the same data set over ``[start, end)``."""
        return replace(self, start=start, end=end)


def to_utc(value: object, name: str = "time") -> pd.Timestamp:
    """Read a time (ISO text, pandas/py datetime, or int ns) as a UTC Timestamp; naive times are taken as UTC."""
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {value!r} as a time ({exc})") from None
    if stamp is pd.NaT:
        raise ConfigError(f"{name}: cannot read {value!r} as a time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def format_time(stamp: pd.Timestamp | None) -> str:
    """Write a UTC time compactly and exactly: ``2024-01-01`` at midnight, else ``2024-01-01T12:30:00Z``."""
    if stamp is None:
        return ""
    naive = stamp.tz_convert("UTC").tz_localize(None)
    return naive.strftime("%Y-%m-%d") if naive == naive.normalize() else naive.isoformat() + "Z"


def timeframe_of(delta: pd.Timedelta) -> str:
    """Write a bar length as a ccxt timeframe (3600 s -> ``1h``), the inverse of ``timeframe_delta``."""
    seconds = delta.total_seconds()
    if seconds <= 0 or seconds != int(seconds):
        raise ConfigError(f"a timeframe is a whole, positive number of seconds, got {delta}")
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{int(seconds) // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds is a multiple of 1")


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """Convert a ccxt timeframe (``1m``, ``15m``, ``1h``, ``4h``, ``1d``, ``1w``) to a Timedelta."""
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    number, unit = timeframe[:-1], timeframe[-1:]
    if not number.isdigit() or unit not in seconds or int(number) <= 0:
        raise ConfigError(f"timeframe must look like 1m, 15m, 1h, 4h, 1d or 1w, got {timeframe!r}")
    return pd.Timedelta(seconds=int(number) * seconds[unit])


# 1970-01-01 was a Thursday; exchanges start their weekly bars on Monday 00:00 UTC, four days later.
_MONDAY = pd.Timedelta(days=4)


def grid_offset(timeframe: str) -> pd.Timedelta:
    """Return where the bars of ``timeframe`` start relative to the UTC epoch: 0, or Monday for weekly bars.

    A bar of length L opens at ``offset + k * L``: hours and days on the epoch grid (midnight UTC), weeks on
    Mondays, as exchanges report them.
    """
    delta = timeframe_delta(timeframe)
    return _MONDAY if delta % pd.Timedelta(weeks=1) == pd.Timedelta(0) else pd.Timedelta(0)


def floor_time(ns: int, timeframe: str) -> int:
    """Return the open time (ns) of the ``timeframe`` bar holding time ``ns``."""
    step, offset = timeframe_delta(timeframe).value, grid_offset(timeframe).value
    return (ns - offset) // step * step + offset


class Source(Protocol):
    """Something that answers queries with standard frames (an exchange over REST, files, a generator)."""

    def fetch(self, query: Query, on_page: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Return the data of ``query`` (its whole range) as a standard frame of its kind.

        ``on_page`` is called with each chunk as it arrives, in time order, so a caller can store progress and
        resume after an interruption by asking again from the last stored time.
        """
        ...
