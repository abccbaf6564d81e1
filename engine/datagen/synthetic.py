"""Synthetic OHLCV bars: a seeded random walk whose volatility clusters and whose regime switches.

The log-variance follows an EGARCH(1,1) recursion: ``ln s2[t] = mu + beta (ln s2[t-1] - mu) + alpha (|z[t-1]| -
sqrt(2/pi)) + gamma z[t-1]``, ``z`` iid standard normal and the return ``r[t] = s[t] z[t]``. Unlike GARCH's, this
recursion is linear in ``ln s2`` and driven by ``z`` alone, so all of it is computed with numpy, without a Python
loop per bar: ten million bars take a few seconds.

With ``regimes`` (``DEFAULT_REGIMES``: bull, bear, range), a hidden Markov chain also switches the market between
regimes, each with its own drift and volatility level, held for a random time of mean ``Regime.days``: trends
and calm or stormy stretches that last weeks, as in real markets, for demos and for testing strategies and
regime detectors (``regime_path`` returns the hidden labels). Without it (the default, which benchmarks use) the
bars are exactly those of the plain clustered walk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME, to_interval

# EGARCH(1,1) parameters: big moves raise volatility for some tens of bars, falls more than rises (gamma < 0).
BETA = 0.98
ALPHA = 0.15
GAMMA = -0.05
_YEAR = pd.Timedelta(days=365)


@dataclass(frozen=True, slots=True, kw_only=True)
class Regime:
    """A market state: annualised log drift, volatility as a multiple of the base, mean duration in days."""

    name: str
    drift: float = 0.0
    vol: float = 1.0
    days: float = 30.0

    def __post_init__(self) -> None:
        if not (self.vol > 0 and self.days > 0 and math.isfinite(self.drift)):
            raise ValueError(f"regime {self.name!r}: vol and days must be positive and drift finite, got {self}")


# Bull markets climb slowly and calmly, bear markets fall fast in a storm, ranges go nowhere quietly.
DEFAULT_REGIMES: tuple[Regime, ...] = (
    Regime(name="bull", drift=1.0, vol=0.8, days=60),
    Regime(name="bear", drift=-1.5, vol=1.5, days=30),
    Regime(name="range", drift=0.0, vol=0.6, days=45),
)


def synthetic_bars(n: int, *, interval: str | pd.Timedelta = "1min", start: str | pd.Timestamp = "2020-01-01",
                   seed: int = 0, price: float = 100.0, volatility: float = 0.8,
                   regimes: Sequence[Regime] | None = None) -> pd.DataFrame:
    """Return ``n`` valid OHLCV bars of a seeded random walk with clustered volatility.

    Parameters
    ----------
    n
        Number of bars.
    interval
        Bar length; the first bar opens at ``start`` (UTC when it has no zone).
    seed
        Same seed, same bars; with the same seed, the first ``n`` bars of a longer series are these.
    price
        Open of the first bar.
    volatility
        Average annualised volatility of the close-to-close returns (0.8 is typical of bitcoin); each regime
        scales it by its ``vol``.
    regimes
        Market regimes to switch between (``DEFAULT_REGIMES``); None for the plain walk, without drift.

    Returns
    -------
    pandas.DataFrame
        A standard OHLCV frame: each bar opens at the previous close, ``high >= max(open, close)``,
        ``low <= min(open, close)``, volume > 0 and larger when volatility is.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not price > 0:
        raise ValueError(f"price must be positive, got {price}")
    step = to_interval(interval)
    # One random stream per use, so that the first bars of a longer series are the bars of a shorter one.
    shocks, start_vol, upper, lower, volumes = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    sigma_bar = volatility * math.sqrt(step / _YEAR)

    z = shocks.standard_normal(n)
    shock = ALPHA * (np.abs(z) - math.sqrt(2 / math.pi)) + GAMMA * z
    var_x = (ALPHA**2 * (1 - 2 / math.pi) + GAMMA**2) / (1 - BETA**2)  # stationary variance of ln s2 - mu
    x0 = start_vol.standard_normal() * math.sqrt(var_x)
    # x[t] depends on the shock of bar t-1: shift by one, the first bar's x being drawn from the stationary law.
    x = _ar1(np.concatenate(([0.0], shock[:-1])) if n else shock, BETA, x0 / BETA)
    sigma = sigma_bar * np.exp(0.5 * x - 0.25 * var_x)  # mean of s2 is sigma_bar**2 (log-normal correction)
    if regimes:
        path = regime_path(n, interval=step, seed=seed, regimes=regimes)
        sigma *= np.array([r.vol for r in regimes])[path]
        returns = sigma * z + np.array([r.drift * (step / _YEAR) for r in regimes])[path]
    else:
        returns = sigma * z

    # One (5, n) block that the frame adopts without copying: ten million bars are 400 MB.
    block = np.empty((5, n))
    open_, high, low, close, volume = block
    np.exp(np.cumsum(returns), out=close)
    close *= price
    if n:
        open_[0] = price
        open_[1:] = close[:-1]
    # Wicks beyond the body, scaled by the bar's volatility; a factor >= 1 keeps high >= max(open, close) exactly.
    np.maximum(open_, close, out=high)
    high *= np.exp(0.5 * sigma * np.abs(upper.standard_normal(n)))
    np.minimum(open_, close, out=low)
    low *= np.exp(-0.5 * sigma * np.abs(lower.standard_normal(n)))
    minutes = step / pd.Timedelta(minutes=1)
    np.multiply(10.0 * minutes / sigma_bar, sigma, out=volume)
    volume *= np.exp(0.5 * volumes.standard_normal(n) - 0.125)

    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC")
    stamps = first.as_unit("ns").value + np.arange(n, dtype=np.int64) * np.int64(step.value)
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]"), name=INDEX_NAME).tz_localize("UTC")
    return pd.DataFrame(block.T, index=index, columns=["open", "high", "low", "close", "volume"], copy=False)


def regime_path(n: int, *, interval: str | pd.Timedelta = "1min", seed: int = 0,
                regimes: Sequence[Regime] = DEFAULT_REGIMES) -> np.ndarray:
    """Return the regime (an index into ``regimes``) of each of ``n`` bars: the hidden labels of ``synthetic_bars``.

    The chain starts in a random regime, stays in each for an exponentially distributed time of mean
    ``days``, then moves to one of the others at random. Its draws come from their own stream of the seed, one
    regime at a time, so a longer series starts with the regimes of a shorter one.
    """
    if not regimes:
        raise ValueError("regimes must name at least one regime")
    step = to_interval(interval)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(6)[5])
    labels = np.empty(n, dtype=np.intp)
    current = int(rng.integers(len(regimes)))
    at = 0
    while at < n:
        bars = max(1, round(rng.exponential(regimes[current].days) * (pd.Timedelta(days=1) / step)))
        labels[at:at + bars] = current
        at += bars
        if len(regimes) > 1:  # another regime, never the same: a switch is a switch
            current = (current + 1 + int(rng.integers(len(regimes) - 1))) % len(regimes)
    return labels


def _ar1(e: np.ndarray, phi: float, x0: float) -> np.ndarray:
    """Return ``x`` with ``x[t] = phi * x[t-1] + e[t]`` and ``x[-1] = x0``, vectorised by blocks.

    Within a block of length L, ``x[k] = phi**k * cumsum(e[j] * phi**-j) + phi**(k+1) * carry``; L is chosen so
    that ``phi**-L`` stays below e**30, which keeps the weighted sums accurate. Only the carries between blocks
    (n / L of them) are computed one by one.
    """
    n = e.size
    if n == 0:
        return e.copy()
    size = max(1, int(30.0 / -math.log(phi)))  # fixed, so that a longer series repeats the rounding of a shorter
    blocks = -(-n // size)
    padded = np.zeros(blocks * size)
    padded[:n] = e
    k = np.arange(size)
    grow = phi ** -k.astype(np.float64)
    decay = phi ** k.astype(np.float64)
    within = np.cumsum(padded.reshape(blocks, size) * grow, axis=1) * decay
    carries = np.empty(blocks)
    carry, phi_size = x0, phi**size
    last = within[:, -1]
    for b in range(blocks):
        carries[b] = carry
        carry = last[b] + phi_size * carry
    within += carries[:, None] * (decay * phi)
    return within.reshape(-1)[:n]
