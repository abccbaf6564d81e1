"""The live monitor: a read-only page on 127.0.0.1 that shows a running session as its events arrive.

``Monitor`` is a handler like any other (``attach(kernel)``): it keeps a bounded picture of what the bus carried
(the equity and a buy-and-hold line a live bar, the closes of every symbol, the last fills, orders, signals with
the values behind them, risk breaches, the kill switch, failed handlers) and reads the rest from the kernel when
the page asks (positions, open orders, halts, the risk limits and how much of each is used), and from the feeds'
``health`` when they have one (``adapters.ccxt.CcxtFeed``; read by duck typing, since the engine names no
adapter). ``start(port)`` serves two GET routes on 127.0.0.1 only: the page (``engine.monitor_page``: one
self-contained file, its charts drawn as SVG by its own script) and ``state.json``, which the page polls every
second. Every other method is refused, and nothing served can place or cancel an order: the page only reads.

The server runs on the session's own event loop, so a request reads the kernel between two events, never during
one. ``LiveSession(monitor_port=...)`` starts it before the first event and stops it with the session.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from engine.errors import ConfigError
from engine.events import Bar, Fill, HandlerFailed, KillSwitch, Order, OrderUpdate, RiskBreach, Signal

__all__ = ["ABOUT", "HOST", "Monitor"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # the only address the page is served on: it shows an account, to this machine alone
_MS = 1_000_000
_MINUTE = 60_000_000_000
ABOUT = ("kind", "exchange", "strategies", "symbols", "timeframe")  # the session's settings the page shows
WARM_UP = "warm-up"  # the order manager's halt while the session warms up (engine.kernel.Kernel.begin_warm_up)


class Monitor:
    """Collect what a session's page shows, and serve that page (``start``/``stop``).

    Buy and hold is the equity at the first live bar put evenly into the symbols at their first live closes. Bars
    seen while the session warms up are counted apart and drawn on the price chart, before the "live" line.

    Parameters
    ----------
    feeds
        The session's feeds; each one's ``health`` (if it has one) is shown as it is when the page asks.
    about
        What the session is: of its settings, ``ABOUT`` (kind, exchange, strategies, symbols, timeframe) are
        shown in the page's header.
    points
        Equity and price points kept per series (the oldest go first).
    rows
        Fills, orders, signals, breaches and failures kept for the tables.
    """

    def __init__(self, *, feeds: Sequence[object] = (), about: Mapping[str, Any] | None = None, points: int = 2000,
                 rows: int = 50) -> None:
        if points < 2 or rows < 1:
            raise ValueError(f"points must be at least 2 and rows at least 1, got {points} and {rows}")
        self.feeds = list(feeds)
        self.about = {key: _plain(value) for key, value in (about or {}).items() if key in ABOUT}
        self._rows = rows
        self._kernel: Any = None
        self._equity: deque[tuple[int, float, float]] = deque(maxlen=points)  # (ms, equity, buy and hold)
        self._closes: dict[str, deque[tuple[int, float]]] = {}
        self._points = points
        self._last_bar: dict[str, Bar] = {}
        self._first_close: dict[str, float] = {}  # each symbol's close at its first live bar
        self._hold_base: float | None = None  # equity at the first live bar: what buy and hold starts from
        self._live_from: int | None = None  # ms of the first live bar
        self.live_bars = 0
        self.warmup_bars = 0
        self._fills: deque[dict[str, Any]] = deque(maxlen=rows)
        self._orders: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._signals: deque[dict[str, Any]] = deque(maxlen=rows)
        self._latest_signals: dict[tuple[str, str], dict[str, Any]] = {}
        self._breaches: deque[dict[str, Any]] = deque(maxlen=rows)
        self._failures: deque[dict[str, Any]] = deque(maxlen=rows)
        self._kill: dict[str, Any] | None = None
        self._sent: deque[int] = deque()  # when the orders of the last minute were made (ns)
        self._largest_order: tuple[Decimal, str] | None = None  # notional, client order id
        self._runner: web.AppRunner | None = None
        self._hosts: frozenset[str] = frozenset()  # the Host headers a request may carry: this address only
        self.url: str | None = None
        self.requests = 0

    # -- the handler -------------------------------------------------------------------------------------------
    def attach(self, kernel: Any) -> None:
        self._kernel = kernel
        bus = kernel.bus
        for event_type, handler in ((Bar, self.on_bar), (Order, self.on_order), (OrderUpdate, self.on_order_update),
                                    (Fill, self.on_fill), (Signal, self.on_signal), (RiskBreach, self.on_risk_breach),
                                    (KillSwitch, self.on_kill_switch), (HandlerFailed, self.on_handler_failed)):
            bus.subscribe(event_type, handler)

    def on_bar(self, bar: Bar) -> None:
        ms = bar.ts // _MS
        self._last_bar[bar.symbol] = bar
        closes = self._closes.get(bar.symbol)
        if closes is None:
            closes = self._closes[bar.symbol] = deque(maxlen=self._points)
        closes.append((ms, bar.close))
        if WARM_UP in self._kernel.orders.halts:
            self.warmup_bars += 1
            return
        self.live_bars += 1
        if self._live_from is None:
            self._live_from = ms
        equity = self._kernel.ledger.equity()
        if self._hold_base is None:
            self._hold_base = equity
        self._first_close.setdefault(bar.symbol, bar.close)
        ratios = [self._last_bar[s].close / first for s, first in self._first_close.items() if first]
        hold = self._hold_base * (sum(ratios) / len(ratios) if ratios else 1.0)
        if self._equity and self._equity[-1][0] == ms:  # several symbols close at once: one point
            self._equity.pop()
        self._equity.append((ms, equity, hold))

    def on_order(self, order: Order) -> None:
        price = order.price if order.price is not None else order.stop_price
        if price is None:
            last = self._kernel.ledger.last_price(order.symbol)
            price = None if last is None or not math.isfinite(last) else Decimal(repr(last))
        if price is not None:
            notional = order.quantity * price
            if self._largest_order is None or notional > self._largest_order[0]:
                self._largest_order = (notional, order.client_order_id)
        sent = self._sent
        sent.append(order.ts)
        while sent[0] <= order.ts - _MINUTE:  # only the last minute's are ever counted
            sent.popleft()
        self._remember_order(order.client_order_id, {
            "ts": order.ts // _MS, "id": order.client_order_id, "symbol": order.symbol, "side": order.side.value,
            "type": order.type.value, "quantity": str(order.quantity), "price": _text(order.price),
            "status": "submitted", "filled": "0", "reason": ""})

    def on_order_update(self, update: OrderUpdate) -> None:
        entry = self._orders.get(update.client_order_id)
        if entry is None:  # refused before it was sent (warming up, halted, a risk limit): no Order was published
            entry = {"ts": update.ts // _MS, "id": update.client_order_id, "symbol": update.symbol, "side": "",
                     "type": "", "quantity": "", "price": ""}
            record = self._record(update.client_order_id)
            if record is not None:
                order = record.order
                entry.update(side=order.side.value, type=order.type.value, quantity=str(order.quantity),
                             price=_text(order.price))
            self._remember_order(update.client_order_id, entry)
        entry.update(status=update.status.value, filled=str(update.filled_quantity), reason=update.reason,
                     updated=update.ts // _MS)

    def on_fill(self, fill: Fill) -> None:
        self._fills.append({"ts": fill.ts // _MS, "id": fill.client_order_id, "trade_id": fill.trade_id,
                            "symbol": fill.symbol, "side": fill.side.value, "price": str(fill.price),
                            "quantity": str(fill.quantity), "fee": str(fill.fee), "fee_currency": fill.fee_currency,
                            "liquidity": fill.liquidity.value})

    def on_signal(self, signal: Signal) -> None:
        contributions = dict(signal.contributions or {})
        ranked = sorted(contributions.items(), key=lambda kv: -abs(kv[1]) if math.isfinite(kv[1]) else 0.0)
        entry = {"ts": signal.ts // _MS, "name": signal.name, "symbol": signal.symbol,
                 "direction": signal.direction, "strength": _float(signal.strength),
                 "values": [[str(k), _float(v)] for k, v in ranked]}
        self._signals.append(entry)
        key = (signal.name, signal.symbol)
        self._latest_signals.pop(key, None)  # newest last
        self._latest_signals[key] = entry

    def on_risk_breach(self, breach: RiskBreach) -> None:
        self._breaches.append({"ts": breach.ts // _MS, "limit": breach.limit, "detail": breach.detail,
                               "halted": breach.halted, "id": breach.client_order_id})

    def on_kill_switch(self, event: KillSwitch) -> None:
        if self._kill is None:  # the first pull is the one acted on; later ones only add cancel or flatten
            self._kill = {"ts": event.ts // _MS, "by": event.by, "reason": event.reason, "cancel": event.cancel,
                          "flatten": event.flatten}
        else:
            self._kill["cancel"] = self._kill["cancel"] or event.cancel
            self._kill["flatten"] = self._kill["flatten"] or event.flatten

    def on_handler_failed(self, event: HandlerFailed) -> None:
        self._failures.append({"ts": event.ts // _MS, "handler": event.handler, "event": event.event,
                               "error": event.error})

    def _remember_order(self, cid: str, entry: dict[str, Any]) -> None:
        self._orders[cid] = entry
        while len(self._orders) > self._rows:
            self._orders.popitem(last=False)

    def _record(self, cid: str) -> Any:
        try:
            return self._kernel.orders.get(cid)
        except KeyError:
            return None

    # -- what the page shows -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready values (times in epoch ms, exact amounts as text)."""
        kernel = self._kernel
        if kernel is None:
            return {"now": time.time_ns() // _MS, "about": self.about, "started": False}
        ledger, orders = kernel.ledger, kernel.orders
        now = kernel.clock.now()
        halts = orders.halts
        equity = _float(ledger.equity())
        return {
            "now": now // _MS, "about": self.about, "started": True,
            "state": _trading_state(halts, self._kill),
            "halts": [{"by": by, "reason": reason} for by, reason in halts.items()],
            "bars": {"live": self.live_bars, "warmup": self.warmup_bars,
                     "last": {s: {"ts": b.ts // _MS, "open": _float(b.open), "high": _float(b.high),
                                  "low": _float(b.low), "close": _float(b.close), "volume": _float(b.volume)}
                              for s, b in self._last_bar.items()}},
            "equity": {"now": equity, "start": self._hold_base, "currency": ledger.account_currency,
                       "live_from": self._live_from,
                       "ts": [p[0] for p in self._equity], "equity": [_float(p[1]) for p in self._equity],
                       "buy_hold": [_float(p[2]) for p in self._equity]},
            "prices": {s: {"ts": [p[0] for p in c], "close": [_float(p[1]) for p in c]}
                       for s, c in self._closes.items()},
            "positions": self._positions(),
            "balances": [{"currency": c, "total": str(b), "free": str(ledger.free(c))}
                         for c, b in sorted(ledger.balances().items())],
            "open_orders": [_open_order(r) for r in orders.open_orders()],
            "orders": list(reversed(self._orders.values())),
            "fills": list(reversed(self._fills)),
            "signals": list(reversed(self._latest_signals.values())),
            "recent_signals": list(reversed(self._signals)),
            "feeds": [h for h in (_health(feed) for feed in self.feeds) if h is not None],
            "risk": {"limits": self._risk_use(now, equity), "breaches": list(reversed(self._breaches))},
            "kill_switch": self._kill,
            "failures": list(reversed(self._failures)),
        }

    def _positions(self) -> list[dict[str, Any]]:
        kernel = self._kernel
        ledger, orders = kernel.ledger, kernel.orders
        rows = []
        for market in kernel.markets:
            symbol = market.symbol
            position = ledger.position(symbol)
            rows.append({"symbol": symbol, "quantity": str(position.quantity),
                         "average_price": str(position.average_price) if position.quantity else "",
                         "last": _float(ledger.last_price(symbol)),
                         "unrealized": _float(ledger.unrealized_pnl(symbol)),
                         "realized": str(position.realized_pnl), "fees": str(position.fees),
                         "on_order": str(orders.open_quantity(symbol))})
        return rows

    def _risk_use(self, now: int, equity: float | None) -> list[dict[str, Any]]:
        """Each limit that is on, with the figure it is checked against now (``share`` of the limit used)."""
        risk = self._kernel.risk
        if risk is None:
            return []
        limits = risk.limits
        rows = []

        def row(name: str, limit: Any, used: float | None, text: str) -> None:
            share = None if used is None else _float(used / float(limit))
            rows.append({"limit": name, "value": str(limit), "used": _float(used), "text": text, "share": share})

        if limits.max_order_notional is not None:
            largest = self._largest_order
            row("max_order_notional", limits.max_order_notional, None if largest is None else float(largest[0]),
                "no order yet" if largest is None else f"largest order {largest[1]}: {_figure(largest[0])}")
        if limits.max_position is not None or limits.max_position_notional is not None:
            ledger, orders = self._kernel.ledger, self._kernel.orders
            exposure = []  # (quantity with open orders, its notional at the last price, symbol)
            for market in self._kernel.markets:
                quantity = abs(ledger.position(market.symbol).quantity + orders.open_quantity(market.symbol))
                price = ledger.last_price(market.symbol)
                exposure.append((quantity, float(quantity) * price if price is not None else 0.0, market.symbol))
            if limits.max_position is not None:
                quantity, _, symbol = max(exposure, key=lambda e: e[0], default=(Decimal(0), 0.0, "-"))
                row("max_position", limits.max_position, float(quantity), f"{symbol} {_figure(quantity)}")
            if limits.max_position_notional is not None:
                _, notional, symbol = max(exposure, key=lambda e: e[1], default=(Decimal(0), 0.0, "-"))
                row("max_position_notional", limits.max_position_notional, notional, f"{symbol} {notional:,.2f}")
        if limits.max_open_orders is not None:
            count = len(self._kernel.orders.open_orders())
            row("max_open_orders", limits.max_open_orders, count, f"{count} open")
        if limits.max_orders_per_minute is not None:
            sent = self._sent
            while sent and sent[0] <= now - _MINUTE:
                sent.popleft()
            row("max_orders_per_minute", limits.max_orders_per_minute, len(sent), f"{len(sent)} in the last minute")
        if limits.daily_loss_limit is not None:
            start = risk.day_start
            lost = None if start is None or equity is None else max(0.0, start - equity)
            row("daily_loss_limit", limits.daily_loss_limit, lost,
                "no bar yet" if lost is None else f"lost {lost:,.2f} since the UTC day began ({start:,.2f})")
        if limits.max_drawdown is not None:
            peak = risk.peak
            drawdown = max(0.0, (peak - equity) / peak) if peak > 0 and equity is not None else None
            row("max_drawdown", limits.max_drawdown, drawdown,
                "no bar yet" if drawdown is None else f"{drawdown:.2%} below the peak {peak:,.2f}")
        return rows

    # -- the server --------------------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> str:
        """Serve the page on 127.0.0.1:``port`` (0: any free port) and return its URL; ``ConfigError`` naming
        ``monitor.port`` when that port cannot be listened on."""
        from engine.monitor_page import CONTENT_SECURITY_POLICY, PAGE

        if self._runner is not None:
            raise RuntimeError(f"the monitor is served already at {self.url}")
        page = PAGE.encode()

        async def serve_page(request: web.Request) -> web.Response:
            return web.Response(body=page, content_type="text/html", charset="utf-8")

        async def serve_state(request: web.Request) -> web.Response:
            self.requests += 1
            return web.json_response(self.state(), dumps=_dumps)

        app = web.Application(middlewares=[_guard(lambda: self._hosts, CONTENT_SECURITY_POLICY)])
        app.router.add_get("/", serve_page, allow_head=False)
        app.router.add_get("/state.json", serve_state, allow_head=False)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"monitor.port: cannot serve the monitor on {HOST}:{port}: "
                              f"{exc.strerror or exc}") from None
        self._runner = runner
        bound = runner.addresses[0][1]
        self._hosts = frozenset({f"{HOST}:{bound}", f"localhost:{bound}"})
        self.url = f"http://{HOST}:{bound}/"
        return self.url

    async def stop(self) -> None:
        """Stop serving (the page then says it lost the session)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(hosts: Callable[[], frozenset[str]], policy: str) -> Any:
    """Refuse whatever is not a GET to this very address, and tell the browser the page may reach nothing else.

    Checking the Host header keeps another site's page out even through a DNS name pointed at 127.0.0.1."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET"], text="the monitor is read-only: GET only\n")
        if request.host not in hosts():
            raise web.HTTPForbidden(text=f"the monitor answers requests to {HOST} only\n")
        response = await handler(request)
        response.headers.update({"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        return response

    return guard


def _trading_state(halts: Mapping[str, str], kill: Mapping[str, Any] | None) -> str:
    if kill is not None:
        return "kill switch pulled"
    if WARM_UP in halts:
        return "warming up"
    return "halted" if halts else "trading"


def _open_order(record: Any) -> dict[str, Any]:
    order = record.order
    return {"ts": order.ts // _MS, "id": order.client_order_id, "symbol": order.symbol, "side": order.side.value,
            "type": order.type.value, "quantity": str(order.quantity), "price": _text(order.price),
            "stop_price": _text(order.stop_price), "filled": str(record.filled_quantity),
            "status": record.status.value}


def _health(feed: object) -> dict[str, Any] | None:
    """A feed's ``health`` as plain values, whatever its class: times of day in ms, a monotonic time as an age."""
    health = getattr(feed, "health", None)
    if health is None:
        return None
    if dataclasses.is_dataclass(health) and not isinstance(health, type):
        values = {f.name: getattr(health, f.name) for f in dataclasses.fields(health)}
    elif isinstance(health, Mapping):
        values = dict(health)
    else:
        values = {k: v for k, v in vars(health).items() if not k.startswith("_")}
    shown: dict[str, Any] = {"feed": type(feed).__name__}
    for key, value in values.items():
        if key == "last_message_at" and isinstance(value, int | float):
            shown["seconds_since_message"] = _float(time.monotonic() - value)
        elif key.endswith("_ts") and isinstance(value, int) and not isinstance(value, bool):
            shown[key] = value // _MS
        else:
            shown[key] = _plain(value)
    return shown


def _plain(value: Any) -> Any:
    """``value`` as JSON takes it: exact numbers as text, non-finite floats as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    return str(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _figure(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, allow_nan=False, separators=(",", ":"))
