"""``recommend`` quotes only what was known at its bar, and ignores a bar that has not closed yet."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from engine.ml.model_io import ModelBundle
from engine.ml.pipeline import recommend

from .conftest import SMALL_LABEL, SYMBOL, SmallRun

HOUR = pd.Timedelta(hours=1)


def record(small_run: SmallRun, cut: int, side: str, threshold: float) -> tuple[int, float, float]:
    """Return n, precision and average net return of ``side``'s signals at ``threshold`` whose outcome is known
    when bar ``cut - 1`` closes: the outcome of row ``i`` is the open of bar ``i + 1 + h``, at the latest the
    open of bar ``cut``, which is the close of bar ``cut - 1``."""
    predictions = small_run.result.predictions
    positions = small_run.frame.index.get_indexer(predictions.index)
    rows = predictions[(positions + 1 + SMALL_LABEL.horizon <= cut) & predictions["ret"].notna()]
    mine, other = ("p_up", "p_down") if side == "buy" else ("p_down", "p_up")
    signal = (rows[mine] >= threshold) & (rows[mine] > rows[other])
    gain = rows.loc[signal, "ret"].to_numpy() * (1 if side == "buy" else -1)
    return int(signal.sum()), float(np.mean(gain > SMALL_LABEL.cost)), float(np.mean(gain - SMALL_LABEL.cost))


def test_a_file_cut_in_the_middle_quotes_no_outcome_after_its_as_of(small_run: SmallRun) -> None:
    bundle = small_run.bundle
    # every model at one threshold low enough to signal often, so that the record is not empty
    pinned = ModelBundle(features=bundle.features, label=bundle.label,
                         folds=[replace(f, threshold=0.4, sell_threshold=0.4) for f in bundle.folds],
                         final=bundle.final, metadata=bundle.metadata, evaluation=bundle.evaluation,
                         predictions=bundle.predictions)
    cut = 4000
    view = recommend(pinned, small_run.frame.iloc[:cut], SYMBOL, n_boot=100)
    assert view["as_of"] == (small_run.frame.index[cut - 1] + HOUR).isoformat()
    n, precision, average = record(small_run, cut, view["side"], 0.4)
    whole, _, _ = record(small_run, len(small_run.frame) + 100, view["side"], 0.4)
    assert 0 < n < whole  # the cut leaves the later outcomes out
    assert view["n_signals"] == n and 0 < view["n_independent"] <= n
    assert abs(view["precision"] - precision) < 1e-12 and abs(view["avg_return"] - average) < 1e-12
    for value, (low, high) in ((view["precision"], view["precision_ci"]), (view["avg_return"], view["avg_return_ci"])):
        assert low is not None and low <= value <= high


def test_a_last_bar_still_forming_is_ignored(small_run: SmallRun) -> None:
    frame = small_run.frame.iloc[:4000]
    last_open = frame.index[-1]
    forming = recommend(small_run.bundle, frame, SYMBOL, n_boot=50,
                        now=int((last_open + pd.Timedelta(minutes=30)).value))
    closed = recommend(small_run.bundle, frame.iloc[:-1], SYMBOL, n_boot=50)
    assert forming["as_of"] == last_open.isoformat() == closed["as_of"]  # the bar before it closes at its open
    assert (forming["p_up"], forming["action"], forming["n_signals"]) == \
           (closed["p_up"], closed["action"], closed["n_signals"])
    assert forming["forming_bar_ignored"] == last_open.isoformat() and "still forming" in forming["note"]
    done = recommend(small_run.bundle, frame, SYMBOL, n_boot=50, now=int((last_open + HOUR).value))
    assert done["as_of"] == (last_open + HOUR).isoformat() and done["forming_bar_ignored"] is None
