"""Catalog benchmark: write and read 10 million one-minute bars, and the memory of replaying them.

Writes ``--bars`` synthetic one-minute bars (and a first ``--small`` of them as a second data set) into a
catalog, then, each in a fresh process so that nothing is cached in the interpreter:

- reads the whole data set back into a frame (rows/s);
- replays each data set through ``CatalogFeed`` (events/s and peak resident memory above the process's
  baseline): the streamed replay's memory must not depend on the length of the history;
- for contrast, replays the large one the in-memory way (``Catalog.read`` then ``BarFeed``).

    python benchmarks/bench_datagen.py [--bars 10000000] [--small 2500000] [--dir /tmp/mlct-bench] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIG, SMALL = "synthetic:BIG/USD:1m", "synthetic:SMALL/USD:1m"
NOW = 4_102_444_800 * 10**9  # 2100-01-01: every synthetic bar is final


def peak_mb() -> float:
    """Return this process's peak resident memory in MiB.

    ``VmHWM`` belongs to the address space, which ``exec`` replaces: unlike ``ru_maxrss``, which Linux carries
    over from the parent at fork, it does not start at the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: kilobytes on Linux, bytes on macOS


def child(mode: str, root: str, query_text: str) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    from engine.datagen.bar_feed import BarFeed
    from engine.datagen.catalog import Catalog
    from engine.datagen.query import Query
    from engine.datagen.stream import CatalogFeed

    catalog = Catalog(root, now=lambda: NOW)
    query = Query.parse(query_text)
    baseline = peak_mb()
    start = time.perf_counter()
    if mode == "read":
        count = len(catalog.read(query))
    elif mode == "stream":
        count = sum(1 for _ in CatalogFeed(catalog, query))
    else:  # "memory": the whole history in a frame, then BarFeed
        count = sum(1 for _ in BarFeed(catalog.read(query), query.symbol, query.timeframe))
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": count, "seconds": seconds, "baseline_mb": baseline, "peak_mb": peak_mb()}))


def measure(mode: str, root: Path, query: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(root), query], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=2_500_000)
    parser.add_argument("--dir", type=Path, help="catalog directory (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the catalog directory")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "QUERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from engine.datagen.catalog import Catalog
    from engine.datagen.query import Query
    from engine.datagen.synthetic import synthetic_bars

    root = args.dir or Path(tempfile.mkdtemp(prefix="mlct-bench-"))
    try:
        catalog = Catalog(root, now=lambda: NOW)
        frame = synthetic_bars(args.bars, interval="1min", seed=7)
        start = time.perf_counter()
        catalog.put(Query.parse(BIG), frame)
        write = time.perf_counter() - start
        catalog.put(Query.parse(SMALL), frame.iloc[: args.small])
        del frame
        info = catalog.info(Query.parse(BIG), gaps=False)
        print(f"catalog write  {args.bars:>12,} bars  {write:6.2f} s  {args.bars / write / 1e6:6.2f} M rows/s  "
              f"({len(info.files)} files, {info.size / 2**20:,.0f} MiB)")
        read = measure("read", root, BIG)
        print(f"catalog read   {read['rows']:>12,.0f} bars  {read['seconds']:6.2f} s  "
              f"{read['rows'] / read['seconds'] / 1e6:6.2f} M rows/s  (fresh process, "
              f"+{read['peak_mb'] - read['baseline_mb']:,.0f} MiB peak)")
        for name, query in (("small", SMALL), ("large", BIG)):
            run = measure("stream", root, query)
            print(f"stream replay  {run['rows']:>12,.0f} bars  {run['seconds']:6.2f} s  "
                  f"{run['rows'] / run['seconds'] / 1e6:6.2f} M events/s  peak memory "
                  f"+{run['peak_mb'] - run['baseline_mb']:,.0f} MiB above a {run['baseline_mb']:,.0f} MiB "
                  f"baseline ({name} history)")
        whole = measure("memory", root, BIG)
        print(f"in-memory      {whole['rows']:>12,.0f} bars  {whole['seconds']:6.2f} s  "
              f"{whole['rows'] / whole['seconds'] / 1e6:6.2f} M events/s  peak memory "
              f"+{whole['peak_mb'] - whole['baseline_mb']:,.0f} MiB (Catalog.read + BarFeed, for contrast)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
