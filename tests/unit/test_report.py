"""The HTML report's content: every section, no outside references, bounded size, rebuilt from saved results.

That it renders in a browser is tested in tests/integration/test_report_chromium.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.offline
import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestResult, run_backtest
from engine.cli import main
from engine.datagen.synthetic import synthetic_bars
from engine.report import MAX_POINTS, MAX_TRADE_ROWS, keep_points, render_report
from engine.result.stats import compute_stats
from engine.result.tables import TRADE_COLUMNS
from strategies.sma_cross import SmaCross

SECTIONS = ["Strategy against buy-and-hold", "Price: SYN/USD", "Drawdown", "Monthly returns",
            "Distribution of trade returns", "Trades (", "Back-test assumptions", "Data", "Configuration"]


def run(n: int = 2_000, **params: object) -> BacktestResult:
    frame = synthetic_bars(n, interval="1h", seed=11)
    return run_backtest(SmaCross(**params), frame, venue=SimSettings(), symbol="SYN/USD")


def outside_the_bundle(page: str) -> str:
    """Return the page without the inlined plotly.js (whose strings name URLs it never loads here)."""
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


def chart_count(page: str) -> int:
    return int(re.search(r'<meta name="mlct-charts" content="(\d+)">', page).group(1))  # type: ignore[union-attr]


def ml_extras(result: BacktestResult) -> dict[str, pd.DataFrame]:
    thresholds = pd.DataFrame({"threshold": [0.5, 0.6, 0.7], "n_signals": [40, 22, 9],
                               "precision": [0.52, 0.58, 0.66], "avg_return": [0.001, 0.003, 0.006]})
    contributions = pd.DataFrame({"entry_time": result.trades["entry_time"], "rsi_14": 0.2, "trend_50": -0.1,
                                  "volume_z": np.linspace(-1, 1, len(result.trades))})
    return {"thresholds": thresholds, "contributions": contributions}


def test_every_section_and_chart_is_there() -> None:
    result = run()
    page = render_report(result)
    for title in SECTIONS:
        assert f"<h2>{title}" in page, title
    assert chart_count(page) == 5 == page.count('<div class="chart"')  # equity, price, drawdown, monthly, trades
    assert page.count("Plotly.newPlot(") == 5
    assert result.data["sha256"] in page and "A market order made on bar t fills at bar t+1" in page
    assert "ML signal" not in page
    assert page.count("<tr class='") == len(result.trades)


def test_no_outside_reference_and_a_csp_that_forbids_connections() -> None:
    page = outside_the_bundle(render_report(run()))
    assert not re.search(r"https?://", page), re.findall(r".{40}https?://.{40}", page)[:3]
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", page) and "<link" not in page
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page and "connect-src" not in page  # default-src covers connections


def test_the_report_is_deterministic() -> None:
    assert render_report(run(800)) == render_report(run(800))


def test_long_series_are_reduced_keeping_their_extremes() -> None:
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.normal(size=1_000_000))
    keep = keep_points([values])
    assert len(keep) <= MAX_POINTS and keep[0] == 0 and keep[-1] == len(values) - 1
    assert np.argmin(values) in keep and np.argmax(values) in keep
    assert (np.diff(keep) > 0).all()
    other = -values[::-1].copy()
    both = keep_points([values, other])
    assert len(both) <= MAX_POINTS and np.argmax(other) in both and np.argmin(values) in both
    assert (keep_points([np.arange(100.0)]) == np.arange(100)).all()


def test_a_long_run_gives_a_file_of_sensible_size() -> None:
    index = pd.DatetimeIndex(pd.date_range("2020-01-01", periods=1_000_000, freq="min", tz="UTC"), name="ts")
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 1e-3, len(index))))
    equity = pd.DataFrame({"equity": closes * 10, "buy_and_hold": closes * 10}, index=index)
    trades = pd.DataFrame(columns=TRADE_COLUMNS)
    stats = compute_stats(equity["equity"], trades, initial_equity=1000.0, interval_ns=60 * 10**9,
                          benchmark=equity["buy_and_hold"])
    result = BacktestResult(stats=stats, equity=equity, orders=pd.DataFrame(), fills=pd.DataFrame(),
                            trades=trades, prices={"SYN/USD": pd.DataFrame({"open": closes, "close": closes},
                                                                           index=index)})
    page = render_report(result)
    data_bytes = len(page) - len(plotly.offline.get_plotlyjs())
    assert data_bytes < 2_500_000, data_bytes
    assert "No closed trades" in page


def test_ml_section_is_rendered_when_the_result_carries_it() -> None:
    result = run()
    result.extras["ml"] = ml_extras(result)
    page = render_report(result)
    assert "<h2>ML signal</h2>" in page and "Precision and average return by threshold" in page
    assert "Feature contributions to each trade" in page and "volume_z" in page
    assert chart_count(page) == 7


def test_long_trade_lists_are_cut_with_a_note() -> None:
    result = run(3_000)
    many = pd.concat([result.trades] * (MAX_TRADE_ROWS // len(result.trades) + 2), ignore_index=True)
    result.trades = many
    page = render_report(result)
    assert page.count("<tr class='") == MAX_TRADE_ROWS and "trades.csv has them all" in page


def test_backtest_report_flag_and_report_command_give_the_same_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["backtest", "--quiet", "--report"]) == 0
    assert "report: out/report.html" in capsys.readouterr().out
    written = (tmp_path / "out" / "report.html").read_text()
    assert main(["report", "out", "-o", "again.html"]) == 0
    assert capsys.readouterr().out.strip() == "report written to again.html"
    assert (tmp_path / "again.html").read_text() == written
    assert "BTC/USD" in written and len(written) < 8_000_000


def test_report_of_a_directory_without_results_is_a_one_line_error(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no result.json" in err and err.count("\n") == 1
