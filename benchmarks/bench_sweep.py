"""Sweep throughput: jobs per second of SMA-cross back-tests on 100,000 synthetic hourly bars, on the process
pool and on a local Ray, each with 1 worker and with 2, side by side in one run, and the speed-ups.

All four runs are the same sweep (``--jobs`` grid points of fast/slow, 0.1% fee); their tables must be identical.
The clock runs from the executor's start to its last row: for the pool that includes starting the workers and
their reading of the data (once each, from a Parquet file: what ``mlct sweep --data`` does); for Ray, reading the
data once, putting it in the object store and starting the worker actors, but not ``ray.init`` itself (done once
before, with 2 CPUs). Beside the wall clock, the pool's CPU seconds a job (``RUSAGE_CHILDREN``, read once the pool
is shut down; Ray's workers are the raylet's children, not ours, so they have none): on a machine shared with other
work the speed-up is bounded by the cores it leaves free, while equal CPU seconds a job on both sides say the pool
itself costs nothing.

    python benchmarks/bench_sweep.py [--bars 100000] [--jobs 200]
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
    Executor,
    ParamSpace,
    ProcessExecutor,
    SweepSetup,
    results_table,
    run_jobs,
    sweep_jobs,
)
from engine.optimize.ray_executor import RayExecutor
from strategies.sma_cross import SmaCross


def timed_sweep(setup: SweepSetup, n_jobs: int, executor: Executor) -> tuple[float, float, pd.DataFrame]:
    """Return the seconds ``executor`` takes for the first ``n_jobs`` grid points, its children's CPU seconds,
    and the table."""
    points = ParamSpace.parse(["fast=5:50:5", "slow=60:250:10"]).grid()[:n_jobs]  # 200 points
    jobs = sweep_jobs(points)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    rows = run_jobs(setup, jobs, executor)
    return time.perf_counter() - started, _children_cpu() - cpu_before, results_table(rows)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()
    results: dict[tuple[str, int], tuple[float, float, pd.DataFrame]] = {}
    with tempfile.TemporaryDirectory(prefix="bench", dir="/tmp") as tmp:
        data = Path(tmp) / "bars.parquet"
        synthetic_bars(args.bars, interval="1h", seed=1).to_parquet(data)
        setup = SweepSetup(SmaCross, (DataSet("bars", str(data), "BTC/USD"),), SimSettings(fee_bps=10))
        for workers in (1, 2):
            results["process", workers] = timed_sweep(setup, args.jobs, ProcessExecutor(workers))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(Path(tmp) / "ray"),
                 configure_logging=False)
        try:
            for workers in (1, 2):
                results["ray", workers] = timed_sweep(setup, args.jobs, RayExecutor(workers=workers))
        finally:
            ray.shutdown()
    first = results["process", 1][2]
    for _, _, table in results.values():
        pd.testing.assert_frame_equal(first, table)
    assert first["error"].isna().all(), first["error"].dropna().iloc[0]
    print(f"{args.jobs} SMA-cross back-tests of {args.bars:,} bars, {os.cpu_count()} cores, ray {ray.__version__}, "
          "identical tables")
    print(f"load average (1, 5, 15 min) at the start: {_load(load)}, at the end: {_load(os.getloadavg())}")
    print(f"{'executor':>8} {'workers':>8} {'seconds':>9} {'jobs/s':>8} {'CPU s/job':>10}")
    for (name, workers), (seconds, cpu, _) in results.items():
        cpu_text = f"{cpu / args.jobs:>10.2f}" if name == "process" else f"{'-':>10}"
        print(f"{name:>8} {workers:>8} {seconds:>9.2f} {args.jobs / seconds:>8.2f} {cpu_text}")
    for name in ("process", "ray"):
        print(f"speed-up with 2 workers, {name}: {results[name, 1][0] / results[name, 2][0]:.2f}x")


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
