"""What a run leaves behind: the equity curve, orders, fills and round-trip trades as DataFrames.

``BacktestResult`` holds them with the statistics, the prices of the traded symbols, the configuration, a data
fingerprint and the assumptions of the run; ``save`` writes all of it to a directory and ``load`` reads it back,
so that ``mlct report RESULT_DIR`` can rebuild the report without re-running the back-test.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.datagen.frames import utc_index
from engine.errors import DataError
from engine.events import Bar, Fill
from engine.order_history import FillLog, FillRow
from engine.orders import OrderManager

if TYPE_CHECKING:
    from engine.ledger import Ledger

TRADE_COLUMNS = ["symbol", "entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                 "fees", "return"]


class EquityRecorder:
    """Record equity marked to market after each bar has been fully handled (subscribed last)."""

    # Stamps are kept unsigned while none is negative, in the type whose append converts a 64-bit int fastest:
    # "L" (unsigned long: 8 bytes on 64-bit Linux and macOS) goes digit by digit, "Q" through
    # _PyLong_AsByteArray and "q" through PyArg_Parse, 360, 640 and 970 instructions an append (callgrind),
    # the difference between "q" and "L" 5% of a bar. The bytes are the same int64 for frame().
    _UNSIGNED = "L" if array("L").itemsize == 8 else "Q"

    def __init__(self, equity: Callable[[], float]) -> None:
        # typed arrays: 16 bytes a bar instead of ~70 for lists of Python ints and floats
        self.ts = array(self._UNSIGNED)
        self.values = array("d")
        # One read per bar, unpacked into locals: ``self._append_ts(...)`` compiles to a method lookup that
        # CPython 3.11 cannot specialise for a callable stored on the instance, a generic lookup per call
        # (the three of them were 3% of a bar's instructions, callgrind).
        self._calls = (self.ts.append, self.values.append, equity)

    def on_bar(self, bar: Bar) -> None:
        append_ts, append_value, equity = self._calls
        try:
            append_ts(bar.ts)
        except OverflowError:  # a stamp before 1970: keep them signed from now on
            self.ts = array("q", self.ts)
            self._calls = (self.ts.append, append_value, equity)
            self.ts.append(bar.ts)
        append_value(equity())

    def frame(self) -> pd.DataFrame:
        """Return equity by bar close time; with several symbols per timestamp the last value wins.

        Call it once the run is over: without repeated timestamps the frame wraps the recorder's arrays instead
        of copying them (16 bytes a bar), and while it lives the arrays cannot grow (``on_bar`` would raise
        ``BufferError``). Repeated timestamps are filtered into new arrays.
        """
        stamps = np.frombuffer(self.ts, dtype="int64")
        index = utc_index(stamps)
        frame = pd.DataFrame({"equity": np.frombuffer(self.values, dtype="float64")}, index=index, copy=False)
        if index.is_unique:  # one pass over sorted stamps, no hash table
            return frame
        if index.is_monotonic_increasing:  # bars in time order, as feeds replay them: repeats are neighbours
            last = np.empty(len(stamps), dtype=bool)
            np.not_equal(stamps[1:], stamps[:-1], out=last[:-1])
            last[-1] = True
            return frame[last]
        return frame[~index.duplicated(keep="last")]  # builds a hash table of the stamps


@dataclass
class _OpenTrip:
    symbol: str
    direction: int
    entry_time: int
    quantity: Decimal = Decimal(0)  # currently open
    entered: Decimal = Decimal(0)
    entry_notional: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    exited: Decimal = Decimal(0)
    exit_notional: Decimal = Decimal(0)
    gross_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)


def round_trips(fills: Iterable[Fill]) -> pd.DataFrame:
    """Group fills into round trips: from flat to flat per symbol, a reversal closing one trip and opening the next.

    Entry and exit prices are volume-weighted; ``pnl`` is the realised gain against the average entry price
    minus every fee of the trip's fills (fees in the quote currency); ``return`` is ``pnl`` over the entry
    notional.
    """
    open_trips: dict[str, _OpenTrip] = {}
    rows: list[tuple[object, ...]] = []
    for fill in in_time_order(fills):
        remaining = fill.quantity
        sign = fill.side.sign
        while remaining > 0:
            trip = open_trips.get(fill.symbol)
            if trip is None:
                trip = open_trips[fill.symbol] = _OpenTrip(fill.symbol, sign, fill.ts)
            share = remaining / fill.quantity
            if sign == trip.direction:  # entering or adding
                trip.average_price = ((trip.average_price * trip.quantity + fill.price * remaining)
                                      / (trip.quantity + remaining))
                trip.quantity += remaining
                trip.entered += remaining
                trip.entry_notional += fill.price * remaining
                trip.fees += fill.fee * share
                remaining = Decimal(0)
                continue
            closing = min(remaining, trip.quantity)
            trip.exited += closing
            trip.exit_notional += fill.price * closing
            trip.gross_pnl += trip.direction * (fill.price - trip.average_price) * closing
            trip.fees += fill.fee * (closing / fill.quantity)
            trip.quantity -= closing
            remaining -= closing
            if trip.quantity == 0:
                rows.append(_trip_row(trip, fill.ts))
                del open_trips[fill.symbol]
    frame = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    return frame


def _trip_row(trip: _OpenTrip, exit_ts: int) -> tuple[object, ...]:
    """Return one round trip's values in ``TRADE_COLUMNS`` order."""
    pnl = trip.gross_pnl - trip.fees
    return (trip.symbol, trip.entry_time, exit_ts, "long" if trip.direction > 0 else "short", float(trip.entered),
            float(trip.entry_notional / trip.entered), float(trip.exit_notional / trip.exited), float(pnl),
            float(trip.fees), float(pnl / trip.entry_notional))


FILL_COLUMNS = ["ts", "client_order_id", "trade_id", "symbol", "side", "price", "quantity", "fee", "fee_currency",
                "liquidity"]
ORDER_COLUMNS = ["ts", "client_order_id", "symbol", "side", "type", "quantity", "price", "stop_price",
                 "time_in_force", "post_only", "status", "filled_quantity", "average_price", "fees", "reason",
                 "updated_ts"]


def in_time_order(fills: Iterable[Fill]) -> Iterable[Fill | FillRow]:
    """Return fills by ``ts`` (stable): a session's ``FillLog`` streams its rows when already in time order."""
    if isinstance(fills, FillLog):
        return fills.in_time_order()
    return sorted(fills, key=lambda f: f.ts)


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Return one row per fill; a ``FillLog`` is read column by column, without making a Fill per row."""
    if isinstance(fills, FillLog):
        column, floats = fills.column, fills.floats
    else:
        kept = list(fills)

        def column(name: str) -> list[Any]:
            return [getattr(f, name) for f in kept]

        def floats(name: str) -> np.ndarray:
            return np.array([float(getattr(f, name)) for f in kept], dtype="float64")

    data: dict[str, Any] = {}
    for name in FILL_COLUMNS:  # one column at a time: a column of Decimals for 40,000 fills is 4 MB
        if name in ("price", "quantity", "fee"):
            data[name] = floats(name)
        elif name in ("side", "liquidity"):
            data[name] = [member.value for member in column(name)]
        else:
            data[name] = column(name)
    frame = pd.DataFrame(data, columns=FILL_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), utc=True)
    return frame


def orders_frame(orders: OrderManager) -> pd.DataFrame:
    """Return one row per order in submission order, built a column at a time from the order manager's rows."""
    data: dict[str, Any] = {}
    for name in ORDER_COLUMNS:
        if name == "average_price":
            continue  # from the filled quantity and notional, below
        if name in ("quantity", "filled_quantity", "fees"):
            data[name] = orders.floats(name)
        elif name in ("price", "stop_price"):  # None where the order has none (object column when all are None)
            data[name] = [None if math.isnan(v) else v for v in orders.floats(name).tolist()]
        elif name in ("side", "type", "time_in_force", "status"):
            data[name] = [member.value for member in orders.column(name)]
        else:
            data[name] = orders.column(name)
    filled, notional = orders.column("filled_quantity"), orders.column("filled_notional")
    data["average_price"] = [float(n / q) if q else None for n, q in zip(notional, filled, strict=True)]
    del filled, notional
    frame = pd.DataFrame(data, columns=ORDER_COLUMNS)
    for column in ("ts", "updated_ts"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    return frame


def position_exposure(fills: Iterable[Fill], bar_ts: np.ndarray) -> float:
    """Return the share of bars (by close time) at which any position was held."""
    if len(bar_ts) == 0:
        return 0.0
    held: dict[str, Decimal] = {}
    change_ts = []
    any_held = []
    for fill in in_time_order(fills):
        held[fill.symbol] = held.get(fill.symbol, Decimal(0)) + fill.side.sign * fill.quantity
        change_ts.append(fill.ts)
        any_held.append(any(q != 0 for q in held.values()))
    if not change_ts:
        return 0.0
    # changes before each bar close (0: none yet), so state[k] is what was held after the k-th change
    changes = np.searchsorted(np.asarray(change_ts, dtype="int64"), bar_ts, side="left")
    state = np.concatenate([[False], np.asarray(any_held, dtype=bool)])
    return float(state[changes].mean())


def traded_notional(fills: Iterable[Fill]) -> float:
    """Return the sum of price x quantity over every fill (buys and sells), for turnover."""
    if isinstance(fills, FillLog):
        return float(sum(map(operator.mul, fills.column("price"), fills.column("quantity")), Decimal(0)))
    return float(sum((f.price * f.quantity for f in fills), Decimal(0)))


def fees_paid(fills: Iterable[Fill]) -> float:
    """Return the sum of the fills' fees (in their fee currencies: the account's in a one-quote back-test)."""
    fees = fills.column("fee") if isinstance(fills, FillLog) else (f.fee for f in fills)
    return float(sum(fees, Decimal(0)))


# -- prices and fingerprint of the data, taken from the feeds after the run ------------------------------------
def feed_arrays(feed: object) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Return a ``BarFeed``'s close times and its open, high, low, close, volume arrays; None for other feeds.

    Read after the run from the arrays the feed already holds (the close times computed from its open times),
    so recording prices costs nothing per bar.
    """
    close_times, columns = getattr(feed, "close_times", None), getattr(feed, "_columns", None)
    if not callable(close_times) or columns is None or len(columns) != 5:
        return None
    return close_times(), columns


def feed_prices(feeds: Sequence[object], index: pd.Index | None = None) -> dict[str, pd.DataFrame]:
    """Return ``{symbol: frame of open and close indexed by bar close time}`` for every bar feed (no copies).

    ``index`` is an index of close times the caller already holds (the equity curve's): a feed with the same
    close times shares it rather than getting one of its own (8 bytes a bar).
    """
    prices: dict[str, pd.DataFrame] = {}
    for feed in feeds:
        arrays = feed_arrays(feed)
        if arrays is None:
            continue
        close_ts, (opens, _, _, closes, _) = arrays
        times: pd.Index = utc_index(close_ts)
        if index is not None and index.name == times.name and index.equals(times):
            times = index
        prices[str(getattr(feed, "symbol", ""))] = pd.DataFrame({"open": opens, "close": closes}, index=times,
                                                               copy=False)
    return prices


def data_fingerprint(feeds: Sequence[object]) -> dict[str, Any]:
    """Describe the bars a run saw: symbols, interval, first open, last close, count and sha256 of the bars.

    The hash covers each feed's symbol, interval, close times and OHLCV arrays (little-endian int64/float64),
    in feed order: the same bars give the same hash whichever file or frame they came from. None if a feed is
    not a bar feed.
    """
    digest = hashlib.sha256()
    symbols, n_bars, starts, ends, intervals = [], 0, [], [], []
    for feed in feeds:
        arrays = feed_arrays(feed)
        if arrays is None:
            return {"symbols": [str(getattr(f, "symbol", "?")) for f in feeds], "sha256": None}
        close_ts, columns = arrays
        interval = int(getattr(feed, "interval_ns", 0))
        symbol = str(getattr(feed, "symbol", ""))
        digest.update(f"{symbol}|{interval}|".encode())
        for array_ in (close_ts.astype("<i8", copy=False), *(c.astype("<f8", copy=False) for c in columns)):
            digest.update(np.ascontiguousarray(array_).data)
        symbols.append(symbol)
        intervals.append(interval)
        n_bars += len(close_ts)
        if len(close_ts):
            starts.append(int(close_ts[0]) - interval)
            ends.append(int(close_ts[-1]))
    interval_ns = min(intervals) if intervals else 0
    return {"symbols": symbols, "interval": interval_text(interval_ns), "interval_ns": interval_ns,
            "start": _iso(min(starts)) if starts else None, "end": _iso(max(ends)) if ends else None,
            "n_bars": n_bars, "sha256": digest.hexdigest()}


def interval_text(interval_ns: int) -> str:
    """Return a bar interval the way exchanges name it: ``1m``, ``15m``, ``1h``, ``4h``, ``1d`` (else seconds)."""
    for unit, ns in (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("m", 60 * 10**9), ("s", 10**9)):
        if interval_ns >= ns and interval_ns % ns == 0:
            return f"{interval_ns // ns}{unit}"
    return f"{interval_ns}ns"


def _iso(ts: int) -> str:
    return pd.Timestamp(ts, unit="ns", tz="UTC").isoformat()


# -- the result of a back-test, and its directory form ----------------------------------------------------------
@dataclass
class BacktestResult:
    """Everything a back-test produced.

    Attributes
    ----------
    stats
        ``engine.stats.compute_stats``: strict-JSON figures, with buy-and-hold under ``"buy_and_hold"``.
    equity
        ``equity`` (and ``buy_and_hold`` when prices are known) at each bar close, indexed by close time.
    orders, fills, trades
        One row per order, fill and round trip (``TRADE_COLUMNS``).
    config
        The settings of the run and its strategies with their parameters.
    prices
        ``{symbol: frame}`` of ``open`` and ``close`` by bar close time, for the report's price chart.
    data
        ``data_fingerprint``: symbols, interval, first open, last close, bar count and sha256.
    assumptions
        ``{"engine": [...], "venue": [...]}``: the rules the back-test filled and booked by.
    extras
        Sections that components add to the result. ``extras["ml"]`` (issue 5: ML signals) is a dict of
        DataFrames the report renders: ``"thresholds"`` (columns ``threshold``, ``n_signals``, ``precision``,
        ``avg_return``, any more shown as they are) and ``"contributions"`` (one row per trade: ``entry_time``,
        optionally ``symbol``, then one numeric column per feature with its contribution to the signal that
        opened the trade). Any handler or strategy with a ``result_extras()`` method returning such a dict
        contributes it at the end of the run. Dicts of DataFrames are saved as ``extras/<name>/<key>.csv``.
    ledger
        The ledger of the run (not saved).
    """

    stats: dict[str, Any]
    equity: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger | None = None
    prices: dict[str, pd.DataFrame] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    assumptions: dict[str, list[str]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Return ``result.json``: stats, configuration, data fingerprint and assumptions."""
        return json.dumps({"stats": self.stats, "config": self.config, "data": self.data,
                           "assumptions": self.assumptions}, indent=2, default=str)

    def save(self, out_dir: str | Path) -> Path:
        """Write the result to ``out_dir``; ``BacktestResult.load`` reads it back.

        Files: ``result.json``, ``trades.csv``, ``orders.csv``, ``fills.csv``, ``equity.csv``,
        ``prices.parquet`` (ts, symbol, open, close) and ``extras/<name>/<key>.csv``.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(self.to_json() + "\n")
        trades = self.trades[["entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                              "fees", "symbol", "return"]]
        trades.to_csv(out / "trades.csv", index=False)
        self.orders.to_csv(out / "orders.csv", index=False)
        self.fills.to_csv(out / "fills.csv", index=False)
        self.equity.to_csv(out / "equity.csv")
        long = [frame.assign(symbol=symbol).reset_index() for symbol, frame in self.prices.items()]
        prices = pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=["ts", "symbol", "open",
                                                                                        "close"])
        prices[["ts", "symbol", "open", "close"]].to_parquet(out / "prices.parquet", index=False)
        for name, section in self.extras.items():
            if isinstance(section, Mapping):
                for key, frame in section.items():
                    if isinstance(frame, pd.DataFrame):
                        (out / "extras" / name).mkdir(parents=True, exist_ok=True)
                        frame.to_csv(out / "extras" / name / f"{key}.csv", index=False)
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> BacktestResult:
        """Read a directory written by ``save`` (``mlct backtest --out``); DataError if it is not one."""
        out = Path(out_dir)
        if not (out / "result.json").is_file():
            raise DataError(f"{out}: no result.json here (give the --out directory of mlct backtest)")
        try:
            meta = json.loads((out / "result.json").read_text())
            equity = pd.read_csv(out / "equity.csv", index_col="ts")
            equity.index = pd.DatetimeIndex(_times(equity.index), name="ts")
            trades = _read_csv(out / "trades.csv", ("entry_time", "exit_time"))[TRADE_COLUMNS].astype(
                dict.fromkeys(("quantity", "entry_price", "exit_price", "pnl", "fees", "return"), "float64"))
            orders = _read_csv(out / "orders.csv", ("ts", "updated_ts"))
            fills = _read_csv(out / "fills.csv", ("ts",))
            prices = {}
            if (out / "prices.parquet").is_file():
                long = pd.read_parquet(out / "prices.parquet")
                for symbol, frame in long.groupby("symbol", sort=False):
                    prices[str(symbol)] = frame.set_index(pd.DatetimeIndex(_times(frame["ts"]), name="ts"))[
                        ["open", "close"]]
            extras: dict[str, Any] = {}
            for path in sorted((out / "extras").glob("*/*.csv")):
                frame = pd.read_csv(path)
                for column in frame.columns:
                    if column.endswith("_time") or column == "ts":
                        frame[column] = _times(frame[column])
                extras.setdefault(path.parent.name, {})[path.stem] = frame
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{out}: cannot read the saved result: {exc}") from None
        return cls(stats=meta.get("stats", {}), equity=equity, orders=orders, fills=fills, trades=trades,
                   config=meta.get("config", {}), prices=prices, data=meta.get("data", {}),
                   assumptions=meta.get("assumptions", {}), extras=extras)


def _times(values: pd.Series | pd.Index) -> pd.DatetimeIndex | pd.Series:
    converted = pd.to_datetime(values, utc=True)
    if isinstance(converted, pd.Series):
        return converted.dt.as_unit("ns")
    return pd.DatetimeIndex(converted).as_unit("ns")


def _read_csv(path: Path, time_columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.read_csv(path)
    for column in time_columns:
        frame[column] = _times(frame[column])
    return frame
