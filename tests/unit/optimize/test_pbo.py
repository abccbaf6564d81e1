"""The PBO by CSCV against a computation by hand on a 4 x 3 matrix cut into two blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.optimize import pbo_from_moments, pbo_from_returns
from engine.optimize.pbo import block_moments

# Columns A, B, C; rows 0-1 are block 0, rows 2-3 block 1. Per-block Sharpe (mean / sample std), by hand:
#   A: block 0 mean .02 std .01414 -> 1.414; block 1 mean -.01 std .01414 -> -0.707
#   B: block 0 mean .01 std .01414 -> 0.707; block 1 mean .02 std .01414 -> 1.414
#   C: block 0 mean 0 -> 0;                  block 1 mean .02 std .02828 -> 0.707
# In-sample block 0: A is best; out of sample (block 1) A ranks 1st of 3 from the bottom: w = 1/4, logit ln(1/3).
# In-sample block 1: B is best; out of sample (block 0) B ranks 2nd: w = 2/4, logit 0 (at most 0: overfit).
# PBO = 2 overfit splits of 2 = 1.
MATRIX = np.array([[0.01, 0.00, -0.01],
                   [0.03, 0.02, 0.01],
                   [-0.02, 0.01, 0.00],
                   [0.00, 0.03, 0.04]])


def test_pbo_agrees_with_the_hand_computation() -> None:
    result = pbo_from_returns(MATRIX, n_blocks=2)
    assert result.n_splits == 2 and result.n_configs == 3
    assert result.logits == pytest.approx((math.log(1 / 3), 0.0), abs=1e-9)
    assert result.pbo == 1.0


def test_a_configuration_best_everywhere_is_not_overfit() -> None:
    # B raised by .05 each bar: the best in and out of every split, ranked 3rd of 3: w = 3/4, logit ln 3.
    matrix = MATRIX.copy()
    matrix[:, 1] += [0.05, 0.06, 0.05, 0.06]
    result = pbo_from_returns(matrix, n_blocks=2)
    assert result.logits == pytest.approx((math.log(3), math.log(3)))
    assert result.pbo == 0.0


def test_block_moments_add_up_to_the_whole_series() -> None:
    returns = np.random.default_rng(1).normal(size=101)
    moments = block_moments(returns, 16)
    assert moments[:, 0].sum() == 101
    assert moments[:, 1].sum() == pytest.approx(returns.sum())
    assert moments[:, 2].sum() == pytest.approx(np.square(returns).sum())


def test_pbo_refuses_an_odd_number_of_blocks_or_one_configuration() -> None:
    with pytest.raises(ConfigError):
        pbo_from_moments(np.zeros((3, 3, 3)))
    with pytest.raises(ConfigError):
        pbo_from_moments(np.zeros((1, 4, 3)))
