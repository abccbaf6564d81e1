"""A Monte-Carlo price simulator fitted on the regimes of a price history (a Markov-switching return model).

Why regimes: crypto returns are not one distribution. Calm and stormy stretches (or bull and bear runs) last
weeks, so paths drawn from a single fitted distribution have too little clustering and too thin tails over a
horizon. Here each bar of the history is labelled with a regime, each regime gets its own return distribution,
and the regimes follow a Markov chain fitted on the labels; a path walks the chain and draws each bar's return
from the current regime.

Fit, on the close-to-close log returns ``r_t = ln(C_t / C_{t-1})``:

1. classify: for every bar with ``window`` returns behind it, the feature is their sample std (``by="vol"``) or
   their mean (``by="trend"``); the cut points are the feature's ``1/k, ..., (k-1)/k`` quantiles over the
   history, so the ``k`` regimes (2 or 3) are equally common. The feature only looks back, but the cut points
   use the whole history: the simulator is a research tool, not a signal.
2. per regime ``j``: the returns of its bars (mean, sample std, and the returns themselves for bootstrapping);
3. transitions: ``P[i, j]`` = share of bars in regime ``i`` whose next bar is in regime ``j`` (a regime never
   left in the history keeps itself with probability 1).

Simulate: a path starts in the regime of the last labelled bar, at the last close; at each step the regime moves
by ``P`` and the log return is drawn from the new regime, either resampled from its returns
(``distribution="bootstrap"``, fat tails kept) or from ``N(mean_j, std_j)``. The same seed gives the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.frames import INDEX_NAME
from engine.env.window import log_ratios, mean_of, periods_per_year, rolling, std_of
from engine.errors import ConfigError, DataError

REGIME_NAMES: dict[tuple[str, int], tuple[str, ...]] = {
    ("vol", 2): ("calm", "stormy"),
    ("vol", 3): ("calm", "normal", "stormy"),
    ("trend", 2): ("down", "up"),
    ("trend", 3): ("bear", "range", "bull"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MonteCarloConfig:
    """How the simulator classifies regimes and draws returns.

    Parameters
    ----------
    regimes
        Number of regimes, 2 or 3.
    by
        ``"vol"``: regimes by the trailing std of returns (calm ... stormy); ``"trend"``: by their trailing mean
        (bear ... bull).
    window
        Returns in the trailing window that classifies each bar (168 = a week of hourly bars).
    distribution
        ``"bootstrap"`` (resample the regime's historical returns) or ``"normal"``.
    """

    regimes: int = 3
    by: str = "vol"
    window: int = 168
    distribution: str = "bootstrap"

    def __post_init__(self) -> None:
        if (self.by, self.regimes) not in REGIME_NAMES:
            raise ConfigError(f"montecarlo: by must be 'vol' or 'trend' and regimes 2 or 3, "
                              f"got by={self.by!r}, regimes={self.regimes!r}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 2:
            raise ConfigError(f"montecarlo: window must be an integer >= 2, got {self.window!r}")
        if self.distribution not in ("bootstrap", "normal"):
            raise ConfigError(f"montecarlo: distribution must be 'bootstrap' or 'normal', got {self.distribution!r}")


class RegimeSimulator:
    """Regimes, their return distributions and their transition matrix, fitted by ``fit``; draws price paths.

    Attributes
    ----------
    names
        Regime names, from the lowest feature to the highest.
    transition
        ``(k, k)`` row-stochastic matrix: ``transition[i, j]`` = P(next regime j | regime i).
    mean, std
        Per regime, the mean and sample std of its bars' log returns.
    labels
        The regime of every classified bar of the history (index: the close's time), as integers.
    """

    def __init__(self, *, config: MonteCarloConfig, names: tuple[str, ...], transition: np.ndarray,
                 pools: list[np.ndarray], labels: pd.Series, start_price: float, interval_ns: int) -> None:
        self.config = config
        self.names = names
        self.transition = transition
        self.pools = pools
        self.mean = np.array([pool.mean() for pool in pools])
        self.std = np.array([pool.std(ddof=1) for pool in pools])
        self.labels = labels
        self.start_price = start_price
        self.start_regime = int(labels.iloc[-1])
        self.interval_ns = interval_ns
        self._offsets = np.cumsum([0] + [len(pool) for pool in pools[:-1]])
        self._sizes = np.array([len(pool) for pool in pools], dtype=np.float64)
        self._pool = np.concatenate(pools)

    def __repr__(self) -> str:
        return (f"RegimeSimulator({', '.join(self.names)}; by={self.config.by}, "
                f"{self.config.distribution}, {len(self.labels)} bars)")

    @classmethod
    def fit(cls, close: pd.Series, *, interval: str | pd.Timedelta | int,
            config: MonteCarloConfig | None = None) -> RegimeSimulator:
        """Fit regimes on ``close``, indexed by the time each close is known (bar close times).

        Raises ``DataError`` when the history is too short to classify or a regime ends up with fewer than two
        returns.
        """
        config = config or MonteCarloConfig()
        interval_ns = pd.Timedelta(interval).value
        periods_per_year(interval_ns)  # checks the interval
        prices = close.to_numpy(dtype=np.float64)
        if len(prices) < config.window + 2 * config.regimes + 1:
            raise DataError(f"montecarlo: {len(prices)} closes cannot fit {config.regimes} regimes with a "
                            f"{config.window}-bar window")
        returns = log_ratios(prices[1:], prices[:-1])
        if not np.isfinite(returns).all():
            raise DataError("montecarlo: closes must be positive and finite")
        stat = std_of if config.by == "vol" else mean_of
        feature = rolling(returns, config.window, stat, 1)[:, 0]
        valid = ~np.isnan(feature)
        cuts = np.quantile(feature[valid], np.arange(1, config.regimes) / config.regimes)
        labels = np.searchsorted(cuts, feature[valid], side="right")
        kept = returns[valid]
        pools = [kept[labels == j] for j in range(config.regimes)]
        for j, pool in enumerate(pools):
            if len(pool) < 2:
                raise DataError(f"montecarlo: regime {j} has {len(pool)} bar(s): the history is too short or flat")
        counts = np.zeros((config.regimes, config.regimes))
        np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
        totals = counts.sum(axis=1, keepdims=True)
        transition = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.eye(config.regimes))
        times = pd.DatetimeIndex(close.index[1:][valid], name=INDEX_NAME)
        return cls(config=config, names=REGIME_NAMES[config.by, config.regimes], transition=transition,
                   pools=pools, labels=pd.Series(labels, index=times, name="regime"),
                   start_price=float(prices[-1]), interval_ns=interval_ns)

    def summary(self) -> pd.DataFrame:
        """Return, per regime: its share of the bars, mean and std of log returns, annualised vol, persistence."""
        shares = np.bincount(self.labels.to_numpy(), minlength=len(self.names)) / len(self.labels)
        root = np.sqrt(periods_per_year(self.interval_ns))
        return pd.DataFrame({"share": shares, "mean": self.mean, "std": self.std, "vol_ann": self.std * root,
                             "stay": np.diag(self.transition)}, index=pd.Index(self.names, name="regime"))

    def sample(self, n_paths: int, horizon: int, seed: int = 0, *, start_regime: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(log_returns, regimes)``, both ``(horizon, n_paths)``: step ``s`` of path ``p`` at ``[s, p]``."""
        for name, value in (("n_paths", n_paths), ("horizon", horizon)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"montecarlo: {name} must be a positive integer, got {value!r}")
        start = self.start_regime if start_regime is None else start_regime
        if not 0 <= start < len(self.names):
            raise ConfigError(f"montecarlo: start_regime must be in 0..{len(self.names) - 1}, got {start!r}")
        rng = np.random.default_rng(seed)
        cumulative = np.cumsum(self.transition, axis=1)
        cumulative[:, -1] = 1.0  # rounding must not leave a sliver above the last regime
        state = np.full(n_paths, start, dtype=np.intp)
        returns = np.empty((horizon, n_paths))
        regimes = np.empty((horizon, n_paths), dtype=np.int8)
        bootstrap = self.config.distribution == "bootstrap"
        for step in range(horizon):
            state = (rng.random(n_paths)[:, None] >= cumulative[state]).sum(axis=1)
            regimes[step] = state
            if bootstrap:
                picks = (rng.random(n_paths) * self._sizes[state]).astype(np.intp)
                returns[step] = self._pool[self._offsets[state] + picks]
            else:
                returns[step] = self.mean[state] + self.std[state] * rng.standard_normal(n_paths)
        return returns, regimes

    def simulate(self, n_paths: int, horizon: int, seed: int = 0, *, start_price: float | None = None,
                 start_regime: int | None = None) -> pd.DataFrame:
        """Return ``n_paths`` simulated price paths of ``horizon`` bars; the same arguments give the same paths.

        Returns
        -------
        pandas.DataFrame
            ``horizon + 1`` rows (row 0 is the start price, at the last close of the history; row ``s`` is ``s``
            bars later, indexed by time) by ``n_paths`` columns (``path`` 0, 1, ...).
        """
        returns, _ = self.sample(n_paths, horizon, seed, start_regime=start_regime)
        price = self.start_price if start_price is None else float(start_price)
        paths = np.empty((horizon + 1, n_paths))
        paths[0] = price
        paths[1:] = price * np.exp(np.cumsum(returns, axis=0))
        start = self.labels.index[-1]
        index = pd.date_range(start=start, periods=horizon + 1, freq=pd.Timedelta(self.interval_ns, unit="ns"),
                              name=INDEX_NAME)
        return pd.DataFrame(paths, index=index, columns=pd.RangeIndex(n_paths, name="path"))
