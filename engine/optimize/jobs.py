"""One job of a sweep: a strategy's parameters back-tested on a stretch of one data set, turned into a row.

A worker holds a ``WorkerContext``: the sweep's settings and its data sets, loaded once (``init_worker``), so a
job carries only its parameters and the bars it covers. Whatever a job raises becomes the row's ``error`` (with
its parameters beside it): one bad point does not end the sweep.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.optimize.objective import Objective
from engine.optimize.pbo import block_moments
from engine.optimize.space import Params
from engine.result.stats import curve_values, simple_returns

if TYPE_CHECKING:
    from engine.backtest import BacktestConfig, BacktestVenue
    from engine.strategy import Strategy

STAT_COLUMNS = ("total_return", "annual_return", "sharpe", "sortino", "calmar", "max_drawdown", "n_trades")
N_BLOCKS = 16  # the return moments kept per job for the PBO (engine.optimize.pbo)


@dataclass(frozen=True, slots=True)
class DataSet:
    """Bars to sweep on: a DataFrame, a file or a catalog query (None: the bundled sample), and their symbol."""

    name: str
    source: pd.DataFrame | str | None
    symbol: str | None = None
    data_dir: str | None = None


@dataclass(frozen=True, slots=True)
class SweepSetup:
    """What every job of a sweep shares; handed to each worker once."""

    strategy: type[Strategy]
    datasets: tuple[DataSet, ...]
    venue: BacktestVenue
    config: BacktestConfig | None = None
    objective: Objective = field(default_factory=lambda: Objective("sharpe"))
    base_params: Params = field(default_factory=dict)
    n_blocks: int = N_BLOCKS


@dataclass(frozen=True, slots=True)
class Job:
    """Parameters on bars ``[start, stop)`` of data set ``dataset``, after ``warmup`` bars of history.

    ``phase`` is ``all`` (a plain sweep), ``is`` or ``oos`` (a walk-forward window's in-sample or out-of-sample
    run); ``keep_returns`` asks for the per-bar returns and their times, to chain out-of-sample equity.
    """

    index: int
    params: Params
    dataset: int = 0
    phase: str = "all"
    window: int = -1
    start: int = 0
    stop: int | None = None
    warmup: int = 0
    keep_returns: bool = False

    @property
    def key(self) -> str:
        """Return the job's identity in a results file: what it runs, not where it is listed."""
        return json.dumps([self.dataset, self.phase, self.window, self.start, self.stop, self.warmup, self.params],
                          sort_keys=True, default=str)


@dataclass(slots=True)
class WorkerContext:
    """A worker's copy of the setup with its data sets loaded."""

    setup: SweepSetup
    frames: list[tuple[pd.DataFrame, str]]


_CONTEXT: WorkerContext | None = None


def load_dataset(dataset: DataSet) -> tuple[pd.DataFrame, str]:
    """Return the bars of ``dataset`` and their symbol (reading a file or the catalog here, in the worker)."""
    from engine.datagen.catalog import Catalog, looks_like_query, read_bars
    from engine.datagen.files import load_bars
    from engine.datagen.sample import load_sample
    from engine.errors import ConfigError

    source, symbol = dataset.source, dataset.symbol
    if isinstance(source, pd.DataFrame):
        if not symbol:
            raise ConfigError(f"data set {dataset.name!r}: a DataFrame needs a symbol")
        return source, symbol
    if source is None:
        frame, meta = load_sample()
        return frame, symbol or meta.symbol
    if looks_like_query(source):
        frame, query = read_bars(source, Catalog(dataset.data_dir) if dataset.data_dir is not None else None)
        return frame, symbol or query.symbol
    frame, meta = load_bars(source, symbol=symbol)
    return frame, symbol or meta.symbol


def init_worker(setup: SweepSetup) -> None:
    """Load the setup's data sets into this process, once, for every job it runs."""
    global _CONTEXT
    _CONTEXT = WorkerContext(setup, [load_dataset(d) for d in setup.datasets])


def run_job(job: Job) -> dict[str, Any]:
    """Run ``job`` in this worker's context and return its row; an exception is caught into ``error``."""
    if _CONTEXT is None:
        raise RuntimeError("run_job before init_worker: the executor must initialise each worker")
    row = error_row(_CONTEXT.setup, job, None)
    try:
        row.update(_backtest(_CONTEXT, job))
    except Exception as exc:  # a sweep reports a failing point and goes on
        row["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return row


def error_row(setup: SweepSetup, job: Job, error: str | None) -> dict[str, Any]:
    """Return ``job``'s row with no figures and ``error`` (None: a row for ``run_job`` to fill)."""
    return {"job": job.index, "key": job.key, "dataset": setup.datasets[job.dataset].name, "phase": job.phase,
            "window": job.window, "params": job.params, "objective": math.nan, **dict.fromkeys(STAT_COLUMNS),
            "error": error}


def _backtest(context: WorkerContext, job: Job) -> dict[str, Any]:
    from engine.backtest import run_backtest

    setup = context.setup
    frame, symbol = context.frames[job.dataset]
    stop = len(frame) if job.stop is None else job.stop
    bars = frame.iloc[max(job.start - job.warmup, 0):stop]
    strategy = setup.strategy(**{**setup.base_params, **job.params})
    result = run_backtest(strategy, bars, setup.config, venue=setup.venue, symbol=symbol,
                          warmup=min(job.warmup, job.start))
    stats = result.stats
    equity = result.equity["equity"]
    returns = simple_returns(curve_values(equity, stats["initial_equity"]))
    out: dict[str, Any] = {key: stats.get(key) for key in STAT_COLUMNS}
    out["objective"] = setup.objective.score(stats)
    out["blocks"] = block_moments(returns, setup.n_blocks).tolist()
    if job.keep_returns:
        out["returns"] = returns.tolist()
        out["times"] = pd.DatetimeIndex(equity.index).asi8.tolist()
    return out


def params_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Return the parameter names of ``rows`` in first-seen order."""
    return list(dict.fromkeys(name for row in rows for name in row["params"]))

