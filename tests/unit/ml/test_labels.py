"""Labels: the next open to the open h bars later, classes beyond an explicit cost, known only h+1 bars later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.ml.labels import DOWN, FLAT, UP, LabelSpec, classes, forward_returns, known_at, labels


def bars(opens: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(opens), freq="h", tz="UTC", name="ts")
    o = np.asarray(opens, dtype=float)
    return pd.DataFrame({"open": o, "high": o * 1.01, "low": o * 0.99, "close": o, "volume": 1.0}, index=index)


def test_forward_return_runs_from_the_next_open_to_the_open_h_bars_later() -> None:
    opens = [100.0, 101.0, 103.0, 99.0, 104.0, 110.0]
    r = forward_returns(np.array(opens), 2)
    assert r[0] == opens[3] / opens[1] - 1  # enter at bar 1's open, exit at bar 3's open
    assert r[2] == opens[5] / opens[3] - 1
    assert np.isnan(r[3:]).all()  # the last h+1 rows are not known yet
    assert known_at(0, 2) == 3


def test_classes_use_the_cost_explicitly() -> None:
    returns = np.array([0.003, 0.002, 0.0019, -0.002, -0.0021, np.nan])
    assert classes(returns, 0.002).tolist()[:5] == [UP, FLAT, FLAT, FLAT, DOWN]
    assert np.isnan(classes(returns, 0.002)[5])


def test_labels_frame_and_spec() -> None:
    frame = bars([100, 100, 100.5, 99, 99.2, 101])
    out = labels(frame, LabelSpec(horizon=1, cost=0.004))
    assert out["ret"].iloc[0] == pytest.approx(0.005)
    assert out["label"].tolist()[:4] == [UP, DOWN, FLAT, UP]
    assert LabelSpec(horizon=3, cost=0.001).to_dict()["exit"] == "open of bar t+1+3"
    with pytest.raises(ConfigError):
        LabelSpec(horizon=0)
    with pytest.raises(ConfigError):
        LabelSpec(cost=-0.1)


def test_a_label_at_t_does_not_depend_on_anything_up_to_t() -> None:
    rng = np.random.default_rng(3)
    frame = bars(list(100 + rng.normal(size=50).cumsum()))
    changed = frame.copy()
    changed.iloc[:21, changed.columns.get_loc("open")] *= 1.5  # bars 0..20: everything known at t = 20
    changed.iloc[:21, changed.columns.get_loc("close")] *= 0.5
    spec = LabelSpec(horizon=5)
    assert labels(frame, spec).iloc[20:].equals(labels(changed, spec).iloc[20:])
