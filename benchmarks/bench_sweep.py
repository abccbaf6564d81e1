"""Sweep throughput: jobs per second of SMA-cross back-tests on 100,000 synthetic hourly bars, on the process
pool with 1 worker and with 2, side by side, and the speed-up.

Both runs are the same sweep (``--jobs`` grid points of fast/slow, 0.1% fee); their tables must be identical. The
clock runs from the executor's start to its last row, so it includes starting the workers and their loading of
the data (once each, from a Parquet file: what ``mlct sweep --data`` does), not the parent's table building.
Beside the wall clock, the CPU seconds the workers used (``RUSAGE_CHILDREN``, read once the pool is shut down): on
a machine shared with other work the speed-up is bounded by the cores it leaves free, while equal CPU seconds a
job on both sides say the pool itself costs nothing.

    python benchmarks/bench_sweep.py [--bars 100000] [--jobs 40]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from adapters.sim import SimSettings
from engine.datagen.synthetic import synthetic_bars
from engine.optimize import (
    DataSet,
    ParamSpace,
    ProcessExecutor,
    SweepSetup,
    results_table,
    run_jobs,
    sweep_jobs,
)
from strategies.sma_cross import SmaCross


def timed_sweep(setup: SweepSetup, n_jobs: int, workers: int) -> tuple[float, float, pd.DataFrame]:
    """Return the seconds the pool of ``workers`` takes for the first ``n_jobs`` grid points, the workers' CPU
    seconds, and the table."""
    points = ParamSpace.parse(["fast=5:50:5", "slow=60:250:10"]).grid()[:n_jobs]  # 200 points
    jobs = sweep_jobs(points)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    rows = run_jobs(setup, jobs, ProcessExecutor(workers))
    return time.perf_counter() - started, _children_cpu() - cpu_before, results_table(rows)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=40)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.parquet"
        synthetic_bars(args.bars, interval="1h", seed=1).to_parquet(data)
        setup = SweepSetup(SmaCross, (DataSet("bars", str(data), "BTC/USD"),), SimSettings(fee_bps=10))
        one, cpu_one, table_one = timed_sweep(setup, args.jobs, 1)
        two, cpu_two, table_two = timed_sweep(setup, args.jobs, 2)
    pd.testing.assert_frame_equal(table_one, table_two)
    assert table_one["error"].isna().all(), table_one["error"].dropna().iloc[0]
    print(f"{args.jobs} SMA-cross back-tests of {args.bars:,} bars, {os.cpu_count()} cores, identical tables")
    print(f"load average at the start: {load:.1f}, at the end: {os.getloadavg()[0]:.1f}")
    print(f"{'workers':>8} {'seconds':>9} {'jobs/s':>8} {'CPU s/job':>10}")
    for workers, seconds, cpu in ((1, one, cpu_one), (2, two, cpu_two)):
        print(f"{workers:>8} {seconds:>9.2f} {args.jobs / seconds:>8.2f} {cpu / args.jobs:>10.2f}")
    print(f"speed-up with 2 workers: {one / two:.2f}x")


if __name__ == "__main__":
    main()
