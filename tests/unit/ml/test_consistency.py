"""Training refuses a feature that knows the label, a feature whose batch form (what the evaluation scores)
differs from its streaming form (what a live session computes), naming the feature and the first bar, and live
probabilities that differ from the batch ones, naming the bar."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.errors import DataError
from engine.ml import features as feature_sets
from engine.ml.features import FeatureSet, feature_set
from engine.ml.labels import labels
from engine.ml.model_io import ModelBundle
from engine.ml.pipeline import train
from engine.ml.walkforward import FoldModel

from .conftest import SMALL_CONFIG, SMALL_LABEL, SYMBOL, SmallRun


class ReadsAhead(FeatureSet):
    """The ``core`` set, but its first feature's batch form takes the next bar's value (its stream form is honest):
    the planted leak of a research-only formula."""

    def batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = super().batch(frame)
        out[self.names[0]] = out[self.names[0]].shift(-1)
        return out


class KnowsTheLabel(FeatureSet):
    """The ``core`` set with its first feature replaced, in batch, by the label's forward return."""

    def batch(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = super().batch(frame)
        out[self.names[0]] = labels(frame, SMALL_LABEL)["ret"]
        return out


def planted(cls: type[FeatureSet], name: str) -> FeatureSet:
    core = feature_set("core")
    return cls(name, core.indicators, core.features)


def test_a_batch_formula_that_reads_the_next_bar_stops_training_naming_it(head: pd.DataFrame,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(feature_sets.FEATURE_SETS, "reads_ahead", lambda: planted(ReadsAhead, "reads_ahead"))
    first = feature_set("core").names[0]
    with pytest.raises(DataError, match=rf"feature '{first}' differs between research and live from bar "
                                        r"\d{4}-\d\d-\d\dT") as caught:
        train(head, SYMBOL, features="reads_ahead", label=SMALL_LABEL, config=SMALL_CONFIG, n_boot=10, n_random=10)
    bar = pd.Timestamp(str(caught.value).split("from bar ")[1].split(":")[0] + ":00:00+00:00")
    honest = feature_set("core").batch(head)[first]
    assert bar >= head.index[SMALL_CONFIG.min_train] and np.isfinite(honest.loc[bar])  # an out-of-sample bar


def test_the_label_passed_as_a_feature_stops_training_before_it_starts(
        head: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setitem(feature_sets.FEATURE_SETS, "knows_label", lambda: planted(KnowsTheLabel, "knows_label"))
    first = feature_set("core").names[0]
    with pytest.raises(DataError, match=rf"feature '{first}' has a rank correlation of \+1.00 with the label"):
        train(head, SYMBOL, features="knows_label", label=SMALL_LABEL, config=SMALL_CONFIG)
    data = tmp_path / "head.csv"
    head.to_csv(data)
    assert main(["ml", "run", "--features", "knows_label", "--data", str(data), "--symbol", SYMBOL, "--quiet",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err  # the command's own label (another horizon): part of the outcome, still caught
    assert f"error: feature '{first}' has a rank correlation of +" in err and "it reads the outcome" in err


def test_live_probabilities_that_differ_from_the_batch_ones_stop_training_naming_the_bar(
        head: pd.DataFrame, small_run: SmallRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live path that asks the wrong model (always the first fold's) scores the first bar of the second fold
    differently: caught, that bar named."""
    rows = small_run.result.folds[1].test_rows
    assert rows is not None
    second = head.index[rows[0]]

    def first_model(self: ModelBundle, ts: int) -> FoldModel | None:
        return self.schedule[0]

    monkeypatch.setattr(ModelBundle, "model_at", first_model)
    with pytest.raises(DataError, match=r"the probabilities differ between research and live from bar "
                                        + re.escape(second.isoformat()) + ": p_down"):
        train(head, SYMBOL, features="core", label=SMALL_LABEL, config=SMALL_CONFIG, n_boot=10, n_random=10)
