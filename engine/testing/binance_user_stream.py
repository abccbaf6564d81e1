"""The user-data stream of the loopback Binance server: Binance's ws-api at ``/ws-api/v3``, and its faults.

ccxt.pro 4.5.90 gets spot order updates without a listenKey: it opens the ws-api and sends
``userDataStream.subscribe.signature`` (HMAC-SHA256 of the sorted ``apiKey``, ``recvWindow`` and ``timestamp``).
The stream answers ``{"id", "status": 200, "result": {"subscriptionId": 0}}`` and then pushes every account event
(``executionReport``, ``outboundAccountPosition``) as ``{"subscriptionId": 0, "event": ...}`` to each subscribed
socket. ``userDataStream.unsubscribe`` and ``ping`` are answered; any other method gets status 400, code -1020
(order placement over the ws-api is not served: REST is). A refused subscription (wrong key: status 401, -2015;
bad signature: 400, -1022) makes ccxt 4.5.90 raise a bare ``KeyError('spot')`` from ``watch_orders``, not
``AuthenticationError``: its error handler deletes the subscription, then its caller deletes it again.

Faults (each served once, to the next report it applies to that a subscribed socket is sent) and what ccxt
does: ``duplicate`` sends the next TRADE report twice (each copy resolves ``watch_my_trades``: a watch waiting
when the copy arrives gets the trade again; ccxt's trade cache keeps one per id; its cached order's fee doubles);
``regress`` re-sends, after the next FILLED report, that order's NEW report (``watch_orders`` shows the order
open again, unfilled); ``malformed`` sends the next executionReport with ``"q": "abc"`` (ccxt's handler raises a
``ValueError`` inside its receive callback: the stream stops silently and later watches wait forever).
``drop`` closes every user socket at once, without a close frame (the pending watch raises
``NetworkError`` "closing code 1006"; the next watch dials and subscribes again; nothing is replayed).
``lost`` withholds the next TRADE report and closes every user socket at that moment, as ``drop`` does: the
stream breaks exactly as an order fills, so the fill's report is never sent (the reports before it in the same
push, the order's NEW, are sent; those after it have nobody to go to) and only REST knows of the trade (the answer
to the order, ``GET /api/v3/order``, ``GET /api/v3/myTrades``). The withheld reports are kept in ``lost``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from engine.testing.binance_account import AccountError

__all__ = ["STREAM_FAULTS", "UserStream"]

STREAM_FAULTS = ("duplicate", "regress", "malformed", "lost", "drop")


def _text(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


@dataclass(eq=False)
class _UserSocket:
    ws: web.WebSocketResponse
    transport: Any
    subscribed: bool = False


class UserStream:
    """The ws-api user-data stream: its sockets, the subscription check, the pushes and their faults.

    ``check`` raises ``AccountError`` for a subscription's params (key, signature, time) that are refused.
    The test's thread plans faults and reads counts; the server loop serves sockets and pushes.
    """

    def __init__(self, check: Callable[[Mapping[str, Any]], None]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._faults: list[str] = []
        self._news: dict[int, dict[str, Any]] = {}  # the NEW report of each order, for the "regress" fault
        self._sockets: list[_UserSocket] = []
        self.lost: list[dict[str, Any]] = []  # the TRADE reports a "lost" fault withheld
        self.served: Counter[str] = Counter()
        self.connections = 0

    def fault(self, kind: str) -> None:
        """Plan ``kind`` (``duplicate``, ``regress``, ``malformed`` or ``lost``) for the next report it applies to."""
        if kind not in STREAM_FAULTS or kind == "drop":
            raise ValueError(f"kind must be one of duplicate, regress, malformed, lost (or drop), got {kind!r}")
        with self._lock:
            self._faults.append(kind)

    @property
    def subscribed(self) -> int:
        """Return how many open sockets are subscribed to the user-data stream."""
        with self._lock:
            return sum(s.subscribed for s in self._sockets)

    # -- on the server loop -----------------------------------------------------------------------------------
    def close(self, *, fault: bool) -> None:
        """Close every user socket now, without a close frame (counted as a ``drop`` when ``fault``)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        if fault:
            self.served["drop"] += 1
        for sock in sockets:
            if sock.transport is not None:
                sock.transport.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one ws-api connection."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sock = _UserSocket(ws, request.transport)
        with self._lock:
            self._sockets.append(sock)
            self.connections += 1
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._answer(sock, message.data)
        finally:
            with self._lock:
                if sock in self._sockets:
                    self._sockets.remove(sock)
        return ws

    async def push(self, events: list[dict[str, Any]]) -> None:
        """Send ``events`` to every subscribed socket, in order, spoilt by a planned fault if any."""
        for event in events:
            if event["e"] == "executionReport" and event["x"] == "NEW":
                self._news[event["i"]] = event
            with self._lock:
                targets = [s for s in self._sockets if s.subscribed]
            if not targets:
                continue  # nobody listens: a planned fault waits for a report that is sent
            spoilt = self._spoil(event)
            if spoilt is None:  # lost: not sent, and the stream breaks now (the rest of the push finds no socket)
                self.close(fault=False)
                continue
            texts = [_text({"subscriptionId": 0, "event": e}) for e in spoilt]
            for sock in targets:
                for text in texts:
                    await _send(sock, text)

    async def _answer(self, sock: _UserSocket, text: str) -> None:
        """Answer one ws-api request: the user-data subscription, its end, a ping; any other method is refused."""
        try:
            request = json.loads(text)
            method, request_id = str(request["method"]), request.get("id")
            params = dict(request.get("params") or {})
        except (ValueError, KeyError, TypeError, AttributeError):
            await _send(sock, _text({"id": None, "status": 400,
                                     "error": {"code": -1000, "msg": "Malformed request."}}))
            return
        answer: dict[str, Any] = {"id": request_id, "status": 200, "result": {}}
        try:
            if method == "userDataStream.subscribe.signature":
                self._check(params)
                answer["result"] = {"subscriptionId": 0}
                sock.subscribed = True
            elif method == "userDataStream.unsubscribe":
                sock.subscribed = False
            elif method != "ping":
                raise AccountError(400, -1020, f"This operation is not supported: {method}.")
        except AccountError as e:
            answer = {"id": request_id, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
        await _send(sock, _text(answer))

    def _spoil(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Return what to send for ``event`` under the planned fault it meets, if any; None: withhold it and close
        the user sockets (``lost``)."""
        if event["e"] != "executionReport":
            return [event]
        with self._lock:
            kind = next((k for k in self._faults if _applies(k, event)), None)
            if kind is not None:
                self._faults.remove(kind)
                self.served[kind] += 1
        if kind == "duplicate":
            return [event, event]
        if kind == "malformed":
            bad = copy.deepcopy(event)
            bad["q"] = "abc"
            return [bad]
        if kind == "regress":
            return [event, self._news[event["i"]]]
        if kind == "lost":
            self.lost.append(copy.deepcopy(event))
            return None
        return [event]


def _applies(kind: str, report: Mapping[str, Any]) -> bool:
    """Return whether a planned ``kind`` spoils ``report`` (an executionReport)."""
    if kind in ("duplicate", "lost"):
        return bool(report["x"] == "TRADE")
    if kind == "regress":
        return bool(report["X"] == "FILLED")
    return True


async def _send(sock: _UserSocket, text: str) -> None:
    if sock.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):  # the peer went away meanwhile
        await sock.ws.send_str(text)
