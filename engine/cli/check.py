"""``mlct check lookahead``: check a strategy for look-ahead and measure the warm-up its values need."""

from __future__ import annotations

import argparse

from engine.cli.inputs import add_data_options, frame_from_args

EXAMPLES = """examples:
  mlct check lookahead --strategy rsi                          RSI on the bundled BTC/USD hourly sample
  mlct check lookahead --strategy ma_simple --param fast=20 --param slow=50 --cuts 10
  mlct check lookahead --strategy ./my_strategy.py:MyStrategy --data my.csv --json > check.json
  mlct check lookahead --strategy ml_signal --param model=out/model --no-warmup

exit codes: 0 no look-ahead found, 1 look-ahead found (or the strategy's runs differ on the same data),
2 bad usage, configuration or data
"""

DESCRIPTION = """\
Look-ahead: run the strategy on the data through the back-tester, then, at a few cut points, again with every
bar after the cut perturbed up, perturbed down, and removed. Every signal (with the values that drove it), order,
order update and fill up to the cut, and every indicator value at it, must be identical; the first one that
moved is reported with its bar. The check changes the data the engine hands the strategy: a strategy that reads
data on its own, from a file, is beyond its reach.

Warm-up: at the cut points, what the strategy published with the whole history is compared with what it
published from only the last N bars, for N on a grid; the table gives the history each signal and indicator
needs to agree within the tolerance, and the verdict compares the signals' with the strategy's warmup_bars().
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser("check", help="check a strategy for look-ahead and measure its warm-up",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Checks of a strategy on historical data.")
    sub = check.add_subparsers(dest="check", required=True, metavar="CHECK")
    look = sub.add_parser("lookahead", help="look-ahead (bars after a cut changed) and warm-up (history cut short)",
                          description=DESCRIPTION, epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    look.add_argument("--strategy", default="sma_cross",
                      help="a module of strategies/ (sma_cross), module:Class or path/file.py:Class "
                           "(default sma_cross)")
    look.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="strategy parameter")
    add_data_options(look)
    look.add_argument("--cuts", type=int, default=6, metavar="N", help="cut points (default 6)")
    look.add_argument("--seed", type=int, default=0, help="seed of the perturbations (default 0)")
    look.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the warm-up check")
    look.add_argument("--tolerance", type=float, default=None, metavar="REL",
                      help="relative tolerance of the warm-up check (default 1e-9)")
    look.add_argument("--max-history", type=int, default=None, metavar="BARS",
                      help="longest history the warm-up check tries (default 4096)")
    look.add_argument("--fail-on-warmup", action="store_true",
                      help="exit 1 also when the declared warm-up is shorter than the signals need")
    look.add_argument("--json", action="store_true", help="print the report as JSON")
    look.set_defaults(func=cmd_lookahead)


def cmd_lookahead(args: argparse.Namespace) -> int:
    from adapters.sim import SimSettings
    from engine.check import DEFAULT_MAX_HISTORY, DEFAULT_TOLERANCE, check_strategy
    from engine.cli.backtest import _parse_pairs, resolve_strategy
    from engine.progress import bar, progress_enabled

    strategy_class = resolve_strategy(args.strategy)
    params = _parse_pairs(args.param, "--param")
    strategy_class(**params)  # bad parameters fail before the data is read
    frame, symbol = frame_from_args(args)
    with bar(None, "check", unit="run", enabled=not args.quiet and progress_enabled()) as shown:
        report = check_strategy(lambda data: strategy_class(**params), frame, symbol, venue=SimSettings(),
                                cuts=args.cuts, seed=args.seed, warmup=args.warmup,
                                tolerance=DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance,
                                max_history=DEFAULT_MAX_HISTORY if args.max_history is None else args.max_history,
                                step=lambda: shown.update(1))
    print(report.to_json() if args.json else report.format())
    if args.fail_on_warmup and report.warmup is not None and report.warmup.sufficient is False:
        return 1
    return report.exit_code
