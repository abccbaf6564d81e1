"""A run's ``manifest.json``: what the run was, what it read, which files it wrote, and its headline figures.

Every command that saves a run (``mlct backtest --out``, ``mlct ml run``, ``mlct live``) writes one into the run's
folder, as freqtrade keeps each back-test's results apart. It is what makes a folder one run's: ``mlct report``
reads only the files it lists (a folder reused by a later run cannot lend that run an earlier run's ML section),
a later run into the same folder removes exactly the files it lists (and nothing a user put there), and
``mlct results list|show|compare`` reads the figures from it without loading any table.

Plain JSON, one object: ``format`` (1), ``id``, ``kind`` (the command: ``backtest``, ``ml run``, ``live``),
``created`` (ISO UTC), ``mlct_version``, ``command`` (the command line, secrets masked), ``strategies`` (name and
parameters of each), ``data`` (``source`` as given plus the run's fingerprint: symbols, interval, start, end,
n_bars, sha256), ``files`` (``{"name": relative path, "bytes": size}``, sorted) and ``stats`` (the summary's
figures, with buy-and-hold's under ``buy_and_hold``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.display import SUMMARY_ROWS
from engine.errors import DataError
from engine.redact import MASK

__all__ = ["FORMAT", "LEGACY_DIRS", "LEGACY_FILES", "MANIFEST", "Snapshot", "build_manifest", "earlier_run_files",
           "find_runs", "headline_stats", "listed_files", "read_manifest", "record_files", "redact_command",
           "remove_files", "run_id", "snapshot", "write_manifest", "written_files"]

MANIFEST = "manifest.json"
FORMAT = 1
# What a run folder held before manifests: removed when a run reuses such a folder (only when result.json shows
# that a run wrote there). A journal is never among them: it is a live session's record.
LEGACY_FILES = ("result.json", "trades.csv", "orders.csv", "fills.csv", "equity.csv", "equity.parquet",
                "prices.csv", "prices.parquet", "report.html", "recommendation.json", "ml.json", "parity.json")
LEGACY_DIRS = {"model": "metadata.json", "extras": None}  # a directory, and the file that shows it is ours
# An option whose value is a secret, and a KEY=VALUE whose key names one: masked in the recorded command line.
_SECRET = re.compile(r"(api[-_]?key|secret|password|passphrase|token|private[-_]?key)", re.IGNORECASE)

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime in ns)


def run_id(created: datetime, kind: str, strategy: str, unique: str = "") -> str:
    """Return a run's id: its UTC start to the second, kind and strategy, ``20261203T221500Z-backtest-SmaCross``,
    then ``-`` and ``unique`` when given (two runs started in the same second differ there).

    Sorted by name, ids sort by time; the name of a folder ``mlct backtest --save`` makes is the id without
    ``unique``.
    """
    base = strategy.rpartition(":")[2] or Path(strategy.rstrip(":")).stem  # the class, else the file's name
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_.") or "run"
    return f"{created.astimezone(UTC):%Y%m%dT%H%M%SZ}-{kind.replace(' ', '_')}-{name}" + (f"-{unique}" if unique
                                                                                       else "")


def redact_command(argv: Sequence[str]) -> list[str]:
    """Return the command line with the value of every secret-looking option or ``KEY=VALUE`` masked."""
    shown, mask_next = [], False
    for word in argv:
        if mask_next:
            shown.append(MASK)
            mask_next = False
            continue
        name, equals, _ = word.partition("=")
        if word.startswith("-") and _SECRET.search(name):
            if equals:
                shown.append(f"{name}={MASK}")
            else:
                shown.append(word)
                mask_next = True
        elif equals and _SECRET.search(name):
            shown.append(f"{name}={MASK}")
        else:
            shown.append(word)
    return shown


def headline_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Return the figures of the summary table (``engine.display.SUMMARY_ROWS``), buy-and-hold's too."""
    figures: dict[str, Any] = {key: stats.get(key) for key, *_ in SUMMARY_ROWS}
    bench = stats.get("buy_and_hold")
    if isinstance(bench, Mapping):
        figures["buy_and_hold"] = {key: bench.get(key) for key, _, _, both in SUMMARY_ROWS if both}
    return figures


def build_manifest(*, kind: str, created: datetime, version: str, command: Sequence[str],
                   strategies: Sequence[Mapping[str, Any]], data: Mapping[str, Any], source: Any,
                   files: Sequence[Mapping[str, Any]], stats: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Return a manifest (see the module docstring); ``command`` is redacted here.

    The id ends with six hex digits of the hash of the folder, the start and the command: unique per run.
    """
    first = str(strategies[0]["name"]) if strategies else kind
    unique = hashlib.sha256(json.dumps([str(folder.resolve()), created.isoformat(), list(command)]).encode())
    return {"format": FORMAT, "id": run_id(created, kind, first, unique.hexdigest()[:6]), "kind": kind,
            "created": created.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "mlct_version": version, "command": redact_command(command),
            "strategies": [{"name": s.get("name"), "params": s.get("params", {})} for s in strategies],
            "data": {"source": source, **data}, "files": list(files), "stats": headline_stats(stats)}


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` to ``folder/manifest.json`` (through a temporary file: a reader never sees half)."""
    path = folder / MANIFEST
    partial = folder / f".{MANIFEST}.tmp"
    partial.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(partial, path)
    return path


def record_files(folder: Path, names: Iterable[str]) -> dict[str, Any] | None:
    """Add ``names`` (written into ``folder`` after its run: a rebuilt report, parity.json) to the run's manifest
    with their sizes now; return the manifest, None when the folder has none (nothing to add to)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    entries = {str(f["name"]): f for f in manifest["files"] if isinstance(f, Mapping)}
    for name in names:
        if (folder / name).is_file():
            entries[Path(name).as_posix()] = {"name": Path(name).as_posix(), "bytes": (folder / name).stat().st_size}
    manifest["files"] = [entries[name] for name in sorted(entries)]
    write_manifest(folder, manifest)
    return manifest


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """Return ``folder``'s manifest, None when it has none; DataError when it is not one."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise DataError(f"{path}: not a run manifest (no list of files)")
    return manifest


def listed_files(manifest: Mapping[str, Any]) -> list[str]:
    """Return the relative paths a manifest lists, refusing any that would leave the run's folder."""
    names = []
    for entry in manifest.get("files", []):
        name = str(entry["name"]) if isinstance(entry, Mapping) else str(entry)
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise DataError(f"manifest lists {name!r}, outside the run's folder")
        names.append(Path(name).as_posix())
    return names


def snapshot(folder: Path) -> Snapshot:
    """Return every file under ``folder`` with its size and modification time (what a run then changes)."""
    found: Snapshot = {}
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def written_files(folder: Path, before: Snapshot) -> list[dict[str, Any]]:
    """Return the files under ``folder`` that are new or changed since ``before``: what a run wrote.

    A user's own file that the run left alone is not the run's; the manifest itself is left out (it lists).
    """
    now = snapshot(folder)
    return [{"name": name, "bytes": size} for name, (size, mtime) in sorted(now.items())
            if name != MANIFEST and not name.endswith(".tmp") and before.get(name) != (size, mtime)]


def earlier_run_files(folder: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Return the manifest of the run saved in ``folder`` (None before manifests) and the files it wrote there.

    Without a manifest, the files a run wrote before manifests existed (``LEGACY_FILES``, ``model/`` holding a
    model's ``metadata.json``, ``extras/``), and only when ``result.json`` shows a run was saved there.
    """
    manifest = read_manifest(folder)
    if manifest is not None:
        return manifest, [*listed_files(manifest), MANIFEST]
    if not (folder / "result.json").is_file():
        return None, []
    names = [name for name in LEGACY_FILES if (folder / name).is_file()]
    for directory, mark in LEGACY_DIRS.items():
        if (folder / directory).is_dir() and (mark is None or (folder / directory / mark).is_file()):
            names += sorted(p.relative_to(folder).as_posix() for p in (folder / directory).rglob("*") if p.is_file())
    return None, names


def remove_files(folder: Path, names: Iterable[str], keep: Iterable[Path] = ()) -> tuple[list[str], list[str]]:
    """Remove ``names`` (relative to ``folder``) and the directories they leave empty; return (removed, kept).

    A file inside one of ``keep`` (what the new run reads: a model, data) stays.
    """
    kept_roots = [path.resolve() for path in keep]
    removed, kept = [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == root or root in resolved.parents for root in kept_roots):
            kept.append(name)
            continue
        path.unlink()
        removed.append(name)
        parent = path.parent
        while parent != folder and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed, kept


def find_runs(roots: Iterable[Path], depth: int = 3) -> list[Path]:
    """Return the run folders (holding a run's manifest) at most ``depth`` levels under each of ``roots``, oldest
    first.

    Hidden directories and virtual environments are not searched; a ``manifest.json`` of another tool (a web
    app's) is passed over.
    """
    found: dict[Path, tuple[str, Path]] = {}
    for root in roots:
        for folder in _folders(root, depth):
            created = _run_created(folder)
            if created is not None:
                found.setdefault(folder.resolve(), (created, folder))
    return [folder for _, folder in sorted(found.values(), key=lambda pair: (pair[0], str(pair[1])))]


def _folders(root: Path, depth: int) -> Iterable[Path]:
    if not root.is_dir():
        return
    yield root
    if depth <= 0:
        return
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                          and p.name not in ("node_modules", "__pycache__", "site-packages"))
    except OSError:
        return
    for child in children:
        yield from _folders(child, depth - 1)


def _run_created(folder: Path) -> str | None:
    """Return the start of the run saved in ``folder``; None when its manifest is missing or not a run's."""
    if not (folder / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "format" not in manifest or not isinstance(manifest.get("files"), list):
        return None
    return str(manifest.get("created", ""))
