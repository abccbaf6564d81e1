"""The ML workflow end to end: features and labels from bars, walk-forward, evaluation, a saved model, a view.

``train`` is what ``mlct ml train`` runs; ``score`` what ``mlct ml evaluate`` runs (the saved models, each on
the bars it is valid for, so the training data gives back exactly the walk-forward's out-of-sample rows and
later data tests the final model forward); ``recommend`` what ``mlct recommend`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd

from engine.datagen.bar_feed import BarFeed
from engine.datagen.fingerprint import data_fingerprint
from engine.datagen.frames import infer_interval
from engine.errors import ConfigError
from engine.ml.consistency import check_label_leak, check_research_equals_live
from engine.ml.evaluate import MIN_INDEPENDENT, directions, evaluate_signals, side_by_side, traded_summary
from engine.ml.explain import signal_contributions, top
from engine.ml.features import feature_set
from engine.ml.gaps import gap_report
from engine.ml.labels import LabelSpec, labels
from engine.ml.model import versions
from engine.ml.model_io import ModelBundle
from engine.ml.sizing import LABEL_SETTINGS, SIZED_SETTINGS, size_settings
from engine.ml.walkforward import WalkForwardConfig, WalkForwardResult, fold_counts, plan, walk_forward

log = logging.getLogger(__name__)


def interval_of(frame: pd.DataFrame) -> int:
    return int(infer_interval(frame.index, None, source="ml").value)


def fits_needed(n_bars: int, ready_from: int, label: LabelSpec, config: WalkForwardConfig) -> int:
    """Return the number of boosters a walk-forward trains (for progress bars)."""
    per_model = len(config.grid) * config.inner_folds + 1
    return (len(plan(n_bars, ready_from, label.horizon, config)) + int(config.final)) * per_model


def train(frame: pd.DataFrame, symbol: str, *, features: str = "composite", label: LabelSpec | None = None,
          config: WalkForwardConfig | None = None, n_boot: int = 1000, n_random: int = 1000,
          progress: Callable[[int], tuple[Callable[[int], object], Callable[[], object]]] | None = None,
          fixed: Collection[str] | None = None) -> tuple[ModelBundle, WalkForwardResult]:
    """Run the walk-forward on ``frame`` and return the model bundle (evaluated) and the raw result.

    ``progress(total)`` may return ``(step, close)`` callbacks for a progress bar. The settings of
    ``engine.ml.sizing.SIZED_SETTINGS`` not in ``fixed`` are sized to the data (``size_settings``); without
    ``fixed``, those of a ``label`` or ``config`` given are kept and those of one left out are sized.
    """
    if fixed is None:
        fixed = {*(LABEL_SETTINGS if label is not None else ()),
                 *(set(SIZED_SETTINGS) - set(LABEL_SETTINGS) if config is not None else ())}
    chosen = feature_set(features)
    table = chosen.batch(frame)
    interval_ns = interval_of(frame)
    ready_from = int(np.argmax(table["ready"].to_numpy())) if table["ready"].any() else len(frame)
    sized = size_settings(len(frame), ready_from, interval_ns, label or LabelSpec(), config or WalkForwardConfig(),
                          fixed, features=chosen.name)
    label, config = sized.label, sized.config
    targets = labels(frame, label)
    check_label_leak(table, targets["ret"], chosen.names)
    step, close = (None, None)
    if progress is not None:
        step, close = progress(fits_needed(len(frame), ready_from, label, config))
    try:
        result = walk_forward(table, targets, label, config, interval_ns=interval_ns, step=step)
    finally:
        if close is not None:
            close()
    live = ModelBundle(features=chosen, label=label, folds=result.folds, final=result.final)
    check_research_equals_live(chosen, frame, symbol, table, result.predictions.index, bundle=live,
                               predictions=result.predictions, interval_ns=interval_ns)
    evaluation = evaluate(result, n_boot=n_boot, n_random=n_random, seed=config.seed)
    summary = summarize(result, evaluation, n_boot=n_boot)
    predictions = result.predictions.copy()
    summary["gaps"] = gap_report(frame.index, interval_ns, predictions.index[0] if len(predictions) else None)
    metadata = {"symbol": symbol, "interval_ns": interval_ns,
                "data": data_fingerprint([BarFeed(frame, symbol)]), "versions": versions(),
                "walkforward": config.to_dict(), "evaluation": summary,
                "settings": {"used": sized.used(), "derived_from_data": list(sized.derived)},
                "training_window": {"first_bar": pd.Timestamp(frame.index[0]).isoformat(),
                                    "last_bar": pd.Timestamp(frame.index[-1]).isoformat(),
                                    "final_model": list(result.final.train_period) if result.final else None,
                                    "out_of_sample_from": pd.Timestamp(predictions.index[0]).isoformat()
                                    if len(predictions) else None}}
    bundle = ModelBundle(features=chosen, label=label, folds=result.folds, final=result.final, metadata=metadata,
                         evaluation=evaluation, predictions=predictions)
    return bundle, result


def evaluate(result: WalkForwardResult, *, n_boot: int = 1000, n_random: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return the out-of-sample table with the in-sample figures beside it (``engine.ml.evaluate``)."""
    label, thresholds = result.label, result.config.thresholds
    oos, ins = result.predictions, result.in_sample
    table = evaluate_signals(oos["p_up"].to_numpy(), oos["p_down"].to_numpy(), oos["ret"].to_numpy(),
                             cost=label.cost, horizon=label.horizon, thresholds=thresholds, n_boot=n_boot,
                             n_random=n_random, seed=seed)
    in_sample = evaluate_signals(ins["p_up"].to_numpy(), ins["p_down"].to_numpy(), ins["ret"].to_numpy(),
                                 cost=label.cost, horizon=label.horizon, thresholds=thresholds, n_boot=0,
                                 n_random=0, seed=seed)
    return side_by_side(table, in_sample)


def summarize(result: WalkForwardResult, evaluation: pd.DataFrame, *, n_boot: int = 1000) -> dict[str, Any]:
    """Return the figures saved in the metadata: as traded (each fold at its own threshold) and at the live one."""
    oos = result.predictions
    traded = traded_summary(oos["p_up"].to_numpy(), oos["p_down"].to_numpy(), oos["ret"].to_numpy(),
                            oos["threshold"].to_numpy(dtype="float64"),
                            oos["sell_threshold"].to_numpy(dtype="float64"), cost=result.label.cost,
                            horizon=result.label.horizon, n_boot=n_boot)
    final = result.final
    live = {"buy": final.threshold if final is not None else None,
            "sell": final.sell_threshold if final is not None else None}
    at_live = {}
    for side, threshold in live.items():
        if threshold is None:
            continue
        rows = evaluation[(evaluation["side"] == side) & np.isclose(evaluation["threshold"], threshold)]
        if len(rows):
            at_live[side] = {str(k): _plain(v) for k, v in rows.iloc[0].items() if k != "side"}
    return {"out_of_sample_rows": int(np.isfinite(oos["ret"]).sum()), "folds": len(result.folds),
            "fold_thresholds": fold_counts(result.folds), "fold_sell_thresholds": fold_counts(result.folds, "sell"),
            "as_traded": traded, "threshold": live["buy"], "sell_threshold": live["sell"], "at_threshold": at_live}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not np.isfinite(value) else value


def score(bundle: ModelBundle, frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return every bar's prediction by the model valid at that bar (NaN where none is), with its label.

    Columns ``p_down p_flat p_up ret label model threshold sell_threshold direction``; ``model`` is the position in the
    bundle's schedule (-1: none).
    """
    bundle.check_fits(symbol, interval_of(frame))
    table = bundle.features.batch(frame)
    targets = labels(frame, bundle.label)
    x = table[bundle.features.names].to_numpy(dtype="float64")
    ready = table["ready"].to_numpy()
    close_ts = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 + np.int64(interval_of(frame))
    out = pd.DataFrame(np.nan, index=frame.index, columns=["p_down", "p_flat", "p_up"])
    models = np.full(len(frame), -1)
    thresholds = np.full(len(frame), np.nan)
    sell_thresholds = np.full(len(frame), np.nan)
    schedule = bundle.schedule
    position = {id(model): number for number, model in enumerate(schedule)}
    for i, ts in enumerate(close_ts):
        if not ready[i]:
            continue
        model = bundle.model_at(int(ts))
        if model is not None:
            models[i] = position[id(model)]
            thresholds[i] = np.nan if model.threshold is None else model.threshold
            sell_thresholds[i] = np.nan if model.sell_threshold is None else model.sell_threshold
    for number, model in enumerate(schedule):
        rows = np.flatnonzero(models == number)
        if len(rows):
            out.iloc[rows] = model.predict(x[rows])
    out["ret"] = targets["ret"]
    out["label"] = targets["label"]
    out["model"] = models
    out["threshold"] = thresholds
    out["sell_threshold"] = sell_thresholds
    with np.errstate(invalid="ignore"):
        out["direction"] = 0
        for number, model in enumerate(schedule):
            rows = models == number
            out.loc[rows, "direction"] = directions(out["p_up"].to_numpy()[rows], out["p_down"].to_numpy()[rows],
                                                    model.threshold, model.sell_threshold)
    return out


def recommend(bundle: ModelBundle, frame: pd.DataFrame, symbol: str, *, top_n: int = 5, now: int | None = None,
              n_boot: int = 1000) -> dict[str, Any]:
    """Return the view of the latest closed bar: action, probabilities, the model's record then, the reasons.

    The latest bar is predicted by the model valid after it (the final model when the data ends where the
    training did): a prediction about what comes next, out of sample. A last bar whose close (open + interval)
    is after ``now`` (ns since the epoch; None: not checked) is still forming and is dropped, as the note says.
    The record (``past_record``) holds only the outcomes known when that bar closed. Data of another symbol or
    bar length than the model's is refused (``ModelBundle.check_fits``).
    """
    interval = interval_of(frame)
    bundle.check_fits(symbol, interval)
    forming = None
    if now is not None and len(frame) and int(pd.Timestamp(frame.index[-1]).value) + interval > now:
        forming = pd.Timestamp(frame.index[-1])
        frame = frame.iloc[:-1]
    table = bundle.features.batch(frame)
    if not len(frame) or not bool(table["ready"].iloc[-1]):
        raise ConfigError(f"the latest closed bar's features are not ready: give at least "
                          f"{bundle.features.warmup + 1} closed bars of history (got {len(frame)})")
    close_ts = int(pd.Timestamp(frame.index[-1]).value) + interval
    # the newest model that existed once this bar had closed: after the training data, the final model
    model = bundle.model_at(close_ts + 1)
    if model is None:
        raise ConfigError(f"the data ends at {pd.Timestamp(close_ts, tz='UTC')}, before the model's first "
                          "out-of-sample bar: every model of this directory was trained on data after it")
    row = table[bundle.features.names].to_numpy(dtype="float64")[-1]
    p_down, p_flat, p_up = (float(v) for v in model.predict(row)[0])
    action = {1: "BUY", -1: "SELL"}.get(int(directions(np.array([p_up]), np.array([p_down]), model.threshold,
                                                        model.sell_threshold)[0]), "HOLD")
    direction = {"BUY": 1, "SELL": -1}.get(action, 0)
    contributions = signal_contributions(model.booster, row, bundle.features.groups, direction)
    side = "sell" if action == "SELL" else "buy"
    threshold = model.sell_threshold if side == "sell" else model.threshold
    record = past_record(bundle, side, threshold, as_of=close_ts, interval_ns=interval, n_boot=n_boot)
    trained_until = pd.Timestamp(model.valid_from, tz="UTC")
    note = _note(threshold, record)
    if forming is not None:
        note = (f"the last bar ({forming.isoformat()}) closes at {pd.Timestamp(forming.value + interval, tz='UTC')}"
                f", after now: it is still forming and was ignored; {note}")
    return {"action": action, "as_of": pd.Timestamp(close_ts, tz="UTC").isoformat(), "symbol": symbol,
            "threshold": model.threshold, "sell_threshold": model.sell_threshold, "side": side,
            "side_threshold": threshold, "p_up": p_up, "p_flat": p_flat, "p_down": p_down,
            "precision": record.get("precision"),
            "precision_ci": [record.get("precision_lo"), record.get("precision_hi")],
            "avg_return": record.get("avg_return"),
            "avg_return_ci": [record.get("avg_return_lo"), record.get("avg_return_hi")],
            "n_signals": record.get("n_signals"), "n_independent": record.get("n_independent"),
            "record_rows": record.get("rows", 0), "record_until": pd.Timestamp(close_ts, tz="UTC").isoformat(),
            "baseline_precision": record.get("baseline_precision"),
            "baseline_avg_return": record.get("baseline_avg_return"),
            "horizon": bundle.label.horizon, "cost": bundle.label.cost, "forming_bar_ignored":
                None if forming is None else forming.isoformat(),
            "contributions": {name: value for name, value in top(contributions, top_n)},
            "model": {"valid_from": trained_until.isoformat(), "kind": "final" if model is bundle.final else "fold",
                      "train_period": list(model.train_period)},
            "note": note}


def past_record(bundle: ModelBundle, side: str, threshold: float | None, *, as_of: int, interval_ns: int,
                n_boot: int = 1000) -> dict[str, Any]:
    """Return ``side``'s out-of-sample record at ``threshold`` from the outcomes known at ``as_of`` (ns).

    Recomputed from the saved walk-forward predictions, not taken from the saved whole-period table: a row's
    label is the return to the open of bar ``i + 1 + h``, known at ``open_i + (h + 1) * interval``; rows whose
    label was not known by ``as_of`` are left out, so a view of older data quotes nothing it could not have
    known. Empty without saved predictions or a threshold; ``rows`` is the number of known rows used.
    """
    predictions = bundle.predictions
    if predictions is None or threshold is None:
        return {}
    opens = pd.DatetimeIndex(predictions.index).as_unit("ns").asi8
    known = opens + (bundle.label.horizon + 1) * np.int64(interval_ns) <= as_of
    past = predictions[known]
    seed = int(bundle.metadata.get("walkforward", {}).get("seed", 0))
    table = evaluate_signals(past["p_up"].to_numpy(dtype="float64"), past["p_down"].to_numpy(dtype="float64"),
                             past["ret"].to_numpy(dtype="float64"), cost=bundle.label.cost,
                             horizon=bundle.label.horizon, thresholds=(threshold,), sides=(side,), n_boot=n_boot,
                             n_random=0, seed=seed)
    record = {str(k): _plain(v) for k, v in table.iloc[0].items()}
    record["rows"] = int(np.isfinite(past["ret"].to_numpy(dtype="float64")).sum())
    return record


def _note(threshold: float | None, record: dict[str, Any]) -> str:
    if threshold is None:
        return ("no threshold gave a positive average net return on the training data for this side: the model "
                "does not take it (HOLD)")
    if not record or not record.get("n_signals"):
        return "no out-of-sample signal at this threshold known by the latest bar: the record is empty"
    if record.get("avg_return_lo") is None:
        return (f"only {record.get('n_independent')} independent past signals (fewer than {MIN_INDEPENDENT}): "
                "too few for an interval; treat the record as anecdote")
    low = record.get("avg_return_lo")
    if low is not None and low <= 0 <= (record.get("avg_return_hi") or 0):
        return ("the out-of-sample average return at this threshold is not distinguishable from zero "
                "(its 95% interval spans it): treat the signal as weak evidence")
    return ("figures are out-of-sample and known by the latest bar: walk-forward, purged, thresholds chosen on "
            "training data only")
