"""Evaluation tables as text: aligned columns for the terminal, Markdown for the README.

One formatting for both, so that the table a test run writes (and the README quotes) is the table a user sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from engine.display import percent

HEADERS = ("threshold", "signals (indep.)", "precision [95% CI]", "avg net return [95% CI]", "median",
           "always: precision, avg", "shifted 97.5%", "p (Holm)", "in-sample: precision, avg")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _interval(value: Any, low: Any, high: Any, digits: int) -> str:
    if _missing(value):
        return "n/a"
    if _missing(low) or _missing(high):  # fewer independent outcomes than an interval needs
        return f"{percent(value, digits)} [too few]"
    return f"{percent(value, digits)} [{percent(low, digits)}, {percent(high, digits)}]"


def _p(value: Any) -> str:
    return "n/a" if _missing(value) else f"{value:.3f}"


def rows(table: pd.DataFrame, side: str, *, skip_empty: bool = True) -> list[tuple[str, ...]]:
    """Return the cells of ``side``'s rows of an evaluation table (``engine.ml.evaluate.COLUMNS``, ``is_*``)."""
    out: list[tuple[str, ...]] = []
    for record in table[table["side"] == side].to_dict("records"):
        if skip_empty and not record["n_signals"]:
            continue
        independent = record.get("n_independent")
        signals = f"{int(record['n_signals']):,}"
        if not _missing(independent):
            signals += f" ({int(independent or 0):,})"
        out.append((f"{record['threshold']:.3f}", signals,
                    _interval(record.get("precision"), record.get("precision_lo"), record.get("precision_hi"), 1),
                    _interval(record.get("avg_return"), record.get("avg_return_lo"), record.get("avg_return_hi"),
                              2),
                    percent(record.get("median_return")),
                    f"{percent(record.get('baseline_precision'), 1)}, {percent(record.get('baseline_avg_return'))}",
                    percent(record.get("random_hi")),
                    f"{_p(record.get('p_value'))} ({_p(record.get('p_adjusted'))})",
                    f"{percent(record.get('is_precision'), 1)}, {percent(record.get('is_avg_return'))}"))
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
    independent = figures.get("n_independent")
    count = f"{n:,} signals" + ("" if independent is None else f" ({independent:,} independent)")
    return (f"as traded ({side}, each fold at its own threshold): {count}, precision "
            f"{percent(figures.get('precision'), 1)}, average net return "
            f"{_interval(figures.get('avg_return'), figures.get('avg_return_lo'), figures.get('avg_return_hi'), 2)}"
            f" (always: {percent(figures.get('baseline_precision'), 1)}, "
            f"{percent(figures.get('baseline_avg_return'))})")


def fold_lines(models: Sequence[dict[str, Any]]) -> list[str]:
    """Return one line per saved model: what it was trained on, what it predicts, its settings and threshold."""
    lines = []
    for entry in models:
        train = entry["train_period"]
        threshold = "none (no buy)" if entry["threshold"] is None else f"{entry['threshold']:.3f}"
        sell = entry.get("sell_threshold", entry["threshold"])
        threshold += ", sell " + ("none" if sell is None else f"{sell:.3f}")
        params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        lines.append(f"  {entry['kind']:<5} from {entry['valid_from_iso'][:16]}  trained on {entry['n_train']:,} rows "
                     f"{train[0][:10]}..{train[1][:10]}  {params}, rounds={entry['rounds']}  threshold {threshold}")
    return lines
