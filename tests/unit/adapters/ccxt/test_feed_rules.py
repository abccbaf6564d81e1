"""The live feed's small rules: how long it waits before retrying, and which rows it takes."""

from __future__ import annotations

import random

from adapters.ccxt.feed import _backoff, _valid_row


def test_retries_back_off_exponentially_to_a_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(3)
    waits = [[_backoff(attempt, 0.5, 30.0, rng) for attempt in range(1, 10)] for _ in range(50)]
    for series in waits:
        for attempt, wait in enumerate(series, start=1):
            step = min(30.0, 0.5 * 2 ** (attempt - 1))
            assert step / 2 <= wait <= step
    firsts = {round(series[0], 6) for series in waits}
    assert len(firsts) > 40  # clients dropped together do not come back in step


def test_only_rows_with_a_time_and_consistent_positive_prices_are_taken() -> None:
    assert _valid_row([60_000, 100.0, 101.0, 99.0, 100.5, 3.0])
    assert not _valid_row([None, 100.0, 101.0, 99.0, 100.5, 3.0])  # ccxt's row for a kline with "t": "abc"
    assert not _valid_row([60_000, 100.0, 101.0, 99.0, None, 3.0])
    assert not _valid_row([60_000, 100.0, 99.0, 101.0, 100.5, 3.0])  # high below low
    assert not _valid_row([60_000, 0.0, 101.0, 0.0, 100.5, 3.0])
    assert not _valid_row([60_000, float("nan"), 101.0, 99.0, 100.5, 3.0])
    assert not _valid_row([60_000, 100.0, 101.0, 99.0, 100.5, -1.0])
    assert not _valid_row([60_000, 100.0, 101.0, 99.0])
