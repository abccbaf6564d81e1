"""Walk-forward: whole windows rolling by the out-of-sample length, choices made on in-sample bars only (the
out-of-sample bars perturbed, each window's in-sample rows and choice are unchanged), out-of-sample runs chained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError
from engine.optimize import DataSet, InProcessExecutor, ParamSpace, SweepSetup
from engine.optimize.walk_forward import WalkForwardResult, parse_walk_forward, walk_forward, windows
from strategies.sma_cross import SmaCross

IS, OOS = 300, 150
POINTS = ParamSpace.parse(["fast=3,6", "slow=20,40"]).grid()


def _run(frame: pd.DataFrame) -> WalkForwardResult:
    setup = SweepSetup(SmaCross, (DataSet("d", frame, "BTC/USD"),), SimSettings())
    return walk_forward(setup, POINTS, InProcessExecutor(), in_sample=IS, out_of_sample=OOS)


def _perturbed_from(frame: pd.DataFrame, start: int) -> pd.DataFrame:
    """Scale each bar from ``start`` on by its own random factor (OHLC together, so each bar stays valid)."""
    factors = np.ones(len(frame))
    factors[start:] = np.exp(np.random.default_rng(9).normal(0, 0.02, len(frame) - start))
    out = frame.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = frame[column] * factors
    return out


def test_windows_roll_by_the_out_of_sample_length() -> None:
    assert [(w.start, w.split, w.stop) for w in windows(900, IS, OOS)] == [
        (0, 300, 450), (150, 450, 600), (300, 600, 750), (450, 750, 900)]
    assert parse_walk_forward("300:150") == (300, 150)
    for bad in ("300", "a:b", "300:1"):
        with pytest.raises(ConfigError):
            parse_walk_forward(bad)
    with pytest.raises(ConfigError):
        windows(400, IS, OOS)


def test_out_of_sample_bars_never_reach_a_choice() -> None:
    frame = synthetic_bars(900, interval="1h", seed=5)
    base = _run(frame)
    assert len(base.windows) == 4 and base.windows["oos_error"].isna().all()
    for position, window in enumerate(windows(len(frame), IS, OOS)):
        changed = _run(_perturbed_from(frame, window.split))
        was, now = (r.windows.iloc[position] for r in (base, changed))
        assert (now["fast"], now["slow"]) == (was["fast"], was["slow"])
        in_sample = [[r["objective"] for r in res.rows if r["phase"] == "is" and r["window"] == window.index]
                     for res in (base, changed)]
        assert in_sample[0] == in_sample[1]
        assert now["oos_total_return"] != pytest.approx(was["oos_total_return"], abs=1e-12)  # the bars did change


def test_out_of_sample_runs_chain_into_one_curve() -> None:
    result = _run(synthetic_bars(900, interval="1h", seed=6))
    curve = result.equity["d"]
    assert len(curve) == 4 * OOS and curve.index.is_monotonic_increasing
    chained = float(np.prod(1 + result.windows["oos_total_return"]) - 1)
    assert curve.iloc[-1] / 10_000 - 1 == pytest.approx(chained, rel=1e-9)
    assert result.summary["d"]["total_return"] == pytest.approx(chained, rel=1e-9)
    assert set(result.windows.columns) >= {"is_objective", "oos_objective", "is_sharpe", "oos_sharpe", "fast"}
