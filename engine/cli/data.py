"""``mlct data``: download, import, generate, list, inspect and delete the data sets of the local catalog."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from engine.cli.inputs import add_file_options, read_options
from engine.datagen.catalog import Catalog, DatasetInfo, default_data_dir, describe_range, resolve_query
from engine.datagen.query import KINDS, Query, Source, format_time, timeframe_delta, to_utc
from engine.datagen.schemas import schema
from engine.errors import ConfigError

EXAMPLES = """examples:
  mlct data download --exchange binance --symbol BTC/USDT --timeframe 1h --since 2024-01-01
  mlct data download --exchange binance --symbol BTC/USDT:USDT --kind funding --since 2024-01-01
  mlct data import Coinbase_BTCUSD_1h.csv --format cryptodatadownload
  mlct data import export.csv --columns time=Time,volume=Vol --time-unit s --symbol BTC/USD --exchange kraken
  mlct data synth --bars 1000000 --timeframe 1m --seed 7 --symbol SYN/USD
  mlct data list
  mlct data info binance:BTC/USDT:1h --check
  mlct data delete binance:BTC/USDT:1h@2024-01-01..2024-02-01
  mlct backtest --data binance:BTC/USDT:1h@2024-01-01..2024-06-01
  mlct backtest --data csv:coinbase:BTC/USD:1h:ohlcv

QUERY is [SOURCE:][EXCHANGE:]SYMBOL[:TIMEFRAME][:KIND][@START..END], e.g. ccxt:binance:BTC/USDT:1h:ohlcv or
binance:BTC/USDT:1h@2024-01-01..2024-02-01 (times UTC). Without SOURCE, a query finds the one data set of any
source under that exchange, symbol and timeframe (coinbase:BTC/USD:1h finds csv:coinbase:BTC/USD:1h:ohlcv),
else means an exchange's (ccxt). The catalog lives in --data-dir, else $MLCT_DATA_DIR,
else ~/.local/share/mlct.
"""

# Each subcommand's own examples, shown under its --help (mlct data download --help).
SUB_EXAMPLES = {
    "download": """examples:
  mlct data download --exchange binance --symbol BTC/USDT --timeframe 1h --since 2024-01-01
  mlct data download --exchange binance --symbol BTC/USDT --timeframe 1m --since 2024-01-01 --until 2024-02-01
  mlct data download --exchange binance --symbol BTC/USDT:USDT --kind funding --since 2024-01-01
  mlct data download --exchange kraken --symbol ETH/USD --timeframe 1d --since 2020-01-01 --data-dir ~/bars
Run it again later: only the bars not yet stored are fetched. Then: mlct backtest --data binance:BTC/USDT:1h
""",
    "list": """examples:
  mlct data list                          every data set: query, range, rows
  mlct data list --data-dir ~/bars        the catalog in another directory
  mlct backtest --data QUERY              back-test on a data set, addressed as the list prints it
""",
    "info": """examples:
  mlct data info binance:BTC/USDT:1h              range, rows, coverage, gaps and files of one data set
  mlct data info binance:BTC/USDT:1h --check      ... and validate every bar, listing each problem
  mlct data info csv:coinbase:BTC/USD:1h          a data set imported from a CSV file
  mlct data info coinbase:BTC/USD:1h              the same: without a source, the data set that exists
""",
    "delete": """examples:
  mlct data delete binance:BTC/USDT:1h                          the whole data set
  mlct data delete binance:BTC/USDT:1h@2024-01-01..2024-02-01   only January 2024 (end exclusive)
""",
    "import": """examples:
  mlct data import Coinbase_BTCUSD_1h.csv                        a CryptoDataDownload file, any of their layouts
  mlct data import Gemini_BTCUSD_d.csv --exchange gemini --format cryptodatadownload
  mlct data import my_bars.csv --symbol ETH/USD --exchange kraken --timeframe 1h
  mlct data import export.csv --columns time=Date,open=O,high=H,low=L,close=C,volume=Vol --time-unit ms --symbol ETH/EUR
  mlct data import my_bars.parquet --symbol BTC/USD --exchange binance
  mlct data import shuffled.csv --symbol BTC/USD --sort          rows out of time order, sorted
  mlct backtest --data csv:kraken:ETH/USD:1h:ohlcv               back-test on the data set, as mlct data list prints it
CryptoDataDownload files are read from their header: unix or date times (s or ms), Volume <base>/Volume <quote>
or VolumeFrom/VolumeTo, tradecount, newest first; the symbol from their symbol column (BTC/USD, BTCUSD,
BTC-USD). The exchange is --exchange, else the first part of a name in their convention Exchange_PAIR_tf.csv
(Coinbase_BTCUSD_1h.csv) when ccxt knows it, else none: no other file name is read. Every --data takes a file
with these same options, or the query mlct data list prints.
""",
    "synth": """examples:
  mlct data synth --bars 1000000 --timeframe 1m --seed 7 --symbol SYN/USD
  mlct data synth --bars 20000 --timeframe 1h --seed 1 --volatility 0.5 --plain   one regime, no drift
  mlct backtest --data synthetic:SYN/USD:1m                                      back-test on them
""",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = commands.add_parser("data", help="download, import and manage historical data", epilog=EXAMPLES,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    _data_dir(data)
    sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    down = _sub(sub, "download", "fetch history from an exchange into the catalog (only what is missing)")
    down.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    down.add_argument("--symbol", required=True, help="ccxt symbol, e.g. BTC/USDT or BTC/USDT:USDT (perpetual)")
    down.add_argument("--timeframe", default="1h", help="bar length: 1m, 5m, 1h, 4h, 1d... (default 1h)")
    down.add_argument("--kind", default="ohlcv", choices=KINDS, help="what to fetch (default ohlcv)")
    down.add_argument("--since", required=True, help="first time, UTC (2024-01-01 or 2024-01-01T12:00)")
    down.add_argument("--until", help="end time, exclusive, UTC (default: now)")
    down.set_defaults(func=cmd_download)

    listing = _sub(sub, "list", "list the data sets of the catalog")
    listing.set_defaults(func=cmd_list)

    info = _sub(sub, "info", "describe one data set: range, rows, coverage, gaps, files")
    info.add_argument("query", metavar="QUERY")
    info.add_argument("--check", action="store_true", help="also validate the bars and list every problem")
    info.set_defaults(func=cmd_info)

    delete = _sub(sub, "delete", "delete a data set, or only the range of the query")
    delete.add_argument("query", metavar="QUERY")
    delete.set_defaults(func=cmd_delete)

    imp = _sub(sub, "import", "store a CSV or Parquet file of bars in the catalog")
    imp.add_argument("file", type=Path)
    imp.add_argument("--symbol", help="BASE/QUOTE of the bars (default: the file's symbol column)")
    add_file_options(imp, exchange_help="venue the bars come from, part of the data set's query (default: none, "
                                        "or the exchange of a name in CryptoDataDownload's convention "
                                        "Exchange_PAIR_timeframe.csv, e.g. Coinbase_BTCUSD_1h.csv)")
    imp.set_defaults(func=cmd_import)

    synth = _sub(sub, "synth", "generate seeded synthetic bars (regime-switching, clustered volatility)")
    synth.add_argument("--bars", type=int, required=True, help="number of bars")
    synth.add_argument("--timeframe", default="1m", help="bar length (default 1m)")
    synth.add_argument("--seed", type=int, default=0, help="same seed, same bars (default 0)")
    synth.add_argument("--symbol", default="SYN/USD", help="symbol of the data set (default SYN/USD)")
    synth.add_argument("--start", default="2020-01-01", help="open of the first bar, UTC (default 2020-01-01)")
    synth.add_argument("--price", type=float, default=100.0, help="first open (default 100)")
    synth.add_argument("--volatility", type=float, default=0.8, help="annualised volatility (default 0.8)")
    synth.add_argument("--plain", action="store_true", help="one regime: the clustered walk without drift")
    synth.set_defaults(func=cmd_synth)


def _data_dir(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--data-dir", type=Path, default=default,
                        help="catalog directory (default $MLCT_DATA_DIR, else ~/.local/share/mlct)")


def _sub(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str) -> argparse.ArgumentParser:
    from engine.cli import add_common_options  # here, not at import: engine.cli imports this module

    parser = sub.add_parser(name, help=text, description=text, epilog=SUB_EXAMPLES[name],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    # After the subcommand too (mlct data download ... --quiet), without undoing a value given before it.
    _data_dir(parser, argparse.SUPPRESS)
    add_common_options(parser, argparse.SUPPRESS)
    return parser


def open_catalog(args: argparse.Namespace) -> Catalog:
    return Catalog(args.data_dir if args.data_dir is not None else default_data_dir())


def make_source(exchange: str) -> Source:
    """Return the source that downloads from ``exchange``; tests replace this function with a fake."""
    from engine.datagen.exchange import CcxtSource

    return CcxtSource(exchange)


def cmd_download(args: argparse.Namespace) -> int:
    from engine.progress import bar, progress_enabled

    query = Query(source="ccxt", exchange=args.exchange, symbol=args.symbol, timeframe=args.timeframe,
                  kind=args.kind, start=to_utc(args.since, "--since"),
                  end=to_utc(args.until, "--until") if args.until else None)
    catalog = open_catalog(args)
    horizon = pd.Timestamp(catalog.horizon(query), tz="UTC")  # the bar still forming now is not final
    end = min(query.end, horizon) if query.end is not None else horizon
    if query.start is None or end <= query.start:
        raise ConfigError(f"nothing to download: {describe_range(query.start, end)} holds no closed data yet")
    query = query.with_range(query.start, end)
    todo = catalog.missing(query)
    bars = schema(query.kind).bars
    step = timeframe_delta(query.timeframe).value if bars else None
    total = sum((b.value - a.value + step - 1) // step for a, b in todo) if step else None
    stored = 0
    with bar(total, f"download {query.symbol} {query.kind}", unit="bar" if bars else "row",
             enabled=progress_enabled(getattr(args, "quiet", False))) as progress:

        def on_page(chunk: pd.DataFrame) -> None:
            nonlocal stored
            stored += len(chunk)
            progress.update(len(chunk))

        if todo:
            catalog.fetch(query, make_source(args.exchange), on_page=on_page)
    info = catalog.info(query)
    fetched = f"{len(todo)} range(s) fetched" if todo else "already in the catalog, nothing fetched"
    print(f"stored {stored} {'bars' if bars else 'rows'} of {query.dataset} {describe_range(query.start, end)} "
          f"({fetched}); data set: {_summary(info)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    found = catalog.list()
    if not found:
        print(f"no data sets in {catalog.root}")
        return 0
    rows = [("QUERY", "FIRST", "LAST", "ROWS", "FILES", "SIZE")]
    rows += [(str(i.query), _time(i.first), _time(i.last), f"{i.rows:,}", str(len(i.files)), _size(i.size))
             for i in found]
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if k < 3 else cell.rjust(w) for k, (cell, w) in enumerate(zip(row, widths,
                                                                                                  strict=True))))
    print(f"{len(found)} data set(s) in {catalog.root}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    query = resolve_query(args.query, catalog)
    if not catalog.exists(query):
        raise ConfigError(f"no data set {query.dataset} in {catalog.root} (see: mlct data list)")
    info = catalog.info(query)
    print(f"data set  {info.query}")
    print(f"path      {info.path}")
    print(f"rows      {info.rows:,} from {_time(info.first)} to {_time(info.last)}")
    print(f"files     {len(info.files)} ({_size(info.size)})")
    print(f"covered   {', '.join(describe_range(a, b) for a, b in info.covered) or 'nothing'}")
    if schema(query.kind).bars:
        listed = ", ".join(describe_range(a, b) for a, b in info.gaps[:10])
        more = f" and {len(info.gaps) - 10} more" if len(info.gaps) > 10 else ""
        print(f"gaps      {len(info.gaps)} ({info.missing_bars()} bars without data){': ' if listed else ''}"
              f"{listed}{more}")
    if args.check:
        print(str(catalog.check(query.dataset)))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    catalog = open_catalog(args)
    query = resolve_query(args.query, catalog)
    removed = catalog.delete(query)
    what = describe_range(query.start, query.end) if query.start or query.end else "all of it"
    print(f"deleted {removed:,} rows of {query.dataset} ({what}) from {catalog.root}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from engine.datagen.importing import read_file

    frame, meta, query = read_file(args.file, read_options(args, args.symbol))
    for note in meta.notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    catalog = open_catalog(args)
    end = frame.index[-1] + timeframe_delta(query.timeframe) if len(frame) else None
    catalog.put(query, frame, covered=(frame.index[0], end) if len(frame) else None)
    info = catalog.info(query)
    print(f"imported {len(frame):,} bars of {query} {describe_range(frame.index[0], end)} from {args.file}; "
          f"data set: {_summary(info)}")
    where = f" --data-dir {shlex.quote(str(args.data_dir))}" if args.data_dir is not None else ""
    print(f"back-test on it with: mlct backtest --data {query.dataset}{where}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from engine.datagen.synthetic import DEFAULT_REGIMES, synthetic_bars

    if args.bars <= 0:
        raise ConfigError(f"--bars must be positive, got {args.bars}")
    query = Query(source="synthetic", symbol=args.symbol, timeframe=args.timeframe)
    frame = synthetic_bars(args.bars, interval=timeframe_delta(args.timeframe), start=to_utc(args.start, "--start"),
                           seed=args.seed, price=args.price, volatility=args.volatility,
                           regimes=None if args.plain else DEFAULT_REGIMES)
    catalog = open_catalog(args)
    replaced = catalog.exists(query)
    end = frame.index[-1] + timeframe_delta(args.timeframe)
    # A generated data set is whole: the new one replaces the old rather than merging with it, once complete.
    catalog.put(query, frame, covered=(frame.index[0], end), replace=True)
    print(f"{'replaced' if replaced else 'stored'} {len(frame):,} synthetic bars (seed {args.seed}"
          f"{', plain' if args.plain else ', regimes ' + '/'.join(r.name for r in DEFAULT_REGIMES)}) as {query} "
          f"{describe_range(frame.index[0], end)}; data set: {_summary(catalog.info(query))}")
    return 0


def _summary(info: DatasetInfo) -> str:
    gaps = f", {len(info.gaps)} gap(s) ({info.missing_bars()} bars)" if info.gaps else ""
    return (f"{info.rows:,} rows {_time(info.first)} .. {_time(info.last)}, {len(info.files)} file(s), "
            f"{_size(info.size)}{gaps}, in {info.path}")


def _time(stamp: pd.Timestamp | None) -> str:
    return format_time(stamp) if stamp is not None else "-"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
