"""The ``mlct`` command line: one module per command, each with ``register(commands)``.

Exit codes: 0 success, 1 a failure while running, 2 bad usage, configuration or input data. Errors print on
one line without a traceback unless ``--debug`` is given. The common options (``--debug``, ``--quiet``,
``--log-level``, ``--log-format``) are accepted before or after the command name.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from engine.cli import (
    backtest,
    check,
    data,
    init,
    journal,
    live,
    ml,
    parity,
    recommend,
    report,
    results,
    signals,
    strategies,
    sweep,
)
from engine.cli.version import VersionAction
from engine.errors import ConfigError, DataError, MlctError
from engine.memory import tuned_for_long_runs
from engine.progress import LOG_FORMATS, setup_logging

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

COMMANDS = (backtest, strategies, report, results, init, data, signals, ml, recommend, live, journal, parity, check,
            sweep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlct", description="ml-crypto-trading: back-test and trade crypto.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_options(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    for sub in _subcommands(parser):
        add_common_options(sub, argparse.SUPPRESS)  # after the command name too, without undoing the ones before
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Return every parser below ``parser`` (commands, and their own sub-commands such as ``data download``)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += [sub, *_subcommands(sub)]
    return found


EXAMPLES = """examples:
  mlct backtest --report                 back-test the SMA cross on the bundled sample, write out/report.html
  mlct init my_bot && mlct backtest --config my_bot/config.toml
  mlct report out/                       rebuild out/report.html from saved results
  mlct results list                      saved runs; mlct results compare RUN RUN: statistics side by side
  mlct backtest --help                   every option of a command, with examples

exit codes: 0 success, 1 failure while running, 2 bad usage, configuration or data
"""


def add_common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Add the options every command takes; ``default`` is SUPPRESS on sub-commands (keep the global value)."""

    def add(*names: str, real: object, **kwargs: Any) -> None:
        names = tuple(n for n in names if n not in parser._option_string_actions)  # a command's own flag wins
        if any(n.startswith("--") for n in names):
            parser.add_argument(*names, default=real if default is None else default, **kwargs)

    add("--debug", real=False, action="store_true", help="show tracebacks on errors")
    add("-q", "--quiet", real=False, action="store_true", help="no progress bars")
    add("--log-level", real="WARNING", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
        help="logging level on stderr (default WARNING)")
    add("--log-format", real="text", choices=LOG_FORMATS,
        help="log lines as key=value text or JSON lines (default text)")
    if "--version" not in parser._option_string_actions:
        parser.add_argument("--version", action=VersionAction)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    args.command_line = ["mlct", *words]  # recorded (secrets masked) in a saved run's manifest
    setup_logging(args.log_level, args.log_format)
    try:
        with tuned_for_long_runs():  # the CLI is a process of its own: it opts in to process-wide tuning
            return int(args.func(args))
    except (ConfigError, DataError) as exc:
        if args.debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (mlct ... | head): nothing left to say, and nowhere to say it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit does not complain
        return 1
    except Exception as exc:  # a failure while running: one line, the traceback with --debug
        if args.debug:
            raise
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ConfigError | DataError):  # bad input found inside the run (a model, the data)
            print(f"error: {_one_line(cause)}", file=sys.stderr)
            return 2
        name = "" if isinstance(exc, MlctError) else f"{type(exc).__name__}: "
        print(f"error: {name}{_one_line(exc)} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
