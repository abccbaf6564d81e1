"""The sweep report, ``sweep.html``: one self-contained page that opens offline and makes no network request.

plotly.js is inlined (no CDN) and a Content-Security-Policy meta tag forbids the page any connection. Sections:
heatmaps of the objective over two parameters for each data set (the other parameters, and for a walk-forward
the in-sample windows, reduced to their best: the page says so), for a walk-forward each window's in-sample
against out-of-sample objective and the chained out-of-sample equity, the best rows, and the PBO. The figures'
numbers are written as plain JSON lists (not plotly's base64 arrays) so the page can be read and checked as text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import ConfigError

CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
IS_COLOUR, OOS_COLOUR = "#1f77b4", "#d62728"
MAX_POINTS = 20_000  # of the chained equity chart


@dataclass
class SweepReport:
    """What the page shows: the sweep's table and what was made of it (``windows``/``equity``: a walk-forward's)."""

    table: pd.DataFrame
    params: list[str]
    objective: str
    heatmap: tuple[str, str] | None = None
    best: pd.DataFrame | None = None
    pbo: Mapping[str, Any] = field(default_factory=dict)
    windows: pd.DataFrame | None = None
    equity: Mapping[str, pd.Series] = field(default_factory=dict)
    title: str = "Sweep"


def heatmap_axes(spec: str | None, params: Sequence[str]) -> tuple[str, str] | None:
    """Return the two parameters of ``--heatmap X,Y`` (default the first two of ``params``; None if fewer)."""
    if spec is None:
        return (params[0], params[1]) if len(params) >= 2 else None
    names = tuple(n.strip() for n in spec.split(","))
    if len(names) != 2 or names[0] == names[1] or not all(names):
        raise ConfigError(f"--heatmap must be two different parameters X,Y, got {spec!r}")
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ConfigError(f"--heatmap {spec!r}: {', '.join(unknown)} is not a --grid parameter "
                          f"(grid: {', '.join(params)})")
    return names[0], names[1]


def heatmap_values(table: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Return the best objective for each (``y``, ``x``) pair: rows ``y``, columns ``x``, both sorted."""
    scored = table[table["error"].isna()]
    return scored.pivot_table(index=y, columns=x, values="objective", aggfunc="max", dropna=False).sort_index(
        axis=0).sort_index(axis=1)


def write_sweep_report(report: SweepReport, path: str | Path) -> Path:
    """Render ``report`` and write it to ``path``; return the path."""
    from engine.report.page import write_page

    return write_page(render_sweep_report(report), path)


def render_sweep_report(report: SweepReport) -> str:
    """Return the report as one HTML document."""
    import plotly.offline

    charts: list[str] = []
    sections = [_heatmaps(report, charts)]
    if report.windows is not None and len(report.windows):
        sections.append(_section("Walk-forward: in-sample against out-of-sample",
                                 "<p>Each window's choice, scored on the bars it was chosen on and on the bars "
                                 "after them; out-of-sample figures far below the in-sample ones are overfitting."
                                 "</p>" + _chart(charts, _windows_figure(report.windows, report.objective))))
        if report.equity:
            sections.append(_section("Walk-forward: chained out-of-sample equity",
                                     _chart(charts, _equity_figure(report.equity))))
    if report.best is not None:
        sections.append(_section(f"Best rows by {html.escape(report.objective)}", _table(report.best)))
    sections.append(_section("Probability of backtest overfitting", _pbo(report.pbo)))
    return PAGE.format(csp=CSP, title=html.escape(report.title), style=STYLE, plotly=plotly.offline.get_plotlyjs(),
                       body="\n".join(sections), scripts="\n".join(charts))


def _heatmaps(report: SweepReport, charts: list[str]) -> str:
    table = report.table
    if report.windows is not None:
        table = table[table["phase"] == "is"]
    if report.heatmap is None:
        return _section("Objective", "<p>A heatmap needs two grid parameters; this sweep has "
                                     f"{len(report.params)}.</p>")
    x, y = report.heatmap
    others = [p for p in report.params if p not in (x, y)]
    reduced = [f"the other parameters ({', '.join(others)})"] if others else []
    if report.windows is not None:
        reduced.append("the in-sample windows")
    note = (f"<p>Each cell is the best {html.escape(report.objective)} over "
            f"{html.escape(' and '.join(reduced))} (aggregated by max).</p>" if reduced else "")
    parts = []
    for name, rows in table.groupby("dataset", sort=False):
        grid = heatmap_values(rows, x, y)
        parts.append(f"<h3>{html.escape(str(name))}</h3>"
                     + _chart(charts, _heatmap_figure(grid, x, y, report.objective)))
    return _section(f"{html.escape(report.objective)} over {html.escape(x)} and {html.escape(y)}",
                    note + "".join(parts))


def _figure(**layout: Any) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout({"template": "plotly_white", "height": 420, "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
                       "legend": {"orientation": "h", "y": 1.08, "x": 0}, **layout})
    return fig


def _heatmap_figure(grid: pd.DataFrame, x: str, y: str, objective: str) -> Any:
    import plotly.graph_objects as go

    fig = _figure(xaxis_title=x, yaxis_title=y)
    fig.add_trace(go.Heatmap(x=[_plain(v) for v in grid.columns], y=[_plain(v) for v in grid.index],
                             z=[[_number(v) for v in row] for row in grid.to_numpy()], colorscale="RdYlGn",
                             colorbar={"title": {"text": objective}}, name=objective,
                             hovertemplate=f"{x} %{{x}}<br>{y} %{{y}}<br>{objective} %{{z:.4g}}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def _windows_figure(windows: pd.DataFrame, objective: str) -> Any:
    import plotly.graph_objects as go

    fig = _figure(barmode="group", xaxis_title="window", yaxis_title=objective)
    labels = [f"{d} #{w}" for d, w in zip(windows["dataset"], windows["window"], strict=True)]
    for prefix, label, colour in (("is", "in-sample", IS_COLOUR), ("oos", "out-of-sample", OOS_COLOUR)):
        fig.add_trace(go.Bar(x=labels, y=[_number(v) for v in windows[f"{prefix}_objective"]], name=label,
                             marker_color=colour))
    return fig


def _equity_figure(equity: Mapping[str, pd.Series]) -> Any:
    import plotly.graph_objects as go

    fig = _figure(yaxis_title="equity", hovermode="x unified")
    for name, full in equity.items():
        step = -(-len(full) // MAX_POINTS)  # a chart shows no more; the curve's file keeps every bar
        curve = full.iloc[::step] if step > 1 else full
        times = [t.isoformat() for t in pd.DatetimeIndex(curve.index)]
        fig.add_trace(go.Scatter(x=times, y=[_number(v) for v in curve.to_numpy()], name=str(name), mode="lines"))
    return fig


def _chart(charts: list[str], fig: Any) -> str:
    """Return a placeholder div for ``fig`` and queue the script that draws it from plain JSON."""
    div = f"chart-{len(charts)}"
    spec = {"data": [trace.to_plotly_json() for trace in fig.data], "layout": fig.layout.to_plotly_json()}
    payload = json.dumps(spec, default=_plain).replace("</", "<\\/")
    charts.append(f"<script type='application/json' id='{div}-spec'>{payload}</script>\n<script>(function(){{"
                  f"var s=JSON.parse(document.getElementById('{div}-spec').textContent);"
                  f"Plotly.newPlot('{div}', s.data, s.layout, {json.dumps(PLOTLY_CONFIG)});}})();</script>")
    return f"<div class='chart' id='{div}'></div>"


def _table(frame: pd.DataFrame) -> str:
    plain = {"error": None, "window": -1, "phase": "all"}  # columns that say nothing in a plain, clean sweep
    shown = frame.drop(columns=[c for c, v in plain.items() if c in frame.columns
                                and (frame[c].isna() if v is None else frame[c] == v).all()])
    return shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0, classes="rows")


def _pbo(pbo: Mapping[str, Any]) -> str:
    if not pbo:
        return "<p>No PBO: it is computed for a plain sweep (not a walk-forward) of two points or more.</p>"
    lines = "".join(f"<tr><td>{html.escape(str(name))}</td><td>"
                    + ("n/a (fewer than two runs succeeded)" if v is None else
                       f"{v['pbo']:.2f}</td><td>{v['n_splits']}</td><td>{v['n_configs']}")
                    + "</td></tr>" for name, v in pbo.items())
    return ("<p>The share of in-sample/out-of-sample splits of the bars (combinatorially symmetric cross-validation) "
            "where the in-sample best ranks at or below the median out of sample: near 0 the choice holds up, near "
            "0.5 or above it is luck.</p><table class='rows'><tr><th>data set</th><th>PBO</th><th>splits</th>"
            f"<th>configurations</th></tr>{lines}</table>")


def _section(title: str, body: str) -> str:
    return f"<section><h2>{title}</h2>{body}</section>"


def _number(value: Any) -> float | None:
    """Return ``value`` as a JSON number, None (a gap in the chart) where it is missing or not finite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """Return numpy scalars as Python ones, for JSON."""
    return value.item() if hasattr(value, "item") else value


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; }
section { margin: 28px 0; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.chart { width: 100%; min-height: 420px; }
table.rows { border-collapse: collapse; font-size: 0.9em; }
table.rows th, table.rows td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{title}</title><style>{style}</style>
<script>{plotly}</script></head>
<body><h1>{title}</h1>
{body}
{scripts}
</body></html>
"""
