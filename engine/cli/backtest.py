"""``mlct backtest``: run a strategy on historical data and print or save the result."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.strategy import Strategy

EXAMPLES = """examples:
  mlct backtest                                   SMA cross on the bundled BTC/USD hourly sample
  mlct backtest --strategy sma_cross --param fast=20 --param slow=50 --out out/
  mlct backtest --data my.csv --symbol ETH/USD --fee-bps 7.5 --slippage-bps 2 --json
  mlct backtest --strategy my_pkg.my_mod:MyStrategy --handler my_pkg.audit:Audit
  mlct backtest --config run.toml
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bt = commands.add_parser("backtest", help="run a strategy on historical data", epilog=EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    bt.add_argument("--config", type=Path, help="TOML file with any of the options below (the flags win)")
    bt.add_argument("--strategy", help="a module of strategies/ (sma_cross) or module:Class (default sma_cross)")
    bt.add_argument("--data", help="CSV (CryptoDataDownload or generic) or Parquet file; default: bundled sample")
    bt.add_argument("--symbol", help="symbol of the data, e.g. BTC/USD (default: from the file)")
    bt.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter")
    bt.add_argument("--handler", action="append", default=[], metavar="MODULE:CLASS",
                    help="add a handler object with on_<event> methods to the run (repeatable)")
    bt.add_argument("--cash", help="starting cash in the quote currency (default 10000)")
    bt.add_argument("--fee-bps", type=float, help="taker fee in basis points (default 10)")
    bt.add_argument("--maker-fee-bps", type=float, help="maker fee in basis points (default: the taker fee)")
    bt.add_argument("--slippage-bps", type=float, help="slippage on taker fills in basis points (default 0)")
    bt.add_argument("--slippage", choices=["none", "fixed", "volume"], help="slippage model (default fixed)")
    bt.add_argument("--volume-share", type=float, help="cap fills at this share of each bar's volume")
    bt.add_argument("--latency-ms", type=float, help="order latency in milliseconds (default 0)")
    bt.add_argument("--out", type=Path, help="write result.json, trades.csv, orders.csv, fills.csv, equity.csv")
    bt.add_argument("--json", action="store_true", help="print result.json to stdout instead of the table")
    bt.set_defaults(func=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from engine.backtest import BacktestConfig, load_object, run_backtest

    settings = _read_config(args.config) if args.config else {}
    for key in ("strategy", "data", "symbol", "cash", "fee_bps", "maker_fee_bps", "slippage_bps", "slippage",
                "volume_share", "latency_ms"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    params = dict(settings.pop("params", {}))
    params.update(_parse_params(args.param))
    handler_specs = list(settings.pop("handlers", [])) + list(args.handler)
    strategy_cls = resolve_strategy(str(settings.pop("strategy", "sma_cross")))
    strategy = strategy_cls(**params)
    handlers = [_instantiate(load_object(spec, "handler"), spec) for spec in handler_specs]
    data = settings.pop("data", None)
    symbol = settings.pop("symbol", None)
    known = set(BacktestConfig.__dataclass_fields__) - {"markets"}
    unknown = set(settings) - known
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    config = BacktestConfig(**settings)
    result = run_backtest(strategy, data, config, symbol=symbol, handlers=handlers)
    if args.out:
        result.save(args.out)
    if args.json:
        print(result.to_json())
    else:
        print(format_summary(result.stats, strategy))
        if args.out:
            print(f"results written to {args.out}")
    return 0


def resolve_strategy(spec: str) -> type[Strategy]:
    """Find a strategy class from ``sma_cross`` (a module of ``strategies``) or ``module:Class``."""
    from engine.backtest import load_object

    if ":" in spec:
        found = load_object(spec, "strategy")
        if not (inspect.isclass(found) and issubclass(found, Strategy)):
            raise ConfigError(f"strategy {spec!r} is not a Strategy subclass")
        return found
    try:
        module = importlib.import_module(f"strategies.{spec}")
    except ModuleNotFoundError:
        raise ConfigError(f"unknown strategy {spec!r}: not a module of strategies/ ({', '.join(list_strategies())})"
                          " and not module:Class") from None
    classes = [obj for obj in vars(module).values() if inspect.isclass(obj) and issubclass(obj, Strategy)
               and obj is not Strategy and obj.__module__ == module.__name__]
    if len(classes) != 1:
        raise ConfigError(f"strategies.{spec} defines {len(classes)} strategies: name one as strategies.{spec}:Class")
    return classes[0]


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


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param must look like KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def format_summary(stats: dict[str, Any], strategy: Strategy) -> str:
    rows = [("strategy", f"{strategy.name} {json.dumps(strategy.p)}")]
    percent = {"total_return", "max_drawdown", "win_rate", "exposure"}
    for key, value in stats.items():
        if value is None:
            text = "n/a"
        elif key in percent:
            text = f"{value * 100:,.2f}%"
        elif isinstance(value, float):
            text = f"{value:,.4f}" if key == "sharpe" else f"{value:,.2f}"
        else:
            text = f"{value:,}"
        rows.append((key, text))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

