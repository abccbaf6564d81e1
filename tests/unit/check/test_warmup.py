"""The warm-up check (engine.check.warmup): the history an EMA needs, against an independent computation of its
decay, and the verdict on a declared warm-up that is too short."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.check import check_strategy
from engine.check.warmup import history_grid
from engine.datagen.sample import load_sample
from strategies.rsi import Rsi
from strategies.sma_cross import SmaCross

from .peeking import Ema, FirstBarGuard

SYMBOL = "BTC/USD"
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_sample()[0].iloc[:1500]


def expected_settling(closes: np.ndarray, targets: list[int], grid: list[int], period: int,
                      tolerance: float) -> tuple[int, int]:  # bars of history: (shortest that agreed, longest not)
    """Return (settled_at, unsettled_at) of an EMA seeded with its first close, from its decay alone.

    Two such EMAs over the same closes, one seeded at bar s and one at bar 0, differ at bar t by
    (1 - alpha)^(t - s) times their difference at s, (x_s - e_s): the check's answer, computed another way.
    """
    alpha = 2.0 / (period + 1)
    reference = pd.Series(closes).ewm(alpha=alpha, adjust=False).mean().to_numpy()  # seeded with the first close
    scale = float(np.median(np.abs(reference[targets])))
    settled, unsettled = [], []
    for t in targets:
        tried = [n for n in grid if n < t]
        bad = [n for n in tried
               if math.exp(n * math.log1p(-alpha)) * abs(closes[t - n] - reference[t - n])
               > tolerance * max(abs(reference[t]), scale)]
        longest_bad = max(bad, default=-1)
        if longest_bad < max(tried):  # else this target is too early to show where it settles: a lower bound only
            settled.append(min(n for n in tried if n > longest_bad))
        unsettled.append(longest_bad)
    assert max(settled) > max(unsettled)
    return max(settled), max(unsettled)


def test_an_ema_settles_where_its_decay_says_far_beyond_a_declared_warm_up_of_5(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: Ema(period=20, declared=5), bars, SYMBOL, venue=SimSettings(), cuts=3,
                            max_history=768)
    assert report.lookahead.clean  # honest, only too short a warm-up
    warm = report.warmup
    assert warm is not None and warm.declared == 5 and 5 in warm.histories
    (ema,) = warm.signals
    assert ema.series == "signal 'ema' BTC/USD" and ema.difference.startswith("contributions.ema ")
    settled, unsettled = expected_settling(bars["close"].to_numpy(), warm.targets, warm.histories, 20, TOLERANCE)
    assert (ema.settled_at, ema.unsettled_at) == (settled, unsettled)
    # ln(1e-9) / ln(1 - 2/21) = 207 bars forget a seed as far from the average as the average itself; the closes of
    # this sample stay within a few percent of their 20-bar EMA, so somewhat fewer, and far more than 5
    forget = math.log(TOLERANCE) / math.log1p(-2 / 21)
    assert ema.settled_at is not None and 100 < ema.settled_at <= 1.5 * forget
    assert warm.sufficient is False and warm.needed is ema
    text = report.format()
    assert "WARNING: Declared warm-up (warmup_bars): 5 bars, too short: signal 'ema' BTC/USD needs " \
           f"{ema.needs} bars." in " ".join(text.split())
    assert report.exit_code == 0  # a warm-up shortfall is a warning, look-ahead the failure


def test_a_declared_warm_up_long_enough_is_said_to_be(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: Ema(period=20, declared=384), bars, SYMBOL, venue=SimSettings(), cuts=2,
                            max_history=512)
    assert report.warmup is not None and report.warmup.sufficient is True
    assert "Declared warm-up (warmup_bars): 384 bars: enough" in report.format()


def test_a_signal_strategy_needs_its_indicators_warm_up(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: Rsi(period=14), bars, SYMBOL, venue=SimSettings(), cuts=2,
                            max_history=768)
    warm = report.warmup
    assert warm is not None
    signal = warm.needed
    # the rule speaks once RSI(14) is past its warm-up (14 + 32 x 14 = 462 bars, counting bar t): then it agrees;
    # the strategy declares that plus two bars, one of the lengths the check tries
    assert Rsi(period=14).warmup_bars() == 464
    assert signal is not None and signal.kind == "signal" and signal.settled_at == 464
    assert signal.unsettled_at == 384 and signal.difference == "published only with the whole history"
    (rsi,) = [s for s in warm.series if s.series == "indicator RSI_14 BTC/USD"]
    assert rsi.settled_at is not None and rsi.settled_at <= 462  # the engine's warm-up table is conservative
    assert warm.sufficient is True


def test_a_run_that_raises_with_a_short_history_is_reported_and_counts_as_differing(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: FirstBarGuard(), bars, SYMBOL, venue=SimSettings(), cuts=2,
                            max_history=64)
    warm = report.warmup
    assert report.lookahead.clean and warm is not None and warm.failures
    assert all("ValueError: will not start at " in failure for _, _, failure in warm.failures)
    (ema,) = warm.signals
    assert ema.settled_at is None and ema.difference == "published only with the whole history"
    assert "The strategy raised in " in report.format()


def test_nothing_published_nothing_measured(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: SmaCross(), bars, SYMBOL, venue=SimSettings(), cuts=2)
    assert report.warmup is not None and report.warmup.series == [] and report.warmup.sufficient is None
    assert "nothing was published on the cut bars" in report.format()


def test_the_grid() -> None:
    assert history_grid(5, 100) == [0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 96]
    assert history_grid(1090, 1024)[-3:] == [768, 1024, 1090]  # the declared warm-up is always tried
