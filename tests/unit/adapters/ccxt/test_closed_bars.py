"""Closed bars from ccxt's watch_ohlcv updates: each once, in order, stamped at its close; gaps reported and
back-filled without duplicates; the bar in progress never handed out."""

from __future__ import annotations

from adapters.ccxt.bars import ClosedBars, Gap

MIN_MS = 60_000
MIN = MIN_MS * 1_000_000


def row(i: int, close: float, volume: float = 1.0) -> list[float]:
    """The ccxt row of minute bar ``i`` (open time i minutes), with ``close``."""
    return [i * MIN_MS, 100.0, 110.0, 90.0, close, volume]


def closes(bars: list) -> list[tuple[int, float]]:
    return [(bar.ts // MIN, bar.close) for bar in bars]


def test_a_bar_is_handed_out_once_when_the_next_appears_with_its_last_values() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    assert stream.update([row(0, 101)]) == ([], None)
    assert stream.update([row(0, 102)]) == ([], None)  # the same bar, changed: still forming
    bars, gap = stream.update([row(0, 103), row(1, 104)])
    assert closes(bars) == [(1, 103.0)] and gap is None  # bar 0, stamped at its close (minute 1)
    assert bars[0].interval == MIN and bars[0].symbol == "BTC/USDT"
    assert stream.update([row(1, 105)]) == ([], None)
    assert stream.update([row(0, 99)]) == ([], None)  # late: bar 0 was handed out already
    bars, _ = stream.update([row(2, 106)])
    assert closes(bars) == [(2, 105.0)]


def test_a_skip_is_a_gap_that_back_fill_fills_in_order_without_duplicates() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    stream.update([row(0, 100)])
    stream.update([row(1, 101)])  # bar 0 out
    bars, gap = stream.update([row(4, 104)])  # a reconnect: bars 2 and 3 never came
    assert closes(bars) == [(2, 101.0)] and gap == Gap(2 * MIN, 4 * MIN)
    rest = [row(i, 200 + i) for i in range(1, 5)]  # REST: bar 1 again, 2, 3, and 4 in progress
    filled = stream.backfill(rest, closed_by=4 * MIN + MIN // 2)
    assert closes(filled) == [(3, 202.0), (4, 203.0)]
    bars, gap = stream.update([row(4, 104.5), row(5, 105)])
    assert closes(bars) == [(5, 104.5)] and gap is None  # bar 4 from the stream, once


def test_warm_up_hands_out_the_closed_bars_and_leaves_the_one_in_progress_to_the_stream() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    warm = stream.backfill([row(i, 50 + i) for i in range(4)], closed_by=3 * MIN + 10)
    assert closes(warm) == [(1, 50.0), (2, 51.0), (3, 52.0)]  # bar 3 is still in progress
    stream.update([row(3, 53)])
    bars, gap = stream.update([row(4, 54)])
    assert closes(bars) == [(4, 53.0)] and gap is None


def test_a_stream_that_resumes_after_the_last_bar_handed_out_reports_the_bars_in_between() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    stream.backfill([row(0, 10), row(1, 11)], closed_by=2 * MIN)  # bars 0 and 1 out; nothing forming
    bars, gap = stream.update([row(5, 15)])
    assert bars == [] and gap == Gap(2 * MIN, 5 * MIN)


def test_after_a_broken_stream_the_bar_in_progress_is_fetched_not_closed_with_its_last_values_seen() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    stream.update([row(0, 100)])
    stream.update([row(1, 101)])  # bar 0 out; bar 1 forming at 101 when the socket drops
    stream.reset_stream()
    bars, gap = stream.update([row(3, 103)])  # reconnected two bars later
    assert bars == [] and gap == Gap(MIN, 3 * MIN)  # bar 1 is not handed out with its stale 101
    filled = stream.backfill([row(i, 300 + i) for i in range(1, 4)], closed_by=3 * MIN + 1)
    assert closes(filled) == [(2, 301.0), (3, 302.0)]
    stream.reset_stream()
    assert stream.update([row(3, 103.5)]) == ([], None)  # the same bar again after a reconnect: no gap


def test_a_bar_the_exchange_flags_closed_is_handed_out_at_once_and_only_once() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    assert stream.update([row(0, 100)]) == ([], None)
    bars, gap = stream.update([row(0, 101)], closed_through=0)  # the closing kline of bar 0
    assert closes(bars) == [(1, 101.0)] and gap is None
    assert stream.update([row(0, 101)], closed_through=0) == ([], None)  # a duplicate of the close
    assert stream.update([row(1, 102)], closed_through=0) == ([], None)  # bar 1 opens: nothing more to hand out
    bars, _ = stream.update([row(1, 103), row(2, 104)])  # an exchange without flags: closed by the next bar
    assert closes(bars) == [(2, 103.0)]


def test_with_close_flags_a_bar_whose_closing_message_was_lost_is_fetched_not_closed_by_the_next() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    stream.update([row(0, 100)])
    bars, _ = stream.update([row(0, 101)], closed_through=0)
    assert closes(bars) == [(1, 101.0)]
    stream.update([row(1, 102)], closed_through=0)  # bar 1 opens at 102; its closing kline never comes
    bars, gap = stream.update([row(2, 110)], closed_through=0)
    assert bars == [] and gap == Gap(MIN, 2 * MIN)  # not handed out with its opening values
    filled = stream.backfill([row(1, 105), row(2, 110)], closed_by=2 * MIN + 1)
    assert closes(filled) == [(2, 105.0)]  # the final values, by REST


def test_nothing_after_a_gap_is_handed_out_before_the_gap_is_filled() -> None:
    stream = ClosedBars("BTC/USDT", MIN)
    stream.update([row(0, 100)])
    bars, gap = stream.update([row(0, 100), row(3, 103), row(4, 104)])  # bars 1 and 2 missed, 3 closed by 4
    assert closes(bars) == [(1, 100.0)] and gap == Gap(MIN, 4 * MIN)
    filled = stream.backfill([row(i, 200 + i) for i in range(5)], closed_by=4 * MIN + 1)
    assert closes(filled) == [(2, 201.0), (3, 202.0), (4, 203.0)]  # in order, bar 3 from REST
    bars, gap = stream.update([], closed_through=4 * MIN)  # bar 4, kept in progress, was flagged closed
    assert closes(bars) == [(5, 104.0)] and gap is None
