"""The bundled sample: the shared hourly file with its ten shuffled rows in order, gzipped, loading cleanly."""

from __future__ import annotations

import gzip
import logging
import warnings
from pathlib import Path

import pandas as pd
import pytest

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.sample import load_sample, sample_path


def test_sample_is_bundled_and_loads() -> None:
    path = sample_path()
    assert path.is_file() and path.name == "Coinbase_BTCUSD_1h.csv.gz"
    frame, meta = load_sample()
    assert len(frame) == 20_111 and meta.symbol == "BTC/USD" and meta.interval == pd.Timedelta("1h")
    assert frame.index[0] == pd.Timestamp("2017-07-01 11:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2019-10-17 09:00", tz="UTC")


def test_sample_rows_are_in_order_and_load_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Under the default policy (out-of-order rows raise) the sample loads as it is: nothing sorted, nothing said."""
    text = gzip.decompress(sample_path().read_bytes()).decode()
    stamps = pd.to_datetime([line.split(",")[0] for line in text.splitlines()[2:]], format="%Y-%m-%d %I-%p")
    assert (stamps[1:] < stamps[:-1]).all()  # strictly newest first, line after line
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta = load_sample()
    assert meta.notes == () and caplog.records == []


def test_sample_equals_the_shared_file_in_order(hourly_path: Path) -> None:
    """The sample holds the publisher's lines, bytes unchanged, only the ten shuffled ones moved into order."""
    published = hourly_path.read_bytes().split(b"\n")
    bundled = gzip.decompress(sample_path().read_bytes()).split(b"\n")
    moved = [i for i, (a, b) in enumerate(zip(published, bundled, strict=True)) if a != b]
    assert [i + 1 for i in (moved[0], moved[-1])] == [16900, 16909]  # 1-based file lines
    assert sorted(published) == sorted(bundled)
    sample, sample_meta = load_sample()
    shared, shared_meta = load_cryptodatadownload(hourly_path, order="sort")
    pd.testing.assert_frame_equal(sample, shared)
    assert (sample_meta.symbol, sample_meta.interval) == (shared_meta.symbol, shared_meta.interval)
    assert shared_meta.notes == ("sorted 10 row(s) out of order between lines 16900 and 16909",)

