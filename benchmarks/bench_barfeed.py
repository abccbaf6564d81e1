"""BarFeed throughput: Bar events per second out of a synthetic frame, sync, async and merged.

Also times synthetic_bars itself and the Bar constructor path that BarFeed avoids (for comparison).

    python benchmarks/bench_barfeed.py [--bars 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterable

import engine.datagen.bar_feed as bar_feed
from engine.datagen.bar_feed import BarFeed, merge_feeds
from engine.datagen.synthetic import synthetic_bars


def rate(events: Iterable[object], n: int) -> float:
    start = time.perf_counter()
    for _ in events:
        pass
    return n / (time.perf_counter() - start)


async def async_rate(feed: BarFeed) -> float:
    start = time.perf_counter()
    async for _ in feed:
        pass
    return len(feed) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, repeat = args.bars, args.repeat

    start = time.perf_counter()
    frame = synthetic_bars(n, interval="1min", seed=7)
    print(f"synthetic_bars({n:,}): {time.perf_counter() - start:.2f} s")
    feed = BarFeed(frame, "BTC/USD")
    half_a = BarFeed(frame.iloc[: n // 2], "BTC/USD")
    half_b = BarFeed(synthetic_bars(n // 2, seed=8), "ETH/USD")

    results = {
        "BarFeed sync": max(rate(feed, n) for _ in range(repeat)),
        "BarFeed async": max(asyncio.run(async_rate(feed)) for _ in range(repeat)),
        "merge_feeds, 1 feed": max(rate(merge_feeds([feed]), n) for _ in range(repeat)),
        "merge_feeds, 2 feeds": max(rate(merge_feeds([half_a, half_b]), n // 2 * 2) for _ in range(repeat)),
    }
    bar_feed._FAST = False  # the keyword constructor Bar(...), for comparison
    try:
        results["BarFeed sync via Bar(...)"] = max(rate(feed, n) for _ in range(repeat))
    finally:
        bar_feed._FAST = bar_feed._fast_construction_is_exact()
    for name, value in results.items():
        print(f"{name:28s} {value / 1e6:6.2f} million bars/s")


if __name__ == "__main__":
    main()
