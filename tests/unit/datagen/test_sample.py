"""The bundled sample: the shared hourly file, gzipped, loaded the same way."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from engine.datagen.cryptodatadownload import load_cryptodatadownload
from engine.datagen.sample import load_sample, sample_path


def test_sample_is_bundled_and_loads() -> None:
    path = sample_path()
    assert path.is_file() and path.name == "Coinbase_BTCUSD_1h.csv.gz"
    frame, meta = load_sample()
    assert len(frame) == 20_111 and meta.symbol == "BTC/USD" and meta.interval == pd.Timedelta("1h")
    assert frame.index[0] == pd.Timestamp("2017-07-01 11:00", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2019-10-17 09:00", tz="UTC")


def test_sample_equals_the_shared_file(hourly_path: Path) -> None:
    assert gzip.decompress(sample_path().read_bytes()) == hourly_path.read_bytes()
    sample, sample_meta = load_sample()
    shared, shared_meta = load_cryptodatadownload(hourly_path)
    pd.testing.assert_frame_equal(sample, shared)
    assert (sample_meta.symbol, sample_meta.interval, sample_meta.notes) == (
        shared_meta.symbol, shared_meta.interval, shared_meta.notes)
