"""The report's sections that are more than one chart: the header tables, risk, the ML signal, parity, the
assumptions and the configuration."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from engine.report.charts import BLUE, GREEN, Charts, figure
from engine.report.tables import figures_table, frame_table, items, key_values, plain, time_text, wrap

MAX_CONTRIBUTION_ROWS = 200
DATA_LABELS = {"symbols": "symbols", "interval": "bar interval", "start": "first bar opens (UTC)",
               "end": "last bar closes (UTC)", "n_bars": "bars", "bars": "bars", "sha256": "sha256 of the bars"}
CONFIG_LABELS = {"cash": "starting cash", "set_aside": "set aside", "fee_bps": "fee (bps)",
                 "slippage_bps": "slippage (bps)", "venue": "venue"}


def section(title: str, content: str, anchor: str = "") -> str:
    """Return a titled section."""
    ident = f' id="{html.escape(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{html.escape(title)}</h2>{content}</section>"


def header_tables(config: dict[str, Any], data: dict[str, Any]) -> str:
    """Return the strategy with its parameters, the data and the run's settings as three small tables."""
    strategies = config.get("strategies", [])
    parts = []
    for strategy in strategies or [{"name": "(not recorded)", "params": {}}]:
        parts.append(f"<div><h3>Strategy: {html.escape(str(strategy.get('name', '')))}</h3>"
                     f"{key_values(strategy.get('params', {})) if strategy.get('params') else '<p>No parameters.</p>'}"
                     "</div>")
    parts.append(f"<div><h3>Data</h3>{key_values(data_rows(data), DATA_LABELS)}</div>")
    parts.append(f"<div><h3>Run</h3>{key_values(settings_rows(config), CONFIG_LABELS)}</div>")
    return "".join(parts)


def data_rows(data: dict[str, Any], *, short: bool = True) -> dict[str, Any]:
    """Return the data fingerprint with readable times and counts (``short``: the hash cut, as the Data section
    at the end has it whole). The interval in nanoseconds is left out: the interval says it."""
    rows: dict[str, Any] = {}
    for key, value in data.items():
        if key == "interval_ns":
            continue
        if key in ("start", "end") and value:
            rows[key] = time_text(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            rows[key] = f"{value:,}"
        elif short and key == "sha256" and isinstance(value, str):
            rows[key] = value[:16] + "…"
        else:
            rows[key] = value
    return rows


def settings_rows(config: dict[str, Any]) -> dict[str, Any]:
    """Return the run's scalar settings (the strategies, markets and risk limits have tables of their own)."""
    return {k: v for k, v in config.items() if k not in ("strategies", "markets", "risk")
            and not isinstance(v, dict | list)}


def configuration(config: dict[str, Any]) -> str:
    """Return the whole configuration as tables: settings, markets, risk limits, each strategy's parameters."""
    parts = [f"<h3>Settings</h3>{key_values(settings_rows(config), CONFIG_LABELS)}"]
    markets = config.get("markets")
    if isinstance(markets, list) and markets:
        frame = pd.DataFrame([{k: plain(v) for k, v in m.items()} for m in markets if isinstance(m, dict)])
        parts.append(f"<h3>Markets</h3>{frame_table(frame)}")
    for key, value in config.items():
        if key not in ("strategies", "markets") and isinstance(value, dict | list):
            shown = key_values(value if isinstance(value, dict) else {key: value}) if value else "<p>None.</p>"
            parts.append(f"<h3>{html.escape(key.replace('_', ' ').capitalize())}</h3>{shown}")
    for strategy in config.get("strategies", []):
        extra = {k: v for k, v in strategy.items() if k not in ("name", "params", "indicators")}
        if strategy.get("indicators"):
            extra["lines drawn on the candles"] = list(strategy["indicators"])
        parts.append(f"<h3>Strategy {html.escape(str(strategy.get('name')))}</h3>"
                     f"{key_values({**strategy.get('params', {}), **extra})}")
    return "".join(parts)


def data_section(data: dict[str, Any]) -> str:
    """Return the data fingerprint in full."""
    return key_values(data_rows(data, short=False), DATA_LABELS)


def risk_section(tail: dict[str, dict[str, Any]], drawdowns_html: str, window_note: str) -> str:
    """Return the tail-risk table (strategy against buy-and-hold) beside the worst drawdowns."""
    mine, theirs = tail.get("equity", {}), tail.get("buy_and_hold")
    rows = [("Daily value at risk (95%)", "percent", mine.get("var"), (theirs or {}).get("var")),
            ("Daily expected shortfall, CVaR (95%)", "percent", mine.get("cvar"), (theirs or {}).get("cvar")),
            ("Skew of daily returns", "ratio", mine.get("skew"), (theirs or {}).get("skew")),
            ("Excess kurtosis of daily returns", "ratio", mine.get("kurtosis"), (theirs or {}).get("kurtosis")),
            ("Best day", "percent", mine.get("best_day"), (theirs or {}).get("best_day")),
            ("Worst day", "percent", mine.get("worst_day"), (theirs or {}).get("worst_day"))]
    return (f"<div class='cards'><div><h3>Tail risk</h3>{figures_table(rows, theirs is not None)}"
            f"<p class='note'>{html.escape(window_note)}</p></div>"
            f"<div class='wide'><h3>Worst drawdowns</h3>{drawdowns_html}</div></div>")


def assumptions(assumptions: dict[str, list[str]]) -> str:
    if not assumptions:
        return "<p>Not recorded with this result.</p>"
    titles = {"engine": "Engine", "venue": "Simulated exchange"}
    return "".join(f"<h3>{titles.get(k, html.escape(k))}</h3><ul>{items(v)}</ul>" for k, v in assumptions.items())


def ml_section(ml: dict[str, Any], charts: Charts) -> str:
    """Return the ML signal's threshold table (whatever columns it has), its chart and the contributions."""
    import plotly.graph_objects as go

    parts = []
    thresholds = ml.get("thresholds")
    if isinstance(thresholds, pd.DataFrame) and not thresholds.empty:
        first = [c for c in ("threshold", "n_signals") if c in thresholds]  # a row reads from its threshold
        parts.append("<h3>Precision and average net return by threshold (out of sample)</h3>"
                     + frame_table(thresholds[[*first, *(c for c in thresholds.columns if c not in first)]]))
        if {"threshold", "precision"} <= set(thresholds.columns):
            fig = figure(340, xaxis_title="threshold", yaxis={"title": "precision", "tickformat": ".0%"},
                         yaxis2={"title": "average net return", "overlaying": "y", "side": "right",
                                 "tickformat": ".2%"})
            fig.add_trace(go.Scatter(x=thresholds["threshold"], y=thresholds["precision"], name="precision",
                                     mode="lines+markers", line={"color": BLUE}))
            if "avg_return" in thresholds:
                fig.add_trace(go.Scatter(x=thresholds["threshold"], y=thresholds["avg_return"], yaxis="y2",
                                         name="average net return", mode="lines+markers", line={"color": GREEN}))
            parts.append(charts.add(fig))
    contributions = ml.get("contributions")
    if isinstance(contributions, pd.DataFrame) and not contributions.empty:
        features = [c for c in contributions.columns if c not in ("entry_time", "symbol", "ts")
                    and pd.api.types.is_numeric_dtype(contributions[c])]
        shown = contributions.iloc[:MAX_CONTRIBUTION_ROWS]
        labels = ([time_text(t) for t in shown["entry_time"]] if "entry_time" in shown
                  else [str(i) for i in shown.index])
        fig = figure(max(300, 80 + 14 * len(shown)), hovermode="closest", xaxis={"side": "top"})
        fig.add_trace(go.Heatmap(z=shown[features].to_numpy(dtype="float64"), x=features, y=labels, zmid=0,
                                 colorscale="RdBu", hovertemplate="%{y} %{x}: %{z:.4f}<extra></extra>"))
        fig.update_yaxes(type="category", autorange="reversed", title="trade entry")
        limit = f" (the first {MAX_CONTRIBUTION_ROWS})" if len(contributions) > MAX_CONTRIBUTION_ROWS else ""
        parts.append(f"<h3>Feature contributions to each trade's signal{limit}</h3>" + charts.add(fig))
    return "".join(parts) or "<p>The ML section is empty.</p>"


def parity_section(parity: dict[str, Any]) -> str:
    first = {d["kind"]: d for d in parity.get("divergences", [])}
    rows = []
    for kind, counts in parity.get("counts", {}).items():
        found = first.get(kind)
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
            kind, f"{counts['session']:,}", f"{counts['backtest']:,}", "-" if found is None else f"#{found['index']}",
            "same" if found is None else found["cause"])) + "</tr>")
    verdict = ("Zero divergence: the session did what its back-test does." if parity.get("zero") else
               f"{len(first)} kind(s) of event diverge; the first of each is named with its cause.")
    head = "".join(f"<th>{h}</th>" for h in ("events", "session", "back-test", "first divergence", "why"))
    return (f"<p>{html.escape(verdict)}</p>"
            + wrap(f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"))


def best_and_worst(daily: pd.Series) -> dict[str, float | None]:
    """Return the best and the worst day's return."""
    values = daily.to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    return {"best_day": float(values.max()) if len(values) else None,
            "worst_day": float(values.min()) if len(values) else None}

