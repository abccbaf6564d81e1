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
from engine.report import MAX_CANDLES, MAX_POINTS, MAX_TRADE_ROWS, keep_points, render_report
from engine.result.stats import compute_stats
from engine.result.tables import TRADE_COLUMNS
from strategies.sma_cross import SmaCross

SECTIONS = ["Strategy against buy-and-hold", "Risk: tail and worst drawdowns", "Drawdown",
            "Rolling Sharpe and volatility", "Yearly returns against buy-and-hold", "Monthly returns",
            "Price: SYN/USD", "Candles: SYN/USD",
            "Distribution of trade returns", "Trades (", "Back-test assumptions", "Data", "Configuration"]
# equity, drawdown, rolling Sharpe, rolling volatility, yearly, monthly, price, candles, trade returns
N_CHARTS = 9


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
    assert chart_count(page) == N_CHARTS == page.count('<div class="chart"')
    assert page.count("Plotly.newPlot(") == N_CHARTS
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
                            trades=trades, prices={"SYN/USD": pd.DataFrame({
                                "open": closes, "high": closes * 1.001, "low": closes * 0.999, "close": closes,
                                "volume": np.ones(len(closes))}, index=index)})
    page = render_report(result)
    data_bytes = len(page) - len(plotly.offline.get_plotlyjs())
    assert data_bytes < 2_500_000, data_bytes
    assert "No closed trades" in page


def test_ml_section_is_rendered_when_the_result_carries_it() -> None:
    result = run()
    result.extras["ml"] = ml_extras(result)
    page = render_report(result)
    assert "<h2>ML signal</h2>" in page and "Precision and average net return by threshold" in page
    assert "Feature contributions to each trade" in page and "volume_z" in page
    assert chart_count(page) == N_CHARTS + 2


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


def header(page: str) -> str:
    return page[page.index('<div class="header-tables'):page.index("<main>")]


def test_the_header_shows_strategy_parameters_and_data_as_tables_not_json() -> None:
    page = render_report(run(fast=7, slow=33))
    top = header(page)
    assert "<h3>Strategy: SmaCross</h3>" in top
    assert "<th>fast</th><td>7</td>" in top and "<th>slow</th><td>33</td>" in top
    assert "<th>bars</th><td>2,000</td>" in top and "<th>bar interval</th><td>1h</td>" in top
    assert "<th>starting cash</th>" in top and "<th>fee (bps)</th>" in top
    assert "{" not in top and '"' not in top.replace('class="header-tables cards"', "")  # no JSON
    configuration = page[page.index("<h2>Configuration</h2>"):]
    assert "<pre>" not in page and "lines drawn on the candles" in configuration


def test_the_ml_table_reads_any_columns_as_words_and_percentages_inside_its_own_box() -> None:
    result = run()
    extras = ml_extras(result)
    extras["thresholds"] = extras["thresholds"].assign(
        precision_lo=[0.4, 0.45, 0.5], precision_hi=[0.6, 0.7, 0.8], p_value=[0.2, 0.05, 0.01],
        n_independent=[12.0, 6.0, 3.0], p_adjusted=[0.6, 0.15, 0.03], some_new_figure=[1.5, 2.5, 3.5])
    result.extras["ml"] = extras
    page = render_report(result)
    ml = page[page.index("<h2>ML signal</h2>"):page.index("<h2>Back-test assumptions</h2>")]
    table = ml[ml.index("<div class='scroll'><table class='grid'>"):ml.index("</table></div>")]
    heads = re.findall(r"<th>([^<]*)</th>", table)
    assert heads == ["threshold", "signals", "precision [95% CI]", "avg net return [95% CI]", "p",
                     "independent signals", "adjusted p", "some new figure"]
    assert "_" not in "".join(heads)
    assert "<td>52.00% [40.00%, 60.00%]</td>" in table and "<td>0.30%</td>" in table  # fractions as percent
    assert "<td>0.500</td>" in table and "<td>0.050</td>" in table and "<td>12</td>" in table
    assert "<td>1.5</td>" in table


def test_risk_sections_show_drawdowns_tail_risk_and_years_against_buy_and_hold() -> None:
    result = run(4_000)
    page = render_report(result)
    risk = page[page.index("<h2>Risk: tail and worst drawdowns</h2>"):page.index("<h2>Drawdown</h2>")]
    for label in ("Daily value at risk (95%)", "CVaR", "Skew of daily returns", "Excess kurtosis", "start (peak)",
                  "trough", "recovery", "depth", "length"):
        assert label in risk, label
    worst = re.findall(r"<td>(-\d+\.\d\d%)</td><td>\d", risk)
    assert worst and float(worst[0][:-1]) / 100 == pytest.approx(result.stats["max_drawdown"], abs=5e-5)
    years = page[page.index("<h2>Yearly returns against buy-and-hold</h2>"):page.index("<h2>Monthly returns")]
    assert "<th>buy &amp; hold</th>" in years and "<td>2020</td>" in years
    assert '"label":"buy and hold"' in page and '"label":"strategy - buy and hold"' in page  # monthly buttons


def test_price_and_equity_charts_toggle_a_log_scale() -> None:
    page = render_report(run())
    assert page.count('"label":"log scale"') == 2  # equity, price
    assert '"yaxis.type":"log"' in page and '"yaxis.type":"linear"' in page


def test_candles_show_the_last_bars_with_volume_and_the_strategy_lines() -> None:
    result = run(2_000, fast=8, slow=40)
    page = render_report(result)
    assert page.count('"type":"candlestick"') == 1
    assert f"The last {MAX_CANDLES:,} of 2,000 bars" in page
    assert '"name":"fast SMA 8"' in page and '"name":"slow SMA 40"' in page and '"name":"volume"' in page
    assert "High and low were not saved" not in page


def test_a_result_saved_before_ohlcv_still_draws_candles_and_says_so() -> None:
    result = run(600)
    result.prices = {s: frame[["open", "close"]] for s, frame in result.prices.items()}
    page = render_report(result)
    assert "High and low were not saved" in page and '"type":"candlestick"' in page
    assert '"name":"volume"' not in page


def test_candle_markers_keep_to_the_candles_range() -> None:
    from engine.report.charts import candle_figure

    result = run(2_000)
    prices = result.prices["SYN/USD"]
    first_shown = prices.index[-MAX_CANDLES]
    trades = result.trades.iloc[:1].copy()
    trades["entry_time"] = prices.index[0]  # opened long before the candles, closed inside them
    trades["exit_time"] = prices.index[-3]
    fig = candle_figure("SYN/USD", prices, trades, {})
    by_name = {trace.name: trace for trace in fig.data}
    assert len(by_name["entry"].x) == 0 and len(by_name["exit"].x) == 1
    assert by_name["SYN/USD"].x[0] == first_shown.value // 1_000_000


@pytest.mark.parametrize("name", ["sma_cross", "ma_simple", "ma_inverse", "bollinger", "bear_bull"])
def test_ready_strategies_declare_lines_the_report_can_draw(name: str) -> None:
    from engine.cli.backtest import resolve_strategy
    from engine.report.indicators import indicator_lines

    declared = resolve_strategy(name)().chart_indicators()
    closes = pd.Series(100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 400)))
    lines = indicator_lines(declared, closes)
    assert declared and len(lines) >= len(declared)
    for line in lines.values():
        assert np.isfinite(line.iloc[-1])
    window = next(iter(declared.values()))["window"]
    if next(iter(declared.values()))["kind"] == "sma":  # a plain average of the last window closes
        first = next(iter(lines.values()))
        assert first.iloc[-1] == pytest.approx(closes.iloc[-window:].mean(), rel=1e-12)
