"""CcxtSource through the real ccxt binance client against a Binance-protocol server on 127.0.0.1.

Every test starts its own server (``engine.testing.binance``); backoff sleeps are recorded, not slept.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import ccxt
import numpy as np
import pandas as pd
import pytest

from engine.datagen.exchange import CcxtSource
from engine.datagen.query import Query, timeframe_delta
from engine.datagen.schemas import next_start
from engine.errors import ConfigError, RateLimited, TransientVenueError
from engine.testing.binance import BinanceServer, make_client

KLINES = "/api/v3/klines"
START = pd.Timestamp("2024-01-01", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)
NOW = pd.Timestamp("2025-01-01", tz="UTC").value  # long after the data: every bar is closed


def minute_bars(n: int = 5000, start: pd.Timestamp = START, seed: int = 7) -> pd.DataFrame:
    """Return ``n`` one-minute bars with irregular float values (exactness is tested to the last bit)."""
    rng = np.random.default_rng(seed)
    close = 40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    spread = rng.random(n) * 20.0
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC", name="ts", unit="ns")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.random(n) * 3.0}, index=index)


BARS = minute_bars()


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with BinanceServer(bars={"BTC/USDT": BARS}, symbols=["ETH/USDT"]) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def source(server: BinanceServer, sleeps: list[float], **kwargs: object) -> CcxtSource:
    return CcxtSource("binance", exchange=make_client(server), sleep=sleeps.append, now=lambda: NOW,
                      **kwargs)  # type: ignore[arg-type]


def query(start: pd.Timestamp | None = START, end: pd.Timestamp | None = None, **kwargs: str) -> Query:
    fields = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m"} | kwargs
    return Query(start=start, end=end, **fields)  # type: ignore[arg-type]


def test_pages_through_5000_bars_exactly(server: BinanceServer, sleeps: list[float]) -> None:
    pages: list[pd.DataFrame] = []
    src = source(server, sleeps)
    frame = src.fetch(query(end=START + 5000 * MINUTE), on_page=pages.append)

    pd.testing.assert_frame_equal(frame, BARS, check_exact=True, check_freq=False)
    assert frame.index.dtype == "datetime64[ns, UTC]" and frame.index.name == "ts"
    assert all(frame[c].dtype == np.float64 for c in frame.columns)
    assert [len(p) for p in pages] == [1000] * 5  # the limit from ccxt's features for binance spot
    pd.testing.assert_frame_equal(pd.concat(pages), BARS, check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 5 and server.requests["/api/v3/exchangeInfo"] == 1
    klines = [r.params for r in server.log if r.path == KLINES]
    assert [int(p["startTime"]) for p in klines] == [(START + i * 1000 * MINUTE).value // 1_000_000
                                                     for i in range(5)]
    assert {(p["symbol"], p["interval"], p["limit"]) for p in klines} == {("BTCUSDT", "1m", "1000")}
    report = src.last_report
    assert report is not None and (report.pages, report.rows, report.requests, report.retries) == (5, 5000, 6, 0)
    assert report.gaps == [] and sleeps == []


def test_open_end_stops_when_the_exchange_has_no_more(server: BinanceServer, sleeps: list[float]) -> None:
    frame = source(server, sleeps, page_limit=700).fetch(query())
    pd.testing.assert_frame_equal(frame, BARS, check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 9  # ceil(5000 / 700) pages, then one empty answer


def test_bars_not_closed_yet_are_not_returned(server: BinanceServer, sleeps: list[float]) -> None:
    now = (BARS.index[100] + pd.Timedelta(seconds=30)).value  # bar 100 is still open, bar 99 closed at 100
    frame = CcxtSource("binance", exchange=make_client(server), sleep=sleeps.append, now=lambda: now).fetch(query())
    pd.testing.assert_frame_equal(frame, BARS.iloc[:100], check_exact=True, check_freq=False)


def test_start_is_inclusive_and_end_exclusive(server: BinanceServer, sleeps: list[float]) -> None:
    src = source(server, sleeps)
    frame = src.fetch(query(BARS.index[10], BARS.index[20]))
    pd.testing.assert_frame_equal(frame, BARS.iloc[10:20], check_exact=True, check_freq=False)
    # A start inside a bar: that bar opened before the range, so the first bar is the next one.
    frame = src.fetch(query(BARS.index[10] + pd.Timedelta(seconds=1), BARS.index[20] + pd.Timedelta(seconds=1)))
    pd.testing.assert_frame_equal(frame, BARS.iloc[11:21], check_exact=True, check_freq=False)
    # The range ends inside the last page: the bars after it are not kept.
    frame = src.fetch(query(BARS.index[0], BARS.index[1500]))
    assert len(frame) == 1500 and frame.index[-1] == BARS.index[1499]


@pytest.mark.parametrize("timeframe", ["5m", "1h"])
def test_timeframe_is_mapped_to_the_binance_interval(server: BinanceServer, sleeps: list[float],
                                                     timeframe: str) -> None:
    frame = source(server, sleeps).fetch(query(timeframe=timeframe, end=START + 5000 * MINUTE))
    expected = BARS.resample(timeframe_delta(timeframe)).agg({"open": "first", "high": "max", "low": "min",
                                                              "close": "last", "volume": "sum"})
    pd.testing.assert_frame_equal(frame, expected, check_exact=False, rtol=1e-12, check_freq=False)
    assert {r.params["interval"] for r in server.log if r.path == KLINES} == {timeframe}


def test_a_timeframe_the_exchange_lacks_is_a_config_error(server: BinanceServer, sleeps: list[float]) -> None:
    with pytest.raises(ConfigError, match=r"binance has no timeframe '7m'.*1m"):
        source(server, sleeps).fetch(query(timeframe="7m"))
    assert server.total_requests == 0


def test_429_then_success_waits_as_told(server: BinanceServer, sleeps: list[float]) -> None:
    server.fail_next(1, status=429, retry_after=3, path=KLINES, skip=2)
    src = source(server, sleeps)
    frame = src.fetch(query(end=START + 5000 * MINUTE))
    pd.testing.assert_frame_equal(frame, BARS, check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 6  # five pages and one retry
    assert sleeps == [3.0]  # Retry-After (3 s) beats the first backoff (1 s)
    assert src.last_report is not None and src.last_report.retries == 1


def test_418_backs_off_exponentially(server: BinanceServer, sleeps: list[float]) -> None:
    server.fail_next(3, status=418, retry_after=None, path=KLINES)
    frame = source(server, sleeps).fetch(query(end=START + 2000 * MINUTE))
    pd.testing.assert_frame_equal(frame, BARS.iloc[:2000], check_exact=True, check_freq=False)
    assert sleeps == [1.0, 2.0, 4.0]
    assert server.requests[KLINES] == 5


def test_rate_limit_that_does_not_end_raises_rate_limited(server: BinanceServer, sleeps: list[float]) -> None:
    server.fail_next(100, status=429, path=KLINES)
    with pytest.raises(RateLimited, match=r"binance fetch_ohlcv BTC/USDT: gave up after 3 attempts") as info:
        source(server, sleeps, max_retries=2).fetch(query(end=START + 10 * MINUTE))
    assert isinstance(info.value.__cause__, ccxt.DDoSProtection)
    assert server.requests[KLINES] == 3 and len(sleeps) == 2


def test_dropped_connection_is_retried(server: BinanceServer, sleeps: list[float]) -> None:
    server.drop_next(1, skip=1)
    frame = source(server, sleeps).fetch(query(end=START + 3000 * MINUTE))
    pd.testing.assert_frame_equal(frame, BARS.iloc[:3000], check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 4 and sleeps == [1.0]


def test_dropped_download_resumes_from_the_stored_pages(server: BinanceServer, sleeps: list[float]) -> None:
    stored: list[pd.DataFrame] = []  # what a catalog would have written, page by page
    server.drop_next(100, skip=2)  # the connection breaks for good in the middle of the third page
    wanted = query(end=START + 5000 * MINUTE)
    with pytest.raises(TransientVenueError, match="binance fetch_ohlcv BTC/USDT: gave up") as info:
        source(server, sleeps, max_retries=3).fetch(wanted, on_page=stored.append)
    assert not isinstance(info.value, RateLimited) and isinstance(info.value.__cause__, ccxt.NetworkError)
    assert sum(len(p) for p in stored) == 2000

    server.clear_faults()
    server.reset_counts()
    resumed = wanted.with_range(next_start("ohlcv", "1m", stored[-1].index[-1]), wanted.end)
    source(server, sleeps).fetch(resumed, on_page=stored.append)
    whole = pd.concat(stored)
    assert not whole.index.has_duplicates
    pd.testing.assert_frame_equal(whole, BARS, check_exact=True, check_freq=False)
    assert server.requests[KLINES] == 3  # only the missing three pages


def test_a_gap_in_the_exchange_data_is_reported_not_filled(sleeps: list[float],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    holed = BARS.drop(BARS.index[1200:1300])
    with BinanceServer(bars={"BTC/USDT": holed}, interval="1m") as server:
        src = source(server, sleeps)
        with caplog.at_level(logging.WARNING, logger="engine.datagen.exchange"):
            frame = src.fetch(query(end=START + 5000 * MINUTE))
    pd.testing.assert_frame_equal(frame, holed, check_exact=True, check_freq=False)
    assert src.last_report is not None
    assert [(g.start, g.end, g.bars) for g in src.last_report.gaps] == [(BARS.index[1200], BARS.index[1300], 100)]
    assert "missing bars from 2024-01-01 20:00:00+00:00 to 2024-01-01 21:40:00+00:00 (about 100 bars)" in caplog.text


def test_a_market_with_no_data_returns_an_empty_frame_and_says_so(server: BinanceServer, sleeps: list[float],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.datagen.exchange"):
        frame = source(server, sleeps).fetch(query(symbol="ETH/USDT", end=START + 10 * MINUTE))
    assert frame.empty and list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert "no bars at all from" in caplog.text


def test_unknown_symbol_names_the_exchange_and_the_symbol(server: BinanceServer, sleeps: list[float]) -> None:
    with pytest.raises(ConfigError, match=r"binance has no market 'BTC/USDC' \(2 markets loaded\); did you mean "
                                          r"BTC/USDT"):
        source(server, sleeps).fetch(query(symbol="BTC/USDC"))
    assert server.requests == {"/api/v3/exchangeInfo": 1}


@pytest.mark.parametrize(("kind", "message"), [
    ("vol", r"binance does not offer vol data through ccxt \(exchange.has\['fetchVolatilityHistory'\] is False\)"),
    ("funding", r"funding data needs a perpetual or futures market; BTC/USDT on binance is a spot market"),
    ("mark", r"mark data needs a perpetual or futures market; BTC/USDT on binance is a spot market"),
])
def test_unsupported_kind_is_a_config_error(server: BinanceServer, sleeps: list[float], kind: str,
                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source(server, sleeps).fetch(query(kind=kind))
    assert server.requests[KLINES] == 0


def test_query_of_another_exchange_is_refused(server: BinanceServer, sleeps: list[float]) -> None:
    with pytest.raises(ConfigError, match="answers ccxt queries of exchange 'binance'"):
        source(server, sleeps).fetch(query(exchange="bybit"))
    assert server.total_requests == 0


def test_on_page_errors_stop_the_download(server: BinanceServer, sleeps: list[float]) -> None:
    def full_disk(page: pd.DataFrame) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        source(server, sleeps).fetch(query(end=START + 5000 * MINUTE), on_page=full_disk)
    assert server.requests[KLINES] == 1


def test_trades_page_through_busy_milliseconds_and_quiet_hours(sleeps: list[float]) -> None:
    rng = np.random.default_rng(3)
    # Bursts of 1 to 6 trades sharing a millisecond, then a quiet stretch of three hours, then more.
    times = np.sort(np.concatenate([rng.integers(0, 3_600_000, 300), rng.integers(4 * 3_600_000, 5 * 3_600_000, 80)]))
    times = np.repeat(times, rng.integers(1, 7, len(times)))
    n = len(times)
    index = pd.DatetimeIndex(START + pd.to_timedelta(times, unit="ms"), name="ts").as_unit("ns")
    trades = pd.DataFrame({"price": 40_000.0 + rng.normal(0, 5, n), "amount": rng.random(n),
                           "side": np.where(rng.random(n) < 0.5, 1.0, -1.0), "id": np.arange(n, dtype=np.float64)},
                          index=index)
    with BinanceServer(trades={"BTC/USDT": trades}) as server:
        src = source(server, sleeps, page_limit=50)
        pages: list[pd.DataFrame] = []
        frame = src.fetch(query(end=START + pd.Timedelta(hours=6), kind="trades", timeframe=""),
                          on_page=pages.append)
    pd.testing.assert_frame_equal(frame, trades, check_exact=True)
    for before, after in itertools.pairwise(pages):  # each page complete: no later row at its last ms
        assert after.index[0] > before.index[-1]
    assert server.requests["/api/v3/aggTrades"] > n // 50
