"""``MLSignal``: a bus handler that turns each bar into the model's view, published as ``Signal(name="ml")``.

On every bar it updates its own ``IndicatorSet`` (and env, when the feature set reads one), computes the
features with ``FeatureSet.stream_row`` (the code the model was trained on, bar for bar), asks the model
valid at that bar (``ModelBundle.model_at``: the walk-forward's fold models over the training period, the
final model after it) for the probabilities of down, flat and up, and publishes::

    Signal(ts=bar.ts, name="ml", symbol=..., direction=+1/-1/0, strength=p, contributions={indicator: value})

``direction`` is +1 when ``p_up >= threshold`` and ``p_up > p_down``, -1 when ``p_down >= sell_threshold`` and
``p_down > p_up``, else 0, with the thresholds of the model in use (each side's chosen on its training data)
unless one is given for both. ``strength`` is the
probability of the signal's side (``p_up`` for +1 and 0, ``p_down`` for -1). ``contributions`` (only when
direction is not 0: they cost a TreeSHAP pass) credit each indicator with its part of ``log(p_up / p_down)``,
signed toward the direction (``engine.ml.explain``).

Nothing here reads a bar after the one being handled, and the same object runs a back-test and a live
session. Before the first bar of a run it can be given history (``warm_up``), as a live session back-fills:
its indicators then start warm, and its features equal the research ones computed over the same bars.
At the end of a back-test, ``result_extras`` evaluates the signals it published against what the prices did
next (the report's ML section), beside the in-sample figures of the training run.
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.bus import EventBus
from engine.errors import ConfigError
from engine.events import Bar, Signal
from engine.ml.evaluate import DEFAULT_THRESHOLDS, evaluate_signals
from engine.ml.explain import signal_contributions
from engine.ml.gaps import gap_table
from engine.ml.labels import forward_returns
from engine.ml.model_io import ModelBundle

EMIT = ("every", "nonzero")


class MLSignal:
    """Publish the model's signal for each bar of one symbol.

    Parameters
    ----------
    model
        A ``ModelBundle`` or the directory ``mlct ml train`` wrote.
    symbol
        The symbol to predict (default: the first one seen; a model is trained on one market).
    name
        The ``Signal.name`` (default ``"ml"``).
    emit
        ``"every"``: a signal on every bar the model can predict (direction 0 included); ``"nonzero"``: only
        buy and sell signals.
    threshold
        Override the models' own thresholds, buy and sell alike (None: each model's, chosen on its training
        data).
    """

    def __init__(self, model: ModelBundle | str | Path, *, symbol: str | None = None, name: str = "ml",
                 emit: str = "every", threshold: float | None = None) -> None:
        if emit not in EMIT:
            raise ConfigError(f"MLSignal: emit must be one of {', '.join(EMIT)}, got {emit!r}")
        if threshold is not None and not 0 < threshold <= 1:
            raise ConfigError(f"MLSignal: threshold must be a probability in (0, 1], got {threshold!r}")
        self.bundle = model if isinstance(model, ModelBundle) else ModelBundle.load(model)
        self.features = self.bundle.features
        self.symbol = symbol
        self.name = name
        self.emit = emit
        self.threshold = threshold
        self.indicators = self.features.indicator_set()
        self.env = self.features.env.build() if self.features.env is not None else None
        self._groups = self.features.groups
        self._publish: Any = None
        # one entry per bar of the symbol: close time, open, and the prediction (NaN when none was made)
        self._ts = array("q")
        self._open = array("d")
        self._p = array("d")  # p_down, p_flat, p_up per bar, flattened

    # -- wiring --------------------------------------------------------------------------------------------
    def attach(self, kernel: Any) -> None:
        """Wire into a run (``run_backtest(handlers=[...])`` calls this with the kernel)."""
        self.bind(kernel.bus)

    def bind(self, bus: EventBus) -> None:
        """Subscribe to ``Bar`` and publish signals on ``bus``."""
        bus.subscribe(Bar, self.on_bar)
        self._publish = bus.publish

    def warm_up(self, frame: pd.DataFrame, symbol: str) -> int:
        """Feed history bars (before the run's first bar) to the indicators without predicting; return the count."""
        from engine.datagen.bar_feed import BarFeed

        if self.symbol is None:
            self.symbol = symbol
        count = 0
        for bar in BarFeed(frame, symbol):
            self._update(bar)
            count += 1
        return count

    # -- the hot path --------------------------------------------------------------------------------------
    def _update(self, bar: Bar) -> None:
        self.indicators.on_bar(bar)
        if self.env is not None:
            self.env.on_bar(bar)

    def on_bar(self, bar: Bar) -> None:
        """Update the features with ``bar`` and publish the model's signal for it."""
        if self.symbol is None:
            self.symbol = bar.symbol
        elif bar.symbol != self.symbol:
            return
        if not self._ts:  # the first bar: the model's market and bar length, or a one-line refusal
            self.bundle.check_fits(bar.symbol, bar.interval)
        self._update(bar)
        self._ts.append(bar.ts)
        self._open.append(bar.open)
        row = self.features.stream_row(self.indicators, bar, self.env)
        model = self.bundle.model_at(bar.ts) if row is not None else None
        if row is None or model is None:
            self._p.extend((np.nan, np.nan, np.nan))
            return
        p_down, p_flat, p_up = (float(v) for v in model.predict(row)[0])
        self._p.extend((p_down, p_flat, p_up))
        buy_at = self.threshold if self.threshold is not None else model.threshold
        sell_at = self.threshold if self.threshold is not None else model.sell_threshold
        direction = 0
        if buy_at is not None and p_up >= buy_at and p_up > p_down:
            direction = 1
        elif sell_at is not None and p_down >= sell_at and p_down > p_up:
            direction = -1
        if direction == 0 and self.emit == "nonzero":
            return
        contributions = (signal_contributions(model.booster, row, self._groups, direction) if direction else None)
        if self._publish is None:
            raise RuntimeError("MLSignal.on_bar before bind(bus): nowhere to publish")
        self._publish(Signal(ts=bar.ts, name=self.name, symbol=bar.symbol, direction=direction,
                             strength=p_down if direction < 0 else p_up, contributions=contributions))

    # -- after the run -------------------------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """Return one row per bar seen in the run: ``open``, ``p_down``, ``p_flat``, ``p_up`` by bar close time."""
        ts = np.frombuffer(self._ts, dtype="int64") if len(self._ts) else np.empty(0, dtype="int64")
        p = np.frombuffer(self._p, dtype="float64").reshape(-1, 3) if len(self._p) else np.empty((0, 3))
        index = pd.DatetimeIndex(ts.view("M8[ns]"), name="ts").tz_localize("UTC")
        out = pd.DataFrame(p, index=index, columns=["p_down", "p_flat", "p_up"])
        out.insert(0, "open", np.frombuffer(self._open, dtype="float64") if len(self._open) else np.empty(0))
        return out

    def evaluation(self, *, n_boot: int = 1000, n_random: int = 1000) -> pd.DataFrame:
        """Return the signal table (``engine.ml.evaluate``) over the bars of this run, by side and threshold.

        The forward return of a bar needs the opens of later bars of the run; the last ``horizon + 1`` bars
        have none and are left out.
        """
        frame = self.frame()
        label = self.bundle.label
        returns = forward_returns(frame["open"].to_numpy(), label.horizon)
        walkforward = self.bundle.metadata.get("walkforward", {})
        thresholds = tuple(walkforward.get("thresholds") or DEFAULT_THRESHOLDS)
        return evaluate_signals(frame["p_up"].to_numpy(), frame["p_down"].to_numpy(), returns, cost=label.cost,
                                horizon=label.horizon, thresholds=thresholds, n_boot=n_boot, n_random=n_random,
                                seed=int(walkforward.get("seed", 0)))

    def result_extras(self) -> dict[str, Any]:
        """Return ``{"ml": {"thresholds": ...}}``: the buy side of ``evaluation()``, with the training run's
        in-sample figures beside it (``is_*`` columns) when the model carries them; and ``gaps``, the training
        run's missing bars by window (``engine.ml.gaps.gap_table``) when its metadata has them."""
        extras: dict[str, Any] = {"thresholds": report_table(self.evaluation(), self.bundle.evaluation)}
        gaps = self.bundle.metadata.get("evaluation", {}).get("gaps")
        if gaps:
            extras["gaps"] = gap_table(gaps)
        return {"ml": extras}


def report_table(table: pd.DataFrame, training: pd.DataFrame | None) -> pd.DataFrame:
    """Return the buy rows of an evaluation table for the report, with in-sample columns from ``training``."""
    buy = table[table["side"] == "buy"].drop(columns="side").reset_index(drop=True)
    if training is not None and "is_precision" in training:
        own = training[training["side"] == "buy"][["threshold", "is_n_signals", "is_precision", "is_avg_return"]]
        buy = buy.merge(own, on="threshold", how="left")
    return buy
