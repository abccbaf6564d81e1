"""The report's HTML tables: figures formatted as a person reads them (``engine.display``), readable headers,
and every wide table in a box of its own that scrolls, so the page never overflows sideways."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from engine.display import SUMMARY_ROWS, format_days, format_stat, percent

MAX_TRADE_ROWS = 1_000  # rows of the trade list (the first and last halves); trades.csv has them all

# Readable names of the ML evaluation's columns (engine.ml.evaluate.COLUMNS and the in-sample ones); a column
# not named here is shown with its underscores as spaces, so columns added later still read as words.
ML_HEADERS = {
    "threshold": "threshold", "n_signals": "signals", "precision": "precision [95% CI]",
    "avg_return": "avg net return [95% CI]", "median_return": "median return",
    "baseline_precision": "always: precision", "baseline_avg_return": "always: avg return",
    "random_avg_return": "random: avg return", "random_hi": "random 97.5%", "p_value": "p",
    "n_independent": "independent signals", "p_adjusted": "adjusted p", "adjusted_p": "adjusted p",
    "is_n_signals": "in-sample signals", "is_precision": "in-sample precision", "is_avg_return": "in-sample avg",
}
_PERCENT = re.compile(r"precision|return|random|rate|share|exposure|drawdown")
_P_VALUE = re.compile(r"(^|_)p($|_)|p_value|pvalue")


def wrap(table: str, *, tall: bool = False) -> str:
    """Put ``table`` in a box that scrolls sideways (and down when ``tall``) instead of widening the page."""
    return f"<div class='{'scroll tall' if tall else 'scroll'}'>{table}</div>"


def readable(column: str) -> str:
    """Return a column's header: its ML name if known, else its words (``n_independent`` -> ``n independent``)."""
    return ML_HEADERS.get(column, column.replace("_", " "))


def format_cell(column: str, value: Any) -> str:
    """Return ``value`` of ``column`` formatted by what the column's name says it holds."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return "n/a"
    if isinstance(value, pd.Timestamp):
        return time_text(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        name = column.lower()
        if name.startswith("n_") or name.endswith("_n_signals"):
            return f"{value:,.0f}"
        if _P_VALUE.search(name):
            return f"{value:.3f}"
        if name == "threshold":
            return f"{value:.3f}"
        if _PERCENT.search(name):
            return percent(value)
        return f"{value:,.4g}"
    return html.escape(str(value))


def frame_table(frame: pd.DataFrame) -> str:
    """Return any frame as a formatted table: readable headers, percentages, ``x [lo, hi]`` for a column that
    comes with ``x_lo`` and ``x_hi``; wrapped so that it scrolls inside its box."""
    columns = [str(c) for c in frame.columns]
    bounded = {c for c in columns if f"{c}_lo" in columns and f"{c}_hi" in columns}
    shown = [c for c in columns if not any(c in (f"{b}_lo", f"{b}_hi") for b in bounded)]
    body = []
    for record in frame.to_dict("records"):
        cells = []
        for c in shown:
            text = format_cell(c, record[c])
            if c in bounded and text != "n/a":
                text += f" [{format_cell(c, record[f'{c}_lo'])}, {format_cell(c, record[f'{c}_hi'])}]"
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(readable(c))}</th>"
                   for c in shown)
    return wrap(f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def stats_table(stats: dict[str, Any]) -> str:
    """Return the summary statistics, strategy against buy-and-hold."""
    bench = stats.get("buy_and_hold") or {}
    rows = "".join(f"<tr><th>{label}</th><td>{format_stat(stats.get(key), kind)}</td>"
                   f"<td>{format_stat(bench.get(key), kind) if both and bench else ''}</td></tr>"
                   for key, label, kind, both in SUMMARY_ROWS)
    return (f'<table class="stats"><thead><tr><th></th><th>Strategy</th><th>{"Buy &amp; hold" if bench else ""}'
            f"</th></tr></thead><tbody>{rows}</tbody></table>")


def figures_table(rows: Iterable[tuple[str, str, Any, Any]], bench: bool) -> str:
    """Return rows of ``(label, kind, strategy value, buy-and-hold value)`` as a two-column stats table."""
    body = "".join(f"<tr><th>{html.escape(label)}</th><td>{format_stat(mine, kind)}</td>"
                   f"<td>{format_stat(theirs, kind) if bench else ''}</td></tr>" for label, kind, mine, theirs in rows)
    return (f'<table class="stats"><thead><tr><th></th><th>Strategy</th><th>{"Buy &amp; hold" if bench else ""}'
            f"</th></tr></thead><tbody>{body}</tbody></table>")


def drawdowns_table(table: pd.DataFrame) -> str:
    """Return the worst drawdowns: start, trough, recovery, depth, length."""
    if table.empty:
        return "<p>The curve never fell below an earlier peak.</p>"
    rows = "".join(
        f"<tr><td>{i}</td><td>{time_text(r['start'])}</td><td>{time_text(r['trough'])}</td>"
        f"<td>{time_text(r['recovery']) if r['recovered'] else 'not recovered'}</td>"
        f"<td>{percent(r['depth'])}</td><td>{format_days(r['days'])}</td></tr>"
        for i, r in enumerate(table.to_dict("records"), 1))
    head = "".join(f"<th>{h}</th>" for h in ("#", "start (peak)", "trough", "recovery", "depth", "length"))
    return wrap(f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def yearly_table(table: pd.DataFrame) -> str:
    """Return each year's return of the strategy and of buy-and-hold, and the difference."""
    bench = "buy_and_hold" in table
    head = "".join(f"<th>{h}</th>" for h in ("year", "strategy", *(("buy &amp; hold", "difference") if bench
                                                                      else ())))
    rows = []
    for year, row in table.iterrows():
        cells = [str(year), percent(row["equity"])]
        if bench:
            cells += [percent(row["buy_and_hold"]), percent(row["equity"] - row["buy_and_hold"])]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return wrap(f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def trades_table(trades: pd.DataFrame) -> str:
    """Return the trade list (the first and last ``MAX_TRADE_ROWS / 2`` when longer), in a scrolling box."""
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
        body.append(f"<tr class='{'win' if pnl > 0 else 'loss'}'><td>{time_text(entry)}</td>"
                    f"<td>{time_text(exit_)}</td><td>{html.escape(str(symbol))}</td><td>{side}</td>"
                    f"<td>{qty:,.8g}</td><td>{entry_px:,.2f}</td><td>{exit_px:,.2f}</td><td>{pnl:,.2f}</td>"
                    f"<td>{percent(ret)}</td><td>{fees:,.2f}</td><td>{format_days(days)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("entry", "exit", "symbol", "side", "quantity", "entry price",
                                              "exit price", "pnl", "return", "fees", "held"))
    return note + wrap(f"<table class='trades'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
                       "</table>", tall=True)


def key_values(values: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """Return ``{name: value}`` as a two-column table, lists joined with commas, dicts as ``k=v``."""
    labels = labels or {}
    rows = "".join(f"<tr><th>{html.escape(labels.get(str(k), str(k).replace('_', ' ')))}</th>"
                   f"<td>{html.escape(plain(v))}</td></tr>" for k, v in values.items())
    return wrap(f"<table class='kv'>{rows}</table>") if rows else "<p>Not recorded with this result.</p>"


def plain(value: object) -> str:
    """Return a setting as text: lists joined with commas, dicts as ``k=v``, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items()) or "-"
    if isinstance(value, float):
        return f"{value:,.10g}"
    return str(value)


def time_text(value: Any) -> str:
    """Return a time as ``YYYY-MM-DD HH:MM`` (UTC); empty for a missing one."""
    stamp = pd.Timestamp(value)
    return "" if pd.isna(stamp) else stamp.strftime("%Y-%m-%d %H:%M")


def items(lines: Iterable[str]) -> str:
    """Return list items."""
    return "".join(f"<li>{html.escape(line)}</li>" for line in lines)
