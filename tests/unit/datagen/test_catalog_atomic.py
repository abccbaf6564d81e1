"""Catalog writes are atomic: a failure between write and rename, or a writer killed mid-way, corrupts nothing;
an import or a synth killed at any point leaves the old data set or the new one, never a mix."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.cli import main
from engine.datagen import storage
from engine.datagen.catalog import Catalog
from engine.datagen.query import Query
from engine.datagen.synthetic import synthetic_bars

from .fakes import NOW, FakeSource, hourly, ts

BTC = Query.parse("binance:BTC/USDT:1h")


def test_a_failure_between_write_and_replace_keeps_the_old_files(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(tmp_path, now=lambda: NOW)
    frame = hourly(n=24 * 60)
    catalog.put(BTC, frame.iloc[: 24 * 45])  # January and half of February
    before = {p.name: p.read_bytes() for p in catalog.path(BTC).iterdir() if p.is_file()}
    calls = {"n": 0}
    real = os.replace

    def crash_on_second(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the February file is written and synced, then the "power goes"
            raise OSError("simulated crash before rename")
        real(src, dst)

    monkeypatch.setattr(storage.os, "replace", crash_on_second)
    changed = frame.iloc[24 * 20:].copy()
    changed["volume"] += 1000.0
    with pytest.raises(OSError, match="simulated crash"):
        catalog.put(BTC, changed)
    monkeypatch.setattr(storage.os, "replace", real)
    after = {p.name: p.read_bytes() for p in catalog.path(BTC).iterdir() if p.is_file()}
    assert after["2024-02.parquet"] == before["2024-02.parquet"]  # the old file, whole
    assert after["dataset.json"] == before["dataset.json"]  # coverage did not grow past what is stored
    assert not [p for p in catalog.path(BTC).iterdir() if p.name.endswith(storage.TMP_SUFFIX)]
    pd.testing.assert_frame_equal(catalog.read(BTC.with_range(ts("2024-02-01"), ts("2024-02-15"))),
                                  frame[(frame.index >= ts("2024-02-01")) & (frame.index < ts("2024-02-15"))],
                                  check_freq=False)
    catalog.put(BTC, changed)  # and the next attempt goes through
    assert catalog.read(BTC)["volume"].iloc[-1] == frame["volume"].iloc[-1] + 1000.0


def test_a_failing_download_keeps_a_consistent_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(tmp_path, now=lambda: NOW, flush_rows=100)
    real = storage.atomic_write_json
    calls = {"n": 0}

    def fail_third(data: object, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real(data, path)

    monkeypatch.setattr(storage, "atomic_write_json", fail_third)
    with pytest.raises(OSError, match="disk full"):
        catalog.get(BTC.with_range(ts("2024-01-01"), ts("2024-01-20")), FakeSource(hourly(), page=50))
    monkeypatch.setattr(storage, "atomic_write_json", real)
    # Rows are on disk beyond what coverage claims, never the reverse; asking again completes the range.
    covered_end = catalog.coverage(BTC)[-1][1]
    assert catalog.read(BTC).index[-1].value + 3600 * 10**9 >= covered_end
    source = FakeSource(hourly())
    frame = catalog.get(BTC.with_range(ts("2024-01-01"), ts("2024-01-20")), source)
    assert len(frame) == 19 * 24 and frame.index.is_unique and frame.index.is_monotonic_increasing
    assert source.calls == [(pd.Timestamp(covered_end, tz="UTC"), ts("2024-01-20"))]


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from engine.datagen.catalog import Catalog
    from engine.datagen.query import Query
    from engine.datagen.synthetic import synthetic_bars

    catalog = Catalog(sys.argv[1], now=lambda: 4102444800 * 10**9)
    query = Query.parse("synthetic:SYN/USD:1m")
    frame = synthetic_bars(400_000, interval="1min", seed=1)
    print("ready", flush=True)
    k = 0
    while True:  # rewrite every partition again and again, each time with other volumes
        k += 1
        frame["volume"] = float(k)
        catalog.put(query, frame)
""")


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.7])
def test_a_writer_killed_mid_way_leaves_whole_files(tmp_path: Path, delay: float) -> None:
    root = tmp_path / "data"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    catalog = Catalog(root, now=lambda: NOW)
    query = Query.parse("synthetic:SYN/USD:1m")
    for path in catalog.files(query):
        frame = storage.table_to_frame(pq.read_table(path))  # every file reads whole
        assert frame["volume"].nunique() == 1  # and holds one write, not a mix of two
    if (catalog.path(query) / "dataset.json").exists():
        info = catalog.info(query)
        assert info.rows <= 400_000 and info.first == ts("2020-01-01") if info.rows else True
    # A new writer clears what the dead one left half-written and carries on.
    catalog.put(query, synthetic_bars(10, interval="1min", seed=1))
    assert not [p for p in catalog.path(query).iterdir() if p.name.endswith(storage.TMP_SUFFIX)]


# Runs ``mlct`` with the arguments after the first; pauses before the first argument's os.replace (1 = the first,
# past the last = never) and says "paused", so the test can kill it there; says "done N" if it ran to the end.
PAUSING = textwrap.dedent("""
    import os
    import sys
    import time

    from engine.cli import main

    real, calls, stop = os.replace, 0, int(sys.argv[1])

    def replace(src, dst):
        global calls
        calls += 1
        if calls == stop:
            print("paused", flush=True)
            time.sleep(600)
        real(src, dst)

    os.replace = replace
    code = main(sys.argv[2:])
    print(f"done {calls}", flush=True)
    sys.exit(code)
""")


def run_paused(argv: list[str], stop: int) -> str:
    """Run ``mlct argv`` in a child; if it pauses at os.replace number ``stop``, kill it by its pid there.

    Return "paused" (killed) or "done N" (it finished, after N renames).
    """
    child = subprocess.Popen([sys.executable, "-c", PAUSING, str(stop), *argv], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith(("paused", "done")):
                if line.startswith("paused"):
                    os.kill(child.pid, signal.SIGKILL)
                return line.strip()
        raise AssertionError(f"the child ended without pausing or finishing (exit {child.wait()})")
    finally:
        if child.poll() is None and stop > 0:
            child.wait(timeout=120)
        child.stdout.close()


def state(root: Path, query: Query) -> tuple[list[tuple[int, int]], pd.DataFrame, list[str]]:
    """Return what readers see of a data set: its coverage, its rows, and the data sets listed."""
    catalog = Catalog(root, now=lambda: NOW)
    return catalog.coverage(query), catalog.read(query), [str(i.query) for i in catalog.list()]


def assert_same(seen: tuple[list[tuple[int, int]], pd.DataFrame, list[str]],
                expected: tuple[list[tuple[int, int]], pd.DataFrame, list[str]], label: str) -> None:
    assert seen[0] == expected[0], label
    pd.testing.assert_frame_equal(seen[1], expected[1], check_freq=False, obj=label)
    assert seen[2] == expected[2], label


def assert_killed_anywhere_leaves_old_or_new(tmp_path: Path, prepare: Callable[[Path], None], argv: list[str],
                                            query: Query, *, every: bool) -> None:
    """Kill ``mlct argv`` before its renames: the data set reads back as before; run whole, as after.

    ``every`` rename, else the first, one in the middle and the last two (where a directory swap does its two).
    """
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    prepare(old_root)
    shutil.copytree(old_root, new_root)
    done = run_paused([*argv, "--data-dir", str(new_root)], stop=10**9)
    assert done.startswith("done ")
    renames = int(done.split()[1])
    old, new = state(old_root, query), state(new_root, query)
    assert not new[1].equals(old[1])
    stops = range(1, renames + 1) if every else sorted({1, renames // 2, renames - 1, renames})
    for stop in stops:
        root = tmp_path / f"killed-{stop}"
        shutil.copytree(old_root, root)
        assert run_paused([*argv, "--data-dir", str(root)], stop) == "paused"
        assert_same(state(root, query), old, f"killed before rename {stop} of {renames}")
        # The next writer clears what the killed one left, and its own run lands whole.
        assert main([*argv, "--data-dir", str(root), "--quiet"]) == 0
        assert_same(state(root, query), new, f"run again after a kill before rename {stop}")
        leftovers = [p.name for p in catalog_dirs(root) if p.name.startswith((".staging-", ".old-", ".deleted-"))]
        assert leftovers == []


def catalog_dirs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_dir()]


def write_bars(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return path


IMPORT = ["data", "import", "--format", "csv", "--symbol", "ETH/USD", "--exchange", "kraken", "--timeframe", "1h"]
ETH = Query.parse("csv:kraken:ETH/USD:1h")


def test_an_import_killed_at_any_point_leaves_the_old_data_set_or_the_new(tmp_path: Path) -> None:
    old_file = write_bars(tmp_path / "files" / "old.csv", hourly(n=24 * 90))  # January to March
    new_file = write_bars(tmp_path / "files" / "new.csv", hourly("2024-02-15", n=24 * 90, seed=1))  # to mid-May

    def prepare(root: Path) -> None:
        assert main([*IMPORT, str(old_file), "--data-dir", str(root), "--quiet"]) == 0

    assert_killed_anywhere_leaves_old_or_new(tmp_path / "runs", prepare, [*IMPORT, str(new_file)], ETH, every=True)


def test_an_import_of_a_new_data_set_killed_at_any_point_leaves_nothing(tmp_path: Path) -> None:
    new_file = write_bars(tmp_path / "files" / "new.csv", hourly(n=24 * 90))
    assert_killed_anywhere_leaves_old_or_new(tmp_path / "runs", lambda root: root.mkdir(parents=True),
                                             [*IMPORT, str(new_file)], ETH, every=False)


def test_synth_killed_at_any_point_keeps_the_old_data_set(tmp_path: Path) -> None:
    synth = ["data", "synth", "--bars", "60000", "--timeframe", "1m", "--symbol", "SYN/USD"]

    def prepare(root: Path) -> None:
        assert main([*synth, "--seed", "1", "--data-dir", str(root), "--quiet"]) == 0

    assert_killed_anywhere_leaves_old_or_new(tmp_path / "runs", prepare, [*synth, "--seed", "2"],
                                             Query.parse("synthetic:SYN/USD:1m"), every=False)
