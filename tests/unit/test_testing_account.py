"""The loopback Binance server as a trading counterparty, driven by the real ccxt.pro client.

Routes, matching on the server's market, exact balances, the ws-api user stream seen by ``watch_orders`` and
``watch_my_trades``, and each order and stream fault as ccxt raises it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import numpy as np
import pandas as pd
import pytest

from engine.testing.binance_live import LiveBinanceServer, make_pro_client
from tests.integration.live_kit import wait_until

WAIT = 20.0  # seconds to wait for something that must happen (generous: a loaded 2-core machine)
QUIET = 1.0  # seconds of silence that show a stream is dead (it would deliver within milliseconds)
KEY, SECRET = "test-key", "test-secret"
LIVE_FROM = 10  # the forming bar opens at 50_100 (high 50_107, low 50_097); the next opens at 50_110
D = Decimal


def make_frame(n: int = 40, start: float = 50_000.0) -> pd.DataFrame:
    """Return n one-minute bars: open start + 10 i, high open + 7, low open - 3, close open + 5."""
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    opens = start + np.arange(n) * 10.0
    return pd.DataFrame({"open": opens, "high": opens + 7, "low": opens - 3, "close": opens + 5,
                         "volume": np.arange(n) + 1.0}, index=index)


@pytest.fixture
def server() -> Iterator[LiveBinanceServer]:
    live = LiveBinanceServer({"BTC/USDT": make_frame(), "ETH/USDT": make_frame(start=3_000.0)},
                             live_from=LIVE_FROM, credentials=(KEY, SECRET), balances={"USDT": 10_000.0},
                             taker_fee=0.001, maker_fee=0.0005).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def client(server: LiveBinanceServer) -> AsyncIterator[Any]:
    pro = make_pro_client(server)
    try:
        await asyncio.wait_for(pro.load_markets(), WAIT)
        yield pro
    finally:
        await pro.close()



async def subscribed(server: LiveBinanceServer, client: Any) -> None:
    """Open the client's user-data stream and wait for the server to have its subscription."""
    task = asyncio.ensure_future(client.watch_orders())
    await server.wait_for_user_stream(timeout=WAIT)
    task.cancel()


async def watched(client: Any, watch: str, message_hash: str, action: Callable[[], Awaitable[Any]]) -> Any:
    """Start ``client.<watch>("BTC/USDT")``, run ``action`` once the watch waits, return what the watch returns."""
    task = asyncio.ensure_future(getattr(client, watch)("BTC/USDT"))
    url = client.urls["api"]["ws"]["ws-api"]["spot"]
    await wait_until(lambda: message_hash in client.clients[url].futures, f"{watch} to wait")
    await action()
    return await asyncio.wait_for(task, WAIT)


async def signed(server: LiveBinanceServer, method: str, path: str, params: dict[str, Any], *,
                 key: str = KEY, secret: str = SECRET, stamp: int | None = None) -> tuple[int, Any]:
    """Send a signed request as Binance's docs describe it (body for POST, query otherwise); return status, JSON."""
    query = urlencode({**params, "timestamp": stamp or int(time.time() * 1000), "recvWindow": 10_000})
    text = f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"
    url = f"{server.url}{path}"
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession() as session:
        request = (session.post(url, data=text, headers=headers) if method == "POST"
                   else session.request(method, f"{url}?{text}", headers=headers))
        async with request as response:
            return response.status, await response.json()


def balances(server: LiveBinanceServer) -> dict[str, Decimal]:
    return {asset: amount for asset, amount in server.account_balances().items() if amount}


# -- matching and balances --------------------------------------------------------------------------------------
async def test_market_orders_fill_at_the_forming_open_as_taker_with_exact_balances(server: LiveBinanceServer,
                                                                                   client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", 0.01)
    assert (order["status"], order["average"], order["filled"]) == ("closed", 50_100.0, 0.01)
    assert order["fee"] == {"currency": "USDT", "cost": pytest.approx(0.501)}
    assert balances(server) == {"USDT": D("10000") - D("501") - D("0.501"), "BTC": D("0.01")}
    server.advance()  # the next bar opens at 50_110
    order = await client.create_order("BTC/USDT", "market", "sell", 0.01)
    assert order["average"] == 50_110.0
    assert balances(server) == {"USDT": D("9498.499") + D("501.1") - D("0.5011")}
    total = (await client.fetch_balance())["total"]
    assert total["USDT"] == pytest.approx(float(D("9498.499") + D("501.1") - D("0.5011")))
    assert server.orders_placed.total() == 2


async def test_a_marketable_limit_fills_at_the_price_now_never_worse_than_its_limit(server: LiveBinanceServer,
                                                                                   client: Any) -> None:
    buy = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_200)
    assert (buy["status"], buy["average"]) == ("closed", 50_100.0)
    sell = await client.create_order("BTC/USDT", "limit", "sell", 0.01, 50_000)
    assert (sell["status"], sell["average"]) == ("closed", 50_100.0)
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["side"], t["takerOrMaker"], t["price"]) for t in trades] == [("buy", "taker", 50_100.0),
                                                                             ("sell", "taker", 50_100.0)]
    assert balances(server) == {"USDT": D("10000") - 2 * D("0.501")}


async def test_a_resting_limit_locks_funds_and_fills_at_its_limit_as_maker(server: LiveBinanceServer,
                                                                          client: Any) -> None:
    filled = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_098)  # bar low 50_097 < 50_098
    waiting = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_097)  # not traded through
    assert filled["status"] == waiting["status"] == "open"
    locked = D("500.98") + D("0.25049") + D("500.97") + D("0.250485")  # notional + maker fee of each
    assert server.account.balances()["USDT"] == (D("10000") - locked, locked)
    usdt = (await client.fetch_balance())["USDT"]
    assert (usdt["free"], usdt["used"]) == (pytest.approx(float(D("10000") - locked)), pytest.approx(float(locked)))
    assert {o["id"] for o in await client.fetch_open_orders("BTC/USDT")} == {filled["id"], waiting["id"]}
    server.advance()
    done = await client.fetch_order(filled["id"], "BTC/USDT")
    assert (done["status"], done["average"], done["filled"]) == ("closed", 50_098.0, 0.01)
    (trade,) = await client.fetch_my_trades("BTC/USDT")
    assert (trade["takerOrMaker"], trade["fee"]["cost"]) == ("maker", pytest.approx(0.25049))
    assert [o["id"] for o in await client.fetch_open_orders("BTC/USDT")] == [waiting["id"]]
    canceled = await client.cancel_order(waiting["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert (await client.fetch_order(waiting["id"], "BTC/USDT"))["status"] == "canceled"
    assert server.account.balances()["USDT"] == (D("10000") - D("500.98") - D("0.25049"), D(0))
    assert balances(server)["BTC"] == D("0.01")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await client.cancel_order(waiting["id"], "BTC/USDT")


async def test_a_resting_sell_fills_when_a_bar_trades_above_it(server: LiveBinanceServer, client: Any) -> None:
    await client.create_order("BTC/USDT", "market", "buy", 0.02)
    sell = await client.create_order("BTC/USDT", "limit", "sell", 0.02, 50_106)  # bar high 50_107 > 50_106
    assert server.account.balances()["BTC"] == (D(0), D("0.02"))
    server.advance()
    assert (await client.fetch_order(sell["id"], "BTC/USDT"))["status"] == "closed"
    proceeds = D("1002.12") - D("0.50106")  # 0.02 * 50_106 less the maker fee
    assert balances(server) == {"USDT": D("10000") - D("1002") - D("1.002") + proceeds}


async def test_ioc_and_fok_that_cannot_fill_now_expire(server: LiveBinanceServer, client: Any) -> None:
    ioc = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_000, params={"timeInForce": "IOC"})
    fok = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_000, params={"timeInForce": "FOK"})
    assert ioc["status"] == fok["status"] == "expired"
    filled = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_100, params={"timeInForce": "IOC"})
    assert filled["status"] == "closed"
    assert await client.fetch_open_orders("BTC/USDT") == []
    assert server.orders_placed.total() == 3


async def test_queries_by_client_id_and_my_trades_params(server: LiveBinanceServer, client: Any) -> None:
    first = await client.create_order("BTC/USDT", "market", "buy", 0.001, params={"clientOrderId": "one"})
    server.advance()
    second = await client.create_order("BTC/USDT", "market", "buy", 0.001, params={"clientOrderId": "two"})
    await client.create_order("ETH/USDT", "market", "buy", 0.01)
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "two"})
    assert (found["id"], found["clientOrderId"], found["status"]) == (second["id"], "two", "closed")
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "three"})
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [t["order"] for t in trades] == [first["id"], second["id"]]
    assert [t["order"] for t in await client.fetch_my_trades("BTC/USDT", since=server.now_ms)] == [second["id"]]
    assert [t["order"] for t in await client.fetch_my_trades("BTC/USDT", limit=1)] == [second["id"]]
    by_order = await client.fetch_my_trades("BTC/USDT", params={"orderId": first["id"]})
    assert [t["order"] for t in by_order] == [first["id"]]
    from_id = await client.fetch_my_trades("BTC/USDT", params={"fromId": trades[1]["id"]})
    assert [t["id"] for t in from_id] == [trades[1]["id"]]
    status, raw = await signed(server, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
    assert status == 200 and set(raw[0]) >= {"id", "orderId", "price", "qty", "quoteQty", "commission",
                                             "commissionAsset", "time", "isBuyer", "isMaker", "isBestMatch"}


# -- client order ids ---------------------------------------------------------------------------------------------
async def test_a_client_id_is_refused_while_open_and_accepted_again_once_filled(server: LiveBinanceServer,
                                                                                client: Any) -> None:
    await client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "retry-1"})
    again = await client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "retry-1"})
    assert again["status"] == "closed"  # a blind retry of a filled order doubles it, as on Binance
    assert server.orders_placed["retry-1"] == 2
    assert balances(server)["BTC"] == D("0.02")
    latest = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "retry-1"})
    assert latest["id"] == again["id"]  # the latest order with that id
    resting = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, params={"clientOrderId": "rest"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, params={"clientOrderId": "rest"})
    await client.cancel_order(resting["id"], "BTC/USDT")
    await client.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000, params={"clientOrderId": "rest"})
    assert server.orders_placed["rest"] == 2


# -- checks as Binance makes them --------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "status", "code", "msg"), [
    ({"type": "LIMIT", "quantity": "0.01", "price": "50000.001", "timeInForce": "GTC"}, 400, -1013,
     "Filter failure: PRICE_FILTER"),
    ({"type": "LIMIT", "quantity": "0.000011", "price": "50000", "timeInForce": "GTC"}, 400, -1013,
     "Filter failure: LOT_SIZE"),
    ({"type": "MARKET", "quantity": "0.00009"}, 400, -1013, "Filter failure: NOTIONAL"),
    ({"type": "MARKET", "quantity": "1"}, 400, -2010, "Account has insufficient balance for requested action."),
    ({"type": "LIMIT", "quantity": "0.01", "price": "50000"}, 400, -1102,
     "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
    ({"type": "MARKET", "quantity": "0.01", "newClientOrderId": "bad id!"}, 400, -1100, "Illegal characters"),
])
async def test_new_orders_are_checked_as_binance_checks_them(server: LiveBinanceServer, params: dict[str, str],
                                                             status: int, code: int, msg: str) -> None:
    answer = await signed(server, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", **params})
    assert answer[0] == status and answer[1]["code"] == code and answer[1]["msg"].startswith(msg)
    assert server.orders_placed.total() == 0


async def test_signed_routes_refuse_a_wrong_key_a_bad_signature_and_a_stale_timestamp(
        server: LiveBinanceServer) -> None:
    assert await signed(server, "GET", "/api/v3/account", {}, key="other") == (
        401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    assert await signed(server, "GET", "/api/v3/openOrders", {}, secret="other") == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."})
    status, answer = await signed(server, "GET", "/api/v3/account", {}, stamp=int(time.time() * 1000) - 60_000)
    assert (status, answer["code"]) == (400, -1021)
    status, answer = await signed(server, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 7})
    assert (status, answer["code"]) == (400, -2011)
    status, answer = await signed(server, "GET", "/api/v3/order", {"symbol": "NOPE", "orderId": 7})
    assert (status, answer["code"]) == (400, -1121)
    status, answer = await signed(server, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY",
                                                                      "type": "MARKET", "quantity": "0.001",
                                                                      "newOrderRespType": "ACK"})
    assert status == 200 and set(answer) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert answer["clientOrderId"].startswith("x-")


async def test_a_client_with_wrong_credentials_gets_authentication_errors(server: LiveBinanceServer) -> None:
    intruder = make_pro_client(server, apiKey=KEY, secret="guess")
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await intruder.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError):
            await intruder.create_order("BTC/USDT", "market", "buy", 0.001)
        # ccxt 4.5.90 deletes the refused subscription twice: a bare KeyError, not its AuthenticationError.
        with pytest.raises(KeyError, match="spot"):
            await asyncio.wait_for(intruder.watch_orders(), WAIT)
    finally:
        await intruder.close()
    assert server.orders_placed.total() == 0


# -- the user-data stream ----------------------------------------------------------------------------------------
async def test_watch_orders_and_watch_my_trades_see_every_report(server: LiveBinanceServer, client: Any) -> None:
    await subscribed(server, client)
    place = lambda: client.create_order("BTC/USDT", "limit", "buy", 0.01, 50_098)  # noqa: E731
    (opened,) = await watched(client, "watch_orders", "orders:BTC/USDT", place)
    assert (opened["status"], opened["filled"], opened["price"]) == ("open", 0.0, 50_098.0)
    trades = await watched(client, "watch_my_trades", "myTrades:BTC/USDT", lambda: asyncio.to_thread(server.advance))
    assert [(t["order"], t["price"], t["amount"], t["takerOrMaker"]) for t in trades] == [
        (opened["id"], 50_098.0, 0.01, "maker")]
    assert trades[0]["fee"] == {"currency": "USDT", "cost": pytest.approx(0.25049)}
    await wait_until(lambda: client.orders.hashmap["BTC/USDT"][opened["id"]]["status"] == "closed", "the fill")
    resting = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 40_000)
    cancel = lambda: client.cancel_order(resting["id"], "BTC/USDT")  # noqa: E731
    orders = await watched(client, "watch_orders", "orders:BTC/USDT", cancel)
    assert ("canceled", resting["clientOrderId"]) in [(o["status"], o["clientOrderId"]) for o in orders]
    free = float(D("10000") - D("500.98") - D("0.25049"))
    pushed = lambda: client.balance["spot"]["USDT"]  # noqa: E731 (ccxt's cache of outboundAccountPosition)
    await wait_until(lambda: (pushed()["free"], pushed()["used"]) == (pytest.approx(free), 0), "the balance")


async def test_raw_user_stream_messages(server: LiveBinanceServer, client: Any) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws-api/v3"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        params = {"apiKey": KEY, "recvWindow": 10_000, "timestamp": int(time.time() * 1000)}
        query = "&".join(f"{k}={params[k]}" for k in sorted(params))
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        await ws.send_json({"id": "7", "method": "userDataStream.subscribe.signature",
                            "params": {**params, "signature": "0" * 64}})
        refused = await ws.receive_json(timeout=WAIT)
        assert (refused["status"], refused["error"]["code"]) == (400, -1022)
        await ws.send_json({"id": "8", "method": "order.place", "params": {}})
        assert (await ws.receive_json(timeout=WAIT))["error"]["code"] == -1020
        await ws.send_json({"id": "9", "method": "userDataStream.subscribe.signature",
                            "params": {**params, "signature": signature}})
        assert await ws.receive_json(timeout=WAIT) == {"id": "9", "status": 200, "result": {"subscriptionId": 0}}
        order = await client.create_order("BTC/USDT", "market", "buy", 0.01)
        messages = [await ws.receive_json(timeout=WAIT) for _ in range(3)]
    assert all(m["subscriptionId"] == 0 for m in messages)
    new, trade, position = (m["event"] for m in messages)
    assert (new["e"], new["x"], new["X"], new["i"], new["c"]) == ("executionReport", "NEW", "NEW", int(order["id"]),
                                                                  order["clientOrderId"])
    assert (trade["x"], trade["X"], trade["l"], trade["L"], trade["n"], trade["N"], trade["t"], trade["m"]) == (
        "TRADE", "FILLED", "0.01000000", "50100.00000000", "0.50100000", "USDT", 1, False)
    assert set(trade) >= {"E", "s", "S", "o", "f", "q", "p", "P", "z", "T", "w", "O", "Z", "Y", "Q"}
    assert position["e"] == "outboundAccountPosition" and {b["a"]: b["f"] for b in position["B"]} == {
        "BTC": "0.01000000", "USDT": "9498.49900000"}


# -- order faults -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "error", "placed"), [
    ("insufficient", ccxt.InsufficientFunds, 0),
    ("rate_limit", ccxt.DDoSProtection, 0),
    ("unknown_status", ccxt.RequestTimeout, 1),
    ("lost_answer", ccxt.ExchangeNotAvailable, 1),
    ("timeout", ccxt.RequestTimeout, 1),
])
async def test_order_faults_as_ccxt_raises_them(server: LiveBinanceServer, client: Any, kind: str,
                                                error: type[Exception], placed: int) -> None:
    server.fail_next_order(kind, delay=60)
    if kind == "timeout":
        client.timeout = 1_000  # ms: the fault answers after 60 s
    with pytest.raises(error):
        await client.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": f"cid-{kind}"})
    client.timeout = 10_000
    assert server.account_faults_served[kind] == 1
    assert server.orders_placed[f"cid-{kind}"] == placed
    if placed:  # the ambiguous outcome: the order exists, filled; the lookup by client id tells
        found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": f"cid-{kind}"})
        assert found["status"] == "closed"
    else:
        with pytest.raises(ccxt.OrderNotFound):
            await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": f"cid-{kind}"})
    assert (await client.create_order("BTC/USDT", "market", "buy", 0.01))["status"] == "closed"  # served once


async def test_a_fault_that_places_waits_for_an_order_the_account_accepts(server: LiveBinanceServer,
                                                                         client: Any) -> None:
    server.fail_next_order("unknown_status")
    with pytest.raises(ccxt.InsufficientFunds):  # refused by the account: the fault is not spent on it
        await client.create_order("BTC/USDT", "market", "buy", 1)
    with pytest.raises(ccxt.RequestTimeout):
        await client.create_order("BTC/USDT", "market", "buy", 0.01)
    assert server.orders_placed.total() == 1 and server.account_faults_served["unknown_status"] == 1


def test_unknown_faults_are_refused(server: LiveBinanceServer) -> None:
    with pytest.raises(ValueError, match="kind"):
        server.fail_next_order("boom")
    with pytest.raises(ValueError, match="kind"):
        server.user_stream_fault("boom")


# -- user-stream faults -------------------------------------------------------------------------------------------
async def test_a_duplicated_trade_report_counts_the_fee_twice(server: LiveBinanceServer, client: Any) -> None:
    await subscribed(server, client)
    server.user_stream_fault("duplicate")
    place = lambda: client.create_order("BTC/USDT", "market", "buy", 0.01)  # noqa: E731
    (trade,) = await watched(client, "watch_my_trades", "myTrades:BTC/USDT", place)
    await wait_until(lambda: server.account_faults_served["duplicate"] == 1, "the fault")
    # Each copy resolves watch_my_trades (a watch waiting when the copy arrives returns the trade again); ccxt's
    # trade cache keeps one trade per id, but its cached order adds the copy's fee to its own.
    cached = lambda: client.orders.hashmap["BTC/USDT"][trade["order"]]  # noqa: E731
    await wait_until(lambda: cached()["fee"]["cost"] == pytest.approx(2 * 0.501), "the fee counted twice")
    assert [t["id"] for t in client.myTrades] == [trade["id"]]


async def test_a_stale_new_after_filled_sets_the_order_back_to_open(server: LiveBinanceServer, client: Any) -> None:
    await subscribed(server, client)
    server.user_stream_fault("regress")
    order = await client.create_order("BTC/USDT", "market", "buy", 0.01)
    # ccxt makes its cache of orders with the first report it reads: None until then (the fault is counted when
    # the server sends the reports, which a loaded machine's client may not have read yet)
    cached = lambda: {} if client.orders is None else client.orders.hashmap.get("BTC/USDT", {}).get(  # noqa: E731
        order["id"], {})
    await wait_until(lambda: server.account_faults_served["regress"] == 1, "the fault")
    await wait_until(lambda: cached().get("status") == "open", "the stale NEW")
    assert (await client.fetch_order(order["id"], "BTC/USDT"))["status"] == "closed"  # REST tells the truth


async def test_a_malformed_report_silently_ends_the_user_stream(server: LiveBinanceServer, client: Any) -> None:
    await subscribed(server, client)
    server.user_stream_fault("malformed")
    task = asyncio.ensure_future(client.watch_orders("BTC/USDT"))
    await client.create_order("BTC/USDT", "market", "buy", 0.01)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(task, QUIET)
    await client.create_order("BTC/USDT", "market", "buy", 0.01)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.watch_orders("BTC/USDT"), QUIET)
    assert server.account_faults_served["malformed"] == 1
    await client.close()  # a watchdog's recovery: a new connection and subscription
    await subscribed(server, client)
    placed: list[Any] = []

    async def place() -> None:
        placed.append(await client.create_order("BTC/USDT", "market", "buy", 0.01))

    (order,) = await watched(client, "watch_orders", "orders:BTC/USDT", place)
    assert order["id"] == placed[0]["id"] and server.user_stream_connections == 2
    # ccxt updates the order dict it returned in place: NEW first, then TRADE.
    await wait_until(lambda: order["status"] == "closed", "the fill report")


async def waiting(client: Any, watch: Any, key: str) -> asyncio.Future[Any]:
    """Start ``watch`` on the user stream and return it once ccxt waits on ``key`` (a report would reach it)."""
    task = asyncio.ensure_future(watch("BTC/USDT"))
    url = client.urls["api"]["ws"]["ws-api"]["spot"]
    await wait_until(lambda: key in client.clients[url].futures, f"{key} to wait")
    return task


async def test_a_dropped_user_stream_raises_network_error_and_resubscribes(server: LiveBinanceServer,
                                                                          client: Any) -> None:
    await subscribed(server, client)
    task = await waiting(client, client.watch_orders, "orders:BTC/USDT")
    server.user_stream_fault("drop")
    with pytest.raises(ccxt.NetworkError, match="1006"):
        await asyncio.wait_for(task, WAIT)
    missed = await client.create_order("BTC/USDT", "market", "buy", 0.01)  # nobody listens: nothing is replayed
    await subscribed(server, client)
    orders = await watched(client, "watch_orders", "orders:BTC/USDT",
                           lambda: client.create_order("BTC/USDT", "market", "buy", 0.01))
    assert missed["id"] not in [o["id"] for o in orders]
    assert server.user_stream_connections == 2 and server.account_faults_served["drop"] == 1


async def test_a_lost_trade_report_breaks_the_user_stream_as_the_order_fills(server: LiveBinanceServer,
                                                                           client: Any) -> None:
    await subscribed(server, client)
    trades = await waiting(client, client.watch_my_trades, "myTrades:BTC/USDT")
    server.user_stream_fault("lost")
    order = await client.create_order("BTC/USDT", "market", "buy", 0.01)  # the answer still has the fill (FULL)
    with pytest.raises(ccxt.NetworkError, match="1006"):  # the stream broke where the trade's report was due
        await asyncio.wait_for(trades, WAIT)
    (lost,) = server.user_reports_lost
    assert (lost["x"], lost["X"], lost["c"], str(lost["i"])) == ("TRADE", "FILLED", order["clientOrderId"],
                                                                order["id"])
    assert server.account_faults_served["lost"] == 1 and server.account_faults_served["drop"] == 0
    # The order's NEW went before the stream broke; its fill never came: ccxt holds the order open, tradeless.
    assert client.orders.hashmap["BTC/USDT"][order["id"]]["status"] == "open" and not client.myTrades
    await subscribed(server, client)  # nothing is replayed to the new subscription; REST has the trade
    orders = await watched(client, "watch_orders", "orders:BTC/USDT",
                           lambda: client.create_order("BTC/USDT", "market", "buy", 0.01))
    assert order["id"] not in [o["id"] for o in orders if o["status"] == "closed"]  # still open, as far as ccxt knows
    assert str(lost["t"]) in [t["id"] for t in await client.fetch_my_trades("BTC/USDT")]
    assert server.user_stream_connections == 2 and len(server.user_reports_lost) == 1  # served once


async def test_a_server_without_credentials_refuses_the_account() -> None:
    with LiveBinanceServer({"BTC/USDT": make_frame()}, live_from=LIVE_FROM) as bare:
        pro = make_pro_client(bare, apiKey=KEY, secret=SECRET)
        try:
            with pytest.raises(ccxt.AuthenticationError):
                await pro.fetch_balance()
        finally:
            await pro.close()


def test_the_raw_answer_of_a_placed_order_is_binances_full_response() -> None:
    async def run(server: LiveBinanceServer) -> Any:
        return await signed(server, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                               "quantity": "0.01", "price": "50100",
                                                               "timeInForce": "GTC", "newClientOrderId": "full"})
    with LiveBinanceServer({"BTC/USDT": make_frame()}, live_from=LIVE_FROM, credentials=(KEY, SECRET),
                           balances={"USDT": 1_000}) as server:
        status, answer = asyncio.run(run(server))
    assert status == 200
    assert json.loads(json.dumps(answer)) == {
        "symbol": "BTCUSDT", "orderId": 1, "orderListId": -1, "clientOrderId": "full",
        "transactTime": server.now_ms, "price": "50100.00000000", "origQty": "0.01000000",
        "executedQty": "0.01000000", "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "501.00000000",
        "status": "FILLED", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY", "workingTime": server.now_ms,
        "selfTradePreventionMode": "NONE",
        "fills": [{"price": "50100.00000000", "qty": "0.01000000", "commission": "0.50100000",
                   "commissionAsset": "USDT", "tradeId": 1}]}
