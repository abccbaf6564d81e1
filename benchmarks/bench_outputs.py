"""Writing a back-test's results: ``mlct backtest`` on 1M bars without ``--out``, with it and with ``--csv``, side
by side; and each file's writer against ``DataFrame.to_csv``, the way results were written before (the reference).

1,000,000 synthetic one-minute bars (prices on a 0.01 tick), the default strategy (SMA 10/30 cross, 95% of
equity, 0.1% fee), as ``mlct backtest --data bars.parquet --out DIR`` runs it.

1. The command line, a process a run as a user starts it (interpreter, imports, reading the bars, the back-test,
   the summary): each round runs the three commands one after the other (each first in turn), so that they
   share the machine's moment; each process's log lines say how long its back-test and its writing took, and
   writing's share of that process's wall time is the figure the target (at most 15%) is about. The
   difference of the best wall times with and without ``--out`` is printed beside it.
2. In one process, the back-test once, then per round the result's files written by ``BacktestResult.save``
   (Parquet, Arrow's CSV writer) and by pandas as before (``to_csv`` for every CSV, ``to_parquet`` for the
   prices), alternately; each file's best round.

    python benchmarks/bench_outputs.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
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
    """Time ``mlct backtest`` without ``--out``, with it and with ``--csv``, in rounds; print each's best.

    Each process also says, in its JSON log lines, how long its back-test and its writing took: their share of
    the same process's time holds on a busy machine, where two processes' totals differ by seconds of noise.
    """
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in COMMANDS}  # wall, back-test, write
    names = list(COMMANDS)
    for round_number in range(repeat):
        for name in names[round_number % 3:] + names[:round_number % 3]:  # each goes first in turn
            out = tmp / f"out{round_number}"
            argv = [sys.executable, "-m", "engine.cli", "--quiet", "--log-level", "INFO", "--log-format", "json",
                    "backtest", "--data", str(data), *(arg.format(out=out) for arg in COMMANDS[name])]
            started = time.perf_counter()
            done = subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - started
            logged = {line["message"]: line for line in map(json.loads, done.stderr.splitlines())}
            runs[name].append((wall, logged["back-test done"]["seconds"],
                               logged.get("results written", {}).get("seconds", 0.0)))
    print(f"\nmlct backtest on {bars:,} one-minute bars, a process a run, {repeat} rounds (the round of the "
          "lowest wall time; the median share)")
    print(f"  {'':<14}{'wall s':>8}{'back-test s':>13}{'writing s':>11}{'writing / wall':>16}   every round's wall s")
    for name, measured in runs.items():
        wall, backtest_s, write_s = min(measured)
        shares = sorted(w / total for total, _, w in measured)
        print(f"  {name:<14}{wall:>8.2f}{backtest_s:>13.2f}{write_s:>11.2f}{shares[len(shares) // 2]:>16.1%}   "
              f"{', '.join(f'{m[0]:.2f}' for m in measured)}")
    best = {name: min(m[0] for m in measured) for name, measured in runs.items()}
    for name in ("--out", "--out --csv"):
        print(f"  best wall with {name} - without: {best[name] - best['without --out']:+.2f} s "
              f"({(best[name] - best['without --out']) / best[name]:+.1%} of it)")
    print("  target: writing at most 15% of the back-test with --out")


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
