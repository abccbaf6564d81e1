"""Save and load trained models: xgboost JSON boosters plus one metadata JSON that says what they are.

A model directory (``mlct ml train --out DIR``)::

    DIR/model.json            the final booster: trained on every bar labelled by the end of the data
    DIR/folds/fold_000.json   the walk-forward boosters, each valid for its test block only
    DIR/metadata.json         the feature set (indicators with parameters, formulas) and its sha256, the label
                              definition, the walk-forward settings, each booster's training window, validity
                              and buy and sell thresholds (a model saved before sells had their own has
                              ``sell_threshold`` missing: it is loaded equal to the buy one, as it traded), the
                              data fingerprint (sha256 of the bars), library versions and
                              the evaluation summary
    DIR/evaluation.csv        the out-of-sample table by side and threshold (``engine.ml.evaluate``)
    DIR/predictions.csv       every out-of-sample prediction: bar open time, probabilities, return, label, fold

Loading rebuilds the feature set from the code's registry and refuses the model if the definition changed
since training (a different formula would feed the booster columns it never saw), naming what differs.
Nothing in a model directory is executed: the boosters are xgboost JSON, the rest JSON and CSV, and the
booster files the metadata names must lie inside the directory (``DataError`` otherwise).
A model knows the symbol and bar length it was trained on (``symbol``, ``interval_ns`` of the metadata):
``ModelBundle.check_fits`` refuses another asset's or bar length's data, since an hourly model's indicators and
horizon mean something else on daily bars, and one asset's model is no evidence about another's.
``ModelBundle.model_at(ts)`` is the schedule the handler follows: the newest booster valid at ``ts``, so a
back-test over the training data replays the walk-forward, and bars after it get the final model.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb

from engine.errors import ConfigError, DataError
from engine.ml.features import FeatureSet, feature_set
from engine.ml.labels import LabelSpec
from engine.ml.walkforward import FoldModel

FORMAT = "mlct-model/1"


@dataclass
class ModelBundle:
    """The boosters of a walk-forward (and its final model) with everything needed to use them honestly."""

    features: FeatureSet
    label: LabelSpec
    folds: list[FoldModel]
    final: FoldModel | None
    metadata: dict[str, Any] = field(default_factory=dict)
    evaluation: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    _starts: list[int] = field(default_factory=list, repr=False)
    _models: list[FoldModel] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._models = sorted([*self.folds, *([self.final] if self.final is not None else [])],
                              key=lambda m: m.valid_from)
        self._starts = [m.valid_from for m in self._models]

    @property
    def schedule(self) -> list[FoldModel]:
        """Every booster in order of validity: the folds, then the final model."""
        return list(self._models)

    @property
    def threshold(self) -> float | None:
        """The live threshold: the final model's (chosen on its training data), else the last fold's."""
        latest = self.final if self.final is not None else (self.folds[-1] if self.folds else None)
        return None if latest is None else latest.threshold

    @property
    def sell_threshold(self) -> float | None:
        """The live sell threshold, from the same model as ``threshold``."""
        latest = self.final if self.final is not None else (self.folds[-1] if self.folds else None)
        return None if latest is None else latest.sell_threshold

    @property
    def latest(self) -> FoldModel:
        model = self.final if self.final is not None else (self.folds[-1] if self.folds else None)
        if model is None:
            raise ConfigError("the model bundle holds no booster")
        return model

    def model_at(self, ts: int) -> FoldModel | None:
        """Return the newest model valid at bar-close time ``ts`` (None before the first, or after a fold's end
        when no later model exists)."""
        at = bisect.bisect_right(self._starts, ts) - 1
        if at < 0:
            return None
        model = self._models[at]
        if model.valid_to is not None and ts >= model.valid_to and model is self._models[-1]:
            return None
        return model

    def trained_on(self) -> tuple[str | None, int | None]:
        """Return the symbol and bar length (ns) of the training data; ``None`` for what the metadata lacks."""
        symbol, interval = self.metadata.get("symbol"), self.metadata.get("interval_ns")
        return (str(symbol) if symbol else None), (int(interval) if interval else None)

    def check_fits(self, symbol: str, interval_ns: int) -> None:
        """Refuse data of another asset or bar length than the training data's (``ConfigError``, one line naming
        both): the model's features and horizon are counted in its own bars, on its own market. The quote may
        differ (a BTC/USD model on an exchange's BTC/USDT): the features are returns and ratios, not prices."""
        from engine.datagen.fingerprint import interval_text

        trained_symbol, trained_interval = self.trained_on()
        if trained_symbol is None and trained_interval is None:
            return  # a model saved before models recorded their data: nothing to compare
        symbol_differs = trained_symbol is not None and _base(trained_symbol) != _base(symbol)
        interval_differs = trained_interval is not None and trained_interval != interval_ns
        if symbol_differs or interval_differs:
            model = f"{trained_symbol or symbol} {interval_text(trained_interval or interval_ns)}"
            data = f"{symbol} {interval_text(interval_ns)}"
            fix = (f"give {model} bars" + (" (--symbol if the file names it otherwise)" if symbol_differs else "")
                   + f", or train a model on the {data} bars")
            raise ConfigError(f"this model was trained on {model} bars, the data is {data} bars: {fix}")

    def entries(self) -> list[dict[str, Any]]:
        """Return the metadata of each booster (file, validity, threshold, training window, settings)."""
        entries = [_entry(fold, f"folds/fold_{number:03d}.json", "fold") for number, fold in enumerate(self.folds)]
        if self.final is not None:
            entries.append(_entry(self.final, "model.json", "final"))
        return entries

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model directory (see the module docstring); return its path."""
        out = Path(directory)
        (out / "folds").mkdir(parents=True, exist_ok=True)
        for old in (out / "folds").glob("fold_*.json"):
            old.unlink()
        entries = self.entries()
        for entry, model in zip(entries, [*self.folds, *([self.final] if self.final is not None else [])],
                                strict=True):
            model.booster.save_model(str(out / entry["file"]))
        meta = {**self.metadata, "format": FORMAT, "feature_set": self.features.spec(),
                "feature_set_sha256": self.features.fingerprint(), "features": self.features.names,
                "groups": self.features.groups, "label": self.label.to_dict(), "threshold": self.threshold,
                "sell_threshold": self.sell_threshold, "models": entries}
        (out / "metadata.json").write_text(json.dumps(_plain(meta), indent=2) + "\n")
        if self.evaluation is not None:
            self.evaluation.to_csv(out / "evaluation.csv", index=False)
        if self.predictions is not None:
            self.predictions.to_csv(out / "predictions.csv", index_label="ts")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ModelBundle:
        """Read a model directory written by ``save``; ``ConfigError`` names what is missing or changed."""
        root = Path(directory)
        path = root / "metadata.json"
        if not path.is_file():
            raise ConfigError(f"{root}: no metadata.json here (give the --out directory of mlct ml train)")
        try:
            meta = json.loads(path.read_text())
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON: {exc}") from None
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        saved = meta["feature_set"]
        features = feature_set(saved["name"])
        if features.spec() != saved:
            raise ConfigError(f"{root}: feature set {saved['name']!r} has changed since this model was trained "
                              f"(sha256 {meta.get('feature_set_sha256', '?')[:12]} then, "
                              f"{features.fingerprint()[:12]} now): retrain it")
        label = LabelSpec(horizon=int(meta["label"]["horizon"]), cost=float(meta["label"]["cost"]))
        folds, final = [], None
        for number, entry in enumerate(meta["models"]):
            model = _model(root, entry, _inside(root, path, f"models[{number}].file", entry.get("file")))
            if entry["kind"] == "final":
                final = model
            else:
                folds.append(model)
        evaluation = pd.read_csv(root / "evaluation.csv") if (root / "evaluation.csv").is_file() else None
        predictions = None
        if (root / "predictions.csv").is_file():
            predictions = pd.read_csv(root / "predictions.csv", index_col="ts")
            predictions.index = pd.DatetimeIndex(pd.to_datetime(predictions.index, utc=True), name="ts")
        keep = {k: v for k, v in meta.items() if k not in ("format", "feature_set", "features", "groups", "label",
                                                           "models", "threshold", "sell_threshold",
                                                           "feature_set_sha256")}
        return cls(features=features, label=label, folds=folds, final=final, metadata=keep, evaluation=evaluation,
                   predictions=predictions)


def _base(symbol: str) -> str:
    """Return the base asset of a symbol (``BTC`` of ``BTC/USDT:USDT``)."""
    return symbol.split("/")[0].strip().upper()


def _entry(model: FoldModel, name: str, kind: str) -> dict[str, Any]:
    return {"kind": kind, "file": name, "valid_from": model.valid_from,
            "valid_from_iso": pd.Timestamp(model.valid_from, tz="UTC").isoformat(), "valid_to": model.valid_to,
            "threshold": model.threshold, "sell_threshold": model.sell_threshold, "params": model.params,
            "rounds": model.rounds, "n_train": model.n_train,
            "train_rows": list(model.train_rows), "train_period": list(model.train_period),
            "test_rows": None if model.test_rows is None else list(model.test_rows), "score": model.score,
            "scores": model.scores}


def _inside(root: Path, metadata: Path, field: str, value: object) -> Path:
    """Return the file ``value`` names inside the model directory ``root``; DataError if it could lead elsewhere.

    A model directory may come from someone else: its metadata must not make us read any file outside it, so a
    name is refused when it is absolute, climbs with ``..``, or resolves (through symbolic links) outside.
    """
    if not isinstance(value, str) or not value:
        raise DataError(f"{metadata}: {field} must name a file inside {root}, got {value!r}")
    path = Path(value)
    if path.is_absolute() or path.drive or ".." in path.parts:
        raise DataError(f"{metadata}: {field} {value!r} is not a relative path inside {root}")
    if not (root / path).resolve().is_relative_to(root.resolve()):
        raise DataError(f"{metadata}: {field} {value!r} resolves to {(root / path).resolve()}, outside {root}")
    return root / path


def _model(root: Path, entry: dict[str, Any], path: Path) -> FoldModel:
    if not path.is_file():
        raise ConfigError(f"{root}: booster file {entry['file']} is missing")
    booster = xgb.Booster(model_file=str(path))
    booster.set_param({"nthread": 1})  # one row at a time live: threads only add overhead
    test_rows = entry.get("test_rows")
    # models saved before sells had their own threshold sold at the buy one: keep them trading as they were tested
    sell_threshold = entry["sell_threshold"] if "sell_threshold" in entry else entry["threshold"]
    return FoldModel(booster=booster, params=dict(entry["params"]), rounds=int(entry["rounds"]),
                     threshold=entry["threshold"], sell_threshold=sell_threshold,
                     train_rows=(int(entry["train_rows"][0]), int(entry["train_rows"][1])),
                     n_train=int(entry["n_train"]), valid_from=int(entry["valid_from"]), valid_to=entry["valid_to"],
                     test_rows=None if test_rows is None else (int(test_rows[0]), int(test_rows[1])),
                     score=entry.get("score"), scores=dict(entry.get("scores") or {}),
                     train_period=(entry["train_period"][0], entry["train_period"][1]))


def _plain(value: Any) -> Any:
    """Return ``value`` as strict JSON: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
