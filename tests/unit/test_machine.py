"""The thread count follows the idle cores: a busy machine trains on fewer threads, never on none."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.machine import busy_cores, choose_threads, usable_cores


@pytest.mark.parametrize(("cores", "load", "threads"), [
    (2, 0.0, 2),   # idle: every core
    (2, 0.2, 2),   # a core three quarters free still gets a thread
    (2, 0.6, 1),
    (2, 1.0, 1),   # one core busy: one thread (two would wait on each other)
    (2, 9.5, 1),   # overloaded: still one
    (8, 2.2, 6),
    (8, 2.3, 5),
    (8, 0.0, 8),
])
def test_threads_are_the_idle_cores(cores: int, load: float, threads: int) -> None:
    chosen = choose_threads(cores=cores, load=load)
    assert chosen.threads == threads
    assert f"{cores} cores" in chosen.describe() and f"{load:.1f}" in chosen.describe()


def test_a_requested_count_is_kept_whatever_the_load() -> None:
    chosen = choose_threads(3, cores=2, load=7.0)
    assert chosen.threads == 3 and "--threads" in chosen.describe()
    with pytest.raises(ValueError, match="at least 1"):
        choose_threads(0, cores=2, load=0.0)


def test_a_container_cpu_quota_caps_the_cores(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")   # 1.5 CPUs: two threads can run, one and a half cores of time
    assert usable_cores(quota) == min(2, usable_cores(tmp_path / "missing"))
    quota.write_text("max 100000\n")
    assert usable_cores(quota) == usable_cores(tmp_path / "missing") >= 1


def test_ml_threads_must_be_a_positive_count(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["ml", "train", "--out", "x", "--threads", "0"])
    assert stopped.value.code == 2
    assert "--threads: must be at least 1, got 0" in capsys.readouterr().err


def test_busy_cores_are_read_from_the_kernels_counters(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal: 1,000 jiffies pass, 250 of them idle -> 75% busy
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n")
    readings = iter(["cpu  100 0 100 800 0 0 0 0 0 0\n", "cpu  800 0 150 1000 50 0 0 0 0 0\n"])

    class Ticking(type(stat)):  # type: ignore[misc]
        def read_text(self, *args: object, **kwargs: object) -> str:
            return next(readings)

    busy = busy_cores(2, sample_s=0.0, proc_stat=Ticking(stat))
    assert busy == pytest.approx(2 * 0.75)
    assert choose_threads(cores=2, load=busy).threads == 1
    missing = busy_cores(2, sample_s=0.0, proc_stat=tmp_path / "absent")  # not Linux: the load average stands in
    assert 0.0 <= missing <= 2.0
