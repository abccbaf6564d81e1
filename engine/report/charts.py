"""The report's plotly figures, and how a figure becomes a div and a script of the page.

Series longer than ``MAX_POINTS`` are reduced for the charts by keeping, in each time bucket, the first, last,
lowest and highest points (extremes survive, a drawdown is never hidden). Candles are drawn for the last
``MAX_CANDLES`` bars only: a million candles would weigh tens of megabytes and draw as a smear.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.report.indicators import indicator_lines, lookback
from engine.result.stats import drawdown, monthly_returns

if TYPE_CHECKING:
    import plotly.graph_objects as go

MAX_POINTS = 20_000  # per chart series; a 1,500-pixel-wide chart shows no more
MAX_MARKERS = 5_000  # entry and exit markers on a price chart
MAX_CANDLES = 500  # the zoomed candle chart: the last bars of the data
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
GREEN, RED, BLUE, GREY, ORANGE = "#1a9850", "#d73027", "#1f77b4", "#7f7f7f", "#ff7f0e"
LINE_COLOURS = ["#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Charts:
    """The figures of one page: each ``add`` returns the div it draws into and keeps the script that draws it."""

    def __init__(self) -> None:
        self.scripts: list[str] = []

    def add(self, fig: go.Figure) -> str:
        """Register ``fig`` to be drawn into a new div; return the div."""
        import plotly.io as pio

        div_id = f"chart-{len(self.scripts)}"
        spec = pio.to_json(fig, validate=False).replace("</", "<\\/")  # never close the script tag early
        self.scripts.append(f"{{ const s = {spec};\n  Plotly.newPlot({json.dumps(div_id)}, s.data, s.layout, "
                            f"{json.dumps(PLOTLY_CONFIG)}); }}")
        return f'<div class="chart" id="{div_id}"></div>'


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


def ms(index: pd.Index | pd.Series) -> np.ndarray:
    """Epoch milliseconds as float64: plotly draws them on a UTC date axis, 11 bytes a point in base64."""
    times = pd.DatetimeIndex(index).as_unit("ns").asi8
    return (times // 1_000_000).astype("float64")


# -- figure helpers ---------------------------------------------------------------------------------------------
def figure(height: int = 420, **layout: Any) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout({"template": "plotly_white", "height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
                       "legend": {"orientation": "h", "y": 1.08, "x": 0}, "hovermode": "x unified", **layout})
    return fig


def empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font={"size": 16, "color": GREY})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def log_toggle(fig: go.Figure, *, log: bool, si: bool = True, axis: str = "yaxis") -> go.Figure:
    """Add two buttons that switch ``axis`` between a log and a linear scale, starting on ``log``; the axis is
    labelled in SI units (``~s``) when ``si``: values of 1 and more (below, 0.5 would read ``500m``).

    The buttons sit above the plot's top-right corner, below plotly's own toolbar; the legend is on the left.
    """
    # full labels (2k, 5k, 10k, 20k) rather than plotly's bare digits (2, 5, 10k, 2) between the powers of ten
    scale = {"type": "log" if log else "linear", "tickformat": "~s" if si else ""}
    fig.update_layout({axis: scale, "margin": {"t": 64},
                       "legend": {"orientation": "h", "x": 0, "y": 1.01, "yanchor": "bottom"}, "updatemenus": [{
        "type": "buttons", "direction": "right", "x": 1, "xanchor": "right", "y": 1.01, "yanchor": "bottom",
        "showactive": True, "active": 0 if log else 1, "pad": {"r": 0, "t": 0, "b": 0}, "font": {"size": 11},
        "buttons": [{"label": "log scale", "method": "relayout", "args": [{f"{axis}.type": "log"}]},
                    {"label": "linear scale", "method": "relayout", "args": [{f"{axis}.type": "linear"}]}]}]})
    return fig


def wants_log(values: np.ndarray) -> bool:
    """Return whether a positive series spans enough (10x) that a log axis reads better."""
    finite = values[np.isfinite(values)]
    return bool(len(finite)) and float(finite.min()) > 0 and float(finite.max()) / float(finite.min()) >= 10


# -- figures ----------------------------------------------------------------------------------------------------
def price_figure(symbol: str, prices: pd.DataFrame, trades: pd.DataFrame) -> go.Figure:
    """Every close (reduced), entries and exits, on a log/linear axis."""
    import plotly.graph_objects as go

    fig = figure(450, yaxis_title=symbol.split("/")[-1] if "/" in symbol else "price")
    closes = prices["close"].to_numpy(dtype="float64")
    keep = keep_points([closes])
    fig.add_trace(go.Scatter(x=ms(prices.index)[keep], y=closes[keep], name=f"{symbol} close", mode="lines",
                             line={"color": GREY, "width": 1}))
    _markers(fig, own_trades(trades, symbol), MAX_MARKERS)
    fig.update_xaxes(type="date")
    finite = closes[np.isfinite(closes)]
    return log_toggle(fig, log=wants_log(closes), si=bool(len(finite)) and float(finite.min()) >= 1)


def own_trades(trades: pd.DataFrame, symbol: str) -> pd.DataFrame:
    return trades[trades["symbol"] == symbol] if "symbol" in trades else trades


def _markers(fig: go.Figure, trades: pd.DataFrame, limit: int, within: tuple[Any, Any] | None = None) -> None:
    """Draw entries and exits (at most ``limit`` of each, spread over the list); with ``within``, only those whose
    own time falls in that range, so that a zoomed chart keeps the range of its bars."""
    import plotly.graph_objects as go

    for column, price, name, color, shape in (("entry_time", "entry_price", "entry", GREEN, "triangle-up"),
                                              ("exit_time", "exit_price", "exit", RED, "triangle-down")):
        mine = trades if within is None else trades[(trades[column] >= within[0]) & (trades[column] <= within[1])]
        shown = mine.iloc[np.linspace(0, len(mine) - 1, limit).astype(int)] if len(mine) > limit else mine
        crowded = len(shown) > 300  # hundreds of outlined triangles would hide the line they sit on
        fig.add_trace(go.Scatter(x=ms(shown[column]), y=shown[price].to_numpy(dtype="float64"), name=name,
                                 mode="markers", marker={"color": color, "symbol": shape, "size": 6 if crowded else 10,
                                                         "line": {"width": 0 if crowded else 1, "color": "#222"}},
                                 customdata=shown["return"].to_numpy(dtype="float64") * 100,
                                 hovertemplate=f"{name} %{{y:,.2f}}<br>trade return %{{customdata:.2f}}%"))


def candle_figure(symbol: str, prices: pd.DataFrame, trades: pd.DataFrame,
                  indicators: dict[str, dict[str, Any]]) -> go.Figure:
    """The last ``MAX_CANDLES`` bars as candles, with volume below, the strategy's lines and its trades."""
    import plotly.graph_objects as go

    n = len(prices)
    first = max(0, n - MAX_CANDLES)
    shown = prices.iloc[first:]
    warm = prices["close"].iloc[max(0, first - lookback(indicators)):]
    has_volume = "volume" in shown
    fig = figure(560, hovermode="x", xaxis={"rangeslider": {"visible": False}, "type": "date"},
                 yaxis={"domain": [0.26, 1] if has_volume else [0, 1], "title": "price"},
                 **({"yaxis2": {"domain": [0, 0.2], "title": "volume"}} if has_volume else {}))
    x = ms(shown.index)
    opens, closes = shown["open"].to_numpy(dtype="float64"), shown["close"].to_numpy(dtype="float64")
    highs = shown["high"].to_numpy(dtype="float64") if "high" in shown else np.maximum(opens, closes)
    lows = shown["low"].to_numpy(dtype="float64") if "low" in shown else np.minimum(opens, closes)
    fig.add_trace(go.Candlestick(x=x, open=opens, high=highs, low=lows, close=closes, name=symbol,
                                 increasing_line_color=GREEN, decreasing_line_color=RED))
    for (label, line), colour in zip(indicator_lines(indicators, warm).items(), LINE_COLOURS * 4, strict=False):
        values = line.iloc[-len(shown):].to_numpy(dtype="float64")
        fig.add_trace(go.Scatter(x=x, y=values, name=label, mode="lines", line={"color": colour, "width": 1.3}))
    if has_volume:
        up = closes >= opens
        fig.add_trace(go.Bar(x=x, y=shown["volume"].to_numpy(dtype="float64"), name="volume", yaxis="y2",
                             marker={"color": np.where(up, GREEN, RED).tolist(), "opacity": 0.5},
                             showlegend=False))
    if len(shown):  # a bar's entry or exit fills at its open: from the first bar's open to the last bar's close
        opened = shown.index[0] - (shown.index[1] - shown.index[0] if len(shown) > 1 else pd.Timedelta(0))
        _markers(fig, own_trades(trades, symbol), MAX_CANDLES, within=(opened, shown.index[-1]))
    return fig


def equity_figure(equity: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = figure(560, yaxis_title="equity")
    columns = [c for c in ("equity", "buy_and_hold") if c in equity]
    if equity.empty:
        return empty(fig, "No bars")
    values = [equity[c].to_numpy(dtype="float64") for c in columns]
    keep = keep_points(values)
    x = ms(equity.index)[keep]
    for column, series, color in zip(columns, values, (BLUE, GREY), strict=False):
        fig.add_trace(go.Scatter(x=x, y=series[keep], mode="lines", line={"color": color, "width": 1.5},
                                 name="strategy" if column == "equity" else "buy and hold"))
    fig.update_xaxes(type="date")
    return log_toggle(fig, log=any(wants_log(v) for v in values))


def drawdown_figure(equity: pd.DataFrame, initial: float, worst: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = figure(320, yaxis_title="drawdown", yaxis_tickformat=".0%")
    if equity.empty:
        return empty(fig, "No bars")
    columns = [c for c in ("equity", "buy_and_hold") if c in equity]
    values = [drawdown(np.concatenate([[initial], equity[c].to_numpy(dtype="float64")]))[1:] for c in columns]
    keep = keep_points(values)
    x = ms(equity.index)[keep]
    for column, series, color in zip(columns, values, (RED, GREY), strict=False):
        fig.add_trace(go.Scatter(x=x, y=series[keep], mode="lines", line={"color": color, "width": 1},
                                 fill="tozeroy" if column == "equity" else None,
                                 name="strategy" if column == "equity" else "buy and hold"))
    if not worst.empty:  # the worst drawdowns' troughs, numbered as in the table
        fig.add_trace(go.Scatter(x=ms(pd.DatetimeIndex(worst["trough"])), y=worst["depth"].to_numpy(dtype="float64"),
                                 mode="markers+text", text=[f"#{i}" for i in range(1, len(worst) + 1)],
                                 textposition="bottom center", name="worst drawdowns", hovertemplate="%{y:.2%}",
                                 marker={"color": "#222", "size": 7, "symbol": "x-thin-open", "line": {"width": 2}}))
    fig.update_xaxes(type="date")
    return fig


def monthly_figure(equity: pd.DataFrame, initial: float) -> go.Figure:
    """Monthly returns of the strategy, of buy-and-hold and their difference, one heatmap shown at a time."""
    import plotly.graph_objects as go

    tables = {c: monthly_returns(equity[c], initial) for c in ("equity", "buy_and_hold")
              if c in equity and not equity.empty}
    rows = len(tables["equity"]) if "equity" in tables else 0
    fig = figure(max(200, 90 + 32 * rows), hovermode="closest")
    if not rows:
        return empty(fig, "No bars")
    grids = {name: _with_year(table) for name, table in tables.items()}
    if "buy_and_hold" in grids:
        grids["difference"] = grids["equity"] - grids["buy_and_hold"]
    labels = {"equity": "strategy", "buy_and_hold": "buy and hold", "difference": "strategy - buy and hold"}
    years = [str(y) for y in tables["equity"].index]
    # colours span the monthly returns only: a year's total, many times larger, would wash the months out
    bound = max((float(np.nanmax(np.abs(z[:, :12]))) for z in grids.values() if np.isfinite(z[:, :12]).any()),
                default=1.0)
    for i, (name, z) in enumerate(grids.items()):
        text = [[("" if np.isnan(v) else f"{v:.1f}%") for v in row] for row in z]
        fig.add_trace(go.Heatmap(z=z, x=[*MONTHS, "Year"], y=years, text=text, texttemplate="%{text}",
                                 colorscale="RdYlGn", zmin=-bound, zmax=bound, hoverongaps=False, visible=i == 0,
                                 colorbar={"title": "%"}, name=labels[name],
                                 hovertemplate=f"{labels[name]}: %{{y}} %{{x}}: %{{z:.2f}}%<extra></extra>"))
    if len(grids) > 1:
        fig.update_layout(updatemenus=[{
            "type": "buttons", "direction": "right", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
            "pad": {"r": 0, "t": 0}, "font": {"size": 11}, "buttons": [
                {"label": labels[name], "method": "restyle",
                 "args": [{"visible": [j == i for j in range(len(grids))]}]} for i, name in enumerate(grids)]}],
            margin={"t": 50})
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def _with_year(table: pd.DataFrame) -> np.ndarray:
    yearly = (1 + table.fillna(0)).prod(axis=1) - 1
    return np.column_stack([table.to_numpy(dtype="float64"), yearly.to_numpy()]) * 100


def yearly_figure(table: pd.DataFrame) -> go.Figure:
    """Each year's return, the strategy's bar beside buy-and-hold's."""
    import plotly.graph_objects as go

    fig = figure(320, barmode="group", yaxis_tickformat=".0%", hovermode="x unified")
    if table.empty:
        return empty(fig, "No bars")
    years = [str(y) for y in table.index]
    for column, name, colour in (("equity", "strategy", BLUE), ("buy_and_hold", "buy and hold", GREY)):
        if column in table:
            fig.add_trace(go.Bar(x=years, y=table[column].to_numpy(dtype="float64"), name=name, marker_color=colour,
                                 hovertemplate="%{y:.2%}"))
    fig.update_xaxes(type="category")
    return fig


def rolling_figure(figures: dict[str, pd.DataFrame], column: str, title: str, tickformat: str) -> go.Figure:
    """One rolling figure (``sharpe`` or ``volatility``) of the strategy and of buy-and-hold."""
    import plotly.graph_objects as go

    fig = figure(300, yaxis={"title": title, "tickformat": tickformat})
    for name, colour in (("equity", BLUE), ("buy_and_hold", GREY)):
        frame = figures.get(name)
        if frame is None:
            continue
        series = frame[column].dropna()
        fig.add_trace(go.Scatter(x=ms(series.index), y=series.to_numpy(dtype="float64"), mode="lines",
                                 name="strategy" if name == "equity" else "buy and hold",
                                 line={"color": colour, "width": 1.3}))
    if not fig.data or all(len(t.x) == 0 for t in fig.data):
        return empty(fig, "Too few days for a rolling window")
    fig.update_xaxes(type="date")
    return fig


def trade_returns_figure(trades: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    fig = figure(340, xaxis_title="trade return (%)", yaxis_title="trades", barmode="overlay", hovermode="closest")
    if trades.empty:
        return empty(fig, "No closed trades")
    returns = trades["return"].to_numpy(dtype="float64") * 100
    size = max(float(np.ptp(returns)) / 40, 1e-6)
    bins = {"start": float(np.floor(returns.min() / size) * size), "size": size}  # the same bins for both
    for name, values, color in (("winners", returns[returns > 0], GREEN), ("losers", returns[returns <= 0], RED)):
        fig.add_trace(go.Histogram(x=values, name=name, marker_color=color, opacity=0.75, xbins=bins))
    return fig
