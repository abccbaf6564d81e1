"""Back-test throughput: the engine against a bare pure-Python loop with the same rules (the floor).

1,000,000 synthetic one-minute bars, SMA 10/30 cross, 0.1% fee, fills at the next bar's open. Both must give
the same trades. Prints bars/s of each, their ratio, and the process's peak memory against the size of the
data in numpy arrays.

    python benchmarks/bench_backtest.py [--bars 1000000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
from collections import deque
from decimal import ROUND_DOWN, Decimal

import numpy as np
import pandas as pd

from engine.backtest import BacktestConfig, run_backtest
from engine.datagen.synthetic import synthetic_bars
from strategies.sma_cross import SmaCross

FAST, SLOW, FEE, SIZE, CASH = 10, 30, 0.001, 0.95, 10_000.0
STEP = Decimal("0.00000001")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def floor_loop(open_: np.ndarray, close: np.ndarray) -> list[tuple[int, int, float]]:
    """Return (entry bar, exit bar, quantity) of each round trip: the same rules with nothing but a loop."""
    opens = open_.tolist()
    closes = close.tolist()
    cash = CASH
    quantity = 0.0
    window: deque[float] = deque()
    fast_sum = slow_sum = 0.0
    previous = None
    pending = 0  # +1 buy at next open, -1 sell at next open
    pending_quantity = 0.0
    trades: list[tuple[int, int, float]] = []
    entry = -1
    for i, c in enumerate(closes):
        if pending:
            price = opens[i]
            if pending > 0:
                cash -= pending_quantity * price * (1 + FEE)
                quantity = pending_quantity
                entry = i
            else:
                cash += quantity * price * (1 - FEE)
                trades.append((entry, i, quantity))
                quantity = 0.0
            pending = 0
        window.append(c)
        fast_sum += c
        slow_sum += c
        n = len(window)
        if n > FAST:
            fast_sum -= window[-FAST - 1]
        if n > SLOW:
            slow_sum -= window.popleft()
            n -= 1
        if n < SLOW:
            continue
        gap = fast_sum / FAST - slow_sum / SLOW
        if previous is not None:
            if previous <= 0.0 < gap and quantity == 0:
                pending_quantity = float(Decimal(repr(cash * SIZE / c)).quantize(STEP, ROUND_DOWN))
                pending = 1
            elif previous >= 0.0 > gap and quantity > 0:
                pending = -1
        previous = gap
    return trades


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="print the engine's cProfile top 25")
    args = parser.parse_args()

    baseline_mb = peak_rss_mb()
    frame = synthetic_bars(args.bars, interval="1min", seed=7)
    data_mb = sum(frame[c].to_numpy().nbytes for c in ("open", "high", "low", "close", "volume")) / 2**20
    data_mb += frame.index.asi8.nbytes / 2**20
    before_engine_mb = peak_rss_mb()

    config = BacktestConfig(cash=Decimal(int(CASH)), fee_bps=FEE * 10_000, slippage="none")
    strategy = SmaCross(fast=FAST, slow=SLOW, size=SIZE)
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run_backtest(strategy, frame, config, symbol="SYN/USD")
    if profiler:
        profiler.disable()
    engine_s = time.perf_counter() - start
    engine_peak_mb = peak_rss_mb()

    start = time.perf_counter()
    floor_trades = floor_loop(frame["open"].to_numpy(), frame["close"].to_numpy())
    floor_s = time.perf_counter() - start

    open_ns = frame.index.asi8
    engine_trades = result.trades
    same = len(engine_trades) == len(floor_trades) and all(
        row.entry_time.value == open_ns[e] and row.exit_time.value == open_ns[x]
        and abs(row.quantity - q) <= 1e-8
        for row, (e, x, q) in zip(engine_trades.itertuples(), floor_trades, strict=False))

    engine_rate = args.bars / engine_s
    floor_rate = args.bars / floor_s
    print(f"bars                      {args.bars:,}")
    print(f"round trips               engine {len(engine_trades):,}   floor {len(floor_trades):,}   "
          f"same trades: {'yes' if same else 'NO'}")
    print(f"engine                    {engine_rate:,.0f} bars/s ({engine_s:.2f} s)   target >= 300,000")
    print(f"floor (bare loop)         {floor_rate:,.0f} bars/s ({floor_s:.2f} s)")
    print(f"floor / engine            {floor_rate / engine_rate:.1f}x   target <= 15x")
    print(f"data in numpy arrays      {data_mb:,.1f} MB")
    print(f"interpreter + libraries   {baseline_mb:,.1f} MB peak RSS before the data")
    print(f"peak RSS after engine     {engine_peak_mb:,.1f} MB   (engine added "
          f"{engine_peak_mb - before_engine_mb:,.1f} MB; target: total < {baseline_mb + 2 * data_mb:,.1f} MB)")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0 if same else 1


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    sys.exit(main())
