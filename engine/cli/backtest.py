"""``mlct backtest``: run a strategy on historical data, print a summary table, save results and a report."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import logging
import sys
import textwrap
import time
import tomllib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.inputs import add_data_options, load_frame, read_options
from engine.cli.output import add_output_options, save_result
from engine.cli.run_folder import RunFolder, new_run_dir, started_now
from engine.cli.timerange import apply_timerange
from engine.errors import ConfigError
from engine.strategy import Strategy

if TYPE_CHECKING:
    from engine.backtest import BacktestResult
    from engine.datagen.importing import ReadOptions

log = logging.getLogger(__name__)

EXAMPLES = """examples:
  mlct backtest                                   SMA cross on the bundled BTC/USD hourly sample
  mlct backtest --report                          ... and write out/report.html with every result file
  mlct backtest --save                            save into a new folder results/<UTC time>-backtest-SmaCross
  mlct backtest --strategy sma_cross --param fast=20 --param slow=50 --out runs/sma-20-50 --report
  mlct backtest --data my.csv --symbol ETH/USD --fee-bps 7.5 --slippage-bps 2 --json
  mlct backtest --timerange 20190101-20200101     only the bars of 2019 (either side may be empty: 20190101-)
  mlct backtest --data btc.csv --symbol BTC/USD --data eth.csv --symbol ETH/USD   two symbols in one account
  mlct backtest --data bars_1m.parquet --out runs/1m --csv   per-bar tables as CSV too, for a spreadsheet
  mlct backtest --data export.csv --columns time=Date,volume=Vol --time-unit ms --symbol BTC/USD  like data import
  mlct backtest --data csv:coinbase:BTC/USD:1h:ohlcv   an imported data set, as mlct data list prints it
  mlct backtest --strategy my_pkg.my_mod:MyStrategy --handler my_pkg.audit:Audit
  mlct backtest --strategy ./my_strategy.py:MyStrategy
  mlct backtest --config run.toml                 settings from a file (see mlct init); flags win
"""

# Flags that map one to one onto a setting of the config file (dest name == config key).
SETTING_FLAGS = ("strategy", "data", "symbol", "cash", "fee_bps", "maker_fee_bps", "slippage_bps", "slippage",
                 "volume_share", "latency_ms", "limit_fill", "currency", "out", "timerange")
PATH_SETTINGS = ("data", "out")  # relative paths in a config file are relative to the file


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bt = commands.add_parser("backtest", help="run a strategy on historical data", epilog=EXAMPLES,
                             description="Replay historical bars through a strategy on the simulated exchange, "
                                         "print strategy against buy-and-hold, and save the results.",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    bt.add_argument("--config", type=Path, metavar="FILE",
                    help="TOML file with any of the options below (the flags win); mlct init writes one")
    bt.add_argument("--strategy", help="a module of strategies/ (sma_cross), module:Class or path/file.py:Class "
                                       "(default sma_cross)")
    add_data_options(bt, several=True)
    bt.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter")
    bt.add_argument("--handler", action="append", default=[], metavar="MODULE:CLASS",
                    help="add a handler object with on_<event> methods to the run (repeatable)")
    bt.add_argument("--cash", help="starting cash in the quote currency (default 10000)")
    bt.add_argument("--currency", help="account currency (default: the quote currency of the first symbol)")
    bt.add_argument("--fee-bps", type=float, help="taker fee in basis points (default 10)")
    bt.add_argument("--maker-fee-bps", type=float, help="maker fee in basis points (default: the taker fee)")
    bt.add_argument("--slippage-bps", type=float, help="slippage on taker fills in basis points (default 0)")
    bt.add_argument("--slippage", choices=["none", "fixed", "volume"], help="slippage model (default fixed)")
    bt.add_argument("--volume-share", type=float, help="cap fills at this share of each bar's volume")
    bt.add_argument("--latency-ms", type=float, help="order latency in milliseconds (default 0)")
    bt.add_argument("--limit-fill", choices=["through", "touch"],
                    help="a resting limit fills when the bar trades through its price (default) or touches it")
    bt.add_argument("--out", type=Path, metavar="DIR",
                    help="write result.json, trades.csv, orders.csv, fills.csv, equity.parquet, prices.parquet "
                         "here, with manifest.json (default out/ with --report); the files of an earlier run "
                         "saved in DIR are removed first, any other file stays")
    bt.add_argument("--save", action="store_true",
                    help="without --out: save into a new folder under $MLCT_RESULTS_DIR (default ./results), "
                         "which mlct results list finds")
    add_output_options(bt)
    bt.add_argument("--report", action="store_true", default=None,
                    help="also write report.html, a self-contained HTML report, into the --out directory")
    bt.add_argument("--json", action="store_true", help="print result.json to stdout instead of the table")
    bt.add_argument("--risk", action="append", default=[], metavar="LIMIT=VALUE",
                    help="a risk limit of engine.risk (max_order_notional, max_position, max_position_notional, "
                         "max_open_orders, max_orders_per_minute, daily_loss_limit, max_drawdown); repeat for more; "
                         "added to the config's [risk] table")
    bt.add_argument("--journal", type=Path, metavar="FILE",
                    help="record every event of the run in this new SQLite file (mlct journal show FILE)")
    bt.set_defaults(func=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from adapters.sim import SimSettings  # the composition root: the CLI picks the venue and hands it in
    from engine.backtest import BacktestConfig, load_object, run_backtest

    begun = started_now()
    base = args.config.parent if args.config else None
    settings = _read_config(args.config) if args.config else {}
    for key in PATH_SETTINGS:
        if base is not None and isinstance(settings.get(key), str):
            settings[key] = str(base / Path(settings[key]).expanduser())
        elif base is not None and key == "data" and isinstance(settings.get(key), list):
            settings[key] = [str(base / Path(d).expanduser()) for d in settings[key]]
    for key in SETTING_FLAGS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = str(value) if isinstance(value, Path) else value
    if "cash" in settings:
        BacktestConfig(cash=settings["cash"])  # a bad --cash is refused before any data is read, not mid-run
    if args.strategy is not None:
        base = None  # a strategy given as a flag is relative to the working directory, not the config file
    params = _table(settings.pop("params", {}), "params")
    params.update(_parse_pairs(args.param, "--param"))
    handler_specs = _strings(settings.pop("handlers", []), "handlers") + list(args.handler)
    if args.risk:
        settings["risk"] = {**_table(settings.get("risk", {}), "risk"), **_parse_pairs(args.risk, "--risk")}
    report = settings.pop("report", False) if args.report is None else True
    if not isinstance(report, bool):
        raise ConfigError(f"report must be true or false, got {report!r}")
    csv = settings.pop("csv", False) if args.csv is None else True
    if not isinstance(csv, bool):
        raise ConfigError(f"csv must be true or false, got {csv!r}")
    out = settings.pop("out", None)
    if report and out is None and not args.save:
        out = "out"
    source = settings.get("data") or "sample"
    strategy = resolve_strategy(str(settings.pop("strategy", "sma_cross")), base=base)(**params)
    handlers = [_instantiate(load_object(spec, "handler"), spec) for spec in handler_specs]
    data, symbol = backtest_data(settings.pop("data", None), settings.pop("symbol", None), args.data_dir,
                                 sort=args.sort, timerange=settings.pop("timerange", None), options=read_options(args))
    account_keys = {f.name for f in fields(BacktestConfig)} - {"markets"}
    venue_keys = {f.name for f in fields(SimSettings) if f.init}
    unknown = set(settings) - account_keys - venue_keys
    if unknown:
        known = sorted(account_keys | venue_keys)
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))} (known: {', '.join(known)}, "
                          "strategy, data, symbol, timerange, params, handlers, out, report, csv)")
    config = BacktestConfig(**{k: v for k, v in settings.items() if k in account_keys})
    venue = SimSettings(**{k: v for k, v in settings.items() if k in venue_keys})
    if out is None and args.save:  # named as its manifest's id will be: by the strategy's name
        out = new_run_dir("backtest", strategy.name, begun)
    # Claimed before the run: a journal the run writes into the folder is the run's, listed in its manifest.
    folder = RunFolder.claim(out, "backtest", args, begun) if out is not None else None
    started = time.perf_counter()
    result = run_backtest(strategy, data, config, venue=venue, symbol=symbol, handlers=handlers,
                          progress=not args.quiet, data_dir=args.data_dir, journal=args.journal)
    seconds = time.perf_counter() - started
    log.info("back-test done", extra={"seconds": round(seconds, 3), "bars": result.stats["n_bars"],
                                      "bars_per_s": round(result.stats["n_bars"] / max(seconds, 1e-9))})
    if out is not None:
        save_result(result, out, csv=csv, quiet=args.quiet)
    if report:
        from engine.report import write_report

        write_report(result, Path(out) / "report.html")
    if folder is not None:
        folder.finish(result, source=source)
    if args.json:
        print(result.to_json())
    else:
        print(format_summary(result))
        if out is not None:
            print(f"\nresults written to {out}" + (f"; report: {Path(out) / 'report.html'}" if report else ""))
    return 0


def backtest_data(data: str | list[str] | None, symbol: str | list[str] | None, data_dir: Path | None, *,
                  sort: bool = False, timerange: str | None = None, options: ReadOptions | None = None
                  ) -> tuple[Any, str | None]:
    """Return the ``data`` and ``symbol`` arguments of ``run_backtest`` for the data options: a file or query as
    given (run_backtest reads it), or the bars read here when they are sorted, read with file ``options`` or cut
    to a time range, or a list of ``(bars, symbol)`` pairs for several symbols (``--symbol`` repeated, one
    ``--data`` each, in order)."""
    datas = [data] if isinstance(data, str) else list(data or [])
    symbols = [symbol] if isinstance(symbol, str) else list(symbol or [])
    if timerange is not None and not isinstance(timerange, str):
        raise ConfigError(f"timerange must be text such as \"20240101-20240601\", got {timerange!r}")
    if len(datas) <= 1 and len(symbols) <= 1:
        one, name = (datas[0] if datas else None), (symbols[0] if symbols else None)
        if not sort and timerange is None and (options is None or not options.given):
            return one, name
        return load_frame(one, name, data_dir, sort=sort, timerange=timerange, options=options)
    if symbols and len(symbols) != len(datas):
        raise ConfigError(f"give one --data per --symbol, in the same order: {len(symbols)} symbols "
                          f"({', '.join(symbols)}) and {len(datas)} data sources")
    pairs = []
    for number, source in enumerate(datas):
        frame, name = load_frame(source, symbols[number] if symbols else None, data_dir, sort=sort, options=options)
        pairs.append((apply_timerange(frame, timerange, what=f"{source} ({name})"), name))
    seen = [name for _, name in pairs]
    twice = sorted({name for name in seen if seen.count(name) > 1})
    if twice:
        raise ConfigError(f"symbol {', '.join(twice)} is given by more than one --data: name each with --symbol")
    return pairs, None


def format_summary(result: BacktestResult) -> str:
    """Return the end-of-run table: each statistic for the strategy and for buy-and-hold of its assets."""
    from engine.display import SUMMARY_ROWS, box_table, format_stat

    stats, bench = result.stats, result.stats.get("buy_and_hold") or {}
    rows = [(label, format_stat(stats.get(key), kind), format_stat(bench.get(key), kind) if both and bench else "")
            for key, label, kind, both in SUMMARY_ROWS]
    header = ("", "Strategy", "Buy & hold" if bench else "")
    strategies = result.config.get("strategies", [])
    title = "; ".join(f"{s['name']} {json.dumps(s['params'])}" for s in strategies) or "back-test"
    data = result.data
    lines = [title]
    if data.get("start"):
        lines.append(f"{', '.join(data['symbols'])}  {data['interval']} bars  {_minute(data['start'])} to "
                     f"{_minute(data['end'])} UTC  ({data['n_bars']:,} bars)")
    lines += box_table(header, rows)
    if result.no_trades:
        lines += ["", *format_no_trades(result.no_trades)]
    return "\n".join(lines)


def format_no_trades(no_trades: dict[str, Any], width: int = 110) -> list[str]:
    """Return the lines under the summary of a run without a round trip: why, and each kind of rejection's
    first reason in full (the counted kinds hide the figures a trader checks)."""
    lines = textwrap.wrap(f"No trades: {no_trades['message']}", width, subsequent_indent="  ")
    for entry in no_trades.get("rejected", [])[:5]:
        lines += textwrap.wrap(f"first of {entry['count']:,}: {entry['first']}", width, initial_indent="  ",
                               subsequent_indent="    ")
    return lines


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


def resolve_strategy(spec: str, base: Path | None = None) -> type[Strategy]:
    """Find a strategy class from ``sma_cross``, ``module:Class`` or ``path/file.py[:Class]``.

    A file path is taken relative to ``base`` (the config file's directory) when given, else to the working
    directory.
    """
    from engine.backtest import load_object

    location, _, class_name = spec.partition(":")
    if location.endswith(".py"):
        path = Path(location).expanduser()
        module = _import_file(path if path.is_absolute() or base is None else base / path)
        return _strategy_class(module, class_name, spec)
    if ":" in spec:
        found = load_object(spec, "strategy")
        if not (inspect.isclass(found) and issubclass(found, Strategy)):
            raise ConfigError(f"strategy {spec!r} is not a Strategy subclass")
        return found
    try:
        module = importlib.import_module(f"strategies.{spec}")
    except ModuleNotFoundError:
        raise ConfigError(f"unknown strategy {spec!r}: not a module of strategies/ ({', '.join(list_strategies())})"
                          ", module:Class or file.py:Class") from None
    return _strategy_class(module, "", spec)


def _strategy_class(module: Any, class_name: str, spec: str) -> type[Strategy]:
    if class_name:
        found = getattr(module, class_name, None)
        if not (inspect.isclass(found) and issubclass(found, Strategy)):
            raise ConfigError(f"strategy {spec!r}: {class_name} is not a Strategy subclass of {module.__name__}")
        return found
    classes = [obj for obj in vars(module).values() if inspect.isclass(obj) and issubclass(obj, Strategy)
               and obj is not Strategy and obj.__module__ == module.__name__]
    if len(classes) != 1:
        raise ConfigError(f"strategy {spec!r} defines {len(classes)} strategies: name one as {spec}:Class")
    return classes[0]


def _import_file(path: Path) -> Any:
    """Import a user's strategy file as a module named after it (so its classes pickle and repr sensibly)."""
    if not path.is_file():
        raise ConfigError(f"strategy file {path} does not exist")
    name = f"mlct_user.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import strategy file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report what it raised, on one line
        del sys.modules[name]
        raise ConfigError(f"strategy file {path}: {type(exc).__name__}: {exc}") from exc
    return module


def list_strategies() -> list[str]:
    import strategies

    return sorted(p.stem for p in Path(strategies.__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def _instantiate(obj: Any, spec: str) -> object:
    if inspect.isclass(obj):
        try:
            return obj()
        except TypeError as exc:
            raise ConfigError(f"handler {spec!r} cannot be created without arguments: {exc}") from None
    return obj


def _parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} must look like KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a table ([{name}] with key = value lines), got {value!r}")
    return dict(value)


def _strings(value: Any, name: str) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{name} must be a list of \"module:Class\" strings, got {value!r}")
    return list(value)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
