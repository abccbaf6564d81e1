"""``sweep.html``: written by ``mlct sweep``, its heatmap holding the table's numbers, and no external request."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.offline
import pytest

from engine.cli import main
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError
from engine.optimize.report import heatmap_axes


@pytest.fixture
def bars(tmp_path: Path) -> str:
    path = tmp_path / "bars.csv"
    synthetic_bars(700, interval="1h", seed=3).to_csv(path)
    return str(path)


def _figures(page: str) -> list[dict[str, Any]]:
    """Return the page's figures, read back from their JSON script tags."""
    specs = re.findall(r"<script type='application/json' id='chart-\d+-spec'>(.*?)</script>", page, re.S)
    return [json.loads(spec.replace("<\\/", "</")) for spec in specs]


def _no_external_request(page: str) -> None:
    """Assert the page, outside the inlined plotly.js (whose strings name URLs it never loads here), names none."""
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "")
    assert not re.search(r"https?://", rest), re.findall(r".{40}https?://.{40}", rest)[:3]
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", rest) and "<link" not in rest
    assert "default-src 'none'" in rest


def test_the_heatmap_holds_each_pair_s_best_objective(bars: str, tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert main(["sweep", "--data", bars, "--symbol", "BTC/USD", "--grid", "fast=3,6", "--grid", "slow=20,30",
                 "--grid", "size=0.5,0.95", "--heatmap", "slow,fast", "--executor", "inprocess", "--out", str(out),
                 "-q"]) == 0
    page = (out / "sweep.html").read_text()
    _no_external_request(page)
    table = pd.read_parquet(out / "results.parquet")
    heatmaps = [t for f in _figures(page) for t in f["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 1
    heat = heatmaps[0]
    assert heat["x"] == [20, 30] and heat["y"] == [3, 6]  # --heatmap slow,fast: slow across, fast down
    for i, fast in enumerate(heat["y"]):
        for j, slow in enumerate(heat["x"]):
            best = table[(table["fast"] == fast) & (table["slow"] == slow)]["objective"].max()
            assert heat["z"][i][j] == pytest.approx(best, rel=1e-12) or (math.isnan(best) and heat["z"][i][j] is None)
    assert "other parameters (size)" in page and "aggregated by max" in page
    assert "Probability of backtest overfitting" in page and "Best rows by sharpe" in page


def test_walk_forward_report_shows_each_window_and_the_chained_equity(bars: str, tmp_path: Path) -> None:
    out = tmp_path / "w"
    assert main(["sweep", "--data", bars, "--symbol", "BTC/USD", "--grid", "fast=3,6", "--grid", "slow=20,30",
                 "--walk-forward", "300:200", "--executor", "inprocess", "--out", str(out), "-q"]) == 0
    page = (out / "sweep.html").read_text()
    _no_external_request(page)
    windows = pd.read_parquet(out / "windows.parquet")
    traces = [t for f in _figures(page) for t in f["data"]]
    bars_is = next(t for t in traces if t["type"] == "bar" and t["name"] == "in-sample")
    bars_oos = next(t for t in traces if t["type"] == "bar" and t["name"] == "out-of-sample")
    assert bars_is["y"] == pytest.approx(list(windows["is_objective"]))
    assert bars_oos["y"] == pytest.approx(list(windows["oos_objective"]))
    curve = next(t for t in traces if t["type"] == "scatter")
    assert len(curve["y"]) == len(pd.read_parquet(out / "oos_equity.parquet")) == 400
    assert "the in-sample windows" in page


def test_heatmap_axes_default_to_the_first_two_parameters_and_refuse_unknown_ones() -> None:
    assert heatmap_axes(None, ["a", "b", "c"]) == ("a", "b")
    assert heatmap_axes(None, ["a"]) is None
    assert heatmap_axes("c,a", ["a", "b", "c"]) == ("c", "a")
    for bad in ("a", "a,a", "a,z"):
        with pytest.raises(ConfigError):
            heatmap_axes(bad, ["a", "b", "c"])
