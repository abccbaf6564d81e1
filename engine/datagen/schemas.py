"""The standard frame of each data kind: its index, its columns and what they mean.

Every frame has a UTC ``DatetimeIndex`` (nanosecond unit) named ``ts`` and float64 columns, in the order below.
Bar kinds index each row by the bar's OPEN time and hold one row per bar; event kinds index each row by the time
the exchange stamped it. Columns listed as optional may be absent; a column that is present but unknown for a
row holds NaN only where the schema says so.

==============  =========================  ============================================================
kind            index ``ts``               columns
==============  =========================  ============================================================
ohlcv           bar open time, unique      open high low close volume (base asset); optional
                                           quote_volume, trades (ccxt's unified OHLCV has neither)
mark, index     bar open time, unique      open high low close (no volume: a mark or index price
                                           has none)
funding         funding time, unique       funding_rate (fraction paid per funding interval, longs to
                                           shorts when positive)
open_interest   sample time, unique        open_interest (base asset or contracts, as the exchange
                                           reports), open_interest_value (quote currency); either may
                                           be NaN when the exchange reports only the other
vol             sample time, unique        volatility (as the exchange reports it, e.g. Deribit's
                                           annualized historical volatility in percent)
trades          trade time, NOT unique     price amount (base asset) side (+1.0 taker buy, -1.0 taker
                (several trades may share  sell, NaN unknown) id (the exchange's trade id when it is
                a millisecond)             numeric, else NaN)
==============  =========================  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, OHLCV_COLUMNS, OPTIONAL_COLUMNS, PRICE_COLUMNS
from engine.datagen.query import KINDS, timeframe_delta
from engine.errors import ConfigError

FUNDING_COLUMNS: tuple[str, ...] = ("funding_rate",)
OPEN_INTEREST_COLUMNS: tuple[str, ...] = ("open_interest", "open_interest_value")
VOL_COLUMNS: tuple[str, ...] = ("volatility",)
TRADE_COLUMNS: tuple[str, ...] = ("price", "amount", "side", "id")
BAR_KINDS: tuple[str, ...] = ("ohlcv", "mark", "index")
# ccxt stamps events in milliseconds: the next possible event after one at time t is at t + 1 ms.
EVENT_RESOLUTION = pd.Timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """The standard frame of one kind.

    Parameters
    ----------
    kind
        One of ``engine.datagen.query.KINDS``.
    columns
        Columns every frame of the kind has, in this order, all float64.
    optional
        Columns a frame may also have (after ``columns``), float64.
    bars
        True when rows are bars indexed by open time, one per timeframe step (the index is unique).
    unique_index
        True when no two rows share a timestamp.
    nullable
        Columns that may hold NaN (unknown for that row); any other NaN is bad data.
    """

    kind: str
    columns: tuple[str, ...]
    optional: tuple[str, ...] = ()
    bars: bool = False
    unique_index: bool = True
    nullable: tuple[str, ...] = ()

    def empty(self) -> pd.DataFrame:
        """Return a frame of this kind with no rows."""
        index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME, dtype="datetime64[ns, UTC]")
        return pd.DataFrame({c: np.empty(0, dtype=np.float64) for c in self.columns}, index=index)


SCHEMAS: dict[str, Schema] = {
    "ohlcv": Schema(kind="ohlcv", columns=OHLCV_COLUMNS, optional=OPTIONAL_COLUMNS, bars=True),
    "mark": Schema(kind="mark", columns=PRICE_COLUMNS, bars=True),
    "index": Schema(kind="index", columns=PRICE_COLUMNS, bars=True),
    "funding": Schema(kind="funding", columns=FUNDING_COLUMNS),
    "open_interest": Schema(kind="open_interest", columns=OPEN_INTEREST_COLUMNS, nullable=OPEN_INTEREST_COLUMNS),
    "vol": Schema(kind="vol", columns=VOL_COLUMNS),
    "trades": Schema(kind="trades", columns=TRADE_COLUMNS, unique_index=False, nullable=("side", "id")),
}
assert set(SCHEMAS) == set(KINDS), "every query kind needs a schema"


def schema(kind: str) -> Schema:
    """Return the schema of ``kind``; raise ``ConfigError`` on an unknown kind."""
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}") from None


def next_start(kind: str, timeframe: str, last_ts: pd.Timestamp) -> pd.Timestamp:
    """Return where a download resumes after the last stored row at ``last_ts``.

    For bars it is the next bar's open (``last_ts`` + one ``timeframe``); for events it is ``last_ts`` + 1 ms,
    the resolution of exchange timestamps. A source that hands pages to ``on_page`` guarantees that no later
    page holds a row at or before a stored page's last timestamp, so nothing is lost or repeated.
    """
    if schema(kind).bars:
        return last_ts + timeframe_delta(timeframe)
    return last_ts + EVENT_RESOLUTION
