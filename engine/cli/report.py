"""``mlct report``: rebuild the HTML report from the results ``mlct backtest --out DIR`` saved."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  mlct report out/                          write out/report.html from the results in out/
  mlct report runs/sma-20-50 -o sma.html    write the report somewhere else
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rp = commands.add_parser("report", help="rebuild the HTML report from saved back-test results",
                             description="Read the results mlct backtest --out DIR wrote and write a "
                                         "self-contained HTML report (opens offline).",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("result_dir", type=Path, metavar="RESULT_DIR", help="the --out directory of mlct backtest")
    rp.add_argument("-o", "--output", type=Path, help="where to write the report (default RESULT_DIR/report.html)")
    rp.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from engine.report import write_report
    from engine.result import BacktestResult

    result = BacktestResult.load(args.result_dir)
    path = write_report(result, args.output or args.result_dir / "report.html")
    print(f"report written to {path}")
    return 0
