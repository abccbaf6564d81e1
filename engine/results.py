"""What a run leaves behind: the equity curve, orders, fills and round-trip trades as DataFrames.

``BacktestResult`` holds them with the statistics, the prices of the traded symbols, the configuration, a data
fingerprint and the assumptions of the run; ``save`` writes all of it to a directory and ``load`` reads it back,
so that ``mlct report RESULT_DIR`` can rebuild the report without re-running the back-test.
"""

from __future__ import annotations

import itertools
import json
import operator
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from engine.datagen.fingerprint import data_fingerprint, feed_prices, interval_text
from engine.datagen.frames import PIECE_BARS, utc_index
from engine.errors import DataError
from engine.events import Bar, Fill
from engine.orders import OrderManager
from engine.store import FillLog, FillRow

if TYPE_CHECKING:
    from engine.ledger import Ledger

__all__ = ["CATEGORY_COLUMNS", "FILL_COLUMNS", "ORDER_COLUMNS", "TRADE_COLUMNS", "BacktestResult", "EquityRecorder",
           "FillSummary", "as_categories", "category_column", "data_fingerprint", "feed_prices", "fees_paid",
           "fills_frame", "in_time_order", "interval_text", "orders_frame", "position_exposure", "round_trips",
           "summarize_fills", "traded_notional"]

TRADE_COLUMNS = ["symbol", "entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                 "fees", "return"]
# Text columns with a handful of distinct values are categoricals: a byte a row instead of about twelve for
# pandas' Arrow-backed strings (5 MB less for the 38,710 orders of the 1M-bar benchmark). They compare, filter
# and write to CSV as the strings they hold.
CATEGORY_COLUMNS = frozenset({"symbol", "side", "type", "time_in_force", "status", "reason", "fee_currency",
                              "liquidity"})


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


@dataclass(slots=True)
class _OpenTrip:
    """A round trip still open, made whole by its first fill (or by what a reversing fill leaves)."""

    symbol: str
    direction: int
    entry_time: int
    quantity: Decimal  # currently open
    entered: Decimal
    entry_notional: Decimal
    average_price: Decimal
    fees: Decimal
    exited: Decimal = Decimal(0)
    exit_notional: Decimal = Decimal(0)
    gross_pnl: Decimal = Decimal(0)


CHUNK = PIECE_BARS  # a name of this module's own, so that tests can read in smaller pieces
_FOLD_FIELDS = ("ts", "symbol", "side", "price", "quantity", "fee")


class FillSummary(NamedTuple):
    """What a result reads from the fills (``summarize_fills``)."""

    trades: pd.DataFrame
    exposure: float  # the share of bars (by close time) at which any position was held
    fees_paid: float
    traded_notional: float


def summarize_fills(fills: Sequence[Fill], bar_ts: np.ndarray) -> FillSummary:
    """Return the round trips, exposure at bars closing at ``bar_ts``, fees and traded notional of ``fills``, from
    one read of them.

    Read separately they took four decodes of the same packed columns and four loops of Decimal arithmetic over
    the fills. The sums are added in booking order, as ``fees_paid`` and ``traded_notional`` add them: fills
    booked out of time order are summed again, in that order.
    """
    summary = _fold(_fill_fields(fills, _FOLD_FIELDS), bar_ts)
    if isinstance(fills, FillLog) and fills.is_time_ordered():
        return summary
    return summary._replace(fees_paid=fees_paid(fills), traded_notional=traded_notional(fills))


def round_trips(fills: Iterable[Fill]) -> pd.DataFrame:
    """Group fills into round trips: from flat to flat per symbol, a reversal closing one trip and opening the next.

    Entry and exit prices are volume-weighted; ``pnl`` is the realised gain against the average entry price
    minus every fee of the trip's fills (fees in the quote currency); ``return`` is ``pnl`` over the entry
    notional.
    """
    return _fold(_fill_fields(fills, _FOLD_FIELDS), np.empty(0, dtype=np.int64)).trades


def position_exposure(fills: Iterable[Fill], bar_ts: np.ndarray) -> float:
    """Return the share of bars (by close time) at which any position was held."""
    if len(bar_ts) == 0:
        return 0.0
    return _fold(_fill_fields(fills, _FOLD_FIELDS), bar_ts, trips=False).exposure


def _fold(rows: Iterable[tuple[Any, ...]], bar_ts: np.ndarray, *, trips: bool = True) -> FillSummary:
    """Fold fields ``_FOLD_FIELDS`` of fills in time order into a ``FillSummary`` of exposure at ``bar_ts`` (with
    ``trips`` false, without trips).

    The Decimal arithmetic is, operation for operation, that of the separate loops it replaced, but for steps
    whose value is known without doing them: a fill that enters or exits whole takes its fee whole (``+fee``,
    rounded as ``fee * 1`` is) and its notional once, and a trip opens with its first fill's figures (``0 + x``
    is ``+x``). So the figures are the same to the bit.
    """
    open_trips: dict[str, _OpenTrip] = {}
    found = _TripColumns()
    held: dict[str, Decimal] = {}  # the signed position of each symbol
    holding = 0  # symbols with a position
    zero = Decimal(0)
    change_ts = array("q")
    any_held = bytearray()  # its append takes an int without argument parsing: a third of array("b")'s
    fees = notional_sum = zero
    for ts, symbol, side, price, quantity, fee in rows:
        notional = price * quantity
        notional_sum += notional
        fees += fee
        sign = side.sign
        before = held.get(symbol, zero)
        # +q and -q are sign * q, rounded alike, without making a Decimal of the sign; a Decimal's truth is
        # ``!= 0`` without making a Decimal of the 0
        held[symbol] = after = before + (+quantity if sign > 0 else -quantity)
        if not before:
            holding += 1 if after else 0
        elif not after:
            holding -= 1
        change_ts.append(ts)
        any_held.append(holding > 0)
        if not (trips and quantity > zero):
            continue
        trip = open_trips.get(symbol)
        if trip is None:  # the whole fill opens a trip
            entered = +quantity
            open_trips[symbol] = _OpenTrip(symbol, sign, ts, entered, entered, notional, notional / entered, +fee)
            continue
        if sign == trip.direction:  # the whole fill adds to it
            trip.average_price = (trip.average_price * trip.quantity + notional) / (trip.quantity + quantity)
            trip.quantity += quantity
            trip.entered += quantity
            trip.entry_notional += notional
            trip.fees += +fee
            continue
        whole = not trip.quantity < quantity  # the fill closes no more than is open (min() would return it)
        closing = quantity if whole else trip.quantity
        trip.exited += closing
        trip.exit_notional += notional if whole else price * closing
        trip.gross_pnl += trip.direction * (price - trip.average_price) * closing
        trip.fees += +fee if whole else fee * (closing / quantity)
        trip.quantity -= closing
        if trip.quantity:
            continue
        found.add(trip, ts)
        del open_trips[symbol]
        remaining = quantity - closing
        if remaining > zero:  # a reversal: the rest of the fill opens the next trip
            part = price * remaining
            entered = +remaining
            open_trips[symbol] = _OpenTrip(symbol, sign, ts, entered, entered, part, part / entered,
                                           fee * (remaining / quantity))
    return FillSummary(found.frame(), _held_share(change_ts, any_held, bar_ts), float(fees), float(notional_sum))


def _held_share(change_ts: array[int], any_held: bytearray, bar_ts: np.ndarray) -> float:
    """Return the share of bars closing at ``bar_ts`` at which any position was held: after the last change of
    positions before the bar's close, ``any_held`` of it (a change at each of ``change_ts``, in time order)."""
    if len(bar_ts) == 0 or not change_ts:
        return 0.0
    changes_at = np.frombuffer(change_ts, dtype=np.int64)
    held_after = np.frombuffer(any_held, dtype=np.int8) != 0
    if _ascending(bar_ts):
        # Bars in time order, as a back-test records them: the bars after each change are counted by looking the
        # changes up among the bars (a search a change, where looking each bar up among the changes was a search
        # a bar: 11% of folding the fills of the 1M-bar benchmark). Bars closing after change k and by the next
        # one are held if any was held after change k.
        after = len(bar_ts) - np.searchsorted(bar_ts, changes_at, side="right")  # bars closing after each change
        bars_from = after - np.append(after[1:], 0)  # of those, the bars closing by the next change
        return int(bars_from[held_after].sum()) / len(bar_ts)
    # changes before each bar close (0: none yet), so state[k] is what was held after the k-th change
    state = np.concatenate([[False], held_after])
    held_bars = 0
    for start in range(0, len(bar_ts), CHUNK):  # the positions of every bar would be 8 bytes a bar
        changes = np.searchsorted(changes_at, bar_ts[start:start + CHUNK], side="left")
        held_bars += int(np.count_nonzero(state[changes]))
    return held_bars / len(bar_ts)


def _ascending(values: np.ndarray) -> bool:
    """Return whether ``values`` never decrease, compared ``CHUNK`` at a time (a whole comparison is a byte a value)."""
    for start in range(0, len(values) - 1, CHUNK):
        piece = values[start:start + CHUNK + 1]
        if not (piece[1:] >= piece[:-1]).all():
            return False
    return True


class _TripColumns:
    """The round trips found so far, a column at a time: typed arrays take 8 bytes a value where a row of
    Python objects took about 350 bytes a trip.

    The two times and the six figures of a trip go into one array each, a trip's values side by side:
    ``fromlist`` of a trip's six floats costs a third of six ``append`` calls, which parse their argument.
    """

    _FLOATS = ("quantity", "entry_price", "exit_price", "pnl", "fees", "return")
    _TIMES = ("entry_time", "exit_time")

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.sides: list[str] = []
        self.times = array("q")  # entry and exit time of each trip
        self.floats = array("d")  # the _FLOATS of each trip
        self._add_times, self._add_floats = self.times.fromlist, self.floats.fromlist

    def add(self, trip: _OpenTrip, exit_ts: int) -> None:
        """Record a closed trip that ended at ``exit_ts``."""
        pnl = trip.gross_pnl - trip.fees
        self.symbols.append(trip.symbol)
        self.sides.append("long" if trip.direction > 0 else "short")
        self._add_times([trip.entry_time, exit_ts])
        self._add_floats([float(trip.entered), float(trip.entry_notional / trip.entered),
                          float(trip.exit_notional / trip.exited), float(pnl), float(trip.fees),
                          float(pnl / trip.entry_notional)])

    def frame(self) -> pd.DataFrame:
        """Return the trips in ``TRADE_COLUMNS`` order (with no trips, the frame of an empty list of rows)."""
        if not self.symbols:
            frame = pd.DataFrame([], columns=TRADE_COLUMNS)
            for column in self._TIMES:
                frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
            return frame
        data: dict[str, Any] = {"symbol": category_column([self.symbols], len(self.symbols)),
                                "side": category_column([self.sides], len(self.sides))}
        times = np.frombuffer(self.times, dtype=np.int64).reshape(-1, len(self._TIMES))
        data.update({name: _time_column(times[:, i].copy()) for i, name in enumerate(self._TIMES)})
        floats = np.frombuffer(self.floats, dtype=np.float64).reshape(-1, len(self._FLOATS))
        data.update({name: floats[:, i] for i, name in enumerate(self._FLOATS)})
        return pd.DataFrame(data, columns=TRADE_COLUMNS)


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


def _fill_fields(fills: Iterable[Fill], names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Return an iterator over fields ``names`` (two or more) of every fill, in time order (stable).

    A session's ``FillLog`` in time order, as a back-test books it, is read a block at a time: a ``FillRow`` per
    fill, or whole columns of their Decimals, would take several MB for 40,000 fills.
    """
    if isinstance(fills, FillLog) and fills.is_time_ordered():
        return _booked(fills, names)
    return map(operator.attrgetter(*names), in_time_order(fills))


def _booked(log: FillLog, names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Yield fields ``names`` of the log's fills in booking order, one block of them decoded at a time."""
    for block in log.column_blocks(*names):
        rows = zip(*block, strict=True)
        del block  # the rows hold the block's lists until they are read: then they go, before the next block
        yield from rows


def fills_frame(fills: Iterable[Fill]) -> pd.DataFrame:
    """Return one row per fill; a ``FillLog`` is read a column and a block at a time, without making a Fill per row."""
    if isinstance(fills, FillLog):
        log = fills

        def blocks(name: str) -> Iterator[list[Any]]:
            return (block for (block,) in log.column_blocks(name))

        float_blocks: Callable[[str], Iterable[list[float]]] = log.float_blocks
        stamps = log.int64s("ts")
    else:
        kept = list(fills)

        def blocks(name: str) -> Iterator[list[Any]]:
            return iter([[getattr(f, name) for f in kept]])

        def float_blocks(name: str) -> Iterable[list[float]]:
            return [[float(getattr(f, name)) for f in kept]]

        stamps = np.array([f.ts for f in kept], dtype=np.int64)

    n = len(fills) if isinstance(fills, FillLog) else len(kept)
    data: dict[str, Any] = {}
    for name in FILL_COLUMNS:  # each column made whole before the next is read
        if name in ("price", "quantity", "fee"):
            data[name] = _joined(float_blocks(name), n, np.float64)
        elif name == "ts":
            data[name] = _time_column(stamps)
        elif name in ("side", "liquidity"):
            data[name] = category_column(map(_values, blocks(name)), n)
        elif name in CATEGORY_COLUMNS:
            data[name] = category_column(blocks(name), n)
        else:
            data[name] = _inferred(blocks(name))
    return pd.DataFrame(data, columns=FILL_COLUMNS, copy=False)


def _time_column(stamps: np.ndarray) -> pd.DatetimeIndex:
    """Return int64 nanoseconds as the frames' time columns have them: UTC, sharing their memory (``to_datetime``
    took 20 ms for 40,000 of them), and for none what ``to_datetime`` makes, a column in seconds."""
    if len(stamps) == 0:
        return pd.to_datetime(stamps, utc=True)
    return utc_index(stamps, name=None)


def _joined(blocks: Iterable[Sequence[Any]], n: int, dtype: type[np.generic]) -> np.ndarray:
    """Return the ``n`` values of ``blocks`` as one array of ``dtype``, filled a block at a time."""
    out = np.empty(n, dtype=dtype)
    at = 0
    for block in blocks:
        out[at:at + len(block)] = block
        at += len(block)
    return out


def _inferred(blocks: Iterable[list[Any]]) -> pd.Series | list[Any]:
    """Return the values of ``blocks`` (of one type) as one column, typed as pandas types the list of them.

    Each block becomes a Series as it comes, so that only one block of Python objects exists at a time (for text,
    pandas keeps the characters, not the ``str`` objects). No values stay a list, for the frame to type as
    before (pandas types an empty list in a frame as float64).
    """
    parts = [pd.Series(block) for block in blocks if block]
    if not parts:
        return []
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def orders_frame(orders: OrderManager) -> pd.DataFrame:
    """Return one row per order in submission order, built a column at a time from the order manager's rows.

    Each column is made whole (an array, or a Series pandas has typed) before the next is read: the order
    manager hands out whole columns of Python objects, and only one of them exists at a time.
    """
    data: dict[str, Any] = {}
    for name in ORDER_COLUMNS:
        if name == "average_price":  # read a block at a time
            data[name] = _optional(orders.average_prices())
        elif name in ("quantity", "filled_quantity", "fees"):
            data[name] = orders.floats(name)
        elif name in ("price", "stop_price"):  # None where the order has none
            data[name] = _optional(orders.floats(name))
        elif name in ("ts", "updated_ts"):
            data[name] = _time_column(orders.int64s(name))
        elif name in ("side", "type", "time_in_force", "status"):
            data[name] = category_column([_values(orders.column(name))], len(orders))
        elif name in CATEGORY_COLUMNS:
            data[name] = category_column([orders.column(name)], len(orders))
        else:
            data[name] = _inferred([orders.column(name)])
    return pd.DataFrame(data, columns=ORDER_COLUMNS, copy=False)


def category_column(blocks: Iterable[Sequence[Any]], n: int) -> pd.Categorical | list[Any]:
    """Return the ``n`` values of ``blocks`` as a categorical whose categories are sorted, as
    ``astype("category")`` makes them, without building a column of strings first; no values give an empty
    list (typed by the frame).

    The values of these columns are shared strings (an enum's value, a name the packed history reads once), so
    a dict lookup a row finds their codes.
    """
    if n == 0:
        return []
    codes = np.empty(n, dtype=np.int32)
    seen: dict[Any, int] = {}
    found: list[Any] = []  # the values with a code, in the order of their codes
    at = 0
    for block in blocks:
        for value in set(block).difference(seen):
            if value is None or value != value:  # None or NaN: missing, code -1
                seen[value] = -1
            else:
                seen[value] = len(found)
                found.append(value)
        codes[at:at + len(block)] = list(map(seen.__getitem__, block))
        at += len(block)
    order = sorted(range(len(found)), key=found.__getitem__)
    remap = np.empty(len(found) + 1, dtype=np.int32)
    remap[-1] = -1  # a missing value's code, -1, indexes the last slot
    remap[order] = np.arange(len(found), dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index([found[i] for i in order]))


def _values(members: Iterable[Enum]) -> list[Any]:
    """Return the members' values: ``_value_`` is a plain attribute, where ``value`` is a property (Python code
    a row) and hashing a member runs Python code too."""
    return [member._value_ for member in members]


def as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn the ``CATEGORY_COLUMNS`` of a non-empty result frame into categoricals, in place; return it."""
    if len(frame):
        for name in CATEGORY_COLUMNS.intersection(frame.columns):
            frame[name] = frame[name].astype("category")
    return frame


def _optional(values: np.ndarray) -> np.ndarray | list[None]:
    """Return floats with NaN for None as they are, and a column of None when all are None: what pandas makes
    of a list of floats and None."""
    return [None] * len(values) if np.isnan(values).all() else values


def traded_notional(fills: Iterable[Fill]) -> float:
    """Return the sum of price x quantity over every fill (buys and sells), for turnover."""
    if isinstance(fills, FillLog):
        return float(sum(itertools.starmap(operator.mul, _booked(fills, ("price", "quantity"))), Decimal(0)))
    return float(sum((f.price * f.quantity for f in fills), Decimal(0)))


def fees_paid(fills: Iterable[Fill]) -> float:
    """Return the sum of the fills' fees (in their fee currencies: the account's in a one-quote back-test)."""
    fees = (fee for (fee,) in _booked(fills, ("fee",))) if isinstance(fills, FillLog) else (f.fee for f in fills)
    return float(sum(fees, Decimal(0)))


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
            trades = as_categories(_read_csv(out / "trades.csv", ("entry_time", "exit_time"))[TRADE_COLUMNS].astype(
                dict.fromkeys(("quantity", "entry_price", "exit_price", "pnl", "fees", "return"), "float64")))
            orders = as_categories(_read_csv(out / "orders.csv", ("ts", "updated_ts")))
            fills = as_categories(_read_csv(out / "fills.csv", ("ts",)))
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
