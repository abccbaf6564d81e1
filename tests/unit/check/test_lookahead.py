"""The look-ahead check (engine.check.lookahead): a strategy that sees the next bar is caught, at the bar it
saw it from; an honest one passes; a strategy whose runs differ is not mistaken for either."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.check import VARIANTS, check_strategy, find_lookahead
from engine.check.lookahead import choose_cuts, perturbed
from engine.check.record import Record
from engine.datagen.frames import validate_ohlcv
from engine.datagen.sample import load_sample
from engine.errors import ConfigError
from strategies.rsi import Rsi
from strategies.sma_cross import SmaCross

from .peeking import Forgetful, JumpGuard, LateSignal, NextClose

SYMBOL = "BTC/USD"


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """The first 1,500 bars of the bundled sample: enough for RSI(14)'s warm-up (462 bars) and some trades."""
    return load_sample()[0].iloc[:1500]


def test_a_strategy_reading_the_next_close_is_caught_at_the_bar_it_read_it_from(bars: pd.DataFrame) -> None:
    bars = bars.iloc[:600]  # it trades every other bar
    report = find_lookahead(NextClose, bars, SYMBOL, venue=SimSettings(), cuts=4)
    assert not report.clean and len(report.cuts) == 4
    for cut in report.cuts:
        # Removed: no next bar, no signal at the cut. Perturbed: the next close moved up, or down, so one of the two
        # flips the signal the cut bar published, whichever way it pointed. Nothing before the cut moved.
        removed = cut.moved["removed"]
        assert removed is not None and removed.bar == cut.bar and removed.time == bars.index[cut.bar]
        assert removed.what == "signal 'next_close' BTC/USD" and removed.got is None
        flipped = [m for v, m in cut.moved.items() if v != "removed" and m is not None]
        assert len(flipped) == 1 and flipped[0].bar == cut.bar
        assert flipped[0].what == "signal 'next_close' BTC/USD" and flipped[0].field == "direction"
        assert {flipped[0].expected, flipped[0].got} == {1, -1}
    first = report.first
    assert first is not None and first[2].bar == report.cuts[0].bar


def test_a_signal_stamped_at_t_but_made_from_bar_t_plus_1_is_caught(bars: pd.DataFrame) -> None:
    report = find_lookahead(lambda data: LateSignal(), bars, SYMBOL, venue=SimSettings(), cuts=3)
    assert not report.clean
    for cut in report.cuts:
        moved = [m for m in cut.moved.values() if m is not None]
        assert len(moved) == 2  # removed, and the perturbation that flips it
        assert all(m.bar == cut.bar and m.what == "signal 'late' BTC/USD" for m in moved)


def test_a_strategy_that_raises_on_a_bar_it_handled_before_is_caught_there(bars: pd.DataFrame) -> None:
    report = find_lookahead(JumpGuard, bars.iloc[:300], SYMBOL, venue=SimSettings(), cuts=2)
    for cut in report.cuts:
        raised = cut.moved["perturbed up"]  # prices x1.2-1.5 from the next bar on: a jump of 20% or more
        assert raised is not None and raised.bar == cut.bar and raised.what == "the strategy"
        assert "ValueError: the next bar jumps from" in raised.raised
        assert raised.describe().startswith("the strategy raised when the later bars changed: handler ")
        assert cut.moved["removed"] is None  # nothing published, nothing read past the end


def test_ready_strategies_are_clean_and_the_cuts_fall_on_their_decisions(bars: pd.DataFrame) -> None:
    for make in (lambda data: Rsi(), lambda data: SmaCross(fast=10, slow=30)):
        report = find_lookahead(make, bars, SYMBOL, venue=SimSettings(), cuts=3)
        assert report.clean and report.nondeterministic is None and report.first is None
        assert len(report.cuts) == 3
        assert all(set(cut.moved) == set(VARIANTS) for cut in report.cuts)
        assert report.cuts[-1].compared > report.cuts[0].compared > 0
        assert report.cuts[0].bar >= make(bars).warmup_bars()


def test_indicator_values_at_the_cut_are_compared(bars: pd.DataFrame) -> None:
    report = find_lookahead(lambda data: Rsi(), bars, SYMBOL, venue=SimSettings(), cuts=2)
    cut = report.cuts[-1].bar
    values = report.references[cut].indicators[cut]
    assert list(values) == ["RSI_14 BTC/USD"] and 0 < values["RSI_14 BTC/USD"] < 100


def test_a_strategy_whose_runs_differ_is_reported_not_deterministic(bars: pd.DataFrame) -> None:
    report = check_strategy(lambda data: Forgetful(), bars.iloc[:50], SYMBOL, venue=SimSettings(), cuts=2,
                            warmup=False)
    assert report.lookahead.nondeterministic is not None and not report.lookahead.clean
    assert report.lookahead.nondeterministic.field == "strength" and report.exit_code == 1
    assert "NOT DETERMINISTIC" in report.format()


def test_perturbations_change_every_bar_after_the_cut_and_only_those(bars: pd.DataFrame) -> None:
    cut = 700
    for variant, low, high in (("perturbed up", 1.2, 1.5), ("perturbed down", 0.5, 0.8)):
        changed = perturbed(bars, cut, variant, seed=0)
        validate_ohlcv(changed, "perturbed")  # still bars: high >= open, close >= low ...
        pd.testing.assert_frame_equal(changed.iloc[:cut + 1], bars.iloc[:cut + 1])
        ratio = (changed["close"] / bars["close"]).to_numpy()[cut + 1:]
        assert ((ratio >= low) & (ratio <= high)).all()
        for column in ("open", "high", "low"):
            np.testing.assert_allclose(changed[column].to_numpy()[cut + 1:] / bars[column].to_numpy()[cut + 1:],
                                       ratio, rtol=4 * np.finfo(float).eps)
        pd.testing.assert_frame_equal(perturbed(bars, cut, variant, seed=0), changed)  # seeded
        assert not perturbed(bars, cut, variant, seed=1).equals(changed)


def test_cuts_are_spread_over_the_decisions_after_the_warm_up() -> None:
    def record(bar: int, kind: str, direction: int = 0) -> Record:
        return Record(bar, kind, kind, (("direction", direction),))

    records = [record(5, "order"), record(8, "signal", 1), record(9, "signal", 0), record(20, "order"),
               record(40, "signal", -1), record(60, "order"), record(99, "order")]
    assert choose_cuts(records, 100, warmup=7, count=3) == [8, 40, 60]  # 99 is the last bar: nothing after it
    assert choose_cuts(records, 100, warmup=7, count=10) == [8, 20, 40, 60]
    assert choose_cuts([record(3, "signal")], 10, warmup=0, count=2) == [3]  # no decision: any event
    assert choose_cuts([], 6, warmup=2, count=3) == [2, 3, 4]  # no event: any bar


def test_bad_input_is_a_config_error(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        find_lookahead(lambda data: Rsi(), bars, SYMBOL, venue=SimSettings(), cuts=0)
    with pytest.raises(ConfigError, match="at least 3 bars"):
        find_lookahead(lambda data: Rsi(), bars.iloc[:2], SYMBOL, venue=SimSettings())
