"""Features: one definition, equal in research (batch) and live (bar by bar on the bus), and blind to the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.ml.features import FEATURE_SETS, Feature, FeatureSet, feature_set, stream_features

from .conftest import SYMBOL


def altered_after(frame: pd.DataFrame, t: int, seed: int = 1) -> pd.DataFrame:
    """Return ``frame`` with the rows after position ``t`` shuffled among themselves (index kept)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    tail = out.iloc[t + 1:].to_numpy()
    out.iloc[t + 1:] = tail[rng.permutation(len(tail))]
    return out


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_batch_equals_streaming_bit_for_bit(name: str, hourly: pd.DataFrame) -> None:
    features = feature_set(name)
    frame = hourly.iloc[:2500] if name != "core" else hourly.iloc[:1500]
    batch = features.batch(frame)
    stream = stream_features(features, frame, SYMBOL)
    assert batch["ready"].tolist() == stream["ready"].tolist()
    assert batch["ready"].sum() > 0
    first = int(np.argmax(batch["ready"].to_numpy()))
    assert first == features.warmup  # ready once every bounded warm-up is over, the same rule both ways
    for column in features.names:
        assert np.array_equal(batch[column].to_numpy(), stream[column].to_numpy(), equal_nan=True), column


def test_composite_batch_equals_streaming_on_the_whole_history(hourly: pd.DataFrame) -> None:
    features = feature_set("composite")
    batch, stream = features.batch(hourly), stream_features(features, hourly, SYMBOL)
    values = features.names
    assert np.array_equal(batch[values].to_numpy(), stream[values].to_numpy(), equal_nan=True)
    assert batch["ready"].equals(stream["ready"])


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_changing_the_data_after_t_leaves_every_feature_up_to_t_unchanged(name: str, hourly: pd.DataFrame) -> None:
    features = feature_set(name)
    frame = hourly.iloc[:2000]
    t = 1600
    before, after = features.batch(frame), features.batch(altered_after(frame, t))
    assert before.iloc[:t + 1].equals(after.iloc[:t + 1])
    assert not before.iloc[t + 1:].equals(after.iloc[t + 1:])  # the alteration did change something


def test_every_feature_names_its_indicator_and_the_composite_covers_the_families() -> None:
    composite = feature_set("composite")
    assert len(composite.groups) == len(composite.names)
    functions = {i.function for i in composite.indicators}
    assert {"OBV", "ADXR", "RSI", "NATR", "SMA", "BETA", "LINEARREG_SLOPE", "STDDEV", "STOCH", "BBANDS",
            "HT_TRENDMODE", "HT_DCPERIOD", "HT_SINE", "HT_DCPHASE"} <= functions
    assert {"returns", "volatility", "RSI", "SMA", "BBANDS"} <= set(composite.groups)
    assert [f.name for f in composite.features if f.indicator == "RSI"] == ["rsi_7", "rsi_14", "rsi_28"]
    env = feature_set("composite_env")
    assert env.names[:len(composite.names)] == composite.names and "env" in env.groups


def test_the_spec_describes_the_definition_and_its_fingerprint_is_stable() -> None:
    spec = feature_set("core").spec()
    assert spec["name"] == "core"
    sma = next(f for f in spec["features"] if f["name"] == "sma_ratio_20")
    assert sma == {"name": "sma_ratio_20", "indicator": "SMA", "expr": "close / sma - 1",
                   "inputs": {"close": "close", "sma": "SMA_20"}}
    assert {"key": "SMA_20", "function": "SMA", "params": {"timeperiod": 20}, "sources": ["close"]} in \
        spec["indicators"]
    assert feature_set("core").fingerprint() == feature_set("core").fingerprint()
    assert feature_set("core").fingerprint() != feature_set("composite").fingerprint()


@pytest.mark.parametrize("expr", ["close.shift(-1)", "close[1]", "__import__('os')", "max(close, 1)",
                                  "other + 1", "close if close else 0"])
def test_a_formula_may_only_do_arithmetic_on_its_inputs(expr: str) -> None:
    with pytest.raises(ConfigError):
        Feature("bad", "x", expr, close="close").compile()


def test_a_feature_must_read_values_the_set_computes() -> None:
    from engine.analyze.indicators import Indicator

    with pytest.raises(ConfigError, match="RSI_14"):
        FeatureSet("bad", [Indicator("SMA", timeperiod=5)], [Feature("r", "RSI", "r", r="RSI_14")])
    with pytest.raises(ConfigError, match="unknown feature set"):
        feature_set("nope")
