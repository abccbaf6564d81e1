"""Writing a back-test's results: ``mlct backtest`` on 1M bars without ``--out``, with it and with ``--csv``, side
by side; and each file's writer against ``DataFrame.to_csv``, the way results were written before (the reference).

1,000,000 synthetic one-minute bars (prices on a 0.01 tick), the default strategy (SMA 10/30 cross, 95% of
equity, 0.1% fee), as ``mlct backtest --data bars.parquet --out DIR`` runs it.

1. The command line, a process a run as a user starts it (interpreter, imports, reading the bars, the back-test,
   the summary): each round runs the three commands one after the other, so that they share the machine's
   moment; the share of writing is (with ``--out`` - without) / with ``--out``, each side's best round.
2. In one process, the back-test once, then per round the result's files written by ``BacktestResult.save``
   (Parquet, Arrow's CSV writer) and by pandas as before (``to_csv`` for every CSV, ``to_parquet`` for the
   prices), alternately; each file's best round.

    python benchmarks/bench_outputs.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.files import save_parquet
from engine.datagen.synthetic import synthetic_bars
from engine.memory import tuned_for_long_runs
from engine.result import BacktestResult
from engine.result.files import Written
from strategies.sma_cross import SmaCross

SYMBOL = "SYN/USD"
# How each file was written before; the equity was CSV only, so its Parquet file is set against that.
REFERENCE = {"equity.parquet": "to_csv of equity.csv", "prices.parquet": "to_parquet"}
COMMANDS = {"without --out": [], "--out": ["--out", "{out}"], "--out --csv": ["--out", "{out}", "--csv"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each measure (default 3)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        frame = synthetic_bars(args.bars, interval="1min", seed=7)
        prices = ["open", "high", "low", "close"]
        frame[prices] = frame[prices].round(2)  # exchange prices sit on a tick
        data = save_parquet(frame, Path(tmp) / "bars.parquet", symbol=SYMBOL)
        del frame
        command_line(data, Path(tmp), args.bars, args.repeat)
        in_process(data, Path(tmp), args.repeat)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def command_line(data: Path, tmp: Path, bars: int, repeat: int) -> None:
    """Time ``mlct backtest`` without ``--out``, with it and with ``--csv``, in rounds; print each's best."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for round_number in range(repeat):
        for name, extra in COMMANDS.items():
            out = tmp / f"out{round_number}"
            argv = [sys.executable, "-m", "engine.cli", "--quiet", "backtest", "--data", str(data),
                    *(arg.format(out=out) for arg in extra)]
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in times.items()}
    print(f"\nmlct backtest on {bars:,} one-minute bars, a process a run (best of {repeat}; every round in s)")
    for name, seconds in best.items():
        print(f"  {name:<16} {seconds:6.2f} s   ({', '.join(f'{t:.2f}' for t in times[name])})")
    for name, target in (("--out", "   target at most 15%"), ("--out --csv", "")):
        writing = best[name] - best["without --out"]
        print(f"  writing, {name:<11} {writing:6.2f} s, {writing / best[name]:6.1%} of the run with it{target}")


def in_process(data: Path, tmp: Path, repeat: int) -> None:
    """Time the back-test once, then each file of its result written now and as before; print both."""
    from engine.datagen.files import load_bars

    frame, _ = load_bars(data)
    started = time.perf_counter()
    with tuned_for_long_runs():  # as the command line runs it
        result = run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=SYMBOL)
    backtest_s = time.perf_counter() - started
    now: dict[str, list[Written]] = {}
    before: dict[str, list[float]] = {}
    saves: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for csv in (False, True):
            recorder = _Recorder()
            started = time.perf_counter()
            result.save(tmp / "now", csv=csv, progress=recorder)
            saves[csv].append(time.perf_counter() - started)
            if csv:
                for file in recorder.files:
                    now.setdefault(file.path.name, []).append(file)
        for name, seconds in _as_before(result, tmp / "before").items():
            before.setdefault(name, []).append(seconds)
    print(f"\nIn one process: the back-test {backtest_s:.2f} s; each file's best of {repeat}")
    print(f"  {'file':<16}{'rows':>11}{'MB':>8}{'now s':>9}{'before s':>10}   before: pandas")
    for name, files in now.items():
        file = min(files, key=lambda f: f.seconds)
        old = min(before[name])
        print(f"  {name:<16}{file.rows:>11,}{file.size / 1e6:>8.1f}{file.seconds:>9.3f}{old:>10.3f}   "
              f"{REFERENCE.get(name, 'to_csv')} ({old / file.seconds:.1f}x)")
    default = ("trades.csv", "orders.csv", "fills.csv", "equity.csv", "prices.parquet")  # what --out wrote
    before_s = sum(min(before[name]) for name in default)
    for csv, label in ((False, "save"), (True, "save with csv")):
        seconds = min(saves[csv])
        print(f"  {label:<16} {seconds:6.2f} s, {seconds / (backtest_s + seconds):6.1%} of back-test and save")
    print(f"  before (--out)   {before_s:6.2f} s, {before_s / (backtest_s + before_s):6.1%} of back-test and save")


class _Recorder:
    """Keep what ``BacktestResult.save`` reports of each file."""

    def __init__(self) -> None:
        self.files: list[Written] = []

    def writing(self, path: Path, index: int, total: int) -> None:
        """Nothing before a file."""

    def written(self, file: Written) -> None:
        self.files.append(file)


def _as_before(result: BacktestResult, out: Path) -> dict[str, float]:
    """Write the tables as ``BacktestResult.save`` did before Parquet and Arrow's CSV writer; return the seconds
    each took (``prices.csv``: what ``to_csv`` takes for it, the reference of ``--csv``)."""
    out.mkdir(parents=True, exist_ok=True)
    long = pd.concat([f.assign(symbol=s).reset_index() for s, f in result.prices.items()], ignore_index=True)
    long = long[["ts", "symbol", "open", "close"]]
    writers: dict[str, Callable[[Path], object]] = {
        "trades.csv": lambda path: result.trades.to_csv(path, index=False),
        "orders.csv": lambda path: result.orders.to_csv(path, index=False),
        "fills.csv": lambda path: result.fills.to_csv(path, index=False),
        "equity.csv": lambda path: result.equity.to_csv(path),
        "prices.parquet": lambda path: long.to_parquet(path, index=False),
        "prices.csv": lambda path: long.to_csv(path, index=False),
    }
    seconds = {}
    for name, write in writers.items():
        started = time.perf_counter()
        write(out / name)
        seconds[name] = time.perf_counter() - started
    seconds["equity.parquet"] = seconds["equity.csv"]  # before, the equity was only ever CSV
    return seconds


if __name__ == "__main__":
    sys.exit(main())
