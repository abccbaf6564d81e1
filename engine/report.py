"""The HTML report of a back-test: one self-contained file that opens offline and makes no network request.

Everything is inlined: plotly.js (no CDN), the figures' data, the styles (system fonts only, no MathJax). A
Content-Security-Policy meta tag forbids the page any connection, so a chart that tried to fetch something
would fail loudly in the browser rather than leak a request. Series longer than ``MAX_POINTS`` are reduced for
the charts by keeping, in each time bucket, the first, last, lowest and highest points (extremes survive, a
drawdown is never hidden); the tables and saved files keep every bar.

Sections: statistics (strategy against buy-and-hold), price with entries and exits, equity against buy-and-hold,
drawdown, monthly returns, distribution of trade returns, the trade list, the ML section when
``result.extras["ml"]`` is present (``engine.result.BacktestResult`` documents its frames), the back-test
assumptions, the configuration and the data fingerprint. The same result always gives the same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.display import SUMMARY_ROWS, format_days, format_stat, percent
from engine.result.stats import drawdown, monthly_returns

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from engine.result import BacktestResult

MAX_POINTS = 20_000  # per chart series; a 1,500-pixel-wide chart shows no more
MAX_MARKERS = 5_000  # entry and exit markers on a price chart
MAX_TRADE_ROWS = 1_000  # rows of the trade list (the first and last halves); trades.csv has them all
MAX_CONTRIBUTION_ROWS = 200
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
GREEN, RED, BLUE, GREY = "#1a9850", "#d73027", "#1f77b4", "#7f7f7f"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def write_report(result: BacktestResult, path: str | Path) -> Path:
    """Render ``result`` and write it to ``path`` (directories are created); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result), encoding="utf-8")
    return out


def render_report(result: BacktestResult) -> str:
    """Return the report as one HTML document."""
    import plotly.offline

    charts: list[str] = []
    sections = [
        _section("Strategy against buy-and-hold", f"<div class='overview'>{_stats_table(result.stats)}"
                 f"<div class='grow'>{_chart(charts, _equity_figure(result.equity))}</div></div>"),
        *(_section(f"Price: {symbol}", _chart(charts, _price_figure(symbol, frame, result.trades)))
          for symbol, frame in result.prices.items()),
        _section("Drawdown", _chart(charts, _drawdown_figure(result.equity, result.stats["initial_equity"]))),
        _section("Monthly returns", _chart(charts, _monthly_figure(result.equity,
                                                                  result.stats["initial_equity"]))),
        _section("Distribution of trade returns", _chart(charts, _trade_returns_figure(result.trades))),
        _section(f"Trades ({len(result.trades):,})", _trades_table(result.trades)),
    ]
    parity = result.extras.get("parity")
    if isinstance(parity, dict):  # mlct parity: the session against its back-test
        sections.append(_section("Parity with the back-test", _parity_section(parity)))
    ml = result.extras.get("ml")
    if ml:
        sections.append(_section("ML signal", _ml_section(ml, charts)))
    sections += [
        _section("Back-test assumptions", _assumptions(result.assumptions)),
        _section("Data", _key_values(result.data)),
        _section("Configuration", f"<pre>{html.escape(json.dumps(result.config, indent=2, default=str))}</pre>"),
    ]
    strategies = result.config.get("strategies", [])
    title = ", ".join(s["name"] for s in strategies) or "Back-test"
    params = "; ".join(f"{s['name']} {json.dumps(s['params'], default=str)}" for s in strategies)
    data = result.data
    period = f"{_time(data['start'])} to {_time(data['end'])} UTC" if data.get("start") else ""
    interval = f"{data['interval']} bars" if data.get("interval") else ""
    subtitle = " · ".join(x for x in [", ".join(data.get("symbols", [])), interval, period, params] if x)
    return PAGE.format(csp=CSP, title=html.escape(title), subtitle=html.escape(subtitle), n_charts=len(charts),
                       style=STYLE, plotly=plotly.offline.get_plotlyjs(), body="\n".join(sections),
                       scripts="\n".join(charts))


# -- series reduction -------------------------------------------------------------------------------------------
def keep_points(series: Sequence[np.ndarray], max_points: int = MAX_POINTS) -> np.ndarray:
    """Return the sorted indices to draw of equally long series: all of them if few, else per time bucket the
    first, last, lowest and highest point of each series (so every extreme, the global ones included, stays)."""
    n = len(series[0]) if series else 0
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // (2 + 2 * len(series)))
    size = -(-n // buckets)
    starts = np.arange(0, n, size)
    keep = [starts, np.minimum(starts + size - 1, n - 1)]
    pad = size * len(starts) - n
    for values in series:
        grid = np.concatenate([np.asarray(values, dtype="float64"), np.full(pad, np.nan)]).reshape(-1, size)
        keep.append(starts + np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1))
        keep.append(starts + np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1))
    return np.unique(np.concatenate(keep))


def _ms(index: pd.Index | pd.Series) -> np.ndarray:
    """Epoch milliseconds as float64: plotly draws them on a UTC date axis, 11 bytes a point in base64."""
    times = pd.DatetimeIndex(index).as_unit("ns").asi8
    return (times // 1_000_000).astype("float64")


# -- figures ------------------------------------------------------------------------------------------------
def _figure(height: int = 420, **layout: Any) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout({"template": "plotly_white", "height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
                       "legend": {"orientation": "h", "y": 1.08, "x": 0}, "hovermode": "x unified", **layout})
    return fig


def _empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font={"size": 16, "color": GREY})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _price_figure(symbol: str, prices: pd.DataFrame, trades: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = _figure(450, yaxis_title=symbol.split("/")[-1] if "/" in symbol else "price")
    closes = prices["close"].to_numpy(dtype="float64")
    keep = keep_points([closes])
    fig.add_trace(go.Scatter(x=_ms(prices.index)[keep], y=closes[keep], name=f"{symbol} close", mode="lines",
                             line={"color": GREY, "width": 1}))
    mine = trades[trades["symbol"] == symbol] if "symbol" in trades else trades
    for column, price, name, color, shape in (("entry_time", "entry_price", "entry", GREEN, "triangle-up"),
                                              ("exit_time", "exit_price", "exit", RED, "triangle-down")):
        shown = mine.iloc[np.linspace(0, len(mine) - 1, MAX_MARKERS).astype(int)] if len(mine) > MAX_MARKERS \
            else mine
        fig.add_trace(go.Scatter(x=_ms(shown[column]), y=shown[price].to_numpy(dtype="float64"), name=name,
                                 mode="markers", marker={"color": color, "symbol": shape, "size": 9},
                                 customdata=shown["return"].to_numpy(dtype="float64") * 100,
                                 hovertemplate=f"{name} %{{y:,.2f}}<br>trade return %{{customdata:.2f}}%"))
    fig.update_xaxes(type="date")
    return fig


def _equity_figure(equity: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = _figure(560, yaxis_title="equity")
    columns = [c for c in ("equity", "buy_and_hold") if c in equity]
    if equity.empty:
        return _empty(fig, "No bars")
    values = [equity[c].to_numpy(dtype="float64") for c in columns]
    keep = keep_points(values)
    x = _ms(equity.index)[keep]
    for column, series, color in zip(columns, values, (BLUE, GREY), strict=False):
        fig.add_trace(go.Scatter(x=x, y=series[keep], mode="lines", line={"color": color, "width": 1.5},
                                 name="strategy" if column == "equity" else "buy and hold"))
    fig.update_xaxes(type="date")
    return fig


def _drawdown_figure(equity: pd.DataFrame, initial: float) -> go.Figure:
    import plotly.graph_objects as go

    fig = _figure(320, yaxis_title="drawdown", yaxis_tickformat=".0%")
    if equity.empty:
        return _empty(fig, "No bars")
    columns = [c for c in ("equity", "buy_and_hold") if c in equity]
    values = [drawdown(np.concatenate([[initial], equity[c].to_numpy(dtype="float64")]))[1:] for c in columns]
    keep = keep_points(values)
    x = _ms(equity.index)[keep]
    for column, series, color in zip(columns, values, (RED, GREY), strict=False):
        fig.add_trace(go.Scatter(x=x, y=series[keep], mode="lines", line={"color": color, "width": 1},
                                 fill="tozeroy" if column == "equity" else None,
                                 name="strategy" if column == "equity" else "buy and hold"))
    fig.update_xaxes(type="date")
    return fig


def _monthly_figure(equity: pd.DataFrame, initial: float) -> go.Figure:
    import plotly.graph_objects as go

    table = monthly_returns(equity["equity"], initial) if not equity.empty else pd.DataFrame()
    fig = _figure(max(160, 60 + 32 * len(table)), hovermode="closest")
    if table.empty:
        return _empty(fig, "No bars")
    yearly = (1 + table.fillna(0)).prod(axis=1) - 1
    z = np.column_stack([table.to_numpy(dtype="float64"), yearly.to_numpy()]) * 100
    text = [[("" if np.isnan(v) else f"{v:.1f}%") for v in row] for row in z]
    years = [str(y) for y in table.index]
    # colours span the monthly returns only: a year's total, many times larger, would wash the months out
    bound = float(np.nanmax(np.abs(z[:, :12]))) if np.isfinite(z[:, :12]).any() else 1.0
    fig.add_trace(go.Heatmap(z=z, x=[*MONTHS, "Year"], y=years, text=text, texttemplate="%{text}",
                             colorscale="RdYlGn", zmin=-bound, zmax=bound, hoverongaps=False,
                             colorbar={"title": "%"},
                             hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def _trade_returns_figure(trades: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = _figure(340, xaxis_title="trade return (%)", yaxis_title="trades", barmode="overlay",
                  hovermode="closest")
    if trades.empty:
        return _empty(fig, "No closed trades")
    returns = trades["return"].to_numpy(dtype="float64") * 100
    size = max(float(np.ptp(returns)) / 40, 1e-6)
    bins = {"start": float(np.floor(returns.min() / size) * size), "size": size}  # the same bins for both
    for name, values, color in (("winners", returns[returns > 0], GREEN), ("losers", returns[returns <= 0], RED)):
        fig.add_trace(go.Histogram(x=values, name=name, marker_color=color, opacity=0.75, xbins=bins))
    return fig


# -- tables and text ----------------------------------------------------------------------------------------
def _stats_table(stats: dict[str, Any]) -> str:
    bench = stats.get("buy_and_hold") or {}
    rows = "".join(f"<tr><th>{label}</th><td>{format_stat(stats.get(key), kind)}</td>"
                   f"<td>{format_stat(bench.get(key), kind) if both and bench else ''}</td></tr>"
                   for key, label, kind, both in SUMMARY_ROWS)
    return (f'<table class="stats"><thead><tr><th></th><th>Strategy</th><th>{"Buy &amp; hold" if bench else ""}'
            f"</th></tr></thead><tbody>{rows}</tbody></table>")


def _trades_table(trades: pd.DataFrame) -> str:
    if trades.empty:
        return "<p>No closed trades.</p>"
    note = ""
    shown = trades
    if len(trades) > MAX_TRADE_ROWS:
        half = MAX_TRADE_ROWS // 2
        shown = pd.concat([trades.iloc[:half], trades.iloc[-half:]])
        note = (f"<p class='note'>The first and last {half:,} of {len(trades):,} trades; trades.csv has them "
                "all.</p>")
    held = (shown["exit_time"] - shown["entry_time"]).dt.total_seconds() / 86400
    columns = ("entry_time", "exit_time", "symbol", "side", "quantity", "entry_price", "exit_price", "pnl",
               "return", "fees")
    body = []
    for (entry, exit_, symbol, side, qty, entry_px, exit_px, pnl, ret, fees), days in zip(
            zip(*(shown[c] for c in columns), strict=True), held, strict=True):
        body.append(f"<tr class='{'win' if pnl > 0 else 'loss'}'><td>{_time(entry)}</td><td>{_time(exit_)}</td>"
                    f"<td>{html.escape(str(symbol))}</td><td>{side}</td><td>{qty:,.8g}</td>"
                    f"<td>{entry_px:,.2f}</td><td>{exit_px:,.2f}</td><td>{pnl:,.2f}</td>"
                    f"<td>{percent(ret)}</td><td>{fees:,.2f}</td><td>{format_days(days)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("entry", "exit", "symbol", "side", "quantity", "entry price",
                                              "exit price", "pnl", "return", "fees", "held"))
    return f"{note}<div class='scroll'><table class='trades'><thead><tr>{head}</tr></thead><tbody>" \
           f"{''.join(body)}</tbody></table></div>"


def _ml_section(ml: dict[str, Any], charts: list[str]) -> str:
    import plotly.graph_objects as go

    parts = []
    thresholds = ml.get("thresholds")
    if isinstance(thresholds, pd.DataFrame) and not thresholds.empty:
        parts.append("<h3>Precision and average return by threshold</h3>" + _frame_table(thresholds))
        if {"threshold", "precision"} <= set(thresholds.columns):
            fig = _figure(340, xaxis_title="threshold", yaxis={"title": "precision", "tickformat": ".0%"},
                          yaxis2={"title": "average return", "overlaying": "y", "side": "right",
                                  "tickformat": ".2%"})
            fig.add_trace(go.Scatter(x=thresholds["threshold"], y=thresholds["precision"], name="precision",
                                     mode="lines+markers", line={"color": BLUE}))
            if "avg_return" in thresholds:
                fig.add_trace(go.Scatter(x=thresholds["threshold"], y=thresholds["avg_return"], yaxis="y2",
                                         name="average return", mode="lines+markers", line={"color": GREEN}))
            parts.append(_chart(charts, fig))
    contributions = ml.get("contributions")
    if isinstance(contributions, pd.DataFrame) and not contributions.empty:
        features = [c for c in contributions.columns if c not in ("entry_time", "symbol", "ts")
                    and pd.api.types.is_numeric_dtype(contributions[c])]
        shown = contributions.iloc[:MAX_CONTRIBUTION_ROWS]
        labels = [_time(t) for t in shown["entry_time"]] if "entry_time" in shown else [str(i) for i in shown.index]
        fig = _figure(max(300, 80 + 14 * len(shown)), hovermode="closest", xaxis={"side": "top"})
        fig.add_trace(go.Heatmap(z=shown[features].to_numpy(dtype="float64"), x=features, y=labels, zmid=0,
                                 colorscale="RdBu", hovertemplate="%{y} %{x}: %{z:.4f}<extra></extra>"))
        fig.update_yaxes(type="category", autorange="reversed", title="trade entry")
        limit = f" (the first {MAX_CONTRIBUTION_ROWS})" if len(contributions) > MAX_CONTRIBUTION_ROWS else ""
        parts.append(f"<h3>Feature contributions to each trade's signal{limit}</h3>" + _chart(charts, fig))
    return "".join(parts) or "<p>The ML section is empty.</p>"


def _frame_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table class='trades'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if np.isnan(value) else f"{value:,.4g}"
    if isinstance(value, pd.Timestamp):
        return _time(value)
    return html.escape(str(value))


def _assumptions(assumptions: dict[str, list[str]]) -> str:
    if not assumptions:
        return "<p>Not recorded with this result.</p>"
    titles = {"engine": "Engine", "venue": "Simulated exchange"}
    return "".join(f"<h3>{titles.get(k, html.escape(k))}</h3><ul>{_items(v)}</ul>" for k, v in assumptions.items())


def _items(lines: Iterable[str]) -> str:
    return "".join(f"<li>{html.escape(line)}</li>" for line in lines)


def _key_values(values: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(_plain(v))}</code></td></tr>"
                   for k, v in values.items())
    return f"<table class='kv'>{rows}</table>" if rows else "<p>Not recorded with this result.</p>"


def _plain(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _time(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return "" if pd.isna(stamp) else stamp.strftime("%Y-%m-%d %H:%M")


def _parity_section(parity: dict[str, Any]) -> str:
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
    return (f"<p>{html.escape(verdict)}</p><div class='scroll'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _section(title: str, content: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{content}</section>"


def _chart(charts: list[str], fig: go.Figure) -> str:
    """Register ``fig`` to be drawn into a new div; return the div."""
    import plotly.io as pio

    div_id = f"chart-{len(charts)}"
    spec = pio.to_json(fig, validate=False).replace("</", "<\\/")  # never close the script tag early
    charts.append(f"{{ const s = {spec};\n  Plotly.newPlot({json.dumps(div_id)}, s.data, s.layout, "
                  f"{json.dumps(PLOTLY_CONFIG)}); }}")
    return f'<div class="chart" id="{div_id}"></div>'


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; opacity: .8; font-size: 14px; }
main { max-width: 1400px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 16px 0; padding: 8px 16px 12px; }
h2 { font-size: 17px; margin: 8px 0; } h3 { font-size: 15px; margin: 12px 0 6px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
table.stats th:first-child, table.kv th { text-align: left; } table.kv td { text-align: left; }
table.trades thead th { position: sticky; top: 0; background: #f3f3f3; }
tr.win td:nth-child(8), tr.win td:nth-child(9) { color: #1a7f37; }
tr.loss td:nth-child(8), tr.loss td:nth-child(9) { color: #c62828; }
.overview { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.overview .grow { flex: 1 1 600px; min-width: 0; }
.scroll { max-height: 480px; overflow: auto; } .note { color: #666; font-size: 13px; }
pre { background: #f6f8fa; padding: 10px; overflow: auto; font-size: 12px; } li { margin: 3px 0; font-size: 14px; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="mlct-charts" content="{n_charts}">
<title>{title}: back-test report</title>
<style>{style}</style>
<script>{plotly}</script>
</head>
<body>
<header><h1>{title}: back-test report</h1><p>{subtitle}</p></header>
<main>
{body}
</main>
<script>
{scripts}
</script>
</body>
</html>
"""
