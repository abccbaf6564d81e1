"""A sweep's rows on disk as they complete: one JSON line each in ``results.jsonl``, flushed and synced, so a
sweep killed at any moment keeps every finished job and a resumed one skips them (by ``Job.key``).

``sweep.json`` beside it records what the sweep is (strategy, data sets, objective, jobs): a resume with other
settings in the same directory is refused rather than mixed into the old rows.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

RESULTS = "results.jsonl"
MANIFEST = "sweep.json"


class ResultsFile:
    """Append-only JSON lines of finished jobs in directory ``out``."""

    def __init__(self, out: str | Path, manifest: dict[str, Any]) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / RESULTS
        manifest_path = self.dir / MANIFEST
        text = json.dumps(manifest, sort_keys=True, indent=1, default=str)
        if manifest_path.exists() and self.path.exists():
            saved = json.loads(manifest_path.read_text())
            if saved != json.loads(text):
                raise ConfigError(f"{self.dir} holds another sweep's results (its {MANIFEST} differs): "
                                  "give a new --out, or delete it to start over")
        manifest_path.write_text(text + "\n")
        _drop_partial_line(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def done(self) -> dict[str, dict[str, Any]]:
        """Return the saved rows by job key; a last line cut short by a kill is ignored (the job runs again)."""
        rows: dict[str, dict[str, Any]] = {}
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                rows[row["key"]] = _read_nan(row)
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Save one finished job's row now (a line is written whole, then synced)."""
        self._file.write(json.dumps(_write_nan(row), default=str, allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _drop_partial_line(path: Path) -> None:
    """Cut a last line a kill left without its newline, so the next row starts a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _write_nan(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _read_nan(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("objective") is None:
        row["objective"] = math.nan
    return row
