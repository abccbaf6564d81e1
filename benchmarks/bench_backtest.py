"""Back-test throughput: the engine against a bare pure-Python loop with the same rules (the floor).

1,000,000 synthetic one-minute bars (prices on a 0.01 tick), SMA 10/30 cross trading a fixed 1 unit, 0.1% fee,
fills at the next bar's open. Both must give the same trades and final equity. Prints bars/s of each, their
ratio, and the peak memory of the process that runs them against the size of the data in numpy arrays.

    python benchmarks/bench_backtest.py [--bars 1000000] [--repeat 3] [--profile] [--cold]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.memory import tuned_for_long_runs
from strategies.sma_cross import SmaCross

FAST, SLOW, FEE, QUANTITY, CASH = 10, 30, 0.001, 1.0, 1_000_000
WARM_UP_BARS = 500
COLUMNS = ("open", "high", "low", "close", "volume")


def peak_rss_mb() -> float:
    """Return this process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: ru_maxrss, in KiB


def floor_loop(open_: np.ndarray, close: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """Return (entry bar, exit bar) of each round trip and the final equity: the same rules in a bare loop."""
    opens = open_.tolist()
    closes = close.tolist()
    cash = float(CASH)
    quantity = 0.0
    window: deque[float] = deque()
    fast_sum = slow_sum = 0.0
    previous = None
    pending = 0  # +1 buy at next open, -1 sell at next open
    trades: list[tuple[int, int]] = []
    entry = -1
    for i, c in enumerate(closes):
        if pending:
            price = opens[i]
            if pending > 0:
                cash -= QUANTITY * price * (1 + FEE)
                quantity = QUANTITY
                entry = i
            else:
                cash += quantity * price * (1 - FEE)
                trades.append((entry, i))
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
                pending = 1
            elif previous >= 0.0 > gap and quantity > 0:
                pending = -1
        previous = gap
    return trades, cash + quantity * closes[-1]


def floor_window(open_: np.ndarray, close: np.ndarray,
                 window_s: float) -> tuple[float, tuple[list[tuple[int, int]], float]]:
    """Run the floor back to back for at least ``window_s`` seconds (at least once).

    Return the mean seconds a run and what the runs returned (the same every time).
    """
    runs = 0
    start = time.perf_counter()
    while True:
        outcome = floor_loop(open_, close)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= window_s:
            return elapsed / runs, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of engine then floor; each is judged by its best round (default 3)")
    parser.add_argument("--profile", action="store_true", help="print the engine's cProfile top 25 (first round)")
    parser.add_argument("--cold", action="store_true",
                        help="measure the baseline before any back-test ran (no warm-up run)")
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)  # set when re-run on saved data
    args = parser.parse_args()
    if args.data_dir is None:
        # Generate the bars here, then measure in a fresh interpreter that only loads them: its peak memory is
        # the interpreter and libraries, the data and the engine, without the generator's temporaries.
        with tempfile.TemporaryDirectory() as tmp:
            frame = synthetic_bars(args.bars, interval="1min", seed=7)
            np.save(Path(tmp) / "ts.npy", frame.index.asi8)
            for column in COLUMNS:
                # exchange prices sit on a tick: round to 0.01 so engine and floor book the same prices
                values = frame[column].to_numpy()
                np.save(Path(tmp) / f"{column}.npy", values if column == "volume" else values.round(2))
            del frame
            command = [sys.executable, __file__, "--bars", str(args.bars), "--repeat", str(args.repeat),
                       "--data-dir", tmp]
            command += [flag for flag, on in (("--profile", args.profile), ("--cold", args.cold)) if on]
            return subprocess.run(command, check=False).returncode
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    return measure(args.data_dir, args.bars, args.repeat, args.profile, args.cold)


def warm_up(config: BacktestConfig, venue: SimSettings) -> None:
    """Run a short back-test, so that the baseline holds what the libraries load on first use.

    The first run of a process pages in code of pandas, pyarrow and numpy (about 6 MB of file-backed pages: the
    libraries' own memory, shared with every process that maps them) and sets up their pools; none of it grows
    with the data. The warm-up bars are a plain sine wave, so that no code the measured run does not use (the
    synthetic generator's random numbers) is paged in; 500 bars make a dozen orders, so what the measured run
    can reuse of the warm-up's freed memory is a few hundred KB.
    """
    steps = np.arange(WARM_UP_BARS, dtype=np.float64)
    close = np.round(100.0 + 5.0 * np.sin(steps / 20.0), 2)
    open_ = np.concatenate([close[:1], close[:-1]])
    frame = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 0.05,
                          "low": np.minimum(open_, close) - 0.05, "close": close,
                          "volume": np.full(WARM_UP_BARS, 10.0)},
                         index=pd.date_range("2020-01-01", periods=WARM_UP_BARS, freq="1min", tz="UTC", name="ts"))
    with tuned_for_long_runs():  # as the CLI runs a back-test
        result = run_backtest(SmaCross(fast=FAST, slow=SLOW, quantity=QUANTITY), frame, config, venue=venue,
                              symbol="SYN/USD")
    if result.stats["n_trades"] == 0:
        raise RuntimeError("the warm-up run made no trade: it would not page in the order path")
    del result
    gc.collect()


def measure(data_dir: Path, bars: int, repeat: int, profile: bool, cold: bool) -> int:
    config = BacktestConfig(cash=Decimal(CASH))
    venue = SimSettings(fee_bps=FEE * 10_000, slippage="none")
    if not cold:
        warm_up(config, venue)
    baseline_mb = peak_rss_mb()
    arrays = {column: np.load(data_dir / f"{column}.npy") for column in COLUMNS}
    index = pd.DatetimeIndex(np.load(data_dir / "ts.npy"), tz="UTC", name="ts")
    frame = pd.DataFrame(arrays, index=index, copy=False)  # shares the arrays: no second copy of the data
    data_mb = (sum(a.nbytes for a in arrays.values()) + index.asi8.nbytes) / 2**20
    before_engine_mb = peak_rss_mb()

    # The machine is shared: the same loop runs up to 1.7x slower from one second to the next. A single floor run
    # (half a second) often falls in a quiet moment that a ten-second engine run cannot, so each round times the
    # engine once and then the floor over as long a window (run back to back, averaged): both sides see the
    # same share of their neighbours. The ratio is each round's, the speeds are each side's best round. Peak
    # memory is read after the first engine run, before any later round could add to it.
    engine_times: list[float] = []
    floor_times: list[float] = []
    result = None
    opens, closes = frame["open"].to_numpy(), frame["close"].to_numpy()
    for round_number in range(repeat):
        profiler = cProfile.Profile() if profile and round_number == 0 else None
        strategy = SmaCross(fast=FAST, slow=SLOW, quantity=QUANTITY)
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        with tuned_for_long_runs():
            run = run_backtest(strategy, frame, config, venue=venue, symbol="SYN/USD")
        engine_times.append(time.perf_counter() - start)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        if result is None:
            result, engine_peak_mb = run, peak_rss_mb()
        del run, strategy
        gc.collect()
        seconds, (floor_trades, floor_equity) = floor_window(opens, closes, engine_times[-1])
        floor_times.append(seconds)
    assert result is not None
    engine_s, floor_s = min(engine_times), min(floor_times)

    open_ns = frame.index.asi8
    engine_trades = result.trades
    same = len(engine_trades) == len(floor_trades) and all(
        row.entry_time.value == open_ns[e] and row.exit_time.value == open_ns[x]
        for row, (e, x) in zip(engine_trades.itertuples(), floor_trades, strict=False))
    same = same and math.isclose(result.stats["final_equity"], floor_equity, rel_tol=1e-9)

    engine_rate = bars / engine_s
    floor_rate = bars / floor_s
    target_mb = baseline_mb + 2 * data_mb
    print(f"bars                      {bars:,} one-minute, SMA {FAST}/{SLOW} cross, fee {FEE:.1%}")
    print(f"round trips               engine {len(engine_trades):,}   floor {len(floor_trades):,}   "
          f"same trades and final equity: {'yes' if same else 'NO'}")
    print(f"engine                    {engine_rate:>12,.0f} bars/s ({engine_s:.2f} s, best of {_seconds(engine_times)})"
          f"   target >= 300,000")
    print(f"floor (bare loop)         {floor_rate:>12,.0f} bars/s ({floor_s:.2f} s, best of {_seconds(floor_times)}, "
          f"each the mean over as long as the round's engine run)")
    ratios = sorted(engine / floor for engine, floor in zip(engine_times, floor_times, strict=True))
    print(f"floor / engine            {ratios[len(ratios) // 2]:>12.1f}x   target about 15x (the median round; "
          f"rounds {', '.join(f'{r:.1f}x' for r in ratios)}; best against best {floor_rate / engine_rate:.1f}x)")
    print(f"data in numpy arrays      {data_mb:>12,.1f} MB")
    print(f"interpreter + libraries   {baseline_mb:>12,.1f} MB   "
          f"({'cold: before any back-test' if cold else f'after a {WARM_UP_BARS}-bar warm-up run'})")
    print(f"peak RSS, engine run      {engine_peak_mb:>12,.1f} MB   target < {target_mb:,.1f} MB "
          f"(interpreter + 2x data); the engine added {engine_peak_mb - before_engine_mb:,.1f} MB "
          f"for {len(result.orders):,} orders")
    return 0 if same else 1


def _seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) + " s"


if __name__ == "__main__":
    sys.exit(main())
