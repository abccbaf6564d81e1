"""Catalog writes are atomic: a failure between write and rename, or a writer killed mid-way, corrupts nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

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
