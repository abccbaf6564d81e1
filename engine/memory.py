"""Process-wide tuning for long back-tests: opt-in (the CLI and the benchmarks), never a library call's side effect.

``tuned_for_long_runs()`` applies both parts below for as long as it is entered.

Memory a run frees goes back to the system, so a long back-test's peak is what it holds, not what it held.

Two allocators keep freed memory by default, and a back-test frees a lot of it (validation masks, result
columns, the temporary objects of each bar):

- glibc's malloc serves a request of at least ``M_MMAP_THRESHOLD`` (128 KiB at start) with its own mapping,
  returned to the system when freed. But each time such a block is freed, glibc raises the threshold to its
  size (up to 32 MiB): after the first large temporary array, arrays and lists of up to that size come from the
  heap, which goes back to the system only from its top. That kept about 20 MB the 1M-bar benchmark no longer
  used (2026-12-01). Setting the threshold explicitly keeps it at 128 KiB: glibc stops adjusting a threshold the
  program has set.
- pyarrow, which holds pandas' string columns, allocates from mimalloc (or jemalloc) by default: its first
  string column costs about 5 MB of reserved pages against 1 MB with the C library's allocator, and freed
  pages stay with it. A back-test's string columns are small, so Arrow is moved to the system pool, unless the
  user chose a pool with ``ARROW_DEFAULT_MEMORY_POOL``.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "YOUNG_COLLECTION_AT", "arrow_on_system_allocator",
           "fewer_full_collections", "pin_mmap_threshold", "release_memory_promptly", "tuned_for_long_runs"]

MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, pinned
# Pinning the mmap threshold also stops glibc from raising its trim threshold (128 KiB too): the heap is then
# shrunk whenever 128 KiB at its top are free, and grown again, page faults and all, by the next allocation.
# zlib allocates and frees about 270 KB of tables per call: with the heap trimmed after each, compressing 1 KB
# took 114 us instead of 6 (2026-12-01). Up to this much free heap is kept for reuse instead.
TRIM_THRESHOLD = 4 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # malloc.h
_pinned = False
# The young generation is collected every this many net new objects instead of 700 (see fewer_full_collections).
YOUNG_COLLECTION_AT = 20_000


@contextmanager
def tuned_for_long_runs() -> Iterator[None]:
    """Release freed memory promptly and let the garbage collector scan rarely, while entered."""
    release_memory_promptly()
    with fewer_full_collections():
        yield


@contextmanager
def fewer_full_collections() -> Iterator[None]:
    """Let the garbage collector scan rarely while entered, then restore its settings.

    A back-test keeps every order, fill and journal row (packed by engine.store), and each full collection walks
    every object alive: objects alive on entry are frozen out of the scans, and the old generation's threshold is
    raised. The young generation is collected every ``YOUNG_COLLECTION_AT`` net new objects: the rows waiting to be
    packed make the count grow by about 6 an order. The hot path makes no reference cycles, so this only delays
    the collection of a strategy's own cyclic garbage, by at most that many objects. The gains are measured in
    benchmarks/README.md.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_AT), thresholds[1], max(thresholds[2], 1000))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def release_memory_promptly() -> None:
    """Pin glibc's mmap and trim thresholds and put Arrow on the system allocator (see the module's docstring).

    Process-wide and idempotent; each part is skipped where it does not apply (another C library, a pool the
    user chose). Reading and writing memory is unchanged; allocating and freeing a large block costs a system
    call (about a microsecond against the milliseconds it takes to fill such a block).
    """
    pin_mmap_threshold()
    arrow_on_system_allocator()


def pin_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold at 128 KiB and its trim threshold at 4 MiB; True if both are set (False where
    the C library is not glibc)."""
    global _pinned
    if _pinned:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _pinned = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _pinned


def arrow_on_system_allocator() -> bool:
    """Make the C library's allocator Arrow's default pool; True if it is (False if the user chose another)."""
    import pyarrow  # imported here: pandas imports it anyway, but this module need not

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pyarrow.default_memory_pool().backend_name == "system"
    if pyarrow.default_memory_pool().backend_name != "system":
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return True
