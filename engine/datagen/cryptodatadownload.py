"""CryptoDataDownload CSV files: every long layout of one pair they publish, and the wide daily layout.

Long layouts, told apart by their header alone (case and spaces in names do not matter)::

    https://www.CryptoDataDownload.com                                  <- optional first line (URL, comment)
    unix,date,symbol,open,high,low,close,Volume BTC,Volume USD,tradecount
    1571302800,2019-10-17 09:00:00,BTC/USD,8051,8056.83,8021.23,8035.88,61.25,492394.56,1211  <- newest first

- time: ``unix`` / ``Unix Timestamp`` / ``timestamp`` (epoch seconds or milliseconds, told by magnitude) when
  present, else ``date``: ``2019-10-17 09-AM`` (12-hour clock), ``2019-10-17 09:00:00``, ``2019-10-17`` or ISO;
- volume: ``Volume <base>`` and ``Volume <quote>`` (``Volume BTC``/``Volume USD``, ``Volume BTC``/``Volume
  USDT``...), or ``VolumeFrom``/``VolumeTo`` (base/quote), or ``Volume <base>`` next to a bare ``Volume``
  (quote), or one bare ``Volume`` (base); ``tradecount`` becomes ``trades``;
- symbol: the ``symbol`` column, written ``BTC/USD``, ``BTCUSD``, ``BTC-USD`` or ``BTC_USD``;
- rows newest first (their habit) or oldest first.

Wide layout (``bitstamp_BTC_ETH_LTC_USD_d.csv``): a date column, then ``BTC:open ... BTC:volume, ETH:open ...``,
an asset's cells empty before it was listed.

The exchange is never guessed from a file name: it comes from ``--exchange`` (``exchange=``), else from a name
that follows CryptoDataDownload's own convention in full, ``<Exchange>_<PAIR>_<timeframe>.csv[.gz]``
(``Coinbase_BTCUSD_1h.csv``, ``bitstamp_BTC_ETH_LTC_USD_d.csv``) with an exchange ccxt knows and a timeframe
token of theirs (``d``, ``1h``, ``minute``...); ``out_of_order.csv`` or ``my_bars_1h.csv`` name no exchange.
Their first line carries only their URL, so it names no exchange either.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, BarsMeta, infer_interval, validate_ohlcv
from engine.datagen.textio import (
    OutOfOrderPolicy,
    TimeUnit,
    ascending_order,
    check_file,
    head_lines,
    parse_times,
    read_table,
    to_float,
)
from engine.errors import DataError, shorten

TIME_FORMATS: tuple[str, ...] = ("%Y-%m-%d %I-%p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
# Quote currencies tried, longest first, to split a compact pair such as "BTCUSDT" when the file does not say.
KNOWN_QUOTES: tuple[str, ...] = ("USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "JPY", "KRW", "AUD", "CAD",
                                 "CHF", "DAI", "BTC", "ETH", "BNB")
_PRICES = ("open", "high", "low", "close")
_UNIX = ("unix", "unix_timestamp", "timestamp")
# VolumeFrom/VolumeTo (their older layout): the base and the quote volume.
_VOLUME_FROM = ("volumefrom", "volume_from")
_VOLUME_TO = ("volumeto", "volume_to")
# The timeframe token ending CryptoDataDownload file names.
_TIMEFRAMES = {"d": "1D", "1d": "1D", "1h": "1h", "h": "1h", "4h": "4h", "minute": "1min", "1m": "1min",
               "1min": "1min", "5m": "5min", "15m": "15min", "30m": "30min"}


def norm(name: str) -> str:
    """Normalise a header name: ``"Volume BTC"`` -> ``"volume_btc"``."""
    return re.sub(r"\s+", "_", name.strip().lower())


def find_header(lines: list[str]) -> int | None:
    """Return the 0-based index of the header among ``lines``: the first naming an ``open`` column, or None."""
    for i, line in enumerate(lines):
        names = [norm(f.strip('"')) for f in line.split(",")]
        if any(n == "open" or n.endswith(":open") for n in names):
            return i
    return None


def looks_like_cryptodatadownload(lines: list[str]) -> bool:
    """Tell from a file's first lines whether it is in a CryptoDataDownload layout."""
    k = find_header(lines)
    if k is None:
        return False
    if any("cryptodatadownload" in line.lower() for line in lines[:k]):
        return True
    names = [norm(f.strip('"')) for f in lines[k].split(",")]
    if any(n.endswith(":open") for n in names):
        return True
    return "symbol" in names and ("date" in names or "unix" in names) and any(n.startswith("volume") for n in names)


def load_cryptodatadownload(path: str | Path, symbol: str | None = None, *, order: OutOfOrderPolicy = "raise",
                            time_unit: TimeUnit | None = None, exchange: str | None = None
                            ) -> tuple[pd.DataFrame, BarsMeta]:
    """Load a CryptoDataDownload CSV (plain or gzip) as a standard OHLCV frame in ascending time.

    Parameters
    ----------
    path
        The file.
    symbol
        For the wide layout, the asset to take (``"BTC"`` or ``"BTC/USD"``); needed when the file holds several.
        For the long layout, optional: when given it must match the file's ``symbol`` column.
    order
        A newest-first or oldest-first file is normal. Rows against the file's own direction (the publisher's
        Coinbase hourly file has ten, see ``engine.datagen.sample``) are a ``DataError`` naming the line with
        ``"raise"`` (default); ``"sort"`` sorts them into place, logs a warning and records it in
        ``meta.notes``. Duplicate timestamps are an error either way.
    time_unit
        ``"s"``, ``"ms"``, ``"us"``, ``"ns"`` or ``"iso"`` to require of the time column (``--time-unit``);
        default: epoch unit from the numbers' magnitude, or the date formats above.
    exchange
        The venue the bars come from (``--exchange``); default: from a file name in CryptoDataDownload's own
        convention only (see the module docstring), else none.

    Returns
    -------
    (frame, meta)
        ``volume`` is the base-asset volume (``volume_btc``), ``quote_volume`` the quote volume when the file
        has it. Errors name the file line.
    """
    path = check_file(path)
    source = str(path)
    head = head_lines(path)
    k = find_header(head)
    if k is None:
        raise DataError(f"{source}: no CryptoDataDownload header (a line naming an 'open' column) in the first "
                        f"{len(head)} lines")
    header_line = k + 1
    table, lines = read_table(path, header_line)
    table.columns = [norm(c) for c in table.columns]
    how = _How(order=order, time_unit=time_unit, exchange=exchange.lower() if exchange else None)
    if any(c.endswith(":open") for c in table.columns):
        return _load_wide(table, lines, header_line, path, symbol, how)
    return _load_long(table, lines, header_line, path, symbol, how)


@dataclass(frozen=True, slots=True, kw_only=True)
class _How:
    """The caller's choices that reach every step of a load."""

    order: OutOfOrderPolicy
    time_unit: TimeUnit | None
    exchange: str | None


def _time_column(table: pd.DataFrame, header_line: int, source: str) -> str:
    for name in (*_UNIX, "date"):
        if name in table.columns:
            return name
    first = str(table.columns[0])
    # The wide layout leaves the date column unnamed ("Unnamed: 0" once pandas has read it).
    if first.startswith("unnamed:") or (":" not in first and first not in _PRICES):
        return first
    raise DataError(f"{source} line {header_line}: no date column")


def _require(table: pd.DataFrame, names: list[str], header_line: int, source: str) -> None:
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise DataError(f"{source} line {header_line}: missing column(s) {shorten(', '.join(missing))}")


def split_pair(text: str, bases: list[str] | tuple[str, ...] = ()) -> tuple[str, str]:
    """Split a pair as files write it (``BTC/USD``, ``BTCUSD``, ``BTC-USD``, ``BTC_USD``) into base and quote.

    A compact pair is split after the longest of ``bases`` it starts with (the file's ``Volume <asset>``
    columns), else before the longest known quote currency it ends with; the quote is ``""`` when neither fits.
    """
    compact = text.strip().upper().replace("-", "/").replace("_", "/")
    if "/" in compact:
        base, quote = compact.split("/", 1)
        return base, quote
    for base in sorted(bases, key=len, reverse=True):
        if compact.startswith(base) and len(compact) > len(base):
            return base, compact[len(base):]
    for quote in KNOWN_QUOTES:
        if compact.endswith(quote) and len(compact) > len(quote):
            return compact[: -len(quote)], quote
    return compact, ""


def unified_symbol(text: str) -> str:
    """Return a pair as ``BASE/QUOTE`` (``btcusd`` -> ``BTC/USD``), or upper-cased as given when it cannot be split."""
    base, quote = split_pair(text)
    return f"{base}/{quote}" if quote else base


def _volumes(table: pd.DataFrame, base: str, quote: str, header_line: int, source: str) -> dict[str, str]:
    """Return the frame's volume fields and the file columns holding them, for every layout of the docstring."""
    columns = set(table.columns)
    base_from = next((c for c in _VOLUME_FROM if c in columns), None)
    if base_from is not None:
        quote_to = next((c for c in _VOLUME_TO if c in columns), None)
        return {"volume": base_from, **({"quote_volume": quote_to} if quote_to else {})}
    suffixed = [c for c in table.columns if c.startswith("volume_") and c not in _VOLUME_TO]
    base_col = f"volume_{base.lower()}"
    quote_col = f"volume_{quote.lower()}" if quote else ""
    if base_col in columns:
        if quote_col in columns:
            return {"volume": base_col, "quote_volume": quote_col}
        if "volume" in columns:
            return {"volume": base_col, "quote_volume": "volume"}  # next to volume_<base>, the bare one is quote
        return {"volume": base_col}
    if "volume" in columns and not suffixed:
        return {"volume": "volume"}
    wanted = shorten(f"volume_{base.lower() or '<base>'}")
    raise DataError(f"{source} line {header_line}: no base volume column {wanted} "
                    f"(columns: {shorten(', '.join(table.columns))})")


def _load_long(table: pd.DataFrame, lines: np.ndarray, header_line: int, path: Path, symbol: str | None,
               how: _How) -> tuple[pd.DataFrame, BarsMeta]:
    source = str(path)
    time_col = _time_column(table, header_line, source)
    _require(table, list(_PRICES), header_line, source)
    suffixes = [c[len("volume_"):].upper() for c in table.columns
                if c.startswith("volume_") and c not in (*_VOLUME_FROM, *_VOLUME_TO)]

    file_symbol = None
    if "symbol" in table.columns and len(table):
        names = table["symbol"].astype("string").str.strip().fillna("")
        differs = (names != names.iloc[0]).to_numpy()
        if differs.any():
            i = int(np.argmax(differs))
            raise DataError(f"{source} line {int(lines[i])}: symbol = {shorten(repr(names.iloc[i]))} differs from "
                            f"{shorten(repr(names.iloc[0]))} on line {int(lines[0])}: one pair per file")
        file_symbol = str(names.iloc[0]) or None
    if symbol is not None and file_symbol is not None and _compact(symbol) != _compact(file_symbol):
        raise DataError(f"{source}: holds {shorten(file_symbol)}, not the requested {shorten(symbol)} (--symbol)")
    named = _cdd_name(path)
    base, quote = split_pair(symbol or file_symbol or (named.pair if named else ""), suffixes)

    fields = {name: name for name in _PRICES}
    fields.update(_volumes(table, base, quote, header_line, source))
    if "tradecount" in table.columns:
        fields["trades"] = "tradecount"
    frame, notes = _build(table, lines, time_col, fields, source, how)
    meta = _meta(frame, path, f"{base}/{quote}" if quote else base, notes, how)
    return frame, meta


def _load_wide(table: pd.DataFrame, lines: np.ndarray, header_line: int, path: Path, symbol: str | None,
               how: _How) -> tuple[pd.DataFrame, BarsMeta]:
    source = str(path)
    assets = list(dict.fromkeys(c.split(":", 1)[0].upper() for c in table.columns
                                if ":" in c and not c.startswith("unnamed:")))
    if symbol is None:
        if len(assets) != 1:
            raise DataError(f"{source}: holds {shorten(', '.join(assets))}: choose one with --symbol")
        symbol = assets[0]
    base, _, quote = symbol.upper().replace("-", "/").partition("/")
    if base not in assets:
        raise DataError(f"{source}: no {shorten(base)} columns (assets: {shorten(', '.join(assets))})")
    quote = quote or _quote_from_name(path, assets)
    time_col = _time_column(table, header_line, source)
    prefix = base.lower()
    fields = {name: f"{prefix}:{name}" for name in (*_PRICES, "volume")}
    _require(table, list(fields.values()), header_line, source)

    empty = table[list(fields.values())].isna().all(axis=1).to_numpy()
    notes: tuple[str, ...] = ()
    if empty.any():
        stamps = parse_times(table[time_col], field=time_col, source=source, lines=lines, formats=TIME_FORMATS,
                             unit=how.time_unit)
        positions = np.argsort(stamps.asi8, kind="stable")
        listed = ~empty[positions]
        if not listed.any():
            raise DataError(f"{source}: the {base} columns are empty on every row")
        first = int(np.argmax(listed))  # rows before the listing hold no data for this asset: dropped, noted
        after = empty[positions[first:]]
        if after.any():
            i = positions[first + int(np.argmax(after))]
            raise DataError(f"{source} line {int(lines[i])}: {base} columns are empty after its first bar on "
                            f"line {int(lines[positions[first]])}: a hole in its history")
        keep = np.sort(positions[first:])
        notes = (f"dropped {first} row(s) before {base}'s first bar on line {int(lines[positions[first]])}",)
        table, lines = table.iloc[keep].reset_index(drop=True), lines[keep]
    frame, order_notes = _build(table, lines, time_col, fields, source, how)
    meta = _meta(frame, path, f"{base}/{quote}" if quote else base, notes + order_notes, how)
    return frame, meta


def _build(table: pd.DataFrame, lines: np.ndarray, time_col: str, fields: dict[str, str], source: str,
           how: _How) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Parse times and numbers, put the rows in ascending time and validate them, naming file lines."""
    stamps = parse_times(table[time_col], field=time_col, source=source, lines=lines, formats=TIME_FORMATS,
                         unit=how.time_unit)
    positions, notes = ascending_order(stamps.asi8, lines, source=source, field=time_col, order=how.order)
    data = {name: to_float(table[column], field=column, source=source, lines=lines)[positions]
            for name, column in fields.items()}
    index = pd.DatetimeIndex(stamps[positions], name=INDEX_NAME)
    frame = pd.DataFrame(data, index=index)
    validate_ohlcv(frame, source, lines=lines[positions])
    return frame, notes


def _meta(frame: pd.DataFrame, path: Path, symbol: str, notes: tuple[str, ...], how: _How) -> BarsMeta:
    named = _cdd_name(path)
    if len(frame) < 2 and named is not None:
        interval = pd.Timedelta(_TIMEFRAMES[named.timeframe])  # too few rows to measure: the file name says
    else:
        interval = infer_interval(frame.index, source=str(path))
    if "/" not in symbol:
        notes += ("quote currency unknown: pass --symbol BASE/QUOTE",)
    exchange = how.exchange or (named.exchange if named else None)
    return BarsMeta(symbol=symbol, interval=interval, source=str(path), format="cryptodatadownload",
                    exchange=exchange, notes=notes)


def _compact(symbol: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


@dataclass(frozen=True, slots=True)
class CddName:
    """A file name in CryptoDataDownload's convention: ``Coinbase_BTCUSD_1h.csv``."""

    exchange: str  # a ccxt exchange id, lower case
    pair: str  # the middle: "BTCUSD", or "BTC_ETH_LTC_USD" in the wide layout
    timeframe: str  # their token, lower case: "1h", "d", "minute"


_NAME = re.compile(r"(?P<exchange>[A-Za-z][A-Za-z0-9]*)_(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*)_(?P<tf>[A-Za-z0-9]+)")


def _cdd_name(path: Path) -> CddName | None:
    """Return the parts of a name in CryptoDataDownload's convention, or None for any other name.

    The whole name must fit, its first part must be an exchange ccxt knows and its last a timeframe token of
    theirs; a name that merely contains underscores (``out_of_order.csv``) says nothing.
    """
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix).removesuffix(suffix.upper())
    match = _NAME.fullmatch(name)
    if match is None or match["tf"].lower() not in _TIMEFRAMES:
        return None
    exchange = match["exchange"].lower()
    if exchange not in known_exchanges():
        return None
    return CddName(exchange=exchange, pair=match["pair"].upper(), timeframe=match["tf"].lower())


@functools.cache
def known_exchanges() -> frozenset[str]:
    """Return the exchange ids ccxt knows (imported on first use: ccxt is slow to import)."""
    import ccxt

    return frozenset(ccxt.exchanges)


def _quote_from_name(path: Path, assets: list[str]) -> str:
    """``bitstamp_BTC_ETH_LTC_USD_d.csv`` -> ``"USD"``: the known quote currency after the assets, or ""."""
    named = _cdd_name(path)
    if named is None:
        return ""
    after = [t for t in named.pair.split("_") if t not in assets]
    return next((t for t in after if t in KNOWN_QUOTES), "")
