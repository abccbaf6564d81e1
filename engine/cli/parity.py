"""``mlct parity``: replay a paper or live session's market data through the back-tester and compare the two,
event by event (``engine.parity``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import ConfigError

EXAMPLES = """examples:
  mlct parity runs/p1/journal.sqlite                 the comparison as a table; exit 0 when nothing diverges
  mlct parity runs/p1/journal.sqlite --out runs/p1   also parity.json, and a section in runs/p1/report.html
  mlct parity runs/p1/journal.sqlite --json
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pp = commands.add_parser("parity", help="compare a paper or live session with its back-test",
                             description="Replay the bars a session journaled through the back-tester, with the "
                                         "same strategy, parameters, account, risk limits and warm-up, and compare "
                                         "bars, signals, orders, order states, fills and balances; report the first "
                                         "divergence of each kind and why. Exit 0: none, 1: some.",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pp.add_argument("journal", type=Path, metavar="JOURNAL", help="the session's journal.sqlite")
    pp.add_argument("--strategy", help="the session's strategy, as mlct backtest takes it (default: as journaled)")
    pp.add_argument("--out", type=Path, metavar="DIR",
                    help="write parity.json here; with the session's results in DIR, report.html gains the section")
    pp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    pp.set_defaults(func=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    from adapters.sim import SimSettings  # the composition root: the back-test's venue is the simulator
    from engine.cli.backtest import resolve_strategy
    from engine.parity import parity
    from engine.session_journal import read_session

    session = read_session(args.journal)
    spec = args.strategy or session.get("strategy")
    if not spec:
        raise ConfigError(f"{args.journal}: no strategy journaled: give --strategy (as for mlct backtest)")
    base = None if args.strategy else (Path(session["strategy_base"]) if session.get("strategy_base") else None)
    cls = resolve_strategy(str(spec), base=base)
    report = parity(args.journal, lambda params: cls(**params), lambda settings: SimSettings(**settings))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "parity.json").write_text(json.dumps(report.to_dict(), indent=2, default=str))
        if (args.out / "result.json").is_file():
            from engine.report import write_report
            from engine.result import BacktestResult

            result = BacktestResult.load(args.out)
            result.extras["parity"] = report.to_dict()
            write_report(result, args.out / "report.html")
        from engine.result.manifest import record_files

        record_files(args.out, ["parity.json", "report.html"])  # the session's run folder lists them too
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.format())
    return 0 if report.zero else 1
