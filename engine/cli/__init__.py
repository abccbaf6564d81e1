"""The ``mlct`` command line: one module per command, each with ``register(commands)``.

Exit codes: 0 success, 1 a failure while running, 2 bad usage, configuration or input data. Errors print on
one line without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from engine.cli import backtest
from engine.errors import ConfigError, DataError, MlctError

COMMANDS = (backtest,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlct", description="ml-crypto-trading: back-test and trade crypto.",
                                     epilog=backtest.EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--log-level", default="WARNING", help="logging level (DEBUG, INFO, WARNING, ERROR)")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ConfigError, DataError) as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MlctError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
