"""ML signal speed: features, walk-forward training and prediction on the sample, and live latency per bar.

    python benchmarks/bench_ml.py [--features composite] [--bars 2000] [--quick]

Measures, on the bundled BTC/USD hourly sample (20,111 bars) with the settings of ``mlct ml run``:

- the feature set in batch (TA-Lib over the frame) and streamed bar by bar (what a live session does);
- the walk-forward: every booster of every fold (inner CV grid, final fit) and the evaluation table;
- batch prediction of every out-of-sample row by its fold's model;
- the live path per bar, ``MLSignal.on_bar`` after a warm-up: indicators, features, prediction (target: under
  1 ms a bar), split into its parts, and the explanation (``pred_contribs``) paid on signal bars only.

``--quick`` trains on a coarser schedule (a model every 2,160 bars) to time the live path sooner.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine.bus import EventBus
from engine.datagen.bar_feed import BarFeed
from engine.datagen.fingerprint import interval_text
from engine.datagen.sample import load_sample
from engine.events import Bar, Signal
from engine.ml.evaluate import evaluate_signals
from engine.ml.explain import signal_contributions
from engine.ml.features import feature_set, stream_features
from engine.ml.handler import MLSignal
from engine.ml.labels import LabelSpec
from engine.ml.model_io import ModelBundle
from engine.ml.pipeline import train
from engine.ml.walkforward import WalkForwardConfig


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def per_bar(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1e6:7.1f} us   p99 {p99 * 1e6:7.1f} us   mean " \
           f"{statistics.fmean(ordered) * 1e6:7.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="composite")
    parser.add_argument("--bars", type=int, default=2000, help="bars timed one by one on the live path")
    parser.add_argument("--quick", action="store_true", help="a model every 2,160 bars instead of 720")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    frame, meta = load_sample()
    symbol = meta.symbol
    chosen = feature_set(args.features)
    print(f"{len(frame):,} {interval_text(meta.interval.value)} bars of {symbol}; feature set {chosen.name}: "
          f"{len(chosen.names)} features from {len(chosen.indicators)} indicators, warm-up {chosen.warmup} bars")

    seconds, _ = timed(lambda: chosen.batch(frame))
    print(f"features, batch:      {seconds:6.3f} s  ({seconds / len(frame) * 1e6:.1f} us a bar)")
    seconds, _ = timed(lambda: stream_features(chosen, frame, symbol))
    print(f"features, streamed:   {seconds:6.3f} s  ({seconds / len(frame) * 1e6:.1f} us a bar, bus included)")

    config = WalkForwardConfig()
    if args.quick:
        config = replace(config, retrain_every=2160)
    fits = [0]

    def step(k: int) -> None:
        fits[0] += k

    seconds, (bundle, result) = timed(  # type: ignore[misc]
        lambda: train(frame, symbol, features=args.features, label=LabelSpec(), config=config,
                      progress=lambda total: (step, lambda: None)))
    print(f"walk-forward + evaluation: {seconds:6.1f} s  ({len(result.folds)} folds + final, {fits[0]} boosters, "
          f"{len(result.predictions):,} out-of-sample rows)")
    x = chosen.batch(frame)[chosen.names].to_numpy()
    rows = frame.index.get_indexer(result.predictions.index)
    start = time.perf_counter()
    for number, fold in enumerate(result.folds):
        mine = rows[result.predictions["fold"].to_numpy() == number]
        fold.predict(x[mine])
    seconds = time.perf_counter() - start
    print(f"prediction, batch:    {seconds:6.3f} s  ({seconds / len(rows) * 1e6:.1f} us a row, by fold)")
    p = result.predictions
    seconds, _ = timed(lambda: evaluate_signals(p["p_up"].to_numpy(), p["p_down"].to_numpy(), p["ret"].to_numpy(),
                                                cost=bundle.label.cost, horizon=bundle.label.horizon))
    print(f"evaluation table:     {seconds:6.3f} s  (30 rows, 1,000 bootstrap and 1,000 random draws each)")

    with tempfile.TemporaryDirectory() as directory:  # as live would: the saved model, loaded (1 thread)
        live_path(ModelBundle.load(bundle.save(directory)), frame, symbol, args.bars)


def live_path(bundle: ModelBundle, frame: object, symbol: str, n: int) -> None:
    """Time MLSignal.on_bar bar by bar over the last ``n`` bars, after warming up on the bars before."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    history, tail = frame.iloc[:-n], frame.iloc[-n:]
    bus = EventBus()
    handler = MLSignal(bundle, emit="every")
    handler.bind(bus)
    bus.subscribe(Signal, lambda s: None)
    handler.warm_up(history, symbol)
    bars: list[Bar] = list(BarFeed(tail, symbol))
    whole, indicators_only, features_only, predict_only, explain = [], [], [], [], []
    model = bundle.latest
    for bar in bars:
        start = time.perf_counter()
        handler.on_bar(bar)
        bus.dispatch()
        whole.append(time.perf_counter() - start)
    # the parts, on a second handler fed the same bars
    parts = MLSignal(bundle)
    parts.warm_up(history, symbol)
    for bar in bars:
        start = time.perf_counter()
        parts.indicators.on_bar(bar)
        indicators_only.append(time.perf_counter() - start)
        start = time.perf_counter()
        row = parts.features.stream_row(parts.indicators, bar)
        features_only.append(time.perf_counter() - start)
        if row is None:
            continue
        start = time.perf_counter()
        model.predict(row)
        predict_only.append(time.perf_counter() - start)
        if len(explain) < 200:
            start = time.perf_counter()
            signal_contributions(model.booster, row, parts.features.groups, 1)
            explain.append(time.perf_counter() - start)
    print(f"\nlive path over {len(bars):,} bars (after {len(history):,} bars of warm-up), one bar at a time:")
    print(f"  MLSignal.on_bar, whole:     {per_bar(whole)}   (target < 1,000 us)")
    print(f"  indicators (IndicatorSet):  {per_bar(indicators_only)}")
    print(f"  features (stream_row):      {per_bar(features_only)}")
    print(f"  prediction (inplace_predict): {per_bar(predict_only)}")
    print(f"  explanation (pred_contribs, signal bars only): {per_bar(explain)}")
    signals = int(np.isfinite(handler.frame()["p_up"]).sum())
    print(f"  ({signals:,} bars predicted)")


if __name__ == "__main__":
    main()
