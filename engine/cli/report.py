"""``mlct report``: rebuild the HTML report from the results a run saved (``mlct backtest --out DIR``).

Only the files the run's ``manifest.json`` lists are read: a folder that an earlier run wrote into as well keeps
that run's sections out of this report. A folder saved before manifests is read whole, with a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  mlct report out/                          write out/report.html from the results in out/
  mlct report runs/sma-20-50 -o sma.html    write the report somewhere else
  mlct results list                         the saved runs, to pick a RESULT_DIR
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rp = commands.add_parser("report", help="rebuild the HTML report from saved back-test results",
                             description="Read the results mlct backtest --out DIR wrote (the files its "
                                         "manifest.json lists) and write a self-contained HTML report (opens "
                                         "offline).",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("result_dir", type=Path, metavar="RESULT_DIR", help="the --out directory of mlct backtest")
    rp.add_argument("-o", "--output", type=Path, help="where to write the report (default RESULT_DIR/report.html)")
    rp.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from engine.report import write_report
    from engine.result import BacktestResult
    from engine.result.manifest import read_manifest, record_files

    folder: Path = args.result_dir
    manifest = read_manifest(folder)
    if manifest is None:
        if (folder / "result.json").is_file():
            print(f"warning: {folder} has no manifest.json (saved before manifests): every result file in it is "
                  "read, and files another run left there may show in the report", file=sys.stderr)
        result = BacktestResult.load(folder)
    else:
        from engine.result.manifest import listed_files

        result = BacktestResult.load(folder, files=listed_files(manifest))
    target = args.output or folder / "report.html"
    path = write_report(result, target)
    if manifest is not None and Path(target).resolve().parent == folder.resolve():
        record_files(folder, [Path(target).name])  # the report is the run's: a later run removes it too
    print(f"report written to {path}")
    return 0
