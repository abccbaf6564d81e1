"""Aggregation: bars to a coarser timeframe, and trades to time, tick, volume and dollar bars.

Coarser bars are built as an exchange builds them: open = the first bar's open, high = the highest high, low =
the lowest low, close = the last bar's close, volumes and trade counts summed, each bar opening on the UTC grid
of its timeframe (hours and days from the epoch, so days start at midnight UTC; weeks on Mondays, see
``grid_offset``). A bar of the coarser timeframe is complete when the finer bars span all of it; at the edges of
the data an incomplete one is dropped unless ``partial=True``, since the exchange's bar would hold trades the
data does not. Inside the data a coarse bar with some fine bars missing is kept: the exchange had no trades
there, and its bar is made of the trades it had.

Trade bars group whole trades, never splitting one: a tick bar every ``ticks`` trades; a volume (dollar) bar
closes at the trade that takes the running base (quote) volume to or past the next multiple of the threshold,
that trade included, so bars sit on a fixed grid of cumulative volume. Time bars from trades exist only where
there were trades.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, OHLCV_COLUMNS, infer_interval, validate_ohlcv
from engine.datagen.query import grid_offset, timeframe_delta
from engine.errors import ConfigError, DataError


def resample_bars(bars: pd.DataFrame, timeframe: str, *, interval: str | pd.Timedelta | None = None,
                  partial: bool = False, source: str = "bars") -> pd.DataFrame:
    """Return ``bars`` aggregated to ``timeframe`` (``"4h"``, ``"1d"``, ``"1w"``), as the exchange reports it.

    Parameters
    ----------
    bars
        A standard OHLCV frame (validated here); ``quote_volume`` and ``trades`` are summed when present.
    timeframe
        The coarser timeframe; a whole multiple of the bars' interval.
    interval
        The bars' interval; inferred from the index when None.
    partial
        Keep the first and last coarse bars even when the data does not span them whole.
    """
    validate_ohlcv(bars, source)
    target = timeframe_delta(timeframe)
    if len(bars) == 0:
        return bars.copy()
    step = infer_interval(bars.index, interval, source=source)
    if target % step != pd.Timedelta(0):
        raise ConfigError(f"{source}: cannot build {timeframe} bars from {step} bars: not a whole multiple")
    stamps = pd.DatetimeIndex(bars.index).as_unit("ns").asi8
    size, offset = target.value, grid_offset(timeframe).value
    off_grid = (stamps - offset) % step.value != 0
    if off_grid.any():
        i = int(np.argmax(off_grid))
        raise DataError(f"{source} row at {bars.index[i].isoformat()}: bar not on the {step} grid, cannot be "
                        f"aggregated exactly")
    keys = (stamps - offset) // size * size + offset
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(stamps)] - 1
    columns = {name: bars[name].to_numpy() for name in bars.columns}
    out = {
        "open": columns["open"][starts],
        "high": np.maximum.reduceat(columns["high"], starts),
        "low": np.minimum.reduceat(columns["low"], starts),
        "close": columns["close"][ends],
        "volume": np.add.reduceat(columns["volume"], starts),
    }
    for name in ("quote_volume", "trades"):
        if name in columns:
            out[name] = np.add.reduceat(columns[name], starts)
    frame = pd.DataFrame(out, index=_index(keys[starts]))
    if not partial:
        keep = np.ones(len(frame), dtype=bool)
        keep[0] &= bool(keys[0] >= stamps[0])  # the data starts at the coarse bar's open
        keep[-1] &= bool(keys[-1] + size <= stamps[-1] + step.value)  # and reaches its close
        frame = frame[keep]
    return frame


def trade_bars(trades: pd.DataFrame, *, timeframe: str | None = None, ticks: int | None = None,
               volume: float | None = None, dollars: float | None = None, partial: bool = False,
               end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Return bars built from ``trades`` (a trades frame: index ``ts``, columns ``price`` and ``amount``).

    Give exactly one of ``timeframe`` (time bars), ``ticks`` (a bar every that many trades), ``volume`` (a bar
    every that much base volume) or ``dollars`` (quote volume). The last bar is incomplete unless the
    trades reach its end: for time bars, unless ``end`` (the time the trades are known up to) is at or after its
    close; for the others, unless its count or volume reached the threshold. It is dropped unless ``partial``.

    Returns
    -------
    pandas.DataFrame
        Index ``ts`` = the bar's open (time bars: its grid time; others: its first trade's time), float64
        ``open high low close volume quote_volume trades``; tick, volume and dollar bars also have
        ``close_ts``, the time of their last trade, when they are complete and may be acted on.
    """
    given = {k: v for k, v in (("timeframe", timeframe), ("ticks", ticks), ("volume", volume),
                               ("dollars", dollars)) if v is not None}
    if len(given) != 1:
        raise ConfigError(f"give exactly one of timeframe, ticks, volume, dollars; got {', '.join(given) or 'none'}")
    price, amount, stamps = _trade_columns(trades)
    notional = price * amount
    if timeframe is not None:
        size, offset = timeframe_delta(timeframe).value, grid_offset(timeframe).value
        keys = (stamps - offset) // size * size + offset
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.empty(0, dtype=np.int64)
        frame = _bars(price, amount, notional, starts, _index(keys[starts]))
        known = stamps[-1] if end is None or not len(stamps) else pd.Timestamp(end).value
        if len(frame) and not partial and (end is None or keys[-1] + size > known):
            frame = frame.iloc[:-1]
        return frame
    if ticks is not None:
        if ticks <= 0:
            raise ConfigError(f"ticks must be positive, got {ticks}")
        ids = np.arange(len(price)) // ticks
        complete_last = len(price) % ticks == 0
    else:
        threshold = float(volume if volume is not None else dollars)  # type: ignore[arg-type]
        if not threshold > 0:
            raise ConfigError(f"the bar threshold must be positive, got {threshold}")
        running = np.cumsum(amount if volume is not None else notional)
        # A trade belongs to the bar of the thresholds passed before it: the one that passes the next closes it.
        ids = (np.r_[0.0, running[:-1]] // threshold).astype(np.int64)
        complete_last = bool(len(running)) and running[-1] >= (ids[-1] + 1) * threshold
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.empty(0, dtype=np.int64)
    frame = _bars(price, amount, notional, starts, _index(stamps[starts]))
    last = np.r_[starts[1:], len(stamps)] - 1
    frame["close_ts"] = _index(stamps[last]) if len(starts) else pd.DatetimeIndex([], tz="UTC")
    if len(frame) and not partial and not complete_last:
        frame = frame.iloc[:-1]
    return frame


def _trade_columns(trades: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in ("price", "amount") if c not in trades.columns]
    if missing:
        raise DataError(f"trades: missing column(s) {', '.join(missing)} (has: {', '.join(map(str, trades.columns))})")
    index = trades.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise DataError("trades: the index must be a UTC DatetimeIndex of trade times")
    stamps = index.as_unit("ns").asi8
    price = trades["price"].to_numpy(dtype=np.float64)
    amount = trades["amount"].to_numpy(dtype=np.float64)
    for name, values, bad in (("ts", stamps, np.diff(stamps) < 0), ("price", price, ~(price > 0)),
                              ("amount", amount, ~(amount >= 0))):
        if bad.any():
            i = int(np.argmax(bad)) + (1 if name == "ts" else 0)
            what = "is before the trade above it" if name == "ts" else f"= {float(values[i])!r} is invalid"
            raise DataError(f"trades row at {index[i].isoformat()}: {name} {what}")
    return price, amount, stamps


def _bars(price: np.ndarray, amount: np.ndarray, notional: np.ndarray, starts: np.ndarray,
          index: pd.DatetimeIndex) -> pd.DataFrame:
    if not len(starts):
        return pd.DataFrame({c: np.empty(0) for c in (*OHLCV_COLUMNS, "quote_volume", "trades")}, index=index)
    last = np.r_[starts[1:], len(price)] - 1
    return pd.DataFrame({
        "open": price[starts], "high": np.maximum.reduceat(price, starts), "low": np.minimum.reduceat(price, starts),
        "close": price[last], "volume": np.add.reduceat(amount, starts),
        "quote_volume": np.add.reduceat(notional, starts), "trades": np.diff(np.r_[starts, len(price)]).astype(float),
    }, index=index)


def _index(stamps: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(stamps, dtype=np.int64).view("datetime64[ns]"), name=INDEX_NAME
                            ).tz_localize("UTC")

