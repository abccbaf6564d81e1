"""Leakage: the future cannot reach a prediction, and when a leak is planted the evaluation shows it.

1. Changing the data after bar t leaves every prediction up to t unchanged: the walk-forward's out-of-sample
   predictions and the live handler's signals (the features are checked in test_features.py).
2. A model given the future return itself as a feature looks perfect in sample; the walk-forward scores its test
   blocks with the feature as it is known at prediction time (the label of the latest bar whose outcome is
   known), and the honest figure appears beside the inflated one.
3. A model that can memorise when a row is (a time index) learns the labels of the last training rows; without
   the purge those labels are made of prices inside the test block, and the out-of-sample precision is
   inflated; with the purge and embargo it is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.bus import EventBus
from engine.datagen.bar_feed import BarFeed
from engine.events import Signal
from engine.ml.evaluate import evaluate_signals
from engine.ml.features import feature_set
from engine.ml.handler import MLSignal
from engine.ml.labels import LabelSpec, labels
from engine.ml.pipeline import train
from engine.ml.walkforward import WalkForwardConfig, walk_forward

from .conftest import SMALL_CONFIG, SMALL_LABEL, SYMBOL, SmallRun
from .test_features import altered_after

HOUR = 3_600_000_000_000


def test_walk_forward_predictions_up_to_t_ignore_the_data_after_t(small_run: SmallRun) -> None:
    frame = small_run.frame
    t = 3900  # inside the out-of-sample period, in the middle of a test block
    _, altered = train(altered_after(frame, t), SYMBOL, features="core", label=SMALL_LABEL, config=SMALL_CONFIG,
                       n_boot=10, n_random=10)
    cut = frame.index[t]
    before = small_run.result.predictions.loc[:cut]
    assert len(before) > 500
    assert before.drop(columns=["ret", "label"]).equals(altered.predictions.loc[:cut].drop(columns=["ret", "label"]))
    # the labels of the last rows before t are made of prices after t: they change, the predictions do not
    assert not before["ret"].equals(altered.predictions.loc[:cut, "ret"])
    assert not small_run.result.predictions.loc[cut:].iloc[1:].equals(altered.predictions.loc[cut:].iloc[1:])


def signals(bundle_dir: object, frame: pd.DataFrame) -> list[Signal]:
    bus = EventBus()
    handler = MLSignal(bundle_dir)  # type: ignore[arg-type]
    handler.bind(bus)
    found: list[Signal] = []
    bus.subscribe(Signal, found.append)
    for bar in BarFeed(frame, SYMBOL):
        bus.dispatch_event(bar)
    return found


def test_the_live_handler_signals_up_to_t_ignore_the_data_after_t(small_run: SmallRun) -> None:
    t = 3900
    original = signals(small_run.directory, small_run.frame)
    altered = signals(small_run.directory, altered_after(small_run.frame, t))
    cut = int(small_run.frame.index[t].value) + HOUR  # bar t closes an hour after it opens
    assert [s for s in original if s.ts <= cut] == [s for s in altered if s.ts <= cut]
    assert [s for s in original if s.ts > cut] != [s for s in altered if s.ts > cut]


def buy_precision(frame: pd.DataFrame, returns: np.ndarray, cost: float) -> tuple[float, int]:
    """Return the precision and count of ``p_up > p_down`` rows."""
    table = evaluate_signals(frame["p_up"].to_numpy(), frame["p_down"].to_numpy(), returns, cost=cost, horizon=12,
                             thresholds=[0.0], sides=["buy"], n_boot=0, n_random=0)
    return float(table["precision"].iloc[0]), int(table["n_signals"].iloc[0])


def test_a_leaked_future_return_is_caught_out_of_sample(head: pd.DataFrame) -> None:
    label = SMALL_LABEL
    features = feature_set("core").batch(head)
    targets = labels(head, label)
    leaked = features.copy()
    leaked.insert(0, "future_return", targets["ret"])  # the label itself, joined as a feature
    result = walk_forward(leaked, targets, label, SMALL_CONFIG, interval_ns=HOUR)
    # At prediction time the join can only give the latest label already known: the row h+1 bars back.
    live = leaked.copy()
    live["future_return"] = targets["ret"].shift(label.horizon + 1)
    honest = result.predict(live)
    in_sample, n_in = buy_precision(result.in_sample, result.in_sample["ret"].to_numpy(), label.cost)
    out_of_sample, n_out = buy_precision(honest, result.predictions["ret"].to_numpy(), label.cost)
    research, _ = buy_precision(result.predictions, result.predictions["ret"].to_numpy(), label.cost)
    figures = f"in-sample {in_sample:.1%} of {n_in}, out-of-sample {out_of_sample:.1%} of {n_out}"
    assert in_sample > 0.9, figures  # the leak looks like a near-perfect model in sample (flat rows miss)
    assert research > 0.9  # and on the research frame, where the future is still in the column
    assert out_of_sample < 0.65 and in_sample - out_of_sample > 0.3, figures  # at prediction time it is gone


def test_the_purge_is_what_keeps_overlapping_labels_out(hourly: pd.DataFrame) -> None:
    frame = hourly.iloc[:3000]
    label = LabelSpec(horizon=48, cost=0.0)
    targets = labels(frame, label)
    when = pd.DataFrame({"bar_number": np.arange(len(frame), dtype=float), "ready": True}, index=frame.index)
    memorise = ({"max_depth": 6, "eta": 0.3, "min_child_weight": 1.0, "subsample": 1.0},)
    figures = {}
    for purge in (False, True):
        config = WalkForwardConfig(retrain_every=24, min_train=1000, embargo=24, purge=purge, inner_folds=2,
                                   grid=memorise, max_rounds=20, early_stopping=20, min_signals=10, final=False)
        result = walk_forward(when, targets, label, config, interval_ns=HOUR)
        oos = buy_precision(result.predictions, result.predictions["ret"].to_numpy(), 0.0)[0]
        ins = buy_precision(result.in_sample, result.in_sample["ret"].to_numpy(), 0.0)[0]
        figures[purge] = (ins, oos)
    (ins_leaky, oos_leaky), (ins_purged, oos_purged) = figures[False], figures[True]
    message = f"unpurged: in {ins_leaky:.1%} out {oos_leaky:.1%}; purged: in {ins_purged:.1%} out {oos_purged:.1%}"
    assert oos_leaky - oos_purged > 0.08, message  # test labels learnt through the overlap
    assert ins_purged - oos_purged > 0.1, message  # and in sample always flatters
