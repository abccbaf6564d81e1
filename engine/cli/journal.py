"""``mlct journal``: read a session journal (a back-test's ``--journal``, a live session's own)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """examples:
  mlct backtest --journal runs/sma.journal       record every event of a back-test
  mlct journal show runs/sma.journal --limit 20  the session's settings and its first 20 events
  mlct journal export runs/sma.journal -o sma.jsonl
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jp = commands.add_parser("journal", help="show or export a session journal", epilog=EXAMPLES,
                             description="Read the SQLite journal of a session: its settings and code version, "
                                         "and every event the bus handled, in order.",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = jp.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="the settings, the count of each kind of event, and the first events",
                          epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("path", type=Path, metavar="PATH")
    show.add_argument("--limit", type=int, default=10, metavar="N", help="events to print (default 10)")
    show.set_defaults(func=cmd_show)
    export = sub.add_parser("export", help="every event as one JSON object a line", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("path", type=Path, metavar="PATH")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=cmd_export)


def cmd_show(args: argparse.Namespace) -> int:
    from collections import Counter

    from engine.session_journal import read_events, read_session

    print(json.dumps(read_session(args.path), indent=2, default=str))
    counts: Counter[str] = Counter()
    for n, event in enumerate(read_events(args.path)):
        counts[type(event).__name__] += 1
        if n < args.limit:
            print(repr(event))
    print("events: " + ", ".join(f"{kind} {count:,}" for kind, count in sorted(counts.items())))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from engine.session_journal import event_record, read_events

    out = args.output.open("w") if args.output else sys.stdout
    try:
        for event in read_events(args.path):
            out.write(json.dumps(event_record(event)) + "\n")
    finally:
        if args.output:
            out.close()
    return 0
