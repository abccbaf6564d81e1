"""The kill switch: stop a session's trading at once, from another terminal, a file or a second Ctrl-C.

Pulling it hands a ``KillSwitch`` event in like any other, so the journal keeps it with who asked and why. The
session then refuses every new order (``OrderManager.halt``), cancels its open orders if asked, closes its
positions at market if asked (once the cancels are through, so no open order holds what is to be sold; these
orders pass the halt and the risk limits, since they only reduce what is at risk), and stops cleanly once nothing
it asked for is pending (at once when nothing is).

Triggers: ``request_kill`` writes ``KILL`` into the session's directory (``mlct live kill`` does); the session
looks for it every half second (``watch_file``) and renames it ``KILL.done`` once taken, so a resumed session does
not take it again. ``LiveSession`` pulls it on a second SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.events import KillSwitch, Order, OrderType, OrderUpdate, Side
from engine.ports import EventSink

__all__ = ["KILL_FILE", "KillSwitchHandler", "read_request", "request_kill", "watch_file"]

log = logging.getLogger(__name__)

KILL_FILE = "KILL"


def request_kill(directory: Path, *, by: str, reason: str, cancel: bool, flatten: bool) -> Path:
    """Write the kill request into ``directory`` whole (a temporary file renamed), for the session to take."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KILL_FILE
    staged = directory / f".{KILL_FILE}.{os.getpid()}"
    staged.write_text(json.dumps({"by": by, "reason": reason, "cancel": cancel, "flatten": flatten}))
    staged.replace(path)
    return path


def read_request(path: Path, now: int) -> KillSwitch:
    """The request in ``path``; one that cannot be read still halts trading (it was meant to stop something)."""
    try:
        asked = json.loads(path.read_text())
        if not isinstance(asked, dict):
            raise ValueError("not a JSON object")
        return KillSwitch(ts=now, by=str(asked.get("by") or f"the file {path}"),
                          reason=str(asked.get("reason") or "no reason given"),
                          cancel=asked.get("cancel") is True, flatten=asked.get("flatten") is True)
    except (OSError, ValueError) as exc:
        return KillSwitch(ts=now, by=f"the file {path}", reason=f"a kill file that could not be read ({exc})")


async def watch_file(path: Path, inbox: EventSink, now: Callable[[], int], poll: float = 0.5) -> None:
    """Hand in the request once ``path`` appears, and set the file aside as ``KILL.done``."""
    while not path.exists():
        await asyncio.sleep(poll)
    request = read_request(path, now())
    path.replace(path.with_name(f"{KILL_FILE}.done"))
    inbox.publish(request)


class KillSwitchHandler:
    """Carry out a pulled kill switch in a session: halt, cancel, close positions, stop."""

    def __init__(self, stop: Callable[[str], None]) -> None:
        self._stop = stop
        self._kernel: Any = None
        self.pulled: KillSwitch | None = None
        self._cancelling: set[str] = set()
        self._closing: set[str] = set()
        self._flatten = False
        self._stopped = False

    def attach(self, kernel: Any) -> None:
        self._kernel = kernel
        kernel.bus.subscribe(KillSwitch, self.on_kill_switch)
        kernel.bus.subscribe(OrderUpdate, self.on_order_update)

    def on_kill_switch(self, event: KillSwitch) -> None:
        orders = self._kernel.orders
        why = f"kill switch: {event.reason} (asked by {event.by})"
        orders.halt(why, by="kill switch")
        log.error("%s: trading halted%s%s", why, ", cancelling open orders" if event.cancel else "",
                  ", closing positions" if event.flatten else "")
        self.pulled = self.pulled or event
        self._flatten = self._flatten or event.flatten
        if event.cancel:
            for record in orders.open_orders():
                cid = record.order.client_order_id
                if cid not in self._closing:
                    self._cancelling.add(cid)
                    orders.cancel(cid)
        self._next()

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.status.is_terminal and (self._cancelling or self._closing):
            self._cancelling.discard(update.client_order_id)
            self._closing.discard(update.client_order_id)
            self._next()

    def _next(self) -> None:
        if self.pulled is None or self._cancelling:
            return
        if self._flatten:
            self._flatten = False
            self._close_positions()
        if not self._closing and not self._stopped:
            self._stopped = True
            self._stop(f"kill switch pulled by {self.pulled.by}: {self.pulled.reason}")

    def _close_positions(self) -> None:
        kernel = self._kernel
        ledger, orders = kernel.ledger, kernel.orders
        for symbol, position in ledger.positions().items():
            market = kernel.markets[symbol]
            if position.quantity > 0:  # sell what is free: an order kept open (no --cancel) keeps what it holds
                side, quantity = Side.SELL, market.round_size(min(position.quantity, ledger.free(market.base)))
            else:
                side, quantity = Side.BUY, market.round_size(-position.quantity)
            if quantity <= 0:
                continue
            order = Order(ts=kernel.clock.now(), client_order_id=orders.next_id("kill"), symbol=symbol, side=side,
                          type=OrderType.MARKET, quantity=quantity)
            record = orders.submit(order, ledger.last_price(symbol), closing=True)
            if record.is_open:
                self._closing.add(order.client_order_id)
            else:
                log.error("kill switch: closing %s refused: %s", symbol, record.reason)
