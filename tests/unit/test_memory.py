"""engine.memory: freed memory goes back to the system, the collector scans rarely; only the CLI opts in."""

import gc
import os
import platform
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.sample import load_sample
from engine.events import Bar
from engine.memory import YOUNG_COLLECTION_AT, fewer_full_collections
from strategies.sma_cross import SmaCross

# Each check runs in a fresh interpreter: the settings are process-wide, and the control must see the defaults.
FREED_ARRAYS = textwrap.dedent("""
    import sys
    import numpy as np
    from engine.memory import pin_mmap_threshold

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    if sys.argv[1] == "pinned":
        assert pin_mmap_threshold() and pin_mmap_threshold()  # idempotent
    np.ones(2 * 2**20)  # a 16 MB temporary, freed: glibc's dynamic threshold rises to 16 MB
    before = rss_mb()
    blocks = [np.ones(2**18) for _ in range(16)]  # 16 arrays of 2 MB
    kept = np.ones(10_000)  # a small block that stays, above them on the heap
    del blocks
    print(rss_mb() - before)
""")
HEAP_TOP = textwrap.dedent("""
    import ctypes, sys
    from engine.memory import pin_mmap_threshold

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                         "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    if sys.argv[1] == "pinned":
        assert pin_mmap_threshold()
    else:  # the mmap threshold alone: glibc then trims the heap as soon as 128 KiB at its top are free
        assert libc.mallopt(-3, 128 * 1024) == 1
    blocks = [libc.malloc(64 * 1024) for _ in range(30)]  # 1.9 MB of heap, below the mmap threshold
    grown = libc.mallinfo2().arena
    for block in reversed(blocks):
        libc.free(block)
    print((grown - libc.mallinfo2().arena) / 2**20)  # MB given back to the system
""")
ARROW_POOL = textwrap.dedent("""
    import pyarrow
    from engine.memory import release_memory_promptly

    release_memory_promptly()
    print(pyarrow.default_memory_pool().backend_name)
""")


LIBRARY_CALL = textwrap.dedent("""
    import gc
    import pyarrow
    from adapters.sim import SimSettings
    from engine import memory
    from engine.backtest import run_backtest
    from engine.datagen.synthetic import synthetic_bars
    from strategies.sma_cross import SmaCross

    thresholds = gc.get_threshold()
    run_backtest(SmaCross(fast=5, slow=20), synthetic_bars(300, interval="1h", seed=1), venue=SimSettings(),
                 symbol="SYN/USD")
    print(memory._pinned, pyarrow.default_memory_pool().backend_name != "system", gc.get_threshold() == thresholds)
""")

COMMAND_LINE = textwrap.dedent("""
    import gc
    import platform
    import pyarrow
    from engine import memory
    from engine.cli import main

    seen = set()

    class Watcher:
        def on_bar(self, bar):
            seen.add(gc.get_threshold())

    before = gc.get_threshold()
    assert main(["backtest", "--quiet", "--json", "--handler", "__main__:Watcher"]) == 0
    (young, _, old), = seen
    print(memory._pinned == (platform.libc_ver()[0] == "glibc"), pyarrow.default_memory_pool().backend_name,
          young == memory.YOUNG_COLLECTION_AT and old >= 1000, gc.get_threshold() == before)
""")


def _run(script: str, *args: str, **env: str) -> str:
    """Run ``script`` in a fresh interpreter with ``env`` over this one's, minus any Arrow pool set here."""
    base = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True,
                          env={**base, **env})
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the mmap threshold exists only in glibc's malloc")
def test_freed_arrays_stay_with_the_process_by_default_and_go_back_once_pinned() -> None:
    assert float(_run(FREED_ARRAYS, "default")) > 24  # the control: glibc keeps the 32 MB it no longer uses
    assert float(_run(FREED_ARRAYS, "pinned")) < 4


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the trim threshold exists only in glibc's malloc")
def test_the_heap_keeps_a_few_mb_of_free_top_for_reuse_instead_of_trimming_after_every_free() -> None:
    assert float(_run(HEAP_TOP, "mmap-only")) > 1.5  # the control: each free at the top shrinks the heap
    assert float(_run(HEAP_TOP, "pinned")) == 0  # kept, so the next allocations need no page faults


def test_arrow_moves_to_the_system_pool_unless_the_user_chose_one() -> None:
    default = _run("import pyarrow; print(pyarrow.default_memory_pool().backend_name)")
    assert default in ("mimalloc", "jemalloc")  # the control: pyarrow's wheels default to their own allocator
    assert _run(ARROW_POOL) == "system"
    assert _run(ARROW_POOL, ARROW_DEFAULT_MEMORY_POOL=default) == default  # the user's choice is kept


def test_a_back_test_called_as_a_library_changes_nothing_process_wide() -> None:
    assert _run(LIBRARY_CALL) == "False True True"


def test_the_command_line_opts_in_to_the_allocator_and_collector_settings_and_restores_the_collector() -> None:
    out = _run(COMMAND_LINE).splitlines()[-1]  # --json printed the result before
    assert out == "True system True True"


class GcWatcher:
    """A handler that reads the collector's thresholds during the replay."""

    def __init__(self) -> None:
        self.thresholds: set[tuple[int, int, int]] = set()

    def on_bar(self, bar: Bar) -> None:
        self.thresholds.add(gc.get_threshold())


def _sample(rows: int) -> tuple[pd.DataFrame, str]:
    frame, meta = load_sample()
    return frame.iloc[:rows], meta.symbol


def test_fewer_full_collections_collects_the_young_generation_less_often_and_restores_the_thresholds() -> None:
    frame, symbol = _sample(500)
    before = gc.get_threshold()
    watcher = GcWatcher()
    with fewer_full_collections():
        run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol, handlers=[watcher])
    young, middle, old = watcher.thresholds.pop()
    assert not watcher.thresholds  # the same settings for the whole replay
    assert young == max(before[0], YOUNG_COLLECTION_AT) and middle == before[1] and old >= 1000
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cyclic_garbage_of_a_long_replay_is_still_collected() -> None:
    """500 cycles a bar pass the raised young threshold many times over: collections must still run."""
    frame, symbol = _sample(200)
    collections: list[int] = []

    class Cycles:
        def on_bar(self, bar: Bar) -> None:
            for _ in range(500):
                cycle: list[object] = []
                cycle.append(cycle)

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collections.append(info["collected"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        with fewer_full_collections():
            run_backtest(SmaCross(), frame, venue=SimSettings(), symbol=symbol, handlers=[Cycles()])
    finally:
        gc.callbacks.remove(count)
    assert len(collections) >= 200 * 500 // YOUNG_COLLECTION_AT
    assert sum(collections) >= 200 * 500 // 2  # most of the cycles were freed during the run
