"""The allocator setting of engine.memory: freed blocks of a few MB go back to the system."""

import platform
import subprocess
import sys
import textwrap

import pytest

# Run in a fresh interpreter: the setting is process-wide and a test must see glibc's default behaviour first.
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from engine.memory import return_large_blocks_promptly

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    if sys.argv[1] == "pinned":
        assert return_large_blocks_promptly() and return_large_blocks_promptly()  # idempotent
    np.ones(2 * 2**20)  # a 16 MB temporary, freed: glibc's dynamic threshold rises to 16 MB
    before = rss_mb()
    blocks = [np.ones(2**18) for _ in range(16)]  # 16 arrays of 2 MB
    kept = np.ones(10_000)  # a small block that stays, above them on the heap
    del blocks
    print(rss_mb() - before)
""")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the setting exists only in glibc's malloc")


def _kept_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_freed_arrays_stay_with_the_process_by_default_and_go_back_once_pinned() -> None:
    assert _kept_mb("default") > 24  # the control: glibc keeps the 32 MB it no longer uses
    assert _kept_mb("pinned") < 4
