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

SPLITS_AT_ONCE = 512  # bounds the arrays to 512 x configurations x 3 floats, whatever the sweep's size


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
    # Every split at once: a row of ``inside`` per split; matrix products add up each split's blocks.
    inside = np.zeros((math.comb(n_blocks, n_blocks // 2), n_blocks))
    for row, chosen in enumerate(itertools.combinations(range(n_blocks), n_blocks // 2)):
        inside[row, list(chosen)] = 1.0
    flat = moments.transpose(1, 0, 2).reshape(n_blocks, -1)  # blocks x (configurations * 3)
    logits = np.concatenate([_logits(inside[i:i + SPLITS_AT_ONCE], flat, n_configs)
                             for i in range(0, len(inside), SPLITS_AT_ONCE)])
    return PboResult(float(np.mean(logits <= 0)), tuple(float(v) for v in logits), len(logits), n_configs)


def _logits(inside: np.ndarray, flat: np.ndarray, n_configs: int) -> np.ndarray:
    """Return the logit of the in-sample best's out-of-sample rank for each split (row) of ``inside``."""
    in_perf = _sharpe((inside @ flat).reshape(-1, n_configs, 3))
    out_perf = np.nan_to_num(_sharpe(((1.0 - inside) @ flat).reshape(-1, n_configs, 3)), nan=-np.inf)
    best = np.argmax(np.nan_to_num(in_perf, nan=-np.inf), axis=1)  # ties: the first listed
    chosen = out_perf[np.arange(len(best)), best][:, None]
    ranks = np.sum(out_perf < chosen, axis=1) + (np.sum(out_perf == chosen, axis=1) + 1) / 2  # 1 = lowest
    w = ranks / (n_configs + 1)
    return np.log(w / (1 - w))


def _sharpe(sums: np.ndarray) -> np.ndarray:
    """Return mean / sample std from summed ``(count, sum, sum of squares)`` on the last axis (NaN if flat)."""
    n, total, squares = sums[..., 0], sums[..., 1], sums[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = (squares - n * mean**2) / (n - 1)
        std = np.sqrt(np.maximum(var, 0.0))
        return np.where(std > 1e-15, mean / std, np.nan)
