"""Make freed memory go back to the system during long runs.

glibc's malloc serves a request of at least ``M_MMAP_THRESHOLD`` (128 KiB at start) with its own mapping,
returned to the system when freed. But each time such a block is freed, glibc raises the threshold to its size
(up to 32 MiB): after the first large temporary array, numpy arrays and lists of up to that size come from the
heap instead, and heap memory goes back to the system only from its top. A back-test frees many temporary
arrays of a few MB (validation masks, result columns) between long-lived objects, so the process kept about
20 MB it no longer used (1M-bar benchmark, 2026-12-01). Setting the threshold explicitly keeps it at 128 KiB,
since glibc stops adjusting a threshold the program has set.
"""

from __future__ import annotations

import ctypes
import platform
import sys

__all__ = ["MMAP_THRESHOLD", "return_large_blocks_promptly"]

MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, pinned
_M_MMAP_THRESHOLD = -3  # malloc.h
_done = False


def return_large_blocks_promptly() -> bool:
    """Pin glibc's mmap threshold so every block of 128 KiB or more is unmapped when freed; True if set.

    Idempotent and process-wide; a no-op (False) where the C library is not glibc. Reading and writing the
    blocks is unchanged; only allocating and freeing large ones costs a system call each (about a microsecond
    against the milliseconds it takes to fill such a block).
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return _done
