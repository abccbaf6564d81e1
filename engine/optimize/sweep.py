"""A sweep: the jobs of some parameter points on some data sets, run by an executor, saved as they finish, and
gathered into one table in job order.

The table never depends on the executor or on the order jobs finished in: rows are sorted by job index, and a
job's index is its place in the list ``sweep_jobs`` makes from the points (grid order, or the seeded draw).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.optimize.executors import Executor
from engine.optimize.jobs import STAT_COLUMNS, Job, SweepSetup, params_columns
from engine.optimize.pbo import PboResult, pbo_from_moments
from engine.optimize.space import Params
from engine.optimize.store import ResultsFile
from engine.progress import bar

log = logging.getLogger(__name__)


def sweep_jobs(points: Sequence[Params], n_datasets: int = 1, first: int = 0) -> list[Job]:
    """Return a job for each data set and each point, data set by data set, numbered from ``first``."""
    pairs = [(d, p) for d in range(n_datasets) for p in points]
    return [Job(first + i, dict(p), dataset=d) for i, (d, p) in enumerate(pairs)]


def run_jobs(setup: SweepSetup, jobs: Sequence[Job], executor: Executor, *, store: ResultsFile | None = None,
             progress: bool = False) -> list[dict[str, Any]]:
    """Run the jobs not already in ``store`` and return every job's row, sorted by job index.

    Each row is saved to ``store`` as it arrives; a job that raised has its ``error`` set and the rest go on.
    """
    saved = store.done() if store is not None else {}
    rows = {job.index: saved[job.key] | {"job": job.index} for job in jobs if job.key in saved}
    todo = [job for job in jobs if job.index not in rows]
    if rows:
        log.info("sweep resumed", extra={"saved": len(rows), "to_run": len(todo)})
    with bar(len(jobs), "sweep", unit="job", enabled=progress, scale=False) as shown:
        shown.update(len(rows))
        for row in executor.run(setup, todo):
            if store is not None:
                store.append(row)
            if row["error"]:
                log.warning("sweep job failed", extra={"job": row["job"], "params": row["params"],
                                                       "error": row["error"]})
            rows[row["job"]] = row
            shown.update(1)
    return [rows[i] for i in sorted(rows)]


def results_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return one line per row: job, data set, phase, window, each parameter, objective, statistics, error."""
    names = params_columns(rows)
    records = [{"job": r["job"], "dataset": r["dataset"], "phase": r["phase"], "window": r["window"],
                **{n: r["params"].get(n) for n in names}, "objective": r["objective"],
                **{k: r.get(k) for k in STAT_COLUMNS}, "error": r["error"]} for r in rows]
    columns = ["job", "dataset", "phase", "window", *names, "objective", *STAT_COLUMNS, "error"]
    table = pd.DataFrame.from_records(records, columns=columns)
    for key in ("objective", *STAT_COLUMNS):
        table[key] = pd.to_numeric(table[key], errors="coerce").astype("float64")
    return table


def best_rows(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Return the ``n`` rows of highest objective (undefined ones last; ties in job order)."""
    order = table.sort_values(["objective", "job"], ascending=[False, True], na_position="last", kind="stable")
    return order.head(n)


def sweep_pbo(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Return the PBO of each data set's plain-sweep rows (None where fewer than two jobs succeeded)."""
    out: dict[str, dict[str, Any] | None] = {}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        blocks = [r["blocks"] for r in rows if r["dataset"] == name and r["phase"] == "all" and not r["error"]
                  and r.get("blocks")]
        result: PboResult | None = None
        if len(blocks) >= 2:
            result = pbo_from_moments(np.asarray(blocks))
        out[name] = None if result is None or math.isnan(result.pbo) else result.to_dict()
    return out


def save_table(table: pd.DataFrame, out: str | Path, name: str = "results.parquet") -> Path:
    """Write ``table`` as Parquet into ``out`` and return its path."""
    path = Path(out) / name
    table.to_parquet(path, index=False)
    return path
