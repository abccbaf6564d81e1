"""Performance statistics from the equity curve and the round-trip trades."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

YEAR_NS = 365 * 24 * 3600 * 10**9  # crypto trades every day: annualise on a 365-day calendar


def compute_stats(equity: pd.Series, trades: pd.DataFrame, *, initial_equity: float, interval_ns: int,
                  fees_paid: float, exposure: float) -> dict[str, float | int | None]:
    """Return the headline figures of a run; ratios undefined on the data (flat curve, no trades) are None.

    ``equity`` holds one value per bar close; returns are measured from ``initial_equity`` (the cash before
    the first bar), and annualised with the data's bar interval.
    """
    values = np.concatenate([[initial_equity], equity.to_numpy(dtype="float64")])
    returns = values[1:] / values[:-1] - 1.0 if len(values) > 1 else np.empty(0)
    peak = np.maximum.accumulate(values)
    drawdown = values / peak - 1.0
    bars_per_year = YEAR_NS / interval_ns if interval_ns > 0 else math.nan
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(returns.mean() / std * math.sqrt(bars_per_year)) if std > 0 else None
    n_trades = len(trades)
    wins = int((trades["pnl"] > 0).sum()) if n_trades else 0
    return {
        "initial_equity": float(initial_equity),
        "final_equity": float(values[-1]),
        "total_return": float(values[-1] / initial_equity - 1.0),
        "max_drawdown": float(drawdown.min()),
        "sharpe": sharpe,
        "n_bars": len(equity),
        "n_trades": n_trades,
        "win_rate": wins / n_trades if n_trades else None,
        "fees_paid": float(fees_paid),
        "exposure": float(exposure),
    }
