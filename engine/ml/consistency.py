"""Two checks that keep research honest, run by every training (``engine.ml.pipeline.train``).

**A feature that knows the label.** Before training, each feature's rank correlation with the label's forward
return is measured on the rows the walk-forward could use. An honest feature of past prices explains a sliver of
the next hours' return (the features of the ready sets stay below 0.06 on the bundled hourly data); one that
correlates beyond ``LEAK_CORRELATION`` carries the outcome itself, or part of it. Training stops, naming it.

**Research equals live.** The model was scored on features computed in batch, over whole columns. A live session
computes them bar by bar (``FeatureSet.stream_row``, through the ``IndicatorSet`` the live handler uses). After
training, the data are replayed bar by bar through that streaming path and the features of the out-of-sample rows
(the first ``CHECKED_ROWS``) must equal the batch ones within float tolerance; else the evaluation scored
something a session can never see (a batch formula that reads a later bar, a column shifted the wrong way) and
training stops, naming the feature and the first bar that differs. Then the probabilities: each of those rows'
streamed features go to the model a live session would ask (``ModelBundle.model_at`` at the bar's close, one
row at a time, as ``MLSignal.on_bar`` does) and its probabilities must equal the batch ones the evaluation
scored; else the schedule of models, or a model's predictions, differ between research and live (a fold valid
over the wrong bars, a booster that scores a row differently alone) and training stops, naming the first bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.errors import DataError
from engine.ml.features import FeatureSet, stream_features

if TYPE_CHECKING:
    from engine.ml.model_io import ModelBundle

__all__ = ["CHECKED_ROWS", "LEAK_CORRELATION", "PROBABILITIES", "check_label_leak", "check_live_probabilities",
           "check_research_equals_live"]

LEAK_CORRELATION = 0.5  # |Spearman correlation| with the forward return beyond which a feature knows the outcome
# The out-of-sample rows checked, from the first: a batch formula that reads ahead does so on every row, and the
# stream must run from the data's first bar (path-dependent indicators), so checking them all would cost the
# replay of the whole history
CHECKED_ROWS = 2000
_RTOL, _ATOL = 1e-9, 1e-12
PROBABILITIES = ("p_down", "p_flat", "p_up")


def check_label_leak(table: pd.DataFrame, forward_return: pd.Series, names: list[str]) -> None:
    """Raise ``DataError`` naming the first feature whose rank correlation with ``forward_return`` is implausible."""
    usable = table["ready"].to_numpy(dtype=bool) & np.isfinite(forward_return.to_numpy(dtype="float64"))
    if usable.sum() < 30:
        return  # too few rows to judge: the walk-forward will refuse them anyway
    outcome = forward_return[usable].rank().to_numpy()
    for name in names:
        column = table.loc[usable, name]
        if column.nunique() < 2:
            continue
        correlation = float(np.corrcoef(column.rank().to_numpy(), outcome)[0, 1])
        if abs(correlation) > LEAK_CORRELATION:
            raise DataError(f"feature {name!r} has a rank correlation of {correlation:+.2f} with the label's forward "
                            f"return over {int(usable.sum()):,} rows (an honest feature of past prices stays far "
                            f"below {LEAK_CORRELATION}): it reads the outcome; training stopped")


def check_research_equals_live(features: FeatureSet, frame: pd.DataFrame, symbol: str, table: pd.DataFrame,
                               rows: pd.Index, *, bundle: ModelBundle | None = None,
                               predictions: pd.DataFrame | None = None, interval_ns: int | None = None) -> None:
    """Raise ``DataError`` naming the first feature and bar of ``rows`` where the streamed features differ from
    ``table`` (the batch ones the evaluation scored); with ``bundle``, ``predictions`` (the walk-forward's
    out-of-sample rows) and ``interval_ns``, also where the live path's probabilities differ from them
    (``check_live_probabilities``)."""
    rows = rows[:CHECKED_ROWS]
    if not len(rows):
        return
    streamed = stream_features(features, frame.loc[:rows[-1]], symbol).loc[rows]  # from the first bar, as batch
    batch = table.loc[rows]
    ready = batch["ready"].to_numpy(dtype=bool)
    if not np.array_equal(ready, streamed["ready"].to_numpy(dtype=bool)):
        first = rows[int(np.argmax(ready != streamed["ready"].to_numpy(dtype=bool)))]
        raise DataError(f"feature set {features.name!r}: at bar {pd.Timestamp(first).isoformat()} the batch features "
                        f"are {'ready' if bool(batch.loc[first, 'ready']) else 'not ready'} and the live ones not: "
                        "the evaluation scored rows a session cannot compute; training stopped")
    first_bar: pd.Timestamp | None = None
    culprit = ""
    for name in features.names:
        ours, theirs = batch[name].to_numpy(dtype="float64"), streamed[name].to_numpy(dtype="float64")
        differ = ~np.isclose(ours, theirs, rtol=_RTOL, atol=_ATOL, equal_nan=True)
        if differ.any():
            at = pd.Timestamp(rows[int(np.argmax(differ))])
            if first_bar is None or at < first_bar:
                first_bar, culprit = at, name
    if first_bar is not None:
        batch_value, live_value = batch.loc[first_bar, culprit], streamed.loc[first_bar, culprit]
        raise DataError(f"feature {culprit!r} differs between research and live from bar {first_bar.isoformat()}: "
                        f"{batch_value!r} in the batch the evaluation scored, {live_value!r} computed bar by bar as "
                        "a live session does; its batch form reads data the session does not have yet; training "
                        "stopped")
    if bundle is not None and predictions is not None and interval_ns is not None:
        check_live_probabilities(bundle, streamed[features.names], predictions.loc[rows], interval_ns)


def check_live_probabilities(bundle: ModelBundle, streamed: pd.DataFrame, predictions: pd.DataFrame,
                             interval_ns: int) -> None:
    """Raise ``DataError`` naming the first bar whose live probabilities differ from ``predictions``.

    ``streamed`` holds the features computed bar by bar (indexed by open time, the rows of ``predictions``); each
    row is scored alone by ``bundle.model_at`` its close time, as the live handler scores a bar.
    """
    x = streamed.loc[predictions.index].to_numpy(dtype="float64")
    batch = predictions[list(PROBABILITIES)].to_numpy(dtype="float64")
    closes = pd.DatetimeIndex(predictions.index).as_unit("ns").asi8 + np.int64(interval_ns)
    for i, close in enumerate(closes):
        model = bundle.model_at(int(close))
        live = np.full(3, np.nan) if model is None else model.predict(x[i:i + 1])[0]
        if not np.allclose(live, batch[i], rtol=_RTOL, atol=_ATOL, equal_nan=True):
            bar = pd.Timestamp(predictions.index[i]).isoformat()
            pairs = zip(PROBABILITIES, batch[i], live, strict=True)
            shown = ", ".join(f"{name} {a:.6g} vs {b:.6g}" for name, a, b in pairs)
            who = "no model" if model is None else f"the model valid from {pd.Timestamp(model.valid_from, tz='UTC')}"
            raise DataError(f"the probabilities differ between research and live from bar {bar}: {shown} (batch, "
                            f"as the evaluation scored them, vs live, by {who}); the evaluation scored predictions a "
                            "session would not make; training stopped")
