"""Figures as a person reads them: percentages, money with thousands separators, durations, and which
statistics the summary shows and how.

Presentation only: the CLI's tables, the HTML report and the ML tables format with these, so that a figure
reads the same wherever it appears; the result and statistics modules hand out numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["SUMMARY_ROWS", "box_table", "format_days", "format_stat", "percent"]

# (key, label, kind, also shown for buy-and-hold), in the order the summary table and the report list them
SUMMARY_ROWS: list[tuple[str, str, str, bool]] = [
    ("final_equity", "Final equity", "money", True),
    ("total_return", "Total return", "percent", True),
    ("annual_return", "Annual return (CAGR)", "percent", True),
    ("annual_volatility", "Annual volatility", "percent", True),
    ("sharpe", "Sharpe", "ratio", True),
    ("sortino", "Sortino", "ratio", True),
    ("calmar", "Calmar", "ratio", True),
    ("max_drawdown", "Max drawdown", "percent", True),
    ("max_drawdown_days", "Max drawdown duration", "days", True),
    ("longest_drawdown_days", "Longest drawdown", "days", True),
    ("n_trades", "Trades", "count", False),
    ("win_rate", "Win rate", "percent", False),
    ("profit_factor", "Profit factor", "ratio", False),
    ("expectancy", "Expectancy (per trade)", "money", False),
    ("avg_win", "Average win", "percent", False),
    ("avg_loss", "Average loss", "percent", False),
    ("best_trade", "Best trade", "percent", False),
    ("worst_trade", "Worst trade", "percent", False),
    ("avg_holding_days", "Average holding time", "days", False),
    ("exposure", "Exposure", "percent", False),
    ("turnover", "Turnover", "times", False),
    ("fees_paid", "Fees paid", "money", False),
]


def format_stat(value: Any, kind: str) -> str:
    """Return ``value`` as a person reads it: ``12.34%``, ``1,234.56``, ``3d 4h``; ``n/a`` for None."""
    if value is None:
        return "n/a"
    if kind == "percent":
        return percent(value)
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "ratio":
        return f"{value:,.3f}"
    if kind == "times":
        return f"{value:,.2f}x"
    if kind == "days":
        return format_days(float(value))
    return f"{value:,}"


def percent(value: Any, digits: int = 2) -> str:
    """Return a fraction as a percentage with ``digits`` decimals (``0.1234`` -> ``12.34%``); ``n/a`` for None
    or a value that is not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * float(value):,.{digits}f}%"


def format_days(days: float) -> str:
    """Return a duration in days as ``12d 5h``, ``5h 30m`` or ``45m``."""
    minutes = round(days * 24 * 60)
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if d:
        return f"{d:,}d {h}h"
    return f"{h}h {m}m" if h else f"{m}m"


def box_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Return the lines of a boxed text table; the first ``left`` columns align left, the others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(f"{c:<{w}}" if i < left else f"{c:>{w}}"
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    return [rule, line(header), rule, *(line(r) for r in rows), rule]
