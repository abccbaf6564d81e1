"""The probability of backtest overfitting (Bailey, Borwein, Lopez de Prado and Zhu, 2015), by combinatorially
symmetric cross-validation (CSCV).

The T x N matrix of per-bar returns (one column a configuration) is cut into S blocks of rows. For each way of
choosing S/2 blocks as in-sample (the rest out-of-sample), the configuration best in-sample is ranked among all
out-of-sample: ``w = rank / (N + 1)`` and ``logit = ln(w / (1 - w))``. PBO is the share of splits whose logit is
at most 0: the in-sample winner did no better than the median out of sample.

Performance is the Sharpe ratio (mean over sample standard deviation, not annualised: ranks do not care). Its
sums add up over blocks, so a job keeps only ``(count, sum, sum of squares)`` per block (``block_moments``), not
its returns: the PBO of a sweep of a million-bar back-tests needs S x 3 numbers a job.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError


def block_moments(returns: np.ndarray, n_blocks: int) -> np.ndarray:
    """Return ``(count, sum, sum of squares)`` of each of ``n_blocks`` contiguous, near-equal blocks of ``returns``."""
    out = np.zeros((n_blocks, 3))
    for i, piece in enumerate(np.array_split(np.asarray(returns, dtype="float64"), n_blocks)):
        out[i] = (len(piece), piece.sum(), np.square(piece).sum())
    return out


@dataclass(frozen=True, slots=True)
class PboResult:
    """The PBO and what it is made of: one logit per split, and the splits counted."""

    pbo: float
    logits: tuple[float, ...]
    n_splits: int
    n_configs: int

    def to_dict(self) -> dict[str, object]:
        return {"pbo": self.pbo, "n_splits": self.n_splits, "n_configs": self.n_configs,
                "median_logit": float(np.median(self.logits)) if self.logits else None}


def pbo_from_returns(returns: np.ndarray, n_blocks: int) -> PboResult:
    """Return the PBO of a T x N matrix of returns (columns: configurations) cut into ``n_blocks`` row blocks."""
    matrix = np.asarray(returns, dtype="float64")
    moments = np.stack([block_moments(matrix[:, j], n_blocks) for j in range(matrix.shape[1])])
    return pbo_from_moments(moments)


def pbo_from_moments(moments: np.ndarray) -> PboResult:
    """Return the PBO from an N x S x 3 array of each configuration's block moments (``block_moments``)."""
    moments = np.asarray(moments, dtype="float64")
    if moments.ndim != 3 or moments.shape[2] != 3:
        raise ConfigError(f"PBO needs an N x S x 3 array of block moments, got shape {moments.shape}")
    n_configs, n_blocks, _ = moments.shape
    if n_configs < 2 or n_blocks < 2 or n_blocks % 2:
        raise ConfigError(f"PBO needs two configurations or more and an even number of blocks, "
                          f"got {n_configs} and {n_blocks}")
    logits = []
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        inside = np.zeros(n_blocks, dtype=bool)
        inside[list(chosen)] = True
        in_perf = _sharpe(moments[:, inside].sum(axis=1))
        out_perf = _sharpe(moments[:, ~inside].sum(axis=1))
        best = int(np.argmax(np.nan_to_num(in_perf, nan=-np.inf)))  # ties: the first listed
        w = _rank(np.nan_to_num(out_perf, nan=-np.inf), best) / (n_configs + 1)
        logits.append(math.log(w / (1 - w)))
    pbo = sum(1 for v in logits if v <= 0) / len(logits)
    return PboResult(pbo, tuple(logits), len(logits), n_configs)


def _rank(values: np.ndarray, position: int) -> float:
    """Return the rank (1 = lowest, ties averaged) of ``values[position]`` among ``values``."""
    value = values[position]
    return float(np.sum(values < value) + (np.sum(values == value) + 1) / 2)


def _sharpe(sums: np.ndarray) -> np.ndarray:
    """Return mean / sample std per configuration from summed ``(count, sum, sum of squares)`` (NaN if flat)."""
    n, total, squares = sums[:, 0], sums[:, 1], sums[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = (squares - n * mean**2) / (n - 1)
        std = np.sqrt(np.maximum(var, 0.0))
        return np.where(std > 1e-15, mean / std, np.nan)
