"""Missing bars in the training data and in the evaluated window, found and described.

The walk-forward counts in bars: a 24-bar label on hourly data spans a day, except across a hole in the data,
where it spans the hole too; a test block of 720 bars covers more than 30 days. Nothing in the figures shows
that, so a 13-day outage in the out-of-sample period would pass silently. ``gap_report`` finds every place where
two consecutive bars are further apart than the interval and splits them between the training data (the bars
before the first out-of-sample one) and the evaluated window (from it on; a gap belongs to the window of the
bar after it). ``mlct ml train|run`` print it, the model's metadata and evaluation summary keep it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SHOWN", "find_gaps", "gap_report", "gap_table", "gap_text"]

SHOWN = 3  # gaps listed by date in a summary; the count and the largest cover the rest


def find_gaps(index: pd.Index, interval_ns: int) -> list[dict[str, Any]]:
    """Return each gap of ``index`` (bar open times) as ``{"after", "next", "missing"}``, in time order.

    ``after`` is the open time of the last bar before the gap, ``next`` of the first one after it, and
    ``missing`` the bars that would fit between them at ``interval_ns``.
    """
    times = pd.DatetimeIndex(index).as_unit("ns").asi8
    if len(times) < 2:
        return []
    steps = np.diff(times)
    holes = np.flatnonzero(steps > interval_ns)
    return [{"after": pd.Timestamp(int(times[i]), tz="UTC").isoformat(),
             "next": pd.Timestamp(int(times[i + 1]), tz="UTC").isoformat(),
             "missing": int(steps[i] // interval_ns - (1 if steps[i] % interval_ns == 0 else 0))} for i in holes]


def _window(gaps: list[dict[str, Any]]) -> dict[str, Any]:
    largest = max(gaps, key=lambda g: g["missing"]) if gaps else None
    return {"count": len(gaps), "missing_bars": sum(g["missing"] for g in gaps), "largest": largest,
            "first": gaps[:SHOWN]}


def gap_report(index: pd.Index, interval_ns: int, evaluated_from: Any | None) -> dict[str, Any]:
    """Return ``{"interval_ns", "training": {...}, "evaluated": {...}}``: per window the gap count, the bars
    missing, the largest gap and the first ``SHOWN``; ``evaluated_from`` is the first out-of-sample bar."""
    gaps = find_gaps(index, interval_ns)
    start = pd.Timestamp(evaluated_from) if evaluated_from is not None else None
    evaluated = [g for g in gaps if start is not None and pd.Timestamp(g["next"]) >= start]
    training = [g for g in gaps if g not in evaluated]
    return {"interval_ns": int(interval_ns), "training": _window(training), "evaluated": _window(evaluated)}


def _span(gap: dict[str, Any], interval_ns: int) -> str:
    seconds = (pd.Timestamp(gap["next"]) - pd.Timestamp(gap["after"])).total_seconds() - interval_ns / 1e9
    days, rest = divmod(int(seconds), 86_400)
    hours = rest // 3600
    length = f"{days} d {hours} h" if days else f"{hours} h {rest % 3600 // 60} min"
    return f"{gap['after'][:16].replace('T', ' ')} to {gap['next'][:16].replace('T', ' ')} ({gap['missing']:,} " \
           f"bars, {length})"


def gap_text(report: dict[str, Any]) -> str:
    """Return one line for a summary: per window none, or the count, the bars missing, the largest and the first."""
    interval = int(report["interval_ns"])
    parts = []
    for key, name in (("training", "training data"), ("evaluated", "evaluated window")):
        window = report[key]
        if not window["count"]:
            parts.append(f"{name}: none")
            continue
        first = "; ".join(_span(g, interval) for g in window["first"])
        more = " ..." if window["count"] > len(window["first"]) else ""
        parts.append(f"{name}: {window['count']:,} gap{'s' if window['count'] > 1 else ''}, "
                     f"{window['missing_bars']:,} bars missing, largest {_span(window['largest'], interval)}; "
                     f"first: {first}{more}")
    return "missing bars (consecutive bars further apart than the interval): " + " | ".join(parts)


def gap_table(report: dict[str, Any]) -> pd.DataFrame:
    """Return a window's row each (training, evaluated): gap count, bars missing, the largest gap's bounds and size.

    The form a back-test result carries to its report (``result.extras["ml"]["gaps"]``, saved as CSV).
    """
    rows = []
    for key in ("training", "evaluated"):
        window = report[key]
        largest = window["largest"] or {}
        rows.append({"window": key, "gaps": window["count"], "missing_bars": window["missing_bars"],
                     "largest_after": largest.get("after"), "largest_next": largest.get("next"),
                     "largest_missing": largest.get("missing")})
    return pd.DataFrame(rows)
