"""The Ray executor: the process pool's table on a local Ray, a failing job reported while the rest complete, rows
saved as they finish, and one line saying how to install Ray when it is missing.

One small local Ray (2 CPUs, no dashboard, workers' logs not forwarded, a short temporary directory) serves the
module and is shut down after it.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import ray  # requirements.lock pins the ray extra: CI installs it

from adapters.sim import SimSettings
from engine.cli import main
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError
from engine.optimize import (
    DataSet,
    Objective,
    ParamSpace,
    ProcessExecutor,
    ResultsFile,
    SweepSetup,
    make_executor,
    results_table,
    run_jobs,
    sweep_jobs,
)
from engine.optimize.ray_executor import INSTALL_HINT, RayExecutor
from strategies.sma_cross import SmaCross
from tests.unit.optimize.counting import Counting


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as temp:  # Ray's socket paths must stay short
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp,
                 object_store_memory=80 * 1024 * 1024, configure_logging=False)
        try:
            yield ray
        finally:
            ray.shutdown()


def _datasets(tmp_path: Path) -> tuple[DataSet, ...]:
    path = tmp_path / "two.parquet"
    synthetic_bars(600, interval="1h", seed=2).to_parquet(path)
    return (DataSet("one", synthetic_bars(600, interval="1h", seed=1), "BTC/USD"),
            DataSet("two", str(path), "ETH/USD"))  # a file: read once by the driver, then shared from the store


def test_ray_and_the_process_pool_give_identical_tables(local_ray: Any, tmp_path: Path) -> None:
    setup = SweepSetup(SmaCross, _datasets(tmp_path), SimSettings(), objective=Objective.parse("sortino"))
    jobs = sweep_jobs(ParamSpace.parse(["fast=3:12:3", "slow=15,30"]).sample(6, seed=3), n_datasets=2)
    pool = results_table(run_jobs(setup, jobs, ProcessExecutor(2)))
    executor = RayExecutor()
    on_ray = results_table(run_jobs(setup, jobs, executor))
    executor.close()
    assert local_ray.is_initialized()  # a Ray it did not start is left running
    pd.testing.assert_frame_equal(pool, on_ray)
    assert list(on_ray["job"]) == list(range(12)) and on_ray["error"].isna().all()
    assert on_ray["n_trades"].gt(0).all()


def test_a_failing_job_on_ray_is_reported_and_the_rest_complete_and_are_saved(local_ray: Any,
                                                                             tmp_path: Path) -> None:
    setup = SweepSetup(Counting, _datasets(tmp_path)[:1], SimSettings(), base_params={"fail": 3})
    jobs = sweep_jobs(ParamSpace.parse(["a=1:5:1"]).grid())
    rows = run_jobs(setup, jobs, RayExecutor(workers=2), store=ResultsFile(tmp_path, {"test": 1}))
    failed = [r for r in rows if r["error"]]
    assert [(r["params"], r["error"]) for r in failed] == [({"a": 3}, "ValueError: a=3 is the failing point")]
    assert all(not math.isnan(r["objective"]) for r in rows if not r["error"])
    assert [r["job"] for r in rows] == list(range(5))
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["job"] for r in saved) == list(range(5))
    again = run_jobs(setup, jobs, RayExecutor(workers=2), store=ResultsFile(tmp_path, {"test": 1}))
    pd.testing.assert_frame_equal(results_table(again), results_table(rows))  # resumed: the saved rows come back
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 5


def test_a_worker_that_dies_is_reported_and_replaced(local_ray: Any, tmp_path: Path) -> None:
    setup = SweepSetup(Counting, _datasets(tmp_path)[:1], SimSettings(), base_params={"die": 2})
    rows = run_jobs(setup, sweep_jobs(ParamSpace.parse(["a=1:6:1"]).grid()), RayExecutor(workers=1))
    assert [r["job"] for r in rows] == list(range(6))
    died = [r for r in rows if r["error"]]
    assert died and died[0]["params"] == {"a": 2} and "Actor" in died[0]["error"]
    assert all(r["params"]["a"] <= 3 for r in died)  # at most the job queued behind it on the same worker
    assert all(not r["error"] for r in rows if r["params"]["a"] > 3)  # the fresh worker ran the rest


def test_mlct_sweep_on_ray_matches_the_other_executors(local_ray: Any, tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    synthetic_bars(500, interval="1h", seed=5).to_csv(data)
    command = ["sweep", "--data", str(data), "--symbol", "BTC/USD", "--grid", "fast=3,6", "--grid", "slow=20,30",
               "-q", "--json"]
    assert main([*command, "--executor", "inprocess", "--out", str(tmp_path / "p")]) == 0  # = the pool (test_sweep)
    assert main([*command, "--executor", "ray", "--out", str(tmp_path / "r")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "r" / "results.parquet"))
    assert local_ray.is_initialized()


def test_without_ray_the_executor_exits_2_with_the_install_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ConfigError, match="pip install 'ml-crypto-trading\\[ray\\]'"):
        make_executor("ray")
    assert main(["sweep", "--grid", "fast=3,6", "--grid", "slow=20", "--executor", "ray", "-q",
                 "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {INSTALL_HINT}"


def test_a_ray_address_needs_the_ray_executor() -> None:
    with pytest.raises(ConfigError, match="--ray-address"):
        make_executor("process", address="auto")

