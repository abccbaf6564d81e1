"""Historical data from any ccxt exchange over REST: one ``Source`` for every kind the exchange offers.

``CcxtSource(exchange_id).fetch(query, on_page)`` pages through the exchange by ``since``/``limit`` from
``query.start`` (inclusive) to ``query.end`` (exclusive), with ccxt's rate limiter on and retries with
exponential backoff on network errors, timeouts and HTTP 429/418. Errors leave this module as
``engine.errors`` types, the ccxt error chained (``raise ... from e``). Every ccxt call goes through
``engine.redact``: the chained error is a copy with the client's credentials replaced by ``***``, and the
client's logger is fitted with a filter that keeps them (and header values) out of ccxt's DEBUG lines.

Pages and resuming
------------------
``on_page(frame)`` receives each page as soon as it arrives. Every page is a standard frame of the query's
kind (``engine.datagen.schemas``), non-empty, inside the query's range, in ascending time, and *complete*: no
later page holds a row at or before its last timestamp (for trades, rows of the page's last millisecond are
held back for the next page when the exchange may have more of them). So a caller that stores each page can,
after an interruption, call ``fetch`` again with ``start = schemas.next_start(kind, timeframe, last stored ts)``
(the next bar's open for bars, + 1 ms for events) and get exactly the rows it is missing. An exception raised by
``on_page`` stops the download and propagates unchanged.

Unclosed data is never returned: bars whose close time is after now, and events at or after now, are cut
(``now`` is injectable; by default it is the exchange client's clock). Gaps in the exchange's bars are not
filled: each is logged as a warning and listed in ``CcxtSource.last_report.gaps``.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ccxt
import numpy as np
import pandas as pd

from engine.datagen.ccxt_frames import bars_frame, events_frame, trades_frame
from engine.datagen.query import Query, timeframe_delta
from engine.datagen.schemas import EVENT_RESOLUTION, Schema, schema
from engine.errors import ConfigError, DataError, RateLimited, TransientVenueError
from engine.redact import call_redacted, guard_logger

__all__ = ["CcxtSource", "FetchReport", "Gap", "exponential_backoff"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

# kind -> the ccxt capability (``exchange.has`` key) that serves it
CAPABILITY: dict[str, str] = {
    "ohlcv": "fetchOHLCV",
    "mark": "fetchMarkOHLCV",
    "index": "fetchIndexOHLCV",
    "funding": "fetchFundingRateHistory",
    "open_interest": "fetchOpenInterestHistory",
    "vol": "fetchVolatilityHistory",
    "trades": "fetchTrades",
}
_CONTRACT_KINDS = ("mark", "index", "funding", "open_interest")
_MS = 1_000_000  # nanoseconds per millisecond
_ONE_HOUR = pd.Timedelta(hours=1)


def exponential_backoff(attempt: int) -> float:
    """Return the seconds to wait before retry ``attempt`` (1-based): 1, 2, 4, 8, ... capped at 60."""
    return float(min(2.0 ** (attempt - 1), 60.0))


@dataclass(frozen=True, slots=True)
class Gap:
    """Bars the exchange did not return: opens from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: pd.Timestamp
    end: pd.Timestamp
    bars: int


@dataclass(slots=True, kw_only=True)
class FetchReport:
    """What the last ``fetch`` did: the range it covered, the traffic it took and the gaps it found.

    ``end`` is the exclusive end asked of the exchange: ``query.end``, or earlier when that is in the future (only
    closed bars and past events are fetched). ``requests`` counts ccxt calls, retries and the market load
    included; ``pages`` and ``rows`` what reached ``on_page``. Also filled when the download is interrupted.
    """

    query: Query
    start: pd.Timestamp
    end: pd.Timestamp
    pages: int = 0
    rows: int = 0
    requests: int = 0
    retries: int = 0
    gaps: list[Gap] = field(default_factory=list)


class CcxtSource:
    """Answer queries from a ccxt exchange over REST; public data only, no API key needed.

    Parameters
    ----------
    exchange_id
        ccxt exchange id (``"binance"``, ``"bybit"``, ``"deribit"``); queries must name the same exchange.
    config
        Settings for the ccxt client the source creates (``{"timeout": 30000}``); ``enableRateLimit`` is
        always on. Not used with ``exchange``.
    exchange
        A ready ccxt client to use instead (its ``id`` must be ``exchange_id``); its rate limiter is turned on.
    page_limit
        Rows asked per request; by default the exchange's maximum for bars as ccxt knows it
        (``exchange.features``), else the exchange's own default.
    max_retries
        Retries of one request on a network error, a timeout or a rate limit before giving up.
    backoff
        Seconds to wait before retry number ``attempt`` (1-based); a ``Retry-After`` header asking for longer
        wins.
    sleep
        How to wait (``time.sleep``); tests pass a fake to run fast.
    now
        The current time in integer nanoseconds UTC (an ``engine.clock`` ``Clock.now``); by default the
        exchange client's clock.
    trades_step
        How far to move on after an empty page of trades: exchanges such as Binance answer a ``since`` with
        one time window (an hour), so an empty page means a quiet window, not the end of the data.
    """

    def __init__(self, exchange_id: str, *, config: dict[str, Any] | None = None, exchange: ccxt.Exchange | None = None,
                 page_limit: int | None = None, max_retries: int = 5,
                 backoff: Callable[[int], float] = exponential_backoff, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], int] | None = None, trades_step: pd.Timedelta = _ONE_HOUR) -> None:
        if page_limit is not None and page_limit < 1:
            raise ConfigError(f"page_limit must be a positive number of rows, got {page_limit}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        if trades_step <= pd.Timedelta(0):
            raise ConfigError(f"trades_step must be positive, got {trades_step}")
        self.id = exchange_id
        self.exchange = exchange if exchange is not None else _create(exchange_id, config)
        if exchange is not None:
            if config:
                raise ConfigError("give CcxtSource either config (to create the client) or exchange, not both")
            if getattr(exchange, "id", None) != exchange_id:
                raise ConfigError(f"exchange client is {getattr(exchange, 'id', None)!r}, not {exchange_id!r}")
        self.exchange.enableRateLimit = True
        guard_logger(self.exchange)
        self.page_limit = page_limit
        self.max_retries = max_retries
        self.backoff = backoff
        self.sleep = sleep
        self._now = now
        self.trades_step = trades_step
        self.requests = 0  # requests made by this source over its life, retries included
        self.retries = 0
        self.last_report: FetchReport | None = None

    def __repr__(self) -> str:
        return f"CcxtSource({self.id!r})"

    # -- the Source protocol ----------------------------------------------------------------------------------
    def fetch(self, query: Query, on_page: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Return the data of ``query`` as a standard frame of its kind, calling ``on_page`` with each page.

        Raises
        ------
        ConfigError
            The query does not fit the exchange: another exchange or source, no start, an unknown symbol or
            timeframe, a kind the exchange does not offer (or offers only for perpetuals and futures).
        RateLimited
            The exchange still refused with 429/418 after ``max_retries`` retries.
        TransientVenueError
            The network or the exchange still failed after ``max_retries`` retries; resume later.
        DataError
            The exchange answered with something that is not the data asked for.
        """
        if query.source != "ccxt" or query.exchange != self.id:
            raise ConfigError(f"{self!r} answers ccxt queries of exchange {self.id!r}, "
                              f"got source {query.source!r}, exchange {query.exchange!r}")
        if query.start is None:
            raise ConfigError(f"{self.id} {query.symbol} {query.kind}: a download needs a start time")
        kind_schema = schema(query.kind)
        before = (self.requests, self.retries)
        capability = CAPABILITY[query.kind]
        if not self.exchange.has.get(capability):
            raise ConfigError(f"{self.id} does not offer {query.kind} data through ccxt "
                              f"(exchange.has[{capability!r}] is {self.exchange.has.get(capability)!r})")
        if kind_schema.bars:
            self._check_timeframe(query.timeframe)
        market = self._market(query)
        start, end = self._range(query, kind_schema)
        report = FetchReport(query=query, start=start, end=end)
        self.last_report = report
        pages: list[pd.DataFrame] = []
        try:
            if start < end:
                for page in self._pages(query, market, kind_schema, start, end):
                    pages.append(page)
                    report.pages += 1
                    report.rows += len(page)
                    if on_page is not None:
                        on_page(page)
        finally:  # an interrupted download still reports what it did
            report.requests, report.retries = self.requests - before[0], self.retries - before[1]
        logger.info("%s %s %s %s: %d rows in %d pages from %s to %s (%d requests, %d retries, %d gaps)",
                    self.id, query.symbol, query.kind, query.timeframe, report.rows, report.pages, start, end,
                    report.requests, report.retries, len(report.gaps))
        return pd.concat(pages) if pages else kind_schema.empty()

    # -- checks -----------------------------------------------------------------------------------------------
    def _check_timeframe(self, timeframe: str) -> None:
        known = self.exchange.timeframes or {}
        if known and timeframe not in known:
            raise ConfigError(f"{self.id} has no timeframe {timeframe!r}; it offers {', '.join(known)}")

    def _market(self, query: Query) -> dict[str, Any]:
        """Load the markets (once per client) and return the query's market; ConfigError when unknown."""
        markets = self.exchange.markets or self._call("load_markets", self.exchange.load_markets,
                                                      symbol=query.symbol)
        if query.kind == "vol":  # volatility history is per currency (BTC), not per market
            code = query.symbol.split("/")[0]
            currencies = self.exchange.currencies or {}
            if currencies and code not in currencies:
                raise ConfigError(f"{self.id} has no currency {code!r} for volatility history "
                                  f"(from symbol {query.symbol!r})")
            return {"symbol": query.symbol, "base": code, "type": "index"}
        market = markets.get(query.symbol) if markets else None
        if market is None:
            near = difflib.get_close_matches(query.symbol, list(markets or {}), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(f"{self.id} has no market {query.symbol!r} ({len(markets or {})} markets loaded){hint}")
        if query.kind in _CONTRACT_KINDS and not market.get("contract"):
            raise ConfigError(f"{query.kind} data needs a perpetual or futures market; {query.symbol} on {self.id} "
                              f"is a {market.get('type')} market (a linear perpetual looks like BTC/USDT:USDT)")
        return dict(market)

    def _range(self, query: Query, kind_schema: Schema) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Return the [start, end) to fetch: the query's, cut at the last closed bar or at now for events."""
        assert query.start is not None
        now_ns = self._now() if self._now is not None else int(self.exchange.milliseconds()) * _MS
        now = pd.Timestamp(now_ns, unit="ns", tz="UTC")
        # A bar opening at o is closed once o + timeframe <= now: opens up to now - timeframe are complete.
        cap = now - timeframe_delta(query.timeframe) + pd.Timedelta(1, "ns") if kind_schema.bars else now
        end = cap if query.end is None else min(query.end, cap)
        if query.end is not None and query.end > cap:
            logger.info("%s %s %s: end %s is not closed yet, fetching up to %s", self.id, query.symbol,
                        query.kind, query.end, cap)
        return query.start, end

    # -- calls and errors -------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, symbol: str, **kwargs: Any) -> T:
        """Call ccxt through ``call_redacted``, retrying transient failures with backoff; translate its errors."""
        attempt = 0
        while True:
            self.requests += 1
            try:
                return call_redacted(self.exchange, fn, *args, **kwargs)
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                error: ccxt.BaseError = exc
                limited = True
            except ccxt.NetworkError as exc:  # RequestTimeout, ExchangeNotAvailable, dropped connections
                error, limited = exc, False
            except ccxt.BaseError as exc:
                raise self._translate(exc, what, symbol) from exc
            except (TypeError, KeyError, ValueError, IndexError) as exc:  # ccxt could not parse the answer
                raise DataError(f"{self.id} {what} {symbol}: malformed response "
                                f"({type(exc).__name__}: {exc})") from exc
            attempt += 1
            message = f"{type(error).__name__}: {error}"
            if attempt > self.max_retries:
                kind = RateLimited if limited else TransientVenueError
                raise kind(f"{self.id} {what} {symbol}: gave up after {attempt} attempts; last error {message}"
                           ) from error
            delay = self.backoff(attempt)
            if limited:
                delay = max(delay, self._retry_after())
            self.retries += 1
            logger.warning("%s %s %s: %s; retry %d of %d in %.3g s", self.id, what, symbol, message, attempt,
                           self.max_retries, delay)
            self.sleep(delay)

    def _retry_after(self) -> float:
        """Return the seconds the last response's ``Retry-After`` header asks to wait, 0 when absent."""
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        try:
            return max(0.0, float(headers.get("Retry-After", 0) or 0))
        except (TypeError, ValueError):
            return 0.0

    def _translate(self, exc: ccxt.BaseError, what: str, symbol: str) -> Exception:
        text = str(exc)
        if isinstance(exc, ccxt.BadSymbol):
            return ConfigError(f"{self.id} does not know symbol {symbol!r}: {text}")
        if isinstance(exc, ccxt.AuthenticationError):
            return ConfigError(f"{self.id} refused {what} {symbol} ({type(exc).__name__}): public data needs no "
                               f"API key, check the exchange config: {text}")
        if isinstance(exc, ccxt.NotSupported | ccxt.BadRequest | ccxt.ArgumentsRequired):
            return ConfigError(f"{self.id} rejected {what} {symbol} ({type(exc).__name__}): {text}")
        return DataError(f"{self.id} {what} {symbol} failed ({type(exc).__name__}): {text}")

    # -- paging -----------------------------------------------------------------------------------------------
    def _limit(self, market: dict[str, Any], bars: bool) -> int | None:
        if self.page_limit is not None or not bars:
            return self.page_limit
        features: Any = (getattr(self.exchange, "features", None) or {}).get(market.get("type"))
        if isinstance(features, dict) and "fetchOHLCV" not in features:
            features = features.get("linear" if market.get("linear") else "inverse")
        entry = features.get("fetchOHLCV") if isinstance(features, dict) else None
        limit = entry.get("limit") if isinstance(entry, dict) else None
        return int(limit) if isinstance(limit, int | float) and limit > 0 else None

    def _pages(self, query: Query, market: dict[str, Any], kind_schema: Schema, start: pd.Timestamp,
               end: pd.Timestamp) -> Iterator[pd.DataFrame]:
        limit = self._limit(market, kind_schema.bars)
        if kind_schema.bars:
            return self._bar_pages(query, kind_schema, start, end, limit)
        if query.kind == "trades":
            return self._trade_pages(query, start, end, limit)
        if query.kind == "vol":
            return self._vol_pages(query, market["base"], start, end)
        return self._event_pages(query, start, end, limit)

    def _bar_pages(self, query: Query, kind_schema: Schema, start: pd.Timestamp, end: pd.Timestamp,
                   limit: int | None) -> Iterator[pd.DataFrame]:
        step = timeframe_delta(query.timeframe)
        params = {} if query.kind == "ohlcv" else {"price": query.kind}
        cursor, last = start, None
        while cursor < end:
            rows = self._call("fetch_ohlcv", self.exchange.fetch_ohlcv, query.symbol, query.timeframe,
                              since=_ms(cursor), limit=limit, params=params, symbol=query.symbol)
            page = bars_frame(rows, kind_schema, self._where(query))
            page = page[page.index >= cursor]
            if page.empty:
                break
            inside = page[page.index < end]
            if not inside.empty:
                self._note_gaps(query, step, start if last is None else last + step, pd.DatetimeIndex(inside.index))
                last = inside.index[-1]
                yield inside
            if len(inside) < len(page):
                break
            cursor = page.index[-1] + step
        if last is not None and last + step < end:
            self._gap(query, step, last + step, end, "no bars after")
        elif last is None and end - start >= step:
            self._gap(query, step, start, end, "no bars at all from")

    def _note_gaps(self, query: Query, step: pd.Timedelta, expected: pd.Timestamp, index: pd.DatetimeIndex) -> None:
        """Report each stretch of one bar or more missing before the first open of ``index`` or between opens.

        ``expected`` is where the first bar should open (the start, or the open after the previous page's last).
        """
        opens = index.as_unit("ns").asi8
        due = np.concatenate([[expected.value], opens[:-1] + step.value])  # where each bar should open
        for i in np.flatnonzero(opens - due >= step.value).tolist():
            self._gap(query, step, pd.Timestamp(int(due[i]), unit="ns", tz="UTC"), index[i], "missing bars from")

    def _gap(self, query: Query, step: pd.Timedelta, start: pd.Timestamp, end: pd.Timestamp, what: str) -> None:
        bars = int(-(-(end - start) // step))  # bar opens in [start, end) when start is on the grid
        assert self.last_report is not None
        self.last_report.gaps.append(Gap(start, end, bars))
        logger.warning("%s: %s %s to %s (about %d bars); the exchange returned none, nothing was filled",
                       self._where(query), what, start, end, bars)

    def _event_pages(self, query: Query, start: pd.Timestamp, end: pd.Timestamp, limit: int | None
                     ) -> Iterator[pd.DataFrame]:
        cursor = start
        while cursor < end:
            if query.kind == "funding":
                rows: list[dict[str, Any]] = self._call(
                    "fetch_funding_rate_history", self.exchange.fetch_funding_rate_history, query.symbol,
                    since=_ms(cursor), limit=limit, symbol=query.symbol)
                page = events_frame(rows, {"funding_rate": "fundingRate"}, self._where(query))
            else:
                rows = self._call("fetch_open_interest_history", self.exchange.fetch_open_interest_history,
                                  query.symbol, query.timeframe, since=_ms(cursor), limit=limit, symbol=query.symbol)
                page = events_frame(rows, {"open_interest": "openInterestAmount",
                                            "open_interest_value": "openInterestValue"}, self._where(query))
            page = page[page.index >= cursor]
            if page.empty:
                break
            inside = page[page.index < end]
            if not inside.empty:
                yield inside
            if len(inside) < len(page):
                break
            cursor = page.index[-1] + EVENT_RESOLUTION

    def _vol_pages(self, query: Query, code: str, start: pd.Timestamp, end: pd.Timestamp) -> Iterator[pd.DataFrame]:
        # ccxt's volatility history takes no since/limit: the exchange answers with the window it keeps.
        rows = self._call("fetch_volatility_history", self.exchange.fetch_volatility_history, code,
                          symbol=query.symbol)
        page = events_frame(rows, {"volatility": "volatility"}, self._where(query))
        if not page.empty and page.index[0] > start:
            logger.warning("%s: the exchange keeps volatility history only from %s, after the start %s",
                           self._where(query), page.index[0], start)
        page = page[(page.index >= start) & (page.index < end)]
        if not page.empty:
            yield page

    def _trade_pages(self, query: Query, start: pd.Timestamp, end: pd.Timestamp, limit: int | None
                     ) -> Iterator[pd.DataFrame]:
        cursor = start
        while cursor < end:
            rows: list[dict[str, Any]] = self._call("fetch_trades", self.exchange.fetch_trades, query.symbol,
                                                    since=_ms(cursor), limit=limit, symbol=query.symbol)
            page = trades_frame(rows)
            page = page[page.index >= cursor]
            if page.empty:
                cursor += self.trades_step  # a quiet window (or the end: the loop stops at `end`)
                continue
            last = page.index[-1]
            # A full page (or one of unknown size) may have cut the trades of its last millisecond short: hold
            # them back and ask again from that millisecond, so that every page handed out is complete.
            full = limit is None or len(rows) >= limit
            if full and page.index[0] < last:
                ready, cursor = page[page.index < last], last
            elif full and limit is not None:
                raise DataError(f"{self._where(query)}: more than {limit} trades at {last}; "
                                f"raise page_limit to page through them")
            else:  # the page ended before the limit, or the exchange had no more at its only millisecond
                ready, cursor = page, last + EVENT_RESOLUTION
            inside = ready[ready.index < end]
            if not inside.empty:
                yield inside
            if len(inside) < len(ready):
                break

    def _where(self, query: Query) -> str:
        timeframe = "" if query.kind == "trades" else f" {query.timeframe}"
        return f"{self.id} {query.symbol}{timeframe} {query.kind}"


def _create(exchange_id: str, config: dict[str, Any] | None) -> ccxt.Exchange:
    """Create the ccxt client of ``exchange_id`` with the rate limiter on."""
    if exchange_id not in ccxt.exchanges:
        near = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ConfigError(f"ccxt has no exchange {exchange_id!r}{hint}")
    settings = {**(config or {}), "enableRateLimit": True}
    client: ccxt.Exchange = getattr(ccxt, exchange_id)(settings)
    return client


def _ms(stamp: pd.Timestamp) -> int:
    """Return ``stamp`` as integer milliseconds, rounded down (rows before ``stamp`` are filtered out after)."""
    return int(stamp.value // _MS)
