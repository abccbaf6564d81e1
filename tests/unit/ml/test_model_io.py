"""Model files: a saved model loads back to identical predictions, with the metadata that makes it auditable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError, DataError
from engine.ml import features as features_module
from engine.ml.model_io import FORMAT, ModelBundle

from .conftest import SmallRun


def test_save_and_load_give_identical_predictions(small_run: SmallRun) -> None:
    loaded = ModelBundle.load(small_run.directory)
    bundle = small_run.bundle
    x = bundle.features.batch(small_run.frame)[bundle.features.names].to_numpy()[-800:]
    assert len(loaded.schedule) == len(bundle.schedule)
    for before, after in zip(bundle.schedule, loaded.schedule, strict=True):
        assert np.array_equal(before.predict(x), after.predict(x))
        assert (before.threshold, before.sell_threshold, before.valid_from, before.valid_to, before.rounds) == \
               (after.threshold, after.sell_threshold, after.valid_from, after.valid_to, after.rounds)
    assert loaded.evaluation is not None and bundle.evaluation is not None
    assert np.allclose(loaded.evaluation.select_dtypes("number"), bundle.evaluation.select_dtypes("number"),
                       equal_nan=True)
    assert loaded.predictions is not None and len(loaded.predictions) == len(small_run.result.predictions)


def test_metadata_names_features_label_window_threshold_data_versions_and_evaluation(small_run: SmallRun) -> None:
    meta = json.loads((small_run.directory / "metadata.json").read_text())
    assert meta["format"] == FORMAT
    assert meta["feature_set"]["name"] == "core"
    assert meta["feature_set_sha256"] == small_run.bundle.features.fingerprint()
    rsi = next(i for i in meta["feature_set"]["indicators"] if i["function"] == "RSI")
    assert rsi["params"] == {"timeperiod": 14}
    assert meta["label"]["horizon"] == 12 and meta["label"]["cost"] == 0.002
    assert meta["threshold"] == small_run.bundle.threshold
    assert meta["sell_threshold"] == small_run.bundle.sell_threshold
    assert all("sell_threshold" in entry for entry in meta["models"])
    assert meta["training_window"]["final_model"][0].startswith("2017-")
    assert len(meta["data"]["sha256"]) == 64 and meta["data"]["n_bars"] == 5000
    assert {"xgboost", "ta-lib", "numpy", "pandas", "python"} <= set(meta["versions"])
    assert {"as_traded", "fold_thresholds", "at_threshold"} <= set(meta["evaluation"])
    kinds = [m["kind"] for m in meta["models"]]
    assert kinds[-1] == "final" and kinds.count("fold") == len(small_run.result.folds)
    for entry in meta["models"]:
        assert (small_run.directory / entry["file"]).is_file()


def test_the_schedule_gives_each_bar_the_newest_model_valid_then(small_run: SmallRun) -> None:
    bundle = small_run.bundle
    first, second = bundle.folds[0], bundle.folds[1]
    assert bundle.model_at(first.valid_from - 1) is None  # before the first out-of-sample bar: no model
    assert bundle.model_at(first.valid_from) is first
    assert bundle.model_at(second.valid_from - 1) is first and bundle.model_at(second.valid_from) is second
    assert bundle.model_at(bundle.folds[-1].valid_to or 0) is bundle.final
    assert bundle.model_at(2**62) is bundle.final


def test_a_changed_feature_definition_refuses_the_model(small_run: SmallRun,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    original = features_module.core

    def changed() -> features_module.FeatureSet:
        base = original()
        edited = [features_module.Feature(f.name, f.indicator, f"({f.expr}) * 2", **f.inputs)
                  if f.name == "rsi_14" else f for f in base.features]
        return features_module.FeatureSet("core", base.indicators, edited)

    monkeypatch.setitem(features_module.FEATURE_SETS, "core", changed)
    with pytest.raises(ConfigError, match="has changed since this model was trained"):
        ModelBundle.load(small_run.directory)


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match=r"no metadata\.json"):
        ModelBundle.load(tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["absolute", "parent", "symlink"])
def test_metadata_cannot_point_outside_the_model_directory(small_run: SmallRun, tmp_path: Path, kind: str) -> None:
    model = shutil.copytree(small_run.directory, tmp_path / "model")
    outside = shutil.copy(model / "model.json", tmp_path / "outside.json")  # a valid booster: it would load
    named = {"absolute": str(outside), "parent": "../outside.json", "symlink": "folds/link.json"}[kind]
    (model / "folds" / "link.json").symlink_to(outside)
    meta = json.loads((model / "metadata.json").read_text())
    meta["models"][1]["file"] = named
    (model / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(DataError) as info:
        ModelBundle.load(model)
    assert str(info.value).startswith(f"{model / 'metadata.json'}: models[1].file {named!r} ")
    assert "outside" in str(info.value) or "not a relative path" in str(info.value)


def test_metadata_must_name_each_booster_file(small_run: SmallRun, tmp_path: Path) -> None:
    model = shutil.copytree(small_run.directory, tmp_path / "model")
    meta = json.loads((model / "metadata.json").read_text())
    meta["models"][0]["file"] = None
    (model / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"models\[0\]\.file must name a file inside .*, got None"):
        ModelBundle.load(model)


def test_a_model_saved_before_sells_had_their_own_threshold_sells_at_the_buy_one(small_run: SmallRun,
                                                                                 tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(small_run.directory, old)
    meta = json.loads((old / "metadata.json").read_text())
    meta.pop("sell_threshold")
    for entry in meta["models"]:
        entry.pop("sell_threshold")
        entry["threshold"] = 0.5
    (old / "metadata.json").write_text(json.dumps(meta))
    loaded = ModelBundle.load(old)
    assert all(model.sell_threshold == 0.5 for model in loaded.schedule)
