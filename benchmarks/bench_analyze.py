"""Streaming indicators: 20 TA-Lib indicators on 1,000,000 synthetic bars, microseconds per bar per indicator.

Three measurements, each beside TA-Lib's batch call on the same bars (the reference: one C loop over whole
arrays, which a live session cannot use since the bars arrive one at a time):

1. the 20 indicators in one ``IndicatorSet`` fed every bar through ``on_bar``, as in a back-test; the time to
   build and iterate the bars (``BarFeed``) is measured apart and taken out;
2. each indicator alone: the marginal cost of one more indicator in a set (the set's own per-bar cost, its
   history ring and the bar fields, measured with an empty set and taken out);
3. for contrast, the naive way: TA-Lib's batch function called on the last ``lookback + 1`` bars at every bar.

    python benchmarks/bench_analyze.py [--bars 1000000] [--alone 200000] [--naive 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import talib

from engine.analyze.indicators import Indicator, IndicatorSet
from engine.datagen.bar_feed import BarFeed
from engine.datagen.synthetic import synthetic_bars

INDICATORS = ["SMA", "EMA", "WMA", "DEMA", "KAMA", "T3", "RSI", "MACD", "BBANDS", "STOCH", "ATR", "ADX", "CCI",
              "MFI", "WILLR", "OBV", "AD", "SAR", "HT_TRENDLINE", "CDLENGULFING"]


def stream_seconds(feed: BarFeed, indicators: list[Indicator]) -> float:
    """Return the seconds an IndicatorSet of ``indicators`` takes over the feed, bar iteration included."""
    handler = IndicatorSet(indicators)
    on_bar = handler.on_bar
    start = time.perf_counter()
    for bar in feed:
        on_bar(bar)
    return time.perf_counter() - start


def feed_seconds(feed: BarFeed) -> float:
    start = time.perf_counter()
    for _ in feed:
        pass
    return time.perf_counter() - start


def batch_seconds(indicator: Indicator, columns: dict[str, np.ndarray]) -> float:
    function = getattr(talib, indicator.function)
    arrays = [columns[s] for s in indicator.sources]
    start = time.perf_counter()
    function(*arrays, **indicator.params)
    return time.perf_counter() - start


def naive_seconds(indicator: Indicator, columns: dict[str, np.ndarray], n: int) -> float:
    """Return the seconds of calling TA-Lib's batch function on the last lookback + 1 bars, at each of n bars."""
    function = getattr(talib, indicator.function)
    arrays = [columns[s] for s in indicator.sources]
    window = indicator.lookback + 1
    start = time.perf_counter()
    for t in range(window, n):
        function(*(a[t - window:t] for a in arrays), **indicator.params)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars of the 20-indicator run")
    parser.add_argument("--alone", type=int, default=200_000, help="bars of each one-indicator run")
    parser.add_argument("--naive", type=int, default=20_000, help="bars of each naive windowed run")
    args = parser.parse_args()
    indicators = [Indicator(name) for name in INDICATORS]

    frame = synthetic_bars(args.bars, interval="1min", seed=7)
    columns = {c: frame[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close", "volume")}
    feed = BarFeed(frame, "BTC/USD")
    n = len(feed)
    base = min(feed_seconds(feed) for _ in range(2))
    total = stream_seconds(feed, indicators) - base
    batch_total = sum(batch_seconds(ind, columns) for ind in indicators)
    print(f"{len(indicators)} indicators streamed over {n:,} bars: {total:.2f} s = {total / n * 1e6:.2f} us a bar, "
          f"{total / n / len(indicators) * 1e6:.2f} us a bar per indicator "
          f"(bar iteration, {base / n * 1e6:.2f} us a bar, taken out)")
    print(f"TA-Lib batch, the same 20 on the same bars: {batch_total:.3f} s = "
          f"{batch_total / n / len(indicators) * 1e9:.1f} ns a bar per indicator\n")

    small = BarFeed(frame.iloc[:args.alone], "BTC/USD")
    m = len(small)
    empty = stream_seconds(small, [])
    print(f"each alone, {m:,} bars (an empty set costs {(empty - feed_seconds(small)) / m * 1e6:.2f} us a bar, "
          f"taken out); naive: TA-Lib on the last lookback+1 bars at each of {args.naive:,} bars")
    print(f"{'indicator':<14} {'stream us/bar':>13} {'batch ns/bar':>13} {'naive us/bar':>13}")
    for indicator in indicators:
        alone = (stream_seconds(small, [indicator]) - empty) / m
        batch = batch_seconds(indicator, {k: v[:m] for k, v in columns.items()}) / m
        naive = naive_seconds(indicator, columns, args.naive) / args.naive
        print(f"{indicator.key:<14} {alone * 1e6:13.2f} {batch * 1e9:13.1f} {naive * 1e6:13.2f}")


if __name__ == "__main__":
    main()
