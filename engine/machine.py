"""How many threads a computation should use on this machine, now.

xgboost's threads wait for each other at every tree level: when other programs keep the cores busy, two threads
take longer than one (an identical model trained in 106 s on two threads against 41 s on one, on two busy cores;
with a load average of 10-15, a walk-forward on the bundled sample took 41 s on one thread and 713 s on two,
predicting the same bit for bit). So the thread count follows the cores that are idle, not the cores that exist:
the cores this process may run on (its CPU affinity, capped by a container's CPU quota) minus the cores busy over
the last half second, rounded down unless a core is at least three quarters free, and never below one.

The choice only changes speed: xgboost's histogram method gives the same trees whatever the thread count
(tests/unit/ml/test_walkforward.py trains on one thread and on two and compares the predictions bit for bit).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
PROC_STAT = Path("/proc/stat")
SAMPLE_S = 0.5  # how long the busy cores are watched: a blink against a training of tens of seconds
FREE_ENOUGH = 0.75  # a core three quarters idle still gets a thread


@dataclass(frozen=True)
class ThreadChoice:
    """The threads chosen, and the figures they were chosen from (for the line that tells the user)."""

    threads: int
    cores: int
    load: float | None  # busy cores; not measured when the count was requested
    requested: int | None = None

    def describe(self) -> str:
        if self.requested is not None:
            return f"{self.threads} thread{'s' * (self.threads != 1)} (--threads)"
        busy = self.load or 0.0
        return (f"{self.threads} thread{'s' * (self.threads != 1)} ({self.cores} cores, {busy:.1f} of them busy; "
                f"--threads N to choose)")


def usable_cores(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Return the cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return max(1, cores)
    if quota != "max":
        cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return max(1, cores)


def busy_cores(cores: int, sample_s: float = SAMPLE_S, proc_stat: Path = PROC_STAT) -> float:
    """Return how many of ``cores`` were busy over the last ``sample_s`` seconds, from /proc/stat's counters.

    /proc/stat counts the whole machine (a container sees its host's cores), so its busy share is applied to the
    cores this process may use.

    The one-minute load average lags: right after a heavy job it still reads busy on an idle machine (it read 0.6
    on two idle cores, and one thread trained in 42 s where two took 31 s). Watching the cores for half a second
    measures now; where /proc/stat is missing (not Linux), the load average stands in.
    """
    first = _cpu_times(proc_stat)
    if first is None:
        return min(float(cores), _load_average())
    time.sleep(sample_s)
    second = _cpu_times(proc_stat)
    if second is None:
        return min(float(cores), _load_average())
    total = second[0] - first[0]
    idle = second[1] - first[1]
    if total <= 0:
        return min(float(cores), _load_average())
    return cores * (1 - idle / total)


def _cpu_times(proc_stat: Path) -> tuple[int, int] | None:
    """Return (all jiffies, idle jiffies: idle + iowait) summed over the cores, or None if unreadable."""
    try:
        fields = proc_stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values), values[3] + values[4]


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def choose_threads(requested: int | None = None, *, cores: int | None = None, load: float | None = None
                   ) -> ThreadChoice:
    """Return ``requested`` threads if given, else the cores idle now (at least one)."""
    cores = usable_cores() if cores is None else cores
    if requested is not None:  # the user's count: no half second spent watching the cores
        if requested < 1:
            raise ValueError(f"threads must be at least 1, got {requested}")
        return ThreadChoice(requested, cores, load, requested)
    load = busy_cores(cores) if load is None else load
    idle = cores - load
    threads = min(cores, max(1, math.floor(idle + (1 - FREE_ENOUGH))))
    return ThreadChoice(threads, cores, load)
