"""Walk-forward optimisation: choose parameters on each in-sample window, run them on the window that follows,
and chain those out-of-sample runs into one equity curve.

Windows roll by the out-of-sample length: window k's in-sample bars are ``[k*oos, k*oos + is)`` and its
out-of-sample bars the next ``oos`` (only whole windows). An in-sample job sees its own bars and nothing else, so
no out-of-sample bar can reach a choice; the out-of-sample run is warmed up on the bars just before it (history,
orders refused: ``run_backtest(warmup=...)``) so the strategy starts ready, as it would live.

Every window reports its choice with the in-sample and out-of-sample figures side by side: overfitting shows as
in-sample figures the out-of-sample ones never reach.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.optimize.executors import Executor
from engine.optimize.jobs import Job, SweepSetup, load_dataset
from engine.optimize.space import Params
from engine.optimize.store import ResultsFile
from engine.optimize.sweep import run_jobs
from engine.result.stats import compute_stats
from engine.result.tables import TRADE_COLUMNS

CHAINED_STATS = ("total_return", "annual_return", "sharpe", "sortino", "calmar", "max_drawdown")


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward step over bar positions: in-sample ``[start, split)``, out-of-sample ``[split, stop)``."""

    index: int
    start: int
    split: int
    stop: int


def parse_walk_forward(spec: str) -> tuple[int, int]:
    """Parse ``IS:OOS``, the in-sample and out-of-sample lengths in bars."""
    try:
        in_sample, out_of_sample = (int(v) for v in spec.split(":"))
    except ValueError:
        raise ConfigError(f"--walk-forward must be IS:OOS in bars, e.g. 2000:500, got {spec!r}") from None
    if in_sample < 2 or out_of_sample < 2:
        raise ConfigError(f"--walk-forward {spec!r}: both lengths must be at least 2 bars")
    return in_sample, out_of_sample


def windows(n_bars: int, in_sample: int, out_of_sample: int) -> list[Window]:
    """Return the whole windows that fit in ``n_bars``; ConfigError if none does."""
    found = [Window(k, s, s + in_sample, s + in_sample + out_of_sample)
             for k, s in enumerate(range(0, n_bars - in_sample - out_of_sample + 1, out_of_sample))]
    if not found:
        raise ConfigError(f"walk-forward {in_sample}:{out_of_sample} needs {in_sample + out_of_sample} bars, "
                          f"the data has {n_bars}")
    return found


@dataclass
class WalkForwardResult:
    """The rows of every job, one line per window, and each data set's chained out-of-sample equity."""

    rows: list[dict[str, Any]]
    windows: pd.DataFrame
    equity: dict[str, pd.Series]
    summary: dict[str, dict[str, Any]]


def walk_forward(setup: SweepSetup, points: Sequence[Params], executor: Executor, *, in_sample: int,
                 out_of_sample: int, store: ResultsFile | None = None, progress: bool = False) -> WalkForwardResult:
    """Run every point on every in-sample window, then each window's best on its out-of-sample window."""
    lengths = [len(load_dataset(d)[0]) for d in setup.datasets]
    plan = [(d, w) for d, n in enumerate(lengths) for w in windows(n, in_sample, out_of_sample)]
    in_jobs = [Job(i * len(points) + j, dict(p), dataset=d, phase="is", window=w.index, start=w.start, stop=w.split)
               for i, (d, w) in enumerate(plan) for j, p in enumerate(points)]
    in_rows = run_jobs(setup, in_jobs, executor, store=store, progress=progress)
    chosen = [_best(in_rows[i * len(points):(i + 1) * len(points)]) for i in range(len(plan))]
    first = len(in_jobs)
    out_jobs = [Job(first + i, best["params"], dataset=d, phase="oos", window=w.index, start=w.split, stop=w.stop,
                    warmup=_warmup(setup, best["params"]), keep_returns=True)
                for i, ((d, w), best) in enumerate(zip(plan, chosen, strict=True)) if best is not None]
    out_rows = {(r["dataset"], r["window"]): r for r in run_jobs(setup, out_jobs, executor, store=store,
                                                                  progress=progress)}
    lines = []
    for (d, w), best in zip(plan, chosen, strict=True):
        name = setup.datasets[d].name
        oos = out_rows.get((name, w.index), {})
        lines.append({"dataset": name, "window": w.index, "is_start": w.start, "oos_start": w.split,
                      "oos_stop": w.stop, "params": None if best is None else best["params"],
                      **_side("is", best or {}), **_side("oos", oos), "oos_error": oos.get("error")})
    equity = _chained(setup, out_rows)
    summary = {name: _summary(curve, setup, [r for r in out_rows.values() if r["dataset"] == name])
               for name, curve in equity.items()}
    return WalkForwardResult(in_rows + list(out_rows.values()), _window_table(lines), equity, summary)


def _best(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the row of highest objective (the first listed on a tie), None if none has one."""
    scored = [r for r in rows if not r["error"] and not math.isnan(r["objective"])]
    return max(scored, key=lambda r: r["objective"]) if scored else None  # max keeps the first of equals


def _warmup(setup: SweepSetup, params: Params) -> int:
    """Return the bars the chosen strategy needs before its first decision (0 if it cannot say)."""
    try:
        return int(setup.strategy(**{**setup.base_params, **params}).warmup_bars())
    except Exception:  # the out-of-sample job reports the strategy's error itself
        return 0


def _side(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{key}": row.get(key) for key in ("objective", "total_return", "sharpe", "max_drawdown",
                                                         "n_trades")}


def _window_table(lines: list[dict[str, Any]]) -> pd.DataFrame:
    names = list(dict.fromkeys(k for line in lines for k in (line["params"] or {})))
    records = [{k: line[k] for k in ("dataset", "window", "is_start", "oos_start", "oos_stop")}
               | {n: (line["params"] or {}).get(n) for n in names}
               | {k: v for k, v in line.items() if k[:3] in ("is_", "oos") and k not in ("is_start", "oos_start",
                                                                                        "oos_stop")}
               for line in lines]
    table = pd.DataFrame.from_records(records)
    for column in [c for c in table.columns if c[:3] in ("is_", "oos") and c.split("_", 1)[1] not in
                   ("start", "stop", "error")]:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    return table


def _chained(setup: SweepSetup, out_rows: dict[tuple[str, int], dict[str, Any]]) -> dict[str, pd.Series]:
    """Return each data set's out-of-sample equity: the windows' returns compounded from the starting cash."""
    cash = float(setup.config.cash) if setup.config is not None else 10_000.0
    curves = {}
    for dataset in setup.datasets:
        runs = sorted((r for (name, _), r in out_rows.items() if name == dataset.name and not r["error"]),
                      key=lambda r: r["window"])
        returns = [x for r in runs for x in r["returns"]]
        times = pd.DatetimeIndex(np.asarray([t for r in runs for t in r["times"]], dtype="int64"), tz="UTC")
        equity = cash * np.cumprod(1.0 + np.asarray(returns, dtype="float64"))
        curves[dataset.name] = pd.Series(equity, index=times, name="equity")
    return curves


def _summary(curve: pd.Series, setup: SweepSetup, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the chained curve's statistics (``compute_stats``; trades summed over the windows)."""
    if len(curve) < 2:
        return {"n_bars": len(curve)}
    cash = float(setup.config.cash) if setup.config is not None else 10_000.0
    interval = int(np.median(np.diff(pd.DatetimeIndex(curve.index).asi8)))
    stats = compute_stats(curve, pd.DataFrame(columns=TRADE_COLUMNS), initial_equity=cash, interval_ns=interval)
    out = {key: stats[key] for key in CHAINED_STATS}
    out["objective"] = setup.objective.score(stats)
    out.update(n_bars=len(curve), n_trades=sum(int(r["n_trades"] or 0) for r in runs))
    return out
