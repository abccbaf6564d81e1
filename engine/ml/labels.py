"""Labels: what the model is asked to predict, on a price one can actually trade at.

A signal made at bar ``t`` (at its close) is traded at the earliest at bar ``t+1``'s open (the back-test's rule:
an order made on a bar fills at the next bar's open). So the label of row ``t`` is the return from the open of
bar ``t+1`` to the open of bar ``t+1+h``::

    r_t = open[t+1+h] / open[t+1] - 1

It uses only prices after ``t``, by design, and it becomes known with bar ``t+1+h`` (``known_at``): a model
trained at bar ``s`` may learn from row ``t`` only if ``t + 1 + h <= s``. The walk-forward purges every row
whose label is not known when its model is trained, so no training label overlaps the period it predicts.

As classes, with ``cost`` the round-trip cost as a fraction (fees in and out, plus slippage; explicit, never
implied): ``UP`` when ``r > cost`` (a long beats its costs), ``DOWN`` when ``r < -cost`` (a short would, and a
seller avoided more than the costs), ``FLAT`` otherwise. The regression target is ``r`` itself; the net return
of a long is ``r - cost``, of a short ``-r - cost``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError

DOWN, FLAT, UP = 0, 1, 2
CLASS_NAMES = ("down", "flat", "up")


@dataclass(frozen=True, kw_only=True)
class LabelSpec:
    """The label definition saved with every model.

    Parameters
    ----------
    horizon
        Bars between entry (next bar's open) and exit (the open ``horizon`` bars later).
    cost
        Round-trip cost as a fraction of the price (0.002 = two fills at 10 bps).
    """

    horizon: int = 24
    cost: float = 0.002

    def __post_init__(self) -> None:
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ConfigError(f"label horizon must be a positive number of bars, got {self.horizon!r}")
        if not 0 <= self.cost < 1:
            raise ConfigError(f"label cost must be a fraction in [0, 1), got {self.cost!r}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "price": "open", "entry": "open of bar t+1",
                "exit": f"open of bar t+1+{self.horizon}", "classes": list(CLASS_NAMES)}


def forward_returns(opens: np.ndarray | pd.Series, horizon: int) -> np.ndarray:
    """Return ``open[t+1+h] / open[t+1] - 1`` for every row; NaN for the last ``h+1`` rows (not known yet)."""
    prices = np.asarray(opens, dtype="float64")
    out = np.full(len(prices), np.nan)
    if len(prices) > horizon + 1:
        out[:len(prices) - horizon - 1] = prices[horizon + 1:] / prices[1:len(prices) - horizon] - 1
    return out


def classes(returns: np.ndarray, cost: float) -> np.ndarray:
    """Return ``UP``/``DOWN``/``FLAT`` (2/0/1) as floats, NaN where the return is unknown."""
    out = np.full(len(returns), np.nan)
    known = np.isfinite(returns)
    out[known] = FLAT
    out[known & (returns > cost)] = UP
    out[known & (returns < -cost)] = DOWN
    return out


def known_at(row: int | np.ndarray, horizon: int) -> int | np.ndarray:
    """Return the index of the bar with which the label of ``row`` becomes known (its exit open)."""
    return row + 1 + horizon


def labels(frame: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Return ``ret`` (the regression target), ``label`` (class) for every bar of an OHLCV frame."""
    returns = forward_returns(frame["open"].to_numpy(dtype="float64"), spec.horizon)
    return pd.DataFrame({"ret": returns, "label": classes(returns, spec.cost)}, index=frame.index)
