"""The strategy's indicators drawn over the candles, from what its ``chart_indicators()`` declared.

A strategy names its lines (``{"SMA 10": {"kind": "sma", "window": 10}}``) rather than recording them bar by bar:
nothing is kept during the run, the declaration is saved in the result's configuration, and the report computes
the lines from the saved closes for the bars it shows (plus a window of bars before, so they start warm).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

KINDS = ("sma", "ema", "bollinger")


def lookback(specs: dict[str, dict[str, Any]]) -> int:
    """Return the bars before the shown range that the lines need to be warm at its first bar."""
    windows = [int(spec.get("window", 0)) for spec in specs.values() if spec.get("kind") in KINDS]
    return 3 * max(windows, default=0)  # an EMA forgets its start after a few windows


def indicator_lines(specs: dict[str, dict[str, Any]], closes: pd.Series) -> dict[str, pd.Series]:
    """Return ``{label: line}`` for each declared indicator of a known kind (others are left out)."""
    lines: dict[str, pd.Series] = {}
    for label, spec in specs.items():
        window = int(spec.get("window", 0))
        kind = spec.get("kind")
        if window < 1 or kind not in KINDS:
            continue
        if kind == "sma":
            lines[label] = closes.rolling(window).mean()
        elif kind == "ema":
            lines[label] = closes.ewm(span=window, adjust=False).mean()
        else:
            mean, std = closes.rolling(window).mean(), closes.rolling(window).std(ddof=0)
            width = float(spec.get("nbdev", 2.0))
            lines[f"{label} upper"], lines[f"{label} middle"] = mean + width * std, mean
            lines[f"{label} lower"] = mean - width * std
    return lines

