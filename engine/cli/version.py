"""``--version`` on ``mlct`` and every command: the installed package's version, looked up only when asked."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class VersionAction(argparse.Action):
    """Print ``mlct VERSION`` and exit 0, as argparse's own ``version`` action does, without importing the
    journal module (and its metadata lookup) while every command's parser is built."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = "print the installed version and exit") -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"mlct {version()}")  # on stdout, as argparse's own version action prints it
        parser.exit()


def version() -> str:
    """Return the installed version of ml-crypto-trading ("unknown" when it is not installed)."""
    from engine.session_journal import code_version

    return code_version()
