"""``mlct check lookahead`` on the ml_signal strategy with the small walk-forward's models: no look-ahead, and the
model's signal settles within the warm-up the strategy declares (its features').

On a short slice: 600 bars before the first out-of-sample bar (the features need 544) and 40 after it, with the
model's signals at a threshold of 0.5. Every bar the model predicts costs a prediction, and every buy or sell an
explanation (TreeSHAP, whose input matrix alone took 4-14 ms a signal on this shared 2-core machine under load):
the check makes about 40 back-tests, so the whole sample would take minutes. The slice keeps what makes the check
meaningful: the cuts fall on the model's own buy and sell signals after its first out-of-sample bar.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main

from .conftest import SYMBOL, SmallRun


def test_ml_signal_passes_the_lookahead_check(small_run: SmallRun, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    frame = small_run.frame
    # the first model is valid from the close of the bar that opened an hour before: that bar is the first predicted
    first = int(frame.index.searchsorted(pd.Timestamp(small_run.bundle.folds[0].valid_from, tz="UTC"))) - 1
    path = tmp_path / "slice.csv"
    frame.iloc[first - 600:first + 40].to_csv(path)
    code = main(["check", "lookahead", "--quiet", "--strategy", "ml_signal", "--param",
                 f"model={small_run.directory}", "--param", "threshold=0.5", "--data", str(path), "--symbol", SYMBOL,
                 "--cuts", "2", "--max-history", "560", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    look = report["lookahead"]
    assert look["clean"] and len(look["cuts"]) == 2
    # the cuts are on the model's decisions: at or after its first out-of-sample bar (row 600 of the slice)
    assert look["cuts"][0]["bar"] == 600 < look["cuts"][1]["bar"] and look["cuts"][1]["compared"] > 10
    warm = report["warmup"]
    assert warm["declared"] == small_run.bundle.features.warmup == 544
    # the model speaks once every feature is past its warm-up, and then as it does with the whole history
    assert warm["needed"] == {"series": "signal 'ml' BTC/USD", "settled_at": 544, "unsettled_at": 512}
    assert warm["sufficient"] is True
