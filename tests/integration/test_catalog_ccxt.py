"""The catalog in front of the real ccxt client and a Binance-protocol server on 127.0.0.1.

The server counts requests, so "served from the catalog" means zero klines requests, and "only the new range"
means exactly the pages of that range.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine.cli.data as data_cli
from engine.cli import main
from engine.datagen.catalog import Catalog
from engine.datagen.exchange import CcxtSource
from engine.datagen.query import Query
from engine.errors import TransientVenueError

pytest.importorskip("aiohttp")
from engine.testing.binance import BinanceServer, make_client

KLINES = "/api/v3/klines"
START = pd.Timestamp("2024-01-01", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)
NOW = pd.Timestamp("2025-01-01", tz="UTC").value


def minute_bars(n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    close = 40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    index = pd.date_range(START, periods=n, freq="1min", tz="UTC", name="ts", unit="ns")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + 5.0, "low": np.minimum(open_, close) - 5.0,
                         "close": close, "volume": rng.random(n) * 3.0}, index=index)


BARS = minute_bars()


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(bars={"BTC/USDT": BARS}) as running:
        yield running


def source(server: BinanceServer, **kwargs: object) -> CcxtSource:
    return CcxtSource("binance", exchange=make_client(server), sleep=lambda _: None, now=lambda: NOW,
                      **kwargs)  # type: ignore[arg-type]


def query(minutes_from: int, minutes_to: int) -> Query:
    return Query.parse("binance:BTC/USDT:1m").with_range(START + minutes_from * MINUTE, START + minutes_to * MINUTE)


def test_repeat_is_served_from_the_catalog_and_widening_fetches_only_the_new_range(tmp_path: Path,
                                                                                   server: BinanceServer) -> None:
    catalog = Catalog(tmp_path, now=lambda: NOW)
    first = catalog.get(query(1000, 3000), source(server))
    pd.testing.assert_frame_equal(first, BARS.iloc[1000:3000], check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 2

    server.reset_counts()
    again = catalog.get(query(1000, 3000), source(server))
    assert server.total_requests == 0  # not even exchangeInfo: the source was never asked
    pd.testing.assert_frame_equal(again, first)

    wide = catalog.get(query(0, 5000), source(server))
    pd.testing.assert_frame_equal(wide, BARS, check_exact=True, check_freq=False)
    starts = sorted(int(r.params["startTime"]) for r in server.log if r.path == KLINES)
    # [0, 1000) in one page, [3000, 5000) in two: nothing of the stored range is asked again.
    assert starts == [START.value // 10**6, (START + 3000 * MINUTE).value // 10**6,
                      (START + 4000 * MINUTE).value // 10**6]


def test_a_dropped_download_resumes_after_the_stored_pages(tmp_path: Path, server: BinanceServer) -> None:
    catalog = Catalog(tmp_path, now=lambda: NOW, flush_rows=1000)
    server.drop_next(100, skip=2)  # the connection breaks for good in the third page
    with pytest.raises(TransientVenueError, match="gave up"):
        catalog.get(query(0, 5000), source(server, max_retries=2))
    assert len(catalog.read(query(0, 5000))) == 2000
    assert catalog.missing(query(0, 5000)) == [(START + 2000 * MINUTE, START + 5000 * MINUTE)]

    server.clear_faults()
    server.reset_counts()
    whole = catalog.get(query(0, 5000), source(server))
    pd.testing.assert_frame_equal(whole, BARS, check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 3  # only the three missing pages


def test_mlct_data_download_through_the_real_client(tmp_path: Path, server: BinanceServer,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(data_cli, "make_source", lambda exchange: source(server))
    argv = ["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1m",
            "--since", "2024-01-01", "--until", "2024-01-03", "--data-dir", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("stored 2880 bars of ccxt:binance:BTC/USDT:1m:ohlcv 2024-01-01 .. 2024-01-03")
    server.reset_counts()
    assert main(argv) == 0 and server.total_requests == 0
    assert "already in the catalog, nothing fetched" in capsys.readouterr().out
