"""Evaluation tables as text: aligned columns for the terminal, Markdown for the README.

One formatting for both, so that the table a test run writes (and the README quotes) is the table a user sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from engine.display import percent

HEADERS = ("threshold", "signals", "precision [95% CI]", "avg net return [95% CI]", "median",
           "always: precision", "always: avg", "random 97.5%", "p", "in-sample precision", "in-sample avg")


def _interval(value: Any, low: Any, high: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{percent(value, digits)} [{percent(low, digits)}, {percent(high, digits)}]"


def rows(table: pd.DataFrame, side: str, *, skip_empty: bool = True) -> list[tuple[str, ...]]:
    """Return the cells of ``side``'s rows of an evaluation table (``engine.ml.evaluate.COLUMNS``, ``is_*``)."""
    out: list[tuple[str, ...]] = []
    for record in table[table["side"] == side].to_dict("records"):
        if skip_empty and not record["n_signals"]:
            continue
        p_value = record.get("p_value")
        out.append((f"{record['threshold']:.3f}", f"{int(record['n_signals']):,}",
                    _interval(record.get("precision"), record.get("precision_lo"), record.get("precision_hi"), 1),
                    _interval(record.get("avg_return"), record.get("avg_return_lo"), record.get("avg_return_hi"),
                              2),
                    percent(record.get("median_return")), percent(record.get("baseline_precision"), 1),
                    percent(record.get("baseline_avg_return")),
                    percent(record.get("random_hi")),
                    "n/a" if p_value is None or not math.isfinite(p_value) else f"{p_value:.3f}",
                    percent(record.get("is_precision"), 1), percent(record.get("is_avg_return"))))
    return out


def text_table(table: pd.DataFrame, side: str) -> str:
    """Return ``side``'s rows as aligned text columns."""
    body = rows(table, side)
    if not body:
        return f"({side}: no signal at any threshold)"
    widths = [max(len(cell) for cell in column) for column in zip(HEADERS, *body, strict=True)]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(HEADERS, widths, strict=True))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame, side: str) -> str:
    """Return ``side``'s rows as a Markdown table."""
    body = rows(table, side)
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(" ---: " for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def traded_line(summary: dict[str, Any], side: str = "buy") -> str:
    """Return one line on the signals as traded (each fold at its own threshold)."""
    figures = summary.get(side, {})
    n = figures.get("n_signals", 0)
    if not n:
        return f"as traded ({side}, each fold at its own threshold): no signal"
    return (f"as traded ({side}, each fold at its own threshold): {n:,} signals, precision "
            f"{percent(figures.get('precision'), 1)}, average net return "
            f"{_interval(figures.get('avg_return'), figures.get('avg_return_lo'), figures.get('avg_return_hi'), 2)}"
            f" (always: {percent(figures.get('baseline_precision'), 1)}, "
            f"{percent(figures.get('baseline_avg_return'))})")


def fold_lines(models: Sequence[dict[str, Any]]) -> list[str]:
    """Return one line per saved model: what it was trained on, what it predicts, its settings and threshold."""
    lines = []
    for entry in models:
        train = entry["train_period"]
        threshold = "none (no trade)" if entry["threshold"] is None else f"{entry['threshold']:.3f}"
        params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        lines.append(f"  {entry['kind']:<5} from {entry['valid_from_iso'][:16]}  trained on {entry['n_train']:,} rows "
                     f"{train[0][:10]}..{train[1][:10]}  {params}, rounds={entry['rounds']}  threshold {threshold}")
    return lines
