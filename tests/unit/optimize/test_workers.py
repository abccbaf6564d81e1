"""Each worker loads the data sets once, however many jobs it runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.datagen.synthetic import synthetic_bars
from engine.optimize import DataSet, InProcessExecutor, ParamSpace, ProcessExecutor, SweepSetup, run_jobs, sweep_jobs
from engine.optimize import jobs as jobs_module
from strategies.sma_cross import SmaCross


@pytest.mark.parametrize("executor", [InProcessExecutor(), ProcessExecutor(2)], ids=["inprocess", "process"])
def test_data_is_loaded_once_per_worker_not_once_per_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         executor: InProcessExecutor | ProcessExecutor) -> None:
    data = tmp_path / "bars.csv"
    synthetic_bars(300, interval="1h", seed=2).to_csv(data)
    loads = tmp_path / "loads"
    real = jobs_module.load_dataset

    def counted(dataset: DataSet) -> tuple[pd.DataFrame, str]:
        with loads.open("a") as f:  # a file: the pool's workers are forked with this function in place
            f.write("load\n")
        return real(dataset)

    monkeypatch.setattr(jobs_module, "load_dataset", counted)
    setup = SweepSetup(SmaCross, (DataSet("bars", str(data), "BTC/USD"),), SimSettings())
    rows = run_jobs(setup, sweep_jobs(ParamSpace.parse(["fast=2:9:1", "slow=20"]).grid()), executor)
    assert len(rows) == 8 and not any(r["error"] for r in rows)
    assert 1 <= len(loads.read_text().splitlines()) <= (2 if isinstance(executor, ProcessExecutor) else 1)


def test_the_progress_line_shows_jobs_done_rate_and_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    setup = SweepSetup(SmaCross, (DataSet("d", synthetic_bars(200, interval="1h", seed=1), "BTC/USD"),),
                       SimSettings())
    run_jobs(setup, sweep_jobs(ParamSpace.parse(["fast=2,3,4", "slow=20"]).grid()), InProcessExecutor(),
             progress=True)
    err = capsys.readouterr().err
    assert "sweep:" in err and "0/3 [00:00<?" in err and "job/s]" in err  # done/total [elapsed<left, rate]
