"""The data query: what data, from where, over which time range. It is also the key of the local catalog.

The same query always returns the same standard frame (``engine.datagen.frames`` documents one schema per
kind), whichever source answers it. ``start`` is inclusive and ``end`` exclusive, both UTC; a bar belongs to
the range when its open time does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import pandas as pd

from engine.errors import ConfigError

KINDS = ("ohlcv", "trades", "funding", "mark", "index", "open_interest", "vol")
SOURCES = ("ccxt", "csv", "parquet", "synthetic")


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
        if self.kind != "trades":
            timeframe_delta(self.timeframe)  # raises ConfigError on a bad timeframe

    @property
    def dataset(self) -> Query:
        """Return the query without its time range: what identifies one stored data set in the catalog."""
        return replace(self, start=None, end=None)

    def with_range(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> Query:
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


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """Convert a ccxt timeframe (``1m``, ``15m``, ``1h``, ``4h``, ``1d``, ``1w``) to a Timedelta."""
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    number, unit = timeframe[:-1], timeframe[-1:]
    if not number.isdigit() or unit not in seconds or int(number) <= 0:
        raise ConfigError(f"timeframe must look like 1m, 15m, 1h, 4h, 1d or 1w, got {timeframe!r}")
    return pd.Timedelta(seconds=int(number) * seconds[unit])


class Source(Protocol):
    """Something that answers queries with standard frames (an exchange over REST, files, a generator)."""

    def fetch(self, query: Query, on_page: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Return the data of ``query`` (its whole range) as a standard frame of its kind.

        ``on_page`` is called with each chunk as it arrives, in time order, so a caller can store progress and
        resume after an interruption by asking again from the last stored time.
        """
        ...
