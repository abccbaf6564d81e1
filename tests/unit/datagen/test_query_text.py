"""The query's text form: what it reads, what it writes, and that the two round-trip."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.datagen.query import (
    KINDS,
    Query,
    floor_time,
    format_time,
    grid_offset,
    timeframe_delta,
    timeframe_of,
)
from engine.errors import ConfigError


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(("text", "fields", "canonical"), [
    ("binance:BTC/USDT:1h", ("ccxt", "binance", "BTC/USDT", "1h", "ohlcv", None, None),
     "ccxt:binance:BTC/USDT:1h:ohlcv"),
    ("ccxt:binance:BTC/USDT:1h:ohlcv@2024-01-01..2024-02-01",
     ("ccxt", "binance", "BTC/USDT", "1h", "ohlcv", ts("2024-01-01"), ts("2024-02-01")),
     "ccxt:binance:BTC/USDT:1h:ohlcv@2024-01-01..2024-02-01"),
    ("binance:BTC/USDT:USDT:funding:8h@2024-01-01..", ("ccxt", "binance", "BTC/USDT:USDT", "8h", "funding",
                                                       ts("2024-01-01"), None),
     "ccxt:binance:BTC/USDT:USDT:8h:funding@2024-01-01.."),
    ("binance:BTC/USDT:trades@..2024-01-02T12:30", ("ccxt", "binance", "BTC/USDT", "", "trades", None,
                                                     ts("2024-01-02 12:30")),
     "ccxt:binance:BTC/USDT:trades@..2024-01-02T12:30:00Z"),
    ("deribit:BTC/USD:BTC-240628-60000-C:1d@2024-01-01T00:00+02:00",
     ("ccxt", "deribit", "BTC/USD:BTC-240628-60000-C", "1d", "ohlcv", ts("2023-12-31 22:00"), None),
     "ccxt:deribit:BTC/USD:BTC-240628-60000-C:1d:ohlcv@2023-12-31T22:00:00Z.."),
    ("synthetic:SYN/USD:1m", ("synthetic", "", "SYN/USD", "1m", "ohlcv", None, None), "synthetic:SYN/USD:1m:ohlcv"),
    ("csv:coinbase:BTC/USD", ("csv", "coinbase", "BTC/USD", "1h", "ohlcv", None, None),
     "csv:coinbase:BTC/USD:1h:ohlcv"),
])
def test_parse_and_format(text: str, fields: tuple[object, ...], canonical: str) -> None:
    query = Query.parse(text)
    assert (query.source, query.exchange, query.symbol, query.timeframe, query.kind, query.start,
            query.end) == fields
    assert str(query) == canonical
    assert Query.parse(canonical) == query


@pytest.mark.parametrize(("text", "message"), [
    ("BTC/USDT:1h", "needs an exchange"),
    ("binance:BTCUSDT:1h", "no symbol"),
    ("binance:BTC/USDT:1h:1d", "given twice"),
    ("binance:BTC/USDT:1h:ohlcv:hourly", "neither a timeframe"),
    ("binance::BTC/USDT", "empty field"),
    ("binance:BTC/USDT:1h@", "empty range"),
    ("binance:BTC/USDT:1h@2024-02-01..2024-01-01", "must be after start"),
    ("binance:BTC/USDT:1h@yesterday..", "cannot read 'yesterday'"),
    ("binance:BTC/USDT:ohlcv:7x", "neither a timeframe"),
])
def test_bad_text_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Query.parse(text)


stamps = st.integers(min_value=0, max_value=4_000_000_000 * 10**9).map(lambda ns: pd.Timestamp(ns, tz="UTC"))


@given(source=st.sampled_from(["ccxt", "csv", "parquet", "synthetic"]),
       exchange=st.sampled_from(["binance", "kraken", "okx"]),
       symbol=st.sampled_from(["BTC/USDT", "ETH/BTC", "BTC/USDT:USDT", "BTC/USD:BTC-240628-60000-C", "1INCH/USDT"]),
       timeframe=st.sampled_from(["1s", "1m", "15m", "1h", "4h", "1d", "1w"]), kind=st.sampled_from(KINDS),
       start=st.none() | stamps, length=st.none() | st.integers(min_value=1, max_value=10**18))
def test_text_round_trips(source: str, exchange: str, symbol: str, timeframe: str, kind: str,
                          start: pd.Timestamp | None, length: int | None) -> None:
    end = None if length is None else (start or ts("2000-01-01")) + pd.Timedelta(length)
    query = Query(source=source, exchange=exchange, symbol=symbol, timeframe=timeframe, kind=kind, start=start,
                  end=end)
    assert Query.parse(str(query)) == query


def test_dataset_drops_the_range_and_trades_have_no_timeframe() -> None:
    query = Query.parse("binance:BTC/USDT:4h@2024-01-01..2024-02-01")
    assert query.dataset == Query.parse("binance:BTC/USDT:4h")
    assert query.with_range(None, ts("2024-03-01")).end == ts("2024-03-01")
    assert Query(exchange="binance", symbol="BTC/USDT", kind="trades", timeframe="1m").timeframe == ""


def test_time_and_timeframe_helpers() -> None:
    assert format_time(ts("2024-01-01")) == "2024-01-01"
    assert format_time(ts("2024-01-01 00:00:00.000000001")) == "2024-01-01T00:00:00.000000001Z"
    assert format_time(None) == ""
    for text in ("1s", "90s", "1m", "90m", "1h", "4h", "1d", "3d", "1w", "2w"):
        assert timeframe_of(timeframe_delta(text)) == text
    assert timeframe_of(pd.Timedelta(days=7)) == "1w" and timeframe_of(pd.Timedelta(minutes=60)) == "1h"
    with pytest.raises(ConfigError):
        timeframe_of(pd.Timedelta(milliseconds=1500))
    assert grid_offset("1w") == pd.Timedelta(days=4) and grid_offset("1d") == pd.Timedelta(0)
    wednesday = ts("2024-01-03 15:00").value
    assert floor_time(wednesday, "1w") == ts("2024-01-01").value  # a Monday
    assert floor_time(wednesday, "4h") == ts("2024-01-03 12:00").value
