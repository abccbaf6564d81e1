"""Where jobs run: in this process, in a local process pool whose workers each load the data once, or on Ray
(``engine.optimize.ray_executor``: an optional extra).

An executor yields rows as jobs finish, in whatever order they finish; the sweep sorts them by job index, so the
table is the same whichever executor ran it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from engine.errors import ConfigError
from engine.optimize.jobs import Job, SweepSetup, init_worker, run_job

EXECUTORS = ("inprocess", "process", "ray")


class Executor(Protocol):
    """Runs a sweep's jobs and yields their rows as they finish."""

    def run(self, setup: SweepSetup, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        """Yield one row per job of ``jobs``, in any order."""
        ...

    def close(self) -> None:
        """Release what the executor holds between runs (a Ray it started); a no-op for the others."""
        ...


class InProcessExecutor:
    """Run every job here, one after the other: no start-up cost, and a debugger sees them."""

    def run(self, setup: SweepSetup, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        init_worker(setup)
        for job in jobs:
            yield run_job(job)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Run jobs on ``workers`` local processes (default: every core), each loading the data once at start.

    At most two jobs a worker are in flight, so an interrupted sweep has not handed out the rest.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = workers or os.cpu_count() or 1

    def run(self, setup: SweepSetup, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        workers = min(self.workers, len(jobs))
        with ProcessPoolExecutor(workers, initializer=init_worker, initargs=(setup,)) as pool:
            pending = iter(jobs)
            running: set[Future[dict[str, Any]]] = set()
            try:
                for job in pending:
                    running.add(pool.submit(run_job, job))
                    if len(running) >= 2 * workers:
                        break
                while running:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
                        job_next = next(pending, None)
                        if job_next is not None:
                            running.add(pool.submit(run_job, job_next))
            finally:
                for future in running:
                    future.cancel()

    def close(self) -> None:
        pass


def make_executor(name: str, workers: int | None = None, address: str | None = None) -> Executor:
    """Return the executor called ``name`` (``EXECUTORS``); ``address`` is Ray's (None: a local Ray)."""
    if address is not None and name != "ray":
        raise ConfigError(f"--ray-address {address!r} needs --executor ray, got --executor {name}")
    if name == "inprocess":
        return InProcessExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    if name == "ray":
        from engine.optimize.ray_executor import RayExecutor

        return RayExecutor(address, workers)
    raise ConfigError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
