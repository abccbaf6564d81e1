"""Sweeps: the same table whatever the executor, a failing job reported while the rest complete, rows saved as
they finish, and a sweep killed midway resumed without running a job twice."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.cli import main
from engine.datagen.synthetic import synthetic_bars
from engine.optimize import (
    DataSet,
    InProcessExecutor,
    Objective,
    ParamSpace,
    ProcessExecutor,
    ResultsFile,
    SweepSetup,
    results_table,
    run_jobs,
    sweep_jobs,
    sweep_pbo,
)
from strategies.sma_cross import SmaCross
from tests.unit.optimize.counting import Counting

ROOT = Path(__file__).resolve().parents[3]


def _datasets() -> tuple[DataSet, ...]:
    return (DataSet("one", synthetic_bars(600, interval="1h", seed=1), "BTC/USD"),
            DataSet("two", synthetic_bars(600, interval="1h", seed=2), "ETH/USD"))


def test_process_pool_and_in_process_give_identical_tables() -> None:
    setup = SweepSetup(SmaCross, _datasets(), SimSettings(), objective=Objective.parse("sortino"))
    jobs = sweep_jobs(ParamSpace.parse(["fast=3:12:3", "slow=15,30"]).sample(6, seed=3), n_datasets=2)
    here = results_table(run_jobs(setup, jobs, InProcessExecutor()))
    pool = results_table(run_jobs(setup, jobs, ProcessExecutor(2)))
    pd.testing.assert_frame_equal(here, pool)
    assert list(here["job"]) == list(range(12))
    assert list(here["dataset"]) == ["one"] * 6 + ["two"] * 6
    assert here["error"].isna().all() and here["n_trades"].gt(0).all()
    assert (here["objective"] == here["sortino"]).all()


def test_a_failing_job_is_reported_with_its_parameters_and_the_rest_complete(tmp_path: Path) -> None:
    setup = SweepSetup(Counting, _datasets()[:1], SimSettings(), base_params={"fail": 3})
    jobs = sweep_jobs(ParamSpace.parse(["a=1:5:1"]).grid())
    rows = run_jobs(setup, jobs, ProcessExecutor(2), store=ResultsFile(tmp_path, {"test": 1}))
    failed = [r for r in rows if r["error"]]
    assert [(r["params"], r["error"]) for r in failed] == [({"a": 3}, "ValueError: a=3 is the failing point")]
    assert all(not math.isnan(r["objective"]) for r in rows if not r["error"])
    assert len(rows) == 5
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["job"] for r in saved) == list(range(5))


def test_pbo_of_a_sweep_is_a_probability_per_data_set() -> None:
    setup = SweepSetup(SmaCross, _datasets(), SimSettings())
    rows = run_jobs(setup, sweep_jobs(ParamSpace.parse(["fast=2:8:3", "slow=20"]).grid(), 2), InProcessExecutor())
    pbo = sweep_pbo(rows)
    assert set(pbo) == {"one", "two"}
    assert all(v is not None and 0 <= v["pbo"] <= 1 and v["n_configs"] == 3 for v in pbo.values())


def test_a_resumed_sweep_does_not_repeat_a_job_or_mix_in_another_sweep(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars.csv"
    synthetic_bars(300, interval="1h", seed=4).to_csv(data)
    runs, gate, out = tmp_path / "runs.jsonl", tmp_path / "gate", tmp_path / "sweep"
    gate.touch()
    command = [sys.executable, "-m", "engine.cli", "sweep", "--strategy", "tests.unit.optimize.counting:Counting",
               "--grid", "a=1:8:1", "--param", f"log={runs}", "--param", f"gate={gate}", "--param", "hold=6",
               "--data", str(data), "--symbol", "BTC/USD", "--executor", "inprocess", "--out", str(out), "-q"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _lines(out / "results.jsonl") >= 5, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    assert _lines(out / "results.jsonl") == 5  # jobs 0-4 saved, job 5 (a=6) held when killed
    gate.unlink()
    assert main(command[3:]) == 0  # the same command, resumed here in-process
    counts = Counter(json.loads(line)["a"] for line in runs.read_text().splitlines())
    assert counts == dict.fromkeys(range(1, 9), 1)
    assert _lines(out / "results.jsonl") == 8
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["a"]) == list(range(1, 9))
    capsys.readouterr()
    other = [*command[3:command.index("a=1:8:1")], "a=1:3:1", *command[command.index("a=1:8:1") + 1:]]
    assert main(other) == 2 and "another sweep" in capsys.readouterr().err


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail("the sweep did not save five rows in time")
        time.sleep(0.05)
