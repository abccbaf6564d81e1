"""A Binance-protocol REST server on 127.0.0.1 for tests, and the real ccxt client pointed at it.

The server answers the public spot endpoints a historical download uses, the way Binance does:

- ``GET /api/v3/exchangeInfo``: the symbols the test gives;
- ``GET /api/v3/klines``: bars the test gives as a standard OHLCV frame, aggregated on request to any coarser
  Binance interval (``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit`` default 500, max 1000);
- ``GET /api/v3/aggTrades``: trades the test gives (``symbol``, ``fromId``, ``startTime``, ``endTime``
  within one hour of each other, ``limit`` default 500, max 1000);
- ``GET /api/v3/account``: the balances the test gives, to a request signed with the test's API key and
  secret (``X-MBX-APIKEY`` header, HMAC-SHA256 ``signature`` of the query), Binance's errors otherwise.

Faults are injected on purpose: ``fail_next`` answers 429 (with ``Retry-After``) or 418 to the next requests,
``drop_next`` closes the connection in the middle of a response body. ``requests`` counts requests by path
(faulty ones included), so a test can assert that a cached query made none.

Example
-------
>>> with BinanceServer(bars={"BTC/USDT": frame}) as server:      # doctest: +SKIP
...     client = make_client(server)
...     client.fetch_ohlcv("BTC/USDT", "1h", since=0, limit=1000)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ccxt
import numpy as np
import pandas as pd
from aiohttp import web

__all__ = ["BINANCE_INTERVALS", "BinanceServer", "RecordedRequest", "make_client"]

MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
ONE_HOUR_MS = 3_600_000
# Binance kline intervals in milliseconds (1M, calendar months, is not served).
BINANCE_INTERVALS: dict[str, int] = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}
_MONDAY_MS = 4 * 86_400_000  # 1970-01-05, a Monday: Binance weeks open on Monday 00:00 UTC


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received: its path and query parameters."""

    path: str
    params: dict[str, str]


@dataclass(slots=True)
class _Fault:
    kind: str  # "status" or "drop"
    remaining: int
    skip: int
    path: str | None
    status: int = 0
    retry_after: float | None = None

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path


class _Bars:
    """Bars of one symbol at one interval as arrays, for slicing by open time without pandas per request.

    ``values`` holds ``open high low close volume quote_volume`` (float64), ``trades`` the trade counts.
    """

    def __init__(self, open_ms: np.ndarray, values: dict[str, np.ndarray], trades: np.ndarray) -> None:
        self.open_ms = open_ms
        self.values = values
        self.trades = trades

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> _Bars:
        """Return the bars of a standard OHLCV frame."""
        open_ms = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // 1_000_000
        values = {c: frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")}
        close, volume = values["close"], values["volume"]
        qv = frame["quote_volume"] if "quote_volume" in frame.columns else None
        values["quote_volume"] = close * volume if qv is None else qv.to_numpy(dtype=np.float64)
        count = frame["trades"] if "trades" in frame.columns else None
        trades = np.zeros(len(frame), np.int64) if count is None else count.to_numpy().astype(np.int64)
        return cls(open_ms, values, trades)


def _num(x: float) -> str:
    """Format a float as Binance does (positional decimal text), exactly: float(text) == x."""
    return np.format_float_positional(float(x), trim="-")


def _market_id(symbol: str) -> str:
    return symbol.replace("/", "")


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def _bad_request(code: int, msg: str) -> web.HTTPBadRequest:
    """Return Binance's error answer as an exception a handler raises."""
    return web.HTTPBadRequest(text=json.dumps({"code": code, "msg": msg}), content_type="application/json")


def _limit(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _bad_request(-1130, "Data sent for parameter 'limit' is not valid.")
    return int(text)


def _integer(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise _bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)


class BinanceServer:
    """A Binance spot REST server for historical data, run on 127.0.0.1 in a background thread.

    Parameters
    ----------
    bars
        Unified symbol (``"BTC/USDT"``) -> standard OHLCV frame (UTC index of open times, columns ``open high
        low close volume``, optionally ``quote_volume`` and ``trades``) at its base ``interval``.
    trades
        Unified symbol -> trades frame (UTC index of trade times, columns ``price amount side`` with side +1
        for a taker buy and -1 for a taker sell, optionally ``id``), in ascending time.
    symbols
        Further unified symbols to list in ``exchangeInfo`` with no data.
    interval
        Binance interval of every ``bars`` frame (``"1m"``); inferred from the frames when not given.
    credentials
        The ``(api_key, secret)`` that ``/api/v3/account`` accepts; without them it refuses every request.
    balances
        Asset -> free amount that ``/api/v3/account`` reports.
    """

    def __init__(self, bars: Mapping[str, pd.DataFrame] | None = None, *,
                 trades: Mapping[str, pd.DataFrame] | None = None, symbols: Iterable[str] = (),
                 interval: str | None = None, credentials: tuple[str, str] | None = None,
                 balances: Mapping[str, float] | None = None) -> None:
        self._credentials = credentials
        self._balances = dict(balances or {})
        self._bars = dict(bars or {})
        self._trades = dict(trades or {})
        self._symbols = list(dict.fromkeys([*self._bars, *self._trades, *symbols]))
        for symbol in self._symbols:
            if symbol.count("/") != 1:
                raise ValueError(f"symbol must look like BASE/QUOTE, got {symbol!r}")
        self._base_ms = self._base_interval(interval)
        self._cache: dict[tuple[str, int], _Bars] = {}
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self.requests: Counter[str] = Counter()
        self.log: list[RecordedRequest] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.app = web.Application()
        self.app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        self.app.router.add_get("/api/v3/klines", self._klines)
        self.app.router.add_get("/api/v3/aggTrades", self._agg_trades)
        self.app.router.add_get("/api/v3/ping", self._ping)
        self.app.router.add_get("/api/v3/account", self._account)
        self.app.middlewares.append(self._middleware)

    # -- life cycle -------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Return the server's root URL, ``http://127.0.0.1:PORT``."""
        if not self.port:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BinanceServer:
        """Start serving on a free port of 127.0.0.1 in a daemon thread; return self."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        # Set up inside the thread: the caller may be running an event loop of its own (an asyncio test).
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                self.port = int(runner.addresses[0][1])
            except BaseException as exc:
                failure.append(exc)
                loop.close()
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="binance-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> BinanceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault injection and counters -------------------------------------------------------------------------
    def fail_next(self, times: int = 1, *, status: int = 429, retry_after: float | None = 1,
                  path: str | None = None, skip: int = 0) -> None:
        """Answer ``status`` (429 or 418) with ``Retry-After`` to ``times`` requests, after ``skip`` good ones.

        Only requests to ``path`` count when it is given (``"/api/v3/klines"``), else every request does.
        """
        if status not in (418, 429):
            raise ValueError(f"status must be 418 or 429, got {status}")
        with self._lock:
            self._faults.append(_Fault("status", times, skip, path, status, retry_after))

    def drop_next(self, times: int = 1, *, path: str | None = "/api/v3/klines", skip: int = 0) -> None:
        """Close the connection half-way through the body of ``times`` responses, after ``skip`` good ones."""
        with self._lock:
            self._faults.append(_Fault("drop", times, skip, path))

    def clear_faults(self) -> None:
        """Forget every fault not yet served."""
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        """Zero the request counters and the log."""
        with self._lock:
            self.requests.clear()
            self.log.clear()

    @property
    def total_requests(self) -> int:
        """Return how many requests the server received, on every path."""
        return sum(self.requests.values())

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        with self._lock:
            self.requests[path] += 1
            self.log.append(RecordedRequest(path, dict(request.query)))
        fault = self._take_fault(path)
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            msg = ("Too many requests; current limit of IP is 6000 request weight per 1 MINUTE."
                   if fault.status == 429 else "Way too many requests; IP banned.")
            return web.json_response({"code": -1003, "msg": msg}, status=fault.status, headers=headers)
        response = await handler(request)
        if fault is not None and fault.kind == "drop":
            return await self._drop(request, response)
        return response

    async def _drop(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Send the headers and half of ``response``'s body, then close the connection."""
        body = response.body if isinstance(response, web.Response) else b""
        data = bytes(body) if isinstance(body, bytes | bytearray) else b"[]"
        stream = web.StreamResponse(status=response.status, headers={"Content-Type": "application/json"})
        stream.content_length = len(data)
        await stream.prepare(request)
        await stream.write(data[: max(1, len(data) // 2)])
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # end the handler without aiohttp finishing the response

    # -- endpoints --------------------------------------------------------------------------------------------
    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _account(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-MBX-APIKEY")
        if self._credentials is None or key != self._credentials[0]:
            return _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, _, signature = request.query_string.rpartition("&signature=")
        expected = hmac.new(self._credentials[1].encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not payload or not hmac.compare_digest(signature, expected):
            return _error(400, -1022, "Signature for this request is not valid.")
        return web.json_response({
            "makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True,
            "canDeposit": True, "updateTime": 0, "accountType": "SPOT", "permissions": ["SPOT"],
            "balances": [{"asset": asset, "free": _num(free), "locked": "0"} for asset, free in self._balances.items()],
        })

    async def _exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "timezone": "UTC",
            "serverTime": 0,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": 6000}],
            "exchangeFilters": [],
            "symbols": [self._symbol_info(s) for s in self._symbols],
        })

    @staticmethod
    def _symbol_info(symbol: str) -> dict[str, Any]:
        base, quote = symbol.split("/")
        return {
            "symbol": _market_id(symbol), "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False, "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER", "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
                 "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                 "stepSize": "0.00001000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
        }

    def _symbol(self, request: web.Request) -> str:
        market_id = request.query.get("symbol", "")
        if not market_id:
            raise _bad_request(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        for symbol in self._symbols:
            if _market_id(symbol) == market_id:
                return symbol
        raise _bad_request(-1121, "Invalid symbol.")

    async def _klines(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request)
        step = BINANCE_INTERVALS.get(request.query.get("interval", ""))
        if step is None or step < self._base_ms or step % self._base_ms:
            raise _bad_request(-1120, "Invalid interval.")
        limit, start, end = _limit(request), _integer(request, "startTime"), _integer(request, "endTime")
        bars = self._served_bars(symbol, step)
        times = bars.open_ms
        lo = 0 if start is None else int(np.searchsorted(times, start, side="left"))
        hi = len(times) if end is None else int(np.searchsorted(times, end, side="right"))
        # With a start, the first `limit` bars from it; without one, the last `limit` bars up to the end.
        lo, hi = (lo, min(hi, lo + limit)) if start is not None else (max(lo, hi - limit), hi)
        v = bars.values
        rows = [
            [int(times[i]), _num(v["open"][i]), _num(v["high"][i]), _num(v["low"][i]), _num(v["close"][i]),
             _num(v["volume"][i]), int(times[i]) + step - 1, _num(v["quote_volume"][i]), int(bars.trades[i]),
             "0", "0", "0"]
            for i in range(lo, hi)
        ]
        return web.json_response(rows)

    async def _agg_trades(self, request: web.Request) -> web.Response:
        symbol = self._symbol(request)
        limit, start, end = _limit(request), _integer(request, "startTime"), _integer(request, "endTime")
        from_id = _integer(request, "fromId")
        if start is not None and end is not None and end - start > ONE_HOUR_MS:
            raise _bad_request(-1127, "More than 1 hours between startTime and endTime.")
        frame = self._trades.get(symbol)
        if frame is None or len(frame) == 0:
            return web.json_response([])
        times = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // 1_000_000
        ids = frame["id"].to_numpy().astype(np.int64) if "id" in frame.columns else np.arange(len(frame))
        mask = np.ones(len(frame), bool)
        if from_id is not None:
            mask &= ids >= from_id
        if start is not None:
            mask &= times >= start
        if end is not None:
            mask &= times <= end
        chosen = np.flatnonzero(mask)
        chosen = chosen[:limit] if (from_id is not None or start is not None) else chosen[-limit:]
        price, amount, side = (frame[c].to_numpy(dtype=np.float64) for c in ("price", "amount", "side"))
        rows = [
            {"a": int(ids[i]), "p": _num(price[i]), "q": _num(amount[i]), "f": int(ids[i]), "l": int(ids[i]),
             "T": int(times[i]), "m": bool(side[i] < 0), "M": True}
            for i in chosen
        ]
        return web.json_response(rows)

    # -- bars -------------------------------------------------------------------------------------------------
    def _served_bars(self, symbol: str, step: int) -> _Bars:
        """Return the bars ``/api/v3/klines`` serves at ``step``: all of them here; a live server hides the future."""
        return self._bars_at(symbol, step)

    def _base_interval(self, interval: str | None) -> int:
        if interval is not None:
            if interval not in BINANCE_INTERVALS:
                raise ValueError(f"interval must be one of {', '.join(BINANCE_INTERVALS)}, got {interval!r}")
            return BINANCE_INTERVALS[interval]
        steps = set()
        for symbol, frame in self._bars.items():
            if len(frame) < 2:
                raise ValueError(f"bars of {symbol}: give interval= for a frame of fewer than two rows")
            diffs = np.diff(pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // 1_000_000)
            steps.add(int(diffs[diffs > 0].min()))
        if len(steps) > 1:
            raise ValueError(f"bars frames have different intervals ({sorted(steps)} ms): give interval=")
        return steps.pop() if steps else 60_000

    def _bars_at(self, symbol: str, step: int) -> _Bars:
        key = (symbol, step)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        frame = self._bars.get(symbol)
        if frame is None:
            frame = pd.DataFrame({c: [] for c in ("open", "high", "low", "close", "volume")},
                                 index=pd.DatetimeIndex([], tz="UTC"), dtype=np.float64)
        elif step != self._base_ms:
            frame = _aggregate(frame, step)
        bars = _Bars.from_frame(frame)
        with self._lock:
            self._cache[key] = bars
        return bars


def _aggregate(frame: pd.DataFrame, step_ms: int) -> pd.DataFrame:
    """Aggregate bars to ``step_ms`` bars on Binance's grid (weeks open on Monday), skipping empty bins."""
    ms = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // 1_000_000
    origin = _MONDAY_MS if step_ms == BINANCE_INTERVALS["1w"] else 0
    bins = (ms - origin) // step_ms * step_ms + origin
    columns = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    if "quote_volume" in frame.columns:
        columns["quote_volume"] = "sum"
    if "trades" in frame.columns:
        columns["trades"] = "sum"
    grouped = frame[list(columns)].groupby(bins, sort=True).agg(columns)
    grouped.index = pd.to_datetime(grouped.index.to_numpy(), unit="ms", utc=True)
    return grouped


def make_client(server: BinanceServer, **config: Any) -> ccxt.binance:
    """Return the real ccxt ``binance`` client, spot markets only, talking to ``server``.

    ``load_markets`` makes one request (``exchangeInfo``). ccxt's rate limiter is on, with a 1 ms interval by
    default so tests stay fast; ``config`` entries override any setting (``rateLimit=50`` for Binance's own).
    """
    client = ccxt.binance(_client_settings(config))
    _point_rest_at(client, server)
    return client


def _client_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ccxt settings for a loopback server: spot only, one request to load markets, ``config`` on top."""
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "rateLimit": 1,
        "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False},
    }
    settings.update(config)
    return settings


def _point_rest_at(client: Any, server: BinanceServer) -> None:
    """Point a ccxt binance client's REST APIs at ``server``."""
    root = server.url
    api = client.urls["api"]
    api["public"] = api["private"] = f"{root}/api/v3"
    api["v1"] = f"{root}/api/v1"
    api["sapi"] = f"{root}/sapi/v1"
