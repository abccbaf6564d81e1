"""The folder a command saves a run into: cleared of an earlier run's files first, described by a manifest last.

A folder given to ``--out`` again (the README's ``out/``) used to keep what the earlier run wrote and the later
one did not (an ML run's ``model/`` and ``extras/ml/``), and ``mlct report`` showed it as the later run's. Now
``RunFolder.claim`` removes exactly the files the earlier run's manifest lists (before manifests: the files runs
wrote, when ``result.json`` shows one did), says so in one line, and keeps anything else: a user's own files, and
what the new run reads (a model, data, a config named on its command line). ``finish`` lists every file the run
then wrote or changed in ``manifest.json`` (``engine.result.manifest``).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.result.manifest import (
    build_manifest,
    earlier_run_files,
    remove_files,
    snapshot,
    write_manifest,
    written_files,
)

if TYPE_CHECKING:
    from engine.result import BacktestResult

RESULTS_ENV = "MLCT_RESULTS_DIR"


def results_root() -> Path:
    """Return where runs saved without ``--out`` go: ``$MLCT_RESULTS_DIR``, else ``./results``."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


def new_run_dir(kind: str, strategy: str, started: datetime) -> Path:
    """Return a new folder under the results root for a run: ``results/<UTC start>-<kind>-<strategy>``."""
    from engine.result.manifest import run_id

    base = results_root() / run_id(started, kind, strategy)
    folder, number = base, 1
    while folder.exists():  # two runs in one second
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return folder


def command_line(args: argparse.Namespace) -> list[str]:
    """Return the command line of this run as ``mlct`` received it (``main`` records it)."""
    return list(getattr(args, "command_line", None) or ["mlct", *sys.argv[1:]])


class RunFolder:
    """A run's folder, from the moment the run starts writing into it to its manifest."""

    def __init__(self, folder: Path, kind: str, command: list[str], started: datetime) -> None:
        self.folder = folder
        self.kind = kind
        self.command = command
        self.started = started
        self.before = snapshot(folder)

    @classmethod
    def claim(cls, folder: str | Path, kind: str, args: argparse.Namespace, started: datetime, *,
              resumes: bool = False, stream: TextIO | None = None) -> RunFolder:
        """Make ``folder`` this run's: remove the files of the earlier run saved there, saying so on ``stream``.

        ``resumes``: an earlier run of the same kind is this one resumed (a live session's journal): kept.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        command = command_line(args)
        manifest, names = earlier_run_files(out)
        if names and not (resumes and manifest is not None and manifest.get("kind") == kind):
            inside = out.resolve()
            reads = [p for p in _paths_read(command) if inside in p.resolve().parents]  # not the folder itself
            removed, kept = remove_files(out, names, keep=reads)
            if removed or kept:
                earlier = f"run {manifest['id']}" if manifest else "run (saved without a manifest)"
                line = f"{out}: removed the {len(removed)} files of the earlier {earlier}"
                if kept:
                    line += f"; kept {', '.join(kept[:3])}{' ...' if len(kept) > 3 else ''} (this run reads it)"
                print(line, file=sys.stderr if stream is None else stream, flush=True)
        return cls(out, kind, command, started)

    def finish(self, result: BacktestResult, *, source: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write ``manifest.json`` listing every file the run wrote here, with ``result``'s figures and ``extra``
        (sections of its own kind: an ML run's training settings); return it."""
        from engine.cli.version import version

        manifest = build_manifest(kind=self.kind, created=self.started, version=version(), command=self.command,
                                  strategies=result.config.get("strategies", []), data=result.data, source=source,
                                  files=written_files(self.folder, self.before), stats=result.stats,
                                  folder=self.folder)
        manifest.update(extra or {})
        write_manifest(self.folder, manifest)
        return manifest


def started_now() -> datetime:
    """Return the wall-clock time a run starts (the CLI is the one place that reads it)."""
    return datetime.now(UTC)


def _paths_read(command: list[str]) -> list[Path]:
    """Return the existing paths named on the command line (``--data F``, ``--param model=DIR``, ``--config F``)."""
    found = []
    for word in command[1:]:
        for candidate in (word, word.partition("=")[2]):
            if candidate and not candidate.startswith("-") and Path(candidate).exists():
                found.append(Path(candidate))
    return found
