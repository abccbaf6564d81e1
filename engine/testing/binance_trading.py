"""Binance's signed order routes and the ws-api user-data stream over an ``Account``, with order and stream faults.

``TradingDesk`` adds to the loopback server's aiohttp app, in Binance's spot protocol as ccxt 4.5.90 speaks it:

- ``POST /api/v3/order`` (MARKET, LIMIT GTC/IOC/FOK; ``newOrderRespType`` ACK/RESULT/FULL), ``DELETE`` and ``GET
  /api/v3/order`` (by ``orderId`` or ``origClientOrderId``), ``GET /api/v3/openOrders``, ``GET /api/v3/myTrades``
  and ``GET /api/v3/account``: signed (key in ``X-MBX-APIKEY``, hex HMAC-SHA256 of the query string or form body
  in ``signature``; -2015 HTTP 401 for a wrong key, -1022 HTTP 400 for a bad signature, -1021 for a
  ``timestamp`` more than ``recvWindow`` ms behind the wall clock or 1 s ahead of it);
- ``/ws-api/v3``: the user-data stream (``engine.testing.binance_user_stream``), whose subscription it checks.

Order faults (``fail_next_order``), each served once to the next ``POST /api/v3/order``, and what ccxt.pro
4.5.90's binance raises for each (checked by tests/unit/test_testing_account.py):

- ``insufficient``: answers -2010 "Account has insufficient balance..." (no order) -> ``InsufficientFunds``;
- ``rate_limit``: answers HTTP 429 -1003 with ``Retry-After: 1`` (no order) -> ``DDoSProtection``;
- ``unknown_status``: places the order, answers HTTP 503 -1007 "... execution status unknown." ->
  ``RequestTimeout``;
- ``lost_answer``: places the order, closes the connection before answering -> ``ExchangeNotAvailable``;
- ``timeout``: places the order, answers after ``delay`` s (set ccxt's ``timeout`` below it) -> ``RequestTimeout``;
- ``hold``: places the order and says nothing of it for ``delay`` s, neither the answer nor the user-stream
  reports (then both): a process killed meanwhile sent an order it never heard of.

``DDoSProtection``, ``RequestTimeout`` and ``ExchangeNotAvailable`` are ``NetworkError`` subclasses; after the last
three the order exists at the server and a blind retry with the same client id is accepted again once it is
filled (a second order): look it up by ``origClientOrderId`` first.

User-stream faults are ``engine.testing.binance_user_stream``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from engine.testing.binance_account import Account, AccountError, Order, OrderRequest, Outcome, fmt
from engine.testing.binance_user_stream import UserStream

__all__ = ["ORDER_FAULTS", "TradingDesk", "TradingServer"]

ORDER_FAULTS = ("insufficient", "rate_limit", "unknown_status", "lost_answer", "timeout", "hold")
_T = TypeVar("_T")
_WAIT = 20.0
_Handler = Callable[[web.Request], Awaitable[web.Response]]


def _bad(code: int, msg: str) -> AccountError:
    return AccountError(400, code, msg)


def _mandatory(name: str) -> AccountError:
    return _bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass(frozen=True)
class _OrderFault:
    kind: str
    delay: float


class TradingDesk:
    """The account's routes on ``app`` (signed REST and the ws-api user stream) and their faults.

    Parameters
    ----------
    app
        The server's aiohttp application (routes are added to it; ``/api/v3/account`` is answered by ``account``,
        which the server routes).
    account
        The account the routes trade on.
    market_ids
        Binance symbol id -> unified symbol, for every tradable symbol.
    credentials
        ``(api_key, secret)`` accepted; None refuses every signed request (-2015).
    price
        Unified symbol -> its price now (the forming bar's open).
    clock
        The server time in ms (order and trade times).
    """

    def __init__(self, app: web.Application, account: Account, market_ids: Mapping[str, str], *,
                 credentials: tuple[str, str] | None, price: Callable[[str], float],
                 clock: Callable[[], int], order_latency: float = 0.0) -> None:
        self.account = account
        self.order_latency = order_latency  # seconds between an order's arrival and its matching
        self._market_ids = dict(market_ids)
        self._credentials = credentials
        self._price, self._clock = price, clock
        self._lock = threading.Lock()
        self._order_faults: list[_OrderFault] = []
        self._stopping = asyncio.Event()
        self.faults_served: Counter[str] = Counter()
        self.stream = UserStream(self._check_subscription)
        for method, handler in (("POST", self._new_order), ("DELETE", self._cancel_order),
                                ("GET", self._query_order)):
            app.router.add_route(method, "/api/v3/order", self._guard(handler))
        app.router.add_get("/api/v3/openOrders", self._guard(self._open_orders))
        app.router.add_get("/api/v3/myTrades", self._guard(self._my_trades))
        app.router.add_get("/ws-api/v3", self.stream.handle)
        self.account_route = self._guard(self._account)

    # -- faults and state (any thread) ------------------------------------------------------------------------
    def fail_next_order(self, kind: str, delay: float) -> None:
        """Plan ``kind`` for the next ``POST /api/v3/order`` (one the account accepts, for the kinds that place it)."""
        if kind not in ORDER_FAULTS:
            raise ValueError(f"kind must be one of {', '.join(ORDER_FAULTS)}, got {kind!r}")
        with self._lock:
            self._order_faults.append(_OrderFault(kind, delay))

    # -- on the server loop -----------------------------------------------------------------------------------
    async def bar_closed(self, ranges: Mapping[str, tuple[float, float]], now_ms: int) -> None:
        """Fill the resting orders that the closed bars (symbol -> (high, low)) traded through; push their reports."""
        for symbol, (high, low) in ranges.items():
            for outcome in self.account.bar_closed(symbol, high, low, now_ms):
                await self.stream.push(outcome.events)

    async def shutdown(self) -> None:
        """End delayed answers and user sockets, for the server's stop."""
        self._stopping.set()
        self.stream.close(fault=False)

    # -- signed REST ------------------------------------------------------------------------------------------
    def _guard(self, handler: Callable[[web.Request, dict[str, str]], Awaitable[web.Response]]) -> _Handler:
        async def guarded(request: web.Request) -> web.Response:
            try:
                return await handler(request, await self._signed(request))
            except AccountError as e:
                return web.json_response({"code": e.code, "msg": e.msg}, status=e.status)
        return guarded

    async def _signed(self, request: web.Request) -> dict[str, str]:
        """Return the parameters of a signed request, or raise Binance's error for its key, signature or time."""
        if self._credentials is None or request.headers.get("X-MBX-APIKEY") != self._credentials[0]:
            raise AccountError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        body = await request.text() if request.can_read_body else ""
        payload, sep, signature = (request.query_string + body).rpartition("&signature=")
        if not sep or not self._verify(payload, signature):
            raise _bad(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        params.pop("signature", None)
        self._check_time(params)
        return params

    def _verify(self, payload: str, signature: str) -> bool:
        assert self._credentials is not None
        expected = hmac.new(self._credentials[1].encode(), payload.encode(), hashlib.sha256).hexdigest()
        return bool(payload) and hmac.compare_digest(signature, expected)

    @staticmethod
    def _check_time(params: Mapping[str, Any]) -> None:
        """Refuse a request stamped outside its ``recvWindow`` of the wall clock (Binance's -1021), loosely."""
        try:
            stamp, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
        except (KeyError, ValueError):
            raise _mandatory("timestamp") from None
        now = time.time() * 1000
        if stamp > now + 1000 or now - stamp > window:
            raise _bad(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _check_subscription(self, params: Mapping[str, Any]) -> None:
        """Check a user-data subscription's key, signature (of its sorted params) and time."""
        if self._credentials is None or params.get("apiKey") != self._credentials[0]:
            raise AccountError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        if not self._verify(payload, str(params.get("signature", ""))):
            raise _bad(-1022, "Signature for this request is not valid.")
        self._check_time(params)

    def _symbol(self, params: Mapping[str, str], required: bool = True) -> str | None:
        market_id = params.get("symbol")
        if not market_id:
            if required:
                raise _mandatory("symbol")
            return None
        if market_id not in self._market_ids:
            raise _bad(-1121, "Invalid symbol.")
        return self._market_ids[market_id]

    async def _account(self, request: web.Request, params: dict[str, str]) -> web.Response:
        taker, maker = self.account.taker_fee, self.account.maker_fee
        zero = fmt(Decimal(0))
        return web.json_response({
            "makerCommission": int(maker * 10_000), "takerCommission": int(taker * 10_000), "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": fmt(maker), "taker": fmt(taker), "buyer": zero, "seller": zero},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.account.update_time,
            "accountType": "SPOT", "permissions": ["SPOT"], "uid": 1,
            "balances": [{"asset": a, "free": fmt(free), "locked": fmt(locked)}
                         for a, (free, locked) in self.account.balances().items()],
        })

    async def _new_order(self, request: web.Request, params: dict[str, str]) -> web.Response:
        order_request = self._order_request(params)
        answer = params.get("newOrderRespType", "FULL")
        if answer not in ("ACK", "RESULT", "FULL"):
            raise _bad(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        fault = self._take_order_fault("insufficient", "rate_limit")
        if fault is not None and fault.kind == "insufficient":
            raise _bad(-2010, "Account has insufficient balance for requested action.")
        if fault is not None and fault.kind == "rate_limit":
            return web.json_response(
                {"code": -1003, "msg": "Too many requests; current limit of IP is 6000 request weight per 1 MINUTE."},
                status=429, headers={"Retry-After": "1"})
        if self.order_latency:  # the market may move meanwhile, as it does at a busy exchange
            await asyncio.sleep(self.order_latency)
        outcome = self.account.place(order_request, self._price(order_request.symbol), self._clock())
        fault = self._take_order_fault("unknown_status", "lost_answer", "timeout", "hold")  # once it is placed
        if fault is not None and fault.kind == "hold":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
        await self.stream.push(outcome.events)
        if fault is not None and fault.kind == "unknown_status":
            return web.json_response({"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                      "Send status unknown; execution status unknown."}, status=503)
        if fault is not None and fault.kind == "lost_answer":
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # end the handler without aiohttp writing an answer
        if fault is not None and fault.kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
        return web.json_response(_placed(outcome, answer))

    def _order_request(self, params: Mapping[str, str]) -> OrderRequest:
        symbol = self._symbol(params)
        assert symbol is not None
        side, kind = params.get("side", ""), params.get("type", "")
        if side not in ("BUY", "SELL"):
            raise _mandatory("side") if not side else _bad(-1117, "Invalid side.")
        if kind not in ("MARKET", "LIMIT"):
            raise _mandatory("type") if not kind else _bad(-1116, "Invalid orderType.")
        quantity = _amount(params, "quantity")
        if kind == "MARKET":
            for name in ("price", "timeInForce"):
                if name in params:
                    raise _bad(-1106, f"Parameter '{name}' sent when not required.")
            price, tif = None, "GTC"
        else:
            price, tif = _amount(params, "price"), params.get("timeInForce", "")
            if tif not in ("GTC", "IOC", "FOK"):
                raise _mandatory("timeInForce") if not tif else _bad(-1115, "Invalid timeInForce.")
        return OrderRequest(symbol, side, kind, quantity, price, tif, params.get("newClientOrderId") or None)

    def _take_order_fault(self, *kinds: str) -> _OrderFault | None:
        """Serve the next planned fault if it is one of ``kinds`` (a refused order leaves it for the next one)."""
        with self._lock:
            if not self._order_faults or self._order_faults[0].kind not in kinds:
                return None
            fault = self._order_faults.pop(0)
            self.faults_served[fault.kind] += 1
            return fault

    def _find(self, params: Mapping[str, str], missing: AccountError) -> Order:
        symbol = self._symbol(params)
        assert symbol is not None
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise _bad(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order_id is not None and not order_id.isdigit():
            raise _bad(-1100, "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.")
        order = self.account.find(symbol, None if order_id is None else int(order_id), client_id)
        if order is None:
            raise missing
        return order

    async def _query_order(self, request: web.Request, params: dict[str, str]) -> web.Response:
        return web.json_response(_order_state(self._find(params, _bad(-2013, "Order does not exist."))))

    async def _cancel_order(self, request: web.Request, params: dict[str, str]) -> web.Response:
        order = self._find(params, _bad(-2011, "Unknown order sent."))
        now = self._clock()
        cancel_id = params.get("newClientOrderId") or f"x-cancel{order.order_id}"
        outcome = self.account.cancel(order.symbol, order.order_id, None, cancel_id, now)
        await self.stream.push(outcome.events)
        state = _order_state(order)
        for name in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime"):
            state.pop(name)
        return web.json_response({**state, "origClientOrderId": order.client_id, "clientOrderId": cancel_id,
                                  "transactTime": now})

    async def _open_orders(self, request: web.Request, params: dict[str, str]) -> web.Response:
        return web.json_response([_order_state(o) for o in self.account.open_orders(self._symbol(params, False))])

    async def _my_trades(self, request: web.Request, params: dict[str, str]) -> web.Response:
        symbol = self._symbol(params)
        assert symbol is not None
        number = {name: _integer(params, name) for name in ("orderId", "startTime", "endTime", "fromId", "limit")}
        limit = number["limit"] or 500
        if not 1 <= limit <= 1000:
            raise _bad(-1130, "Data sent for parameter 'limit' is not valid.")
        fills = [f for f in self.account.fills(symbol)
                 if number["orderId"] in (None, f.order_id)
                 and (number["fromId"] is None or f.trade_id >= number["fromId"])
                 and (number["startTime"] is None or f.time >= number["startTime"])
                 and (number["endTime"] is None or f.time <= number["endTime"])]
        forward = number["fromId"] is not None or number["startTime"] is not None
        fills = fills[:limit] if forward else fills[-limit:]
        return web.json_response([
            {"symbol": f.market_id, "id": f.trade_id, "orderId": f.order_id, "orderListId": -1,
             "price": fmt(f.price), "qty": fmt(f.qty), "quoteQty": fmt(f.quote), "commission": fmt(f.commission),
             "commissionAsset": f.commission_asset, "time": f.time, "isBuyer": f.is_buyer, "isMaker": f.is_maker,
             "isBestMatch": True}
            for f in fills])


def _amount(params: Mapping[str, str], name: str) -> Decimal:
    text = params.get(name)
    if not text:
        raise _mandatory(name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _bad(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                          "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None
    if not value.is_finite() or value <= 0:
        raise _bad(-1013, f"Invalid {name}.")
    return value


def _integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise _bad(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)


def _order_state(order: Order) -> dict[str, Any]:
    """Return ``GET /api/v3/order``'s answer for ``order``."""
    return {
        "symbol": order.market_id, "orderId": order.order_id, "orderListId": -1, "clientOrderId": order.client_id,
        "price": fmt(order.price), "origQty": fmt(order.quantity), "executedQty": fmt(order.executed),
        "cummulativeQuoteQty": fmt(order.quote), "status": order.status, "timeInForce": order.time_in_force,
        "type": order.type, "side": order.side, "stopPrice": fmt(Decimal(0)), "icebergQty": fmt(Decimal(0)),
        "time": order.time, "updateTime": order.update_time, "isWorking": order.is_open,
        "workingTime": order.time, "origQuoteOrderQty": fmt(Decimal(0)), "selfTradePreventionMode": "NONE",
    }


def _placed(outcome: Outcome, answer: str) -> dict[str, Any]:
    """Return ``POST /api/v3/order``'s answer (ACK, RESULT or FULL) for a placed order."""
    order = outcome.order
    ack = {"symbol": order.market_id, "orderId": order.order_id, "orderListId": -1,
           "clientOrderId": order.client_id, "transactTime": order.time}
    if answer == "ACK":
        return ack
    state = _order_state(order)
    result = {**ack, **{k: state[k] for k in ("price", "origQty", "executedQty", "origQuoteOrderQty",
                                              "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
                                              "workingTime", "selfTradePreventionMode")}}
    if answer == "RESULT":
        return result
    return {**result, "fills": [{"price": fmt(f.price), "qty": fmt(f.qty), "commission": fmt(f.commission),
                                 "commissionAsset": f.commission_asset, "tradeId": f.trade_id}
                                for f in outcome.fills]}


class TradingServer:
    """The trading account's face on ``LiveBinanceServer`` (a mixin): faults, counters and balances for tests.

    The server sets ``_desk`` and provides ``_call`` (run a coroutine on its loop from the test's thread).
    """

    _desk: TradingDesk

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        raise NotImplementedError  # the server's

    def fail_next_order(self, kind: str, *, delay: float = 30.0) -> None:
        """Spoil the next ``POST /api/v3/order``: ``insufficient``, ``rate_limit``, ``unknown_status``,
        ``lost_answer``, ``timeout`` (answer after ``delay`` s) or ``hold`` (no answer nor report for ``delay`` s);
        see ``engine.testing.binance_trading``."""
        if not delay > 0:
            raise ValueError(f"delay must be positive, got {delay}")
        self._desk.fail_next_order(kind, delay)

    def user_stream_fault(self, kind: str) -> None:
        """Spoil the user-data stream: ``duplicate`` (the next TRADE report sent twice), ``regress`` (after the next
        FILLED report, that order's NEW again), ``malformed`` (the next report with wrong types), ``lost`` (the next
        TRADE report not sent, the user sockets closed at that moment: ``user_reports_lost`` keeps it) or ``drop``
        (close the user sockets now); see ``engine.testing.binance_user_stream``."""
        if kind == "drop":
            self._call(self._drop_user_stream())
        else:
            self._desk.stream.fault(kind)

    async def _drop_user_stream(self) -> None:
        self._desk.stream.close(fault=True)

    @property
    def account(self) -> Account:
        """Return the trading account (balances free and locked, open orders, fills)."""
        return self._desk.account

    @property
    def orders_placed(self) -> Counter[str]:
        """Return the count of orders the matching engine accepted, by client order id (``.total()``: all)."""
        return self._desk.account.placed_orders()

    def account_balances(self) -> dict[str, Decimal]:
        """Return asset -> free + locked, exact."""
        return {asset: free + locked for asset, (free, locked) in self._desk.account.balances().items()}

    @property
    def account_faults_served(self) -> Counter[str]:
        """Return the count of order and user-stream faults served, by kind."""
        return self._desk.faults_served + self._desk.stream.served

    @property
    def user_reports_lost(self) -> list[dict[str, Any]]:
        """Return the executionReports (TRADE) that ``lost`` faults withheld, oldest first: ``t`` is the trade id,
        ``c`` the order's client id."""
        return list(self._desk.stream.lost)

    @property
    def user_stream_connections(self) -> int:
        """Return how many user-data (ws-api) connections the server accepted."""
        return self._desk.stream.connections

    async def wait_for_user_stream(self, subscribed: int = 1, timeout: float = _WAIT) -> None:
        """Wait, on the caller's loop, until ``subscribed`` sockets have subscribed to the user-data stream.

        Place orders only after this when a watch must see their reports: nothing is replayed to a late subscriber.
        """
        deadline = time.monotonic() + timeout
        while self._desk.stream.subscribed < subscribed:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{subscribed} user-data subscription(s) not made within {timeout} s")
            await asyncio.sleep(0.01)

    async def _account(self, request: web.Request) -> web.Response:
        return await self._desk.account_route(request)
