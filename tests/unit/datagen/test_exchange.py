"""CcxtSource against a stand-in ccxt client: the kinds Binance spot has not (funding, open interest, mark, vol),
error translation, and the schemas. The real client against a loopback server is in tests/integration."""

from __future__ import annotations

import logging
from typing import Any

import ccxt
import numpy as np
import pandas as pd
import pytest

from engine.datagen.exchange import CcxtSource, exponential_backoff
from engine.datagen.query import Query
from engine.datagen.schemas import SCHEMAS, next_start, schema
from engine.errors import ConfigError, DataError, RateLimited, TransientVenueError

START = pd.Timestamp("2024-01-01", tz="UTC")
START_MS = START.value // 1_000_000
HOUR_MS = 3_600_000
NOW_NS = pd.Timestamp("2025-01-01", tz="UTC").value
PERP = "BTC/USDT:USDT"


class FakeExchange:
    """Enough of a ccxt client for CcxtSource: markets, capabilities and the history methods, from lists."""

    id = "fakex"

    def __init__(self, **rows: list[Any]) -> None:
        self.has = {"fetchOHLCV": True, "fetchMarkOHLCV": True, "fetchIndexOHLCV": True,
                    "fetchFundingRateHistory": True, "fetchOpenInterestHistory": True,
                    "fetchVolatilityHistory": True, "fetchTrades": True}
        self.timeframes = {"1m": "1m", "1h": "1h", "8h": "8h"}
        self.features: dict[str, Any] = {"swap": {"linear": {"fetchOHLCV": {"limit": 4}}}}
        self.markets: dict[str, Any] | None = None
        self.currencies = {"BTC": {"code": "BTC"}, "USDT": {"code": "USDT"}}
        self.enableRateLimit = False
        self.last_response_headers: dict[str, str] = {}
        self.apiKey = ""
        self.rows = rows
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[Exception] = []  # raised by the next calls, in order

    def milliseconds(self) -> int:
        return NOW_NS // 1_000_000

    def load_markets(self) -> dict[str, Any]:
        self.markets = {PERP: {"symbol": PERP, "type": "swap", "contract": True, "linear": True},
                        "BTC/USDT": {"symbol": "BTC/USDT", "type": "spot", "contract": False}}
        return self.markets

    def _page(self, name: str, since: int, limit: int | None, **kwargs: Any) -> list[Any]:
        self.calls.append((name, {"since": since, "limit": limit, **kwargs}))
        if self.errors:
            raise self.errors.pop(0)
        rows = self.rows.get(name, [])
        stamp = (lambda r: r[0]) if name == "fetch_ohlcv" else (lambda r: r["timestamp"])
        chosen = [r for r in rows if stamp(r) >= since]
        return chosen[: limit or 2]

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int | None = None,
                    params: dict[str, Any] | None = None) -> list[Any]:
        return self._page("fetch_ohlcv", since, limit, timeframe=timeframe, params=params)

    def fetch_funding_rate_history(self, symbol: str, since: int, limit: int | None = None) -> list[Any]:
        return self._page("fetch_funding_rate_history", since, limit)

    def fetch_open_interest_history(self, symbol: str, timeframe: str, since: int, limit: int | None = None
                                    ) -> list[Any]:
        return self._page("fetch_open_interest_history", since, limit, timeframe=timeframe)

    def fetch_volatility_history(self, code: str) -> list[Any]:
        self.calls.append(("fetch_volatility_history", {"code": code}))
        return self.rows.get("fetch_volatility_history", [])


def source(exchange: FakeExchange, **kwargs: Any) -> CcxtSource:
    settings: dict[str, Any] = {"sleep": lambda seconds: None, "now": lambda: NOW_NS} | kwargs
    return CcxtSource("fakex", exchange=exchange, **settings)  # type: ignore[arg-type]


def query(kind: str, symbol: str = PERP, start: pd.Timestamp = START, end: pd.Timestamp | None = None,
          timeframe: str = "1h") -> Query:
    return Query(exchange="fakex", symbol=symbol, kind=kind, start=start, end=end, timeframe=timeframe)


def funding_rows(n: int = 10) -> list[dict[str, Any]]:
    return [{"timestamp": START_MS + i * 8 * HOUR_MS, "fundingRate": 1e-4 * (i + 1), "symbol": PERP}
            for i in range(n)]


def test_funding_pages_and_resumes_without_loss_or_repeat() -> None:
    exchange = FakeExchange(fetch_funding_rate_history=funding_rows())
    pages: list[pd.DataFrame] = []
    frame = source(exchange, page_limit=3).fetch(query("funding"), on_page=pages.append)
    assert list(frame.columns) == ["funding_rate"] and frame["funding_rate"].dtype == np.float64
    assert frame.index.name == "ts" and str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame["funding_rate"].tolist() == [1e-4 * (i + 1) for i in range(10)]
    assert frame.index[1] - frame.index[0] == pd.Timedelta(hours=8)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    # Each page asks from 1 ms after the last row it has; the last, short page is followed by an empty one.
    assert [c[1]["since"] - START_MS for c in exchange.calls] == [0] + [h * HOUR_MS + 1 for h in (16, 40, 64, 72)]
    # Resume after the second stored page: the rest comes, once.
    resumed = source(exchange, page_limit=3).fetch(query("funding", start=next_start("funding", "1h",
                                                                                    pages[1].index[-1])))
    pd.testing.assert_frame_equal(pd.concat([*pages[:2], resumed]), frame)


def test_funding_end_is_exclusive() -> None:
    exchange = FakeExchange(fetch_funding_rate_history=funding_rows())
    end = START + pd.Timedelta(hours=32)  # the fifth funding time: not included
    frame = source(exchange, page_limit=3).fetch(query("funding", end=end))
    assert len(frame) == 4 and frame.index[-1] == START + pd.Timedelta(hours=24)
    assert len(exchange.calls) == 2  # the second page reached past the end: no third request


def test_open_interest_maps_amount_and_value_with_nan_for_unknown() -> None:
    rows = [{"timestamp": START_MS + i * HOUR_MS, "openInterestAmount": 100.0 + i,
             "openInterestValue": None if i == 1 else 4e6 + i} for i in range(3)]
    exchange = FakeExchange(fetch_open_interest_history=rows)
    frame = source(exchange, page_limit=5).fetch(query("open_interest"))
    assert list(frame.columns) == ["open_interest", "open_interest_value"]
    assert frame["open_interest"].tolist() == [100.0, 101.0, 102.0]
    assert np.isnan(frame["open_interest_value"].iloc[1]) and frame["open_interest_value"].iloc[2] == 4e6 + 2
    assert exchange.calls[0][1]["timeframe"] == "1h"


def test_mark_bars_ask_for_the_mark_price_and_have_no_volume() -> None:
    rows = [[START_MS + i * HOUR_MS, 10.0 + i, 12.0 + i, 9.0 + i, 11.0 + i, 0.0] for i in range(10)]
    exchange = FakeExchange(fetch_ohlcv=rows)
    frame = source(exchange).fetch(query("mark"))
    assert list(frame.columns) == ["open", "high", "low", "close"]
    assert frame["close"].tolist() == [11.0 + i for i in range(10)]
    assert {c[1]["params"]["price"] for c in exchange.calls} == {"mark"}
    assert exchange.calls[0][1]["limit"] == 4  # the swap/linear limit from the client's features


def test_vol_is_one_request_per_currency_filtered_to_the_range(caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"timestamp": START_MS + i * HOUR_MS, "volatility": 50.0 + i} for i in (2, 2, 3, 4, 5)]
    exchange = FakeExchange(fetch_volatility_history=rows)
    with caplog.at_level(logging.WARNING, logger="engine.datagen.exchange"):
        frame = source(exchange).fetch(query("vol", symbol="BTC/USD", end=START + pd.Timedelta(hours=5)))
    assert exchange.calls == [("fetch_volatility_history", {"code": "BTC"})]
    assert frame["volatility"].tolist() == [52.0, 53.0, 54.0]  # repeated row dropped, end exclusive
    assert "volatility history only from 2024-01-01 02:00:00+00:00" in caplog.text
    assert "repeated timestamp" in caplog.text


def test_vol_of_an_unknown_currency_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fakex has no currency 'DOGE'"):
        source(FakeExchange()).fetch(query("vol", symbol="DOGE/USD"))


def test_kind_without_capability_is_a_config_error_before_any_request() -> None:
    exchange = FakeExchange()
    exchange.has["fetchOpenInterestHistory"] = False
    with pytest.raises(ConfigError, match=r"fakex does not offer open_interest data"):
        source(exchange).fetch(query("open_interest"))
    assert exchange.markets is None and exchange.calls == []


@pytest.mark.parametrize(("error", "expected", "message"), [
    (ccxt.BadSymbol("fakex invalid symbol"), ConfigError, r"fakex does not know symbol 'BTC/USDT:USDT'"),
    (ccxt.AuthenticationError("fakex key rejected"), ConfigError, "public data needs no API key"),
    (ccxt.BadRequest("fakex bad param"), ConfigError, r"fakex rejected fetch_funding_rate_history"),
    (ccxt.ExchangeError("fakex internal"), DataError, r"fakex fetch_funding_rate_history BTC/USDT:USDT failed"),
])
def test_ccxt_errors_are_translated_at_the_boundary(error: Exception, expected: type[Exception],
                                                    message: str) -> None:
    exchange = FakeExchange(fetch_funding_rate_history=funding_rows())
    exchange.errors = [error]
    with pytest.raises(expected, match=message) as info:
        source(exchange).fetch(query("funding"))
    assert info.value.__cause__ is error
    assert len(exchange.calls) == 1  # not retried


def test_timeouts_are_retried_then_given_up_as_transient() -> None:
    exchange = FakeExchange(fetch_funding_rate_history=funding_rows())
    exchange.errors = [ccxt.RequestTimeout("fakex timed out")] * 3
    waits: list[float] = []
    with pytest.raises(TransientVenueError, match="gave up after 3 attempts; last error RequestTimeout") as info:
        source(exchange, max_retries=2, sleep=waits.append).fetch(query("funding"))
    assert not isinstance(info.value, RateLimited)
    assert waits == [1.0, 2.0]
    assert [exponential_backoff(a) for a in (1, 2, 3, 7, 8)] == [1.0, 2.0, 4.0, 60.0, 60.0]


def test_secrets_never_reach_messages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    exchange = FakeExchange(fetch_funding_rate_history=funding_rows())
    exchange.apiKey = "k3y-SUPERSECRET"
    exchange.errors = [ccxt.NetworkError("GET /x?apiKey=k3y-SUPERSECRET"), ccxt.ExchangeError("k3y-SUPERSECRET")]
    with caplog.at_level(logging.DEBUG), pytest.raises(DataError) as info:
        source(exchange).fetch(query("funding"))
    assert "SUPERSECRET" not in str(info.value) and "SUPERSECRET" not in caplog.text
    assert "***" in str(info.value)


def test_construction_checks() -> None:
    with pytest.raises(ConfigError, match="ccxt has no exchange 'binanse'; did you mean binance"):
        CcxtSource("binanse")
    with pytest.raises(ConfigError, match="exchange client is 'fakex', not 'binance'"):
        CcxtSource("binance", exchange=FakeExchange())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="either config"):
        CcxtSource("fakex", exchange=FakeExchange(), config={"timeout": 1})  # type: ignore[arg-type]
    exchange = FakeExchange()
    source(exchange)
    assert exchange.enableRateLimit is True
    created = CcxtSource("binance", config={"enableRateLimit": False, "timeout": 1234})
    assert created.exchange.enableRateLimit is True and created.exchange.timeout == 1234
    with pytest.raises(ConfigError, match="needs a start"):
        source(FakeExchange()).fetch(Query(exchange="fakex", symbol=PERP, kind="funding"))


def test_schemas_cover_every_kind_and_resume_points() -> None:
    assert set(SCHEMAS) == {"ohlcv", "trades", "funding", "mark", "index", "open_interest", "vol"}
    for kind, spec in SCHEMAS.items():
        empty = spec.empty()
        assert list(empty.columns) == list(spec.columns) and str(empty.index.dtype) == "datetime64[ns, UTC]"
        assert all(empty[c].dtype == np.float64 for c in empty.columns), kind
    last = pd.Timestamp("2024-01-01 10:00", tz="UTC")
    assert next_start("ohlcv", "1h", last) == pd.Timestamp("2024-01-01 11:00", tz="UTC")
    assert next_start("funding", "1h", last) == last + pd.Timedelta(milliseconds=1)
    with pytest.raises(ConfigError, match="kind must be one of"):
        schema("candles")
