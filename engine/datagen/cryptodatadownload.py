"""CryptoDataDownload CSV files: the long layout of one pair and the wide daily layout of several assets.

Long layout (``Coinbase_BTCUSD_1h.csv``)::

    Timestamps are UTC timezone,https://www.CryptoDataDownload.com      <- optional comment line
    date,symbol,open,high,low,close,volume_btc,volume                   <- or: unix,date,...,Volume BTC,Volume USD
    2019-10-17 09-AM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56  <- newest first

Wide layout (``bitstamp_BTC_ETH_LTC_USD_d.csv``): a date column, then ``BTC:open ... BTC:volume, ETH:open ...``,
an asset's cells empty before it was listed.

``date`` is the bar's open time in UTC: ``2019-10-17 09-AM`` (12-hour clock), ``2019-10-17 09:00:00`` or
``2019-10-17``; a ``unix`` column (seconds or milliseconds) is used instead when present.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, BarsMeta, infer_interval, validate_ohlcv
from engine.datagen.textio import (
    OutOfOrderPolicy,
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


def load_cryptodatadownload(path: str | Path, symbol: str | None = None, *, order: OutOfOrderPolicy = "raise"
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
    if any(c.endswith(":open") for c in table.columns):
        return _load_wide(table, lines, header_line, path, symbol, order)
    return _load_long(table, lines, header_line, path, symbol, order)


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


def _split_pair(compact: str, bases: list[str]) -> tuple[str, str]:
    compact = compact.upper().replace("-", "/").replace("_", "/")
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


def _load_long(table: pd.DataFrame, lines: np.ndarray, header_line: int, path: Path, symbol: str | None,
               order: OutOfOrderPolicy) -> tuple[pd.DataFrame, BarsMeta]:
    source = str(path)
    time_col = _time_column(table, header_line, source)
    _require(table, list(_PRICES), header_line, source)
    suffixes = [c[len("volume_"):].upper() for c in table.columns if c.startswith("volume_")]

    file_symbol = None
    if "symbol" in table.columns and len(table):
        names = table["symbol"].astype("string").str.strip().fillna("")
        differs = (names != names.iloc[0]).to_numpy()
        if differs.any():
            i = int(np.argmax(differs))
            raise DataError(f"{source} line {int(lines[i])}: symbol = {shorten(repr(names.iloc[i]))} differs from "
                            f"{shorten(repr(names.iloc[0]))} on line {int(lines[0])}: one pair per file")
        file_symbol = str(names.iloc[0])
    if symbol is not None and file_symbol is not None and _compact(symbol) != _compact(file_symbol):
        raise DataError(f"{source}: holds {shorten(file_symbol)}, not the requested {shorten(symbol)}")
    base, quote = _split_pair(symbol or file_symbol or _pair_from_name(path) or "", suffixes)

    base_col = f"volume_{base.lower()}"
    quote_col = f"volume_{quote.lower()}" if quote else ""
    if base_col in table.columns:
        volume_col = base_col
        quote_volume_col = quote_col if quote_col in table.columns else None
        if quote_volume_col is None and "volume" in table.columns:
            quote_volume_col = "volume"  # next to volume_<base>, the bare volume is the quote volume
    elif "volume" in table.columns and not suffixes:
        volume_col, quote_volume_col = "volume", None
    else:
        wanted = shorten(f"volume_{base.lower() or '<base>'}")
        raise DataError(f"{source} line {header_line}: no base volume column {wanted} "
                        f"(columns: {shorten(', '.join(table.columns))})")

    fields = {name: name for name in _PRICES}
    fields["volume"] = volume_col
    if quote_volume_col is not None:
        fields["quote_volume"] = quote_volume_col
    if "tradecount" in table.columns:
        fields["trades"] = "tradecount"
    frame, notes = _build(table, lines, time_col, fields, source, order)
    meta = _meta(frame, path, f"{base}/{quote}" if quote else base, notes)
    return frame, meta


def _load_wide(table: pd.DataFrame, lines: np.ndarray, header_line: int, path: Path, symbol: str | None,
               order: OutOfOrderPolicy) -> tuple[pd.DataFrame, BarsMeta]:
    source = str(path)
    assets = list(dict.fromkeys(c.split(":", 1)[0].upper() for c in table.columns
                                if ":" in c and not c.startswith("unnamed:")))
    if symbol is None:
        if len(assets) != 1:
            raise DataError(f"{source}: holds {shorten(', '.join(assets))}: pass symbol= to choose one")
        symbol = assets[0]
    base, _, quote = symbol.upper().partition("/")
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
        stamps = parse_times(table[time_col], field=time_col, source=source, lines=lines, formats=TIME_FORMATS)
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
    frame, order_notes = _build(table, lines, time_col, fields, source, order)
    meta = _meta(frame, path, f"{base}/{quote}" if quote else base, notes + order_notes)
    return frame, meta


def _build(table: pd.DataFrame, lines: np.ndarray, time_col: str, fields: dict[str, str], source: str,
           order: OutOfOrderPolicy) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Parse times and numbers, put the rows in ascending time and validate them, naming file lines."""
    stamps = parse_times(table[time_col], field=time_col, source=source, lines=lines, formats=TIME_FORMATS)
    positions, notes = ascending_order(stamps.asi8, lines, source=source, field=time_col, order=order)
    data = {name: to_float(table[column], field=column, source=source, lines=lines)[positions]
            for name, column in fields.items()}
    index = pd.DatetimeIndex(stamps[positions], name=INDEX_NAME)
    frame = pd.DataFrame(data, index=index)
    validate_ohlcv(frame, source, lines=lines[positions])
    return frame, notes


def _meta(frame: pd.DataFrame, path: Path, symbol: str, notes: tuple[str, ...]) -> BarsMeta:
    tokens = _name_tokens(path)
    named = tokens[-1] if len(tokens) >= 3 else None
    if len(frame) < 2 and named is not None and named.lower() in _TIMEFRAMES:
        interval = pd.Timedelta(_TIMEFRAMES[named.lower()])  # too few rows to measure: the file name says
    else:
        interval = infer_interval(frame.index, source=str(path))
    if "/" not in symbol:
        notes += ("quote currency unknown: pass symbol='BASE/QUOTE'",)
    return BarsMeta(symbol=symbol, interval=interval, source=str(path), format="cryptodatadownload",
                    exchange=tokens[0].lower() if len(tokens) >= 3 else None, notes=notes)


def _compact(symbol: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


def _name_tokens(path: Path) -> list[str]:
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name.split("_")


def _pair_from_name(path: Path) -> str | None:
    """``Coinbase_BTCUSD_1h.csv`` -> ``"BTCUSD"`` (the CryptoDataDownload naming: exchange, pair, timeframe)."""
    tokens = _name_tokens(path)
    return tokens[1] if len(tokens) >= 3 else None


def _quote_from_name(path: Path, assets: list[str]) -> str:
    """``bitstamp_BTC_ETH_LTC_USD_d.csv`` -> ``"USD"``: the known quote currency after the assets, or ""."""
    tokens = [t.upper() for t in _name_tokens(path)]
    after = [t for t in tokens[1:] if t not in assets]
    return next((t for t in after if t in KNOWN_QUOTES), "")
