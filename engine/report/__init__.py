"""The HTML report of a back-test, a tear-sheet: one self-contained file that opens offline and makes no
network request.

Everything is inlined: plotly.js (no CDN), the figures' data, the styles (system fonts only, no MathJax). A
Content-Security-Policy meta tag forbids the page any connection, so a chart that tried to fetch something
would fail loudly in the browser rather than leak a request. Long series are reduced for the charts
(``charts.keep_points``: extremes survive); the tables and saved files keep every bar.

Sections, after a header of tables (the strategy and its parameters, the data, the run's settings): statistics
and equity against buy-and-hold (log or linear), tail risk and the worst drawdowns, the drawdown curve, rolling
Sharpe and volatility, yearly and monthly returns against buy-and-hold, per symbol every close with entries and
exits and the last bars as candles with volume, the strategy's indicators and its trades, the distribution of
trade returns, the trade list, parity and the ML section when the result carries them
(``engine.result.BacktestResult`` documents ``extras``), the assumptions, the data fingerprint and the
configuration. Modules: ``charts`` (figures), ``tables`` (HTML tables), ``sections``, ``indicators`` (the
strategy's declared lines), ``page`` (styles and skeleton). The same result always gives the same bytes.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.report import charts as ch
from engine.report.charts import MAX_CANDLES, MAX_POINTS, Charts, keep_points
from engine.report.page import CSP, PAGE, STYLE, write_page
from engine.report.sections import (
    assumptions,
    best_and_worst,
    configuration,
    data_section,
    header_tables,
    ml_section,
    parity_section,
    risk_section,
    section,
)
from engine.report.tables import MAX_TRADE_ROWS, drawdowns_table, stats_table, time_text, trades_table, yearly_table
from engine.result.tearsheet import (
    daily_returns,
    rolling_figures,
    rolling_window,
    tail_risk,
    worst_drawdowns,
    yearly_returns,
)

if TYPE_CHECKING:
    from engine.result import BacktestResult

__all__ = ["MAX_CANDLES", "MAX_POINTS", "MAX_TRADE_ROWS", "keep_points", "render_report", "write_report"]


def write_report(result: BacktestResult, path: str | Path) -> Path:
    """Render ``result`` and write it to ``path`` (directories are created); return the path."""
    return write_page(render_report(result), path)


def render_report(result: BacktestResult) -> str:
    """Return the report as one HTML document."""
    import plotly.offline

    charts = Charts()
    equity, initial = result.equity, float(result.stats.get("initial_equity") or 0.0)
    curves = [c for c in ("equity", "buy_and_hold") if c in equity]
    daily = {c: daily_returns(equity[c], initial) for c in curves}
    window = rolling_window(len(daily["equity"])) if "equity" in daily else 0
    rolling = {c: rolling_figures(r, window) for c, r in daily.items()}
    tail = {c: {**tail_risk(r), **best_and_worst(r)} for c, r in daily.items()}
    worst = worst_drawdowns(equity["equity"], initial) if "equity" in equity else pd.DataFrame()
    yearly = yearly_returns(equity[curves], initial) if curves and not equity.empty else pd.DataFrame()
    indicators = _indicators(result.config)
    sections = [
        section("Strategy against buy-and-hold", f"<div class='overview'>{stats_table(result.stats)}"
                f"<div class='grow'>{charts.add(ch.equity_figure(equity))}</div></div>"),
        section("Risk: tail and worst drawdowns", risk_section(
            tail, drawdowns_table(worst), "On daily returns (the equity at the end of each UTC day), as the "
            "tear-sheet libraries take them; VaR and CVaR are historical.")),
        section("Drawdown", charts.add(ch.drawdown_figure(equity, initial, worst))),
        section(f"Rolling Sharpe and volatility ({window} days)",
                charts.add(ch.rolling_figure(rolling, "sharpe", "Sharpe (annualised)", ".2f"))
                + charts.add(ch.rolling_figure(rolling, "volatility", "volatility (annualised)", ".0%"))),
        section("Yearly returns against buy-and-hold", "<div class='cards'><div>"
                f"{yearly_table(yearly) if not yearly.empty else '<p>No bars.</p>'}</div><div class='wide'>"
                f"{charts.add(ch.yearly_figure(yearly))}</div></div>"),
        section("Monthly returns", "<p class='note'>The buttons switch between the strategy, buy-and-hold and "
                "their difference (percentage points); the last column is the year.</p>"
                + charts.add(ch.monthly_figure(equity, initial))),
    ]
    for symbol, frame in result.prices.items():
        sections.append(section(f"Price: {symbol}", charts.add(ch.price_figure(symbol, frame, result.trades))))
        shown = min(len(frame), MAX_CANDLES)
        note = (f"The last {shown:,} of {len(frame):,} bars" if len(frame) > shown else f"All {shown:,} bars")
        note += (" with the strategy's indicators and its entries and exits in that range; zoom or pan with the "
                 "mouse. The chart above has every bar.")
        if "high" not in frame:
            note += " High and low were not saved with this result: the candles span open to close only."
        sections.append(section(f"Candles: {symbol}, last bars", f"<p class='note'>{html.escape(note)}</p>"
                                + charts.add(ch.candle_figure(symbol, frame, result.trades, indicators))))
    sections += [
        section("Distribution of trade returns", charts.add(ch.trade_returns_figure(result.trades))),
        section(f"Trades ({len(result.trades):,})", trades_table(result.trades)),
    ]
    parity = result.extras.get("parity")
    if isinstance(parity, dict):  # mlct parity: the session against its back-test
        sections.append(section("Parity with the back-test", parity_section(parity)))
    ml = result.extras.get("ml")
    if ml:
        sections.append(section("ML signal", ml_section(ml, charts)))
    sections += [
        section("Back-test assumptions", assumptions(result.assumptions)),
        section("Data", data_section(result.data)),
        section("Configuration", configuration(result.config)),
    ]
    strategies = result.config.get("strategies", [])
    title = ", ".join(s["name"] for s in strategies) or "Back-test"
    data = result.data
    period = f"{time_text(data['start'])} to {time_text(data['end'])} UTC" if data.get("start") else ""
    interval = f"{data['interval']} bars" if data.get("interval") else ""
    subtitle = " · ".join(x for x in [", ".join(data.get("symbols", [])), interval, period] if x)
    return PAGE.format(csp=CSP, title=html.escape(title), subtitle=html.escape(subtitle),
                       n_charts=len(charts.scripts), style=STYLE, plotly=plotly.offline.get_plotlyjs(),
                       header=header_tables(result.config, result.data), body="\n".join(sections),
                       scripts="\n".join(charts.scripts))


def _indicators(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the lines every strategy of the run declared (``Strategy.chart_indicators``), by label."""
    lines: dict[str, dict[str, Any]] = {}
    for strategy in config.get("strategies", []):
        declared = strategy.get("indicators")
        if isinstance(declared, dict):
            lines.update({str(k): v for k, v in declared.items() if isinstance(v, dict)})
    return lines
