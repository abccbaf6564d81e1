"""Run a sweep's jobs on Ray: a local Ray started with this machine's cores, or a cluster (``address``).

The data sets are loaded here, once, and put in Ray's object store once (``ray.put``); each worker actor reads
them from there when it starts and keeps them for every job it runs, as a process-pool worker does. The actors
run the same ``run_job``, so a row is the same whichever executor made it and a job that raises comes back as a
row with its ``error``. Ray is an optional extra: importing this module does not import it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import Any

from engine.errors import ConfigError
from engine.optimize.jobs import DataSet, Job, SweepSetup, error_row, init_worker, load_dataset, run_job

INSTALL_HINT = "--executor ray needs Ray: pip install 'ml-crypto-trading[ray]'"


def import_ray() -> Any:
    """Return the ``ray`` module; ConfigError saying how to install it if it is missing."""
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


class _Worker:
    """A Ray actor holding one worker's copy of the setup, read once from the object store."""

    def __init__(self, setup: SweepSetup) -> None:
        init_worker(setup)  # the setup's frames are already loaded: this only keeps them

    def run(self, job: Job) -> dict[str, Any]:
        return run_job(job)


class RayExecutor:
    """Run jobs on ``workers`` Ray actors (default and at most: every CPU Ray has), two jobs an actor in flight.

    ``address`` is ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` to join a running cluster; None starts a local
    Ray with ``workers`` CPUs (default: every core). A Ray that is already initialised is used as it is. Ray is
    shut down by ``close`` only if this executor started it.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 init_options: dict[str, Any] | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.ray = import_ray()
        self.address = address
        self.workers = workers
        self.init_options = init_options or {}
        self._started = False

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, **self.init_options}
        if self.address is not None:
            try:
                ray.init(address=self.address, **options)
            except ConnectionError as exc:  # no cluster there: a setting to fix, not a crash
                raise ConfigError(f"--ray-address {self.address}: {' '.join(str(exc).split())[:300]}") from None
        else:
            ray.init(num_cpus=self.workers or os.cpu_count() or 1, **options)
        self._started = True

    def run(self, setup: SweepSetup, jobs: Sequence[Job]) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        ray = self.ray
        self._connect()
        loaded = dataclasses.replace(setup, datasets=tuple(_loaded(d) for d in setup.datasets))
        shared = ray.put(loaded)  # once: every actor reads this one copy
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        n_actors = min(self.workers or cpus, cpus, len(jobs))  # an actor past the CPUs would wait for ever
        actor = ray.remote(num_cpus=1)(_Worker)
        actors = [actor.remote(shared) for _ in range(n_actors)]
        idle = [a for a in actors for _ in range(2)]  # two slots an actor: one runs while the next is queued
        pending = iter(jobs)
        running: dict[Any, tuple[Job, Any]] = {}
        try:
            while True:
                while idle:
                    job = next(pending, None)
                    if job is None:
                        break
                    worker = idle.pop(0)
                    running[worker.run.remote(job)] = (job, worker)
                if not running:
                    break
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    job, worker = running.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died (out of memory, a node lost)
                        row = error_row(loaded, job, f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}")
                        if worker in actors:  # a fresh worker takes its place, once
                            actors[actors.index(worker)] = replacement = actor.remote(shared)
                            idle = [replacement if a is worker else a for a in idle] + [replacement]
                    else:
                        idle.append(worker)
                    yield row
        finally:
            for a in actors:
                ray.kill(a)

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False


def _loaded(dataset: DataSet) -> DataSet:
    """Return ``dataset`` with its bars read here, so workers on other machines need no file of ours."""
    frame, symbol = load_dataset(dataset)
    return DataSet(dataset.name, frame, symbol)
