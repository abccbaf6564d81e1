"""Real orders through ccxt: an ``ExecutionClient`` whose reports arrive on their own, into the live loop's inbox.

What the exchange does, and what this does about it (``../shared/EXCHANGE_PROTOCOL.md``):

- **An order is never sent twice.** Binance takes a client order id again once the first order with it is closed,
  so a blind retry of a filled order doubles it. An ambiguous answer (a timeout, a 503 "execution status unknown",
  a connection lost before the answer, an error we did not expect) leaves the order *in flight*: it is settled by
  looking it up by its client id, and by the user stream, never by sending it again. Only an answer that says the
  order was not taken (a 429 or 418 rate limit) lets it be sent again, once the wait has passed.
- **Refusals reach the strategy with their reason**: insufficient funds, a filter (minimum notional, lot size), an
  invalid order become a ``REJECTED`` update. An authentication error also halts trading: every later order is
  refused at once with the same clear message, since nothing will succeed until the keys are fixed.
- **Reports repeat and regress** (a duplicated ``executionReport``, a stale NEW after FILLED, a fill before the
  acknowledgement): ``OrderTracker`` lets an order's state move forward only and hands each trade on once, fills
  before the update that finishes their order.
- **The user stream can die silently** (a malformed report ends ccxt's receive loop): besides the watchdog that
  restarts a silent stream, a REST check every ``check_every`` seconds fetches our open orders and recent trades
  and settles whatever the stream missed.

Prices, quantities and fees are read from the exchange's raw text where ccxt keeps it (``info``), so the ledger
books exactly what the exchange booked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import ccxt

from adapters.ccxt.feed import within
from adapters.ccxt.order_state import OrderTracker, TrackedOrder
from engine.errors import DataError
from engine.events import CancelOrder, Event, Fill, Liquidity, MarketData, Order, OrderStatus, OrderType, OrderUpdate
from engine.markets import Markets
from engine.ports import AccountState, EventSink
from engine.store import OrderRecord

__all__ = ["CcxtExecution"]

log = logging.getLogger(__name__)

_MS = 1_000_000
_STATUS = {"open": OrderStatus.ACCEPTED, "closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED,
           "cancelled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED, "rejected": OrderStatus.REJECTED}
_REFUSALS = (ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.BadRequest, ccxt.BadSymbol, ccxt.OrderNotFillable)
_RATE_LIMITS = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)


class CcxtExecution:
    """Send our orders and cancels to an exchange through a ccxt.pro client; hand its reports to ``reports``.

    Parameters
    ----------
    client
        A ccxt.pro exchange with its markets loaded and the account's keys.
    reports
        Where updates and fills go: the live loop's ``Inbox``.
    markets
        The session's markets: the symbols whose orders and trades are watched and checked.
    now
        The session clock's ``now`` (ns), for the times of our own reports.
    check_every, stale_after, settle_for
        Seconds between REST checks of open orders and recent trades; of silence before a stream is restarted;
        spent looking an in-flight order up before it is called never placed.
    cancel_on_stop
        Cancel the session's open orders when it stops (else they stay at the exchange).
    """

    def __init__(self, client: Any, reports: EventSink, markets: Markets, now: Callable[[], int], *,
                 check_every: float = 30.0, stale_after: float = 120.0, cancel_on_stop: bool = True,
                 settle_for: float = 30.0, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self._reports = reports
        self.symbols = [m.symbol for m in markets]
        self.assets = sorted({asset for m in markets for asset in (m.base, m.quote)})
        self._now = now
        self.halted: str | None = None  # why every new order is refused (the keys were refused)
        self.check_every = check_every
        self.cancel_on_stop = cancel_on_stop
        self.stale_after = stale_after
        self.settle_for = settle_for
        self._backoff_base, self._backoff_cap = backoff_base, backoff_cap
        self._rng = rng or random.Random()
        self.tracker = OrderTracker()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_its_way: set[asyncio.Task[Any]] = set()  # placing and cancelling
        self._placing: set[str] = set()  # client ids of the orders whose placing task has not settled them yet
        self.faults: dict[str, int] = {}

    # -- ExecutionClient --------------------------------------------------------------------------------------
    def on_market_data(self, event: MarketData) -> None:
        """The exchange matches our orders itself."""

    def on_order(self, order: Order) -> None:
        self.tracker.add(order)
        if self.halted is not None:
            self._reject(order, self.halted)
            return
        self._spawn(self._place(order), on_its_way=True)

    def on_cancel_order(self, cancel: CancelOrder) -> None:
        self._spawn(self._cancel(cancel), on_its_way=True)

    async def start(self) -> None:
        self._spawn(self._watch_orders())
        self._spawn(self._watch_trades())
        self._spawn(self._check_periodically())

    async def stop(self) -> None:
        """Settle the orders and cancels on their way, cancel our open orders if asked (``cancel_on_stop``),
        check by REST for fills the stream has not reported yet, then end the streams and checks."""
        on_its_way = list(self._on_its_way)
        if on_its_way:
            await asyncio.wait(on_its_way, timeout=self.settle_for)
        if self.cancel_on_stop:
            for tracked in self.tracker.open_orders():
                answer = await self._by_client_id(self.client.cancel_order, tracked, "cancel on stop")
                if answer is not None:
                    self._publish(self._take_order(answer))
        await self.check()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # a ccxt watch caught in a reconnect may not end on cancel: wait a while, not for ever
            await asyncio.wait(tasks, timeout=5)
        try:  # a socket caught half-way through its handshake may never answer a close: do not wait for ever
            await asyncio.wait_for(self.client.close_ws_clients(), timeout=5)
        except TimeoutError:
            self._fault("close", "the user stream's sockets did not close within 5 s: dropping them")
            self.client.clients = {}  # else the client's own close() waits on them for ever

    # -- placing and cancelling -------------------------------------------------------------------------------
    async def _place(self, order: Order) -> None:
        self._placing.add(order.client_order_id)
        try:
            await self._send(order)
        finally:
            self._placing.discard(order.client_order_id)

    async def _send(self, order: Order) -> None:
        cid = order.client_order_id
        params: dict[str, Any] = {"newClientOrderId": cid}
        if order.type is OrderType.LIMIT:
            params["timeInForce"] = order.time_in_force.value.upper()
        price = None if order.price is None else str(order.price)
        for attempt in range(1, 4):
            try:
                answer = await self.client.create_order(order.symbol, order.type.value, order.side.value.lower(),
                                                        str(order.quantity), price, params)
            except _RATE_LIMITS as exc:  # refused, not taken: wait as told, then send again
                self._fault("rate_limited", f"order {cid}: {exc}")
                await asyncio.sleep(self._retry_after(exc, attempt))
                continue
            except ccxt.AuthenticationError as exc:
                self.halted = (f"the exchange refused the API keys ({type(exc).__name__}): trading is halted until "
                               "the keys are fixed")
                log.error(self.halted)
                self._reject(order, self.halted)
                return
            except _REFUSALS as exc:
                self._reject(order, f"refused by the exchange: {type(exc).__name__}: {exc}")
                return
            except (TimeoutError, ccxt.BaseError, OSError) as exc:  # taken or not: look it up
                self._fault("in_flight", f"order {cid}: {type(exc).__name__}: {exc}: looking it up")
                await self._settle(order)
                return
            self._publish(self._take_order(answer))
            return
        self._reject(order, "refused by the exchange: rate limited three times")

    async def _settle(self, order: Order) -> None:
        """Find out whether an order whose answer was lost reached the exchange, by its client id."""
        deadline = time.monotonic() + self.settle_for
        attempt = 0
        while True:
            try:
                found = await self.client.fetch_order(None, order.symbol,
                                                      {"origClientOrderId": order.client_order_id})
            except ccxt.OrderNotFound:
                found = None
            except (ccxt.BaseError, OSError) as exc:
                self._fault("lookup", f"order {order.client_order_id}: {type(exc).__name__}: {exc}")
                found = None
            tracked = self.tracker.orders[order.client_order_id]
            if found is not None:
                self._publish(await self._order_and_trades(found, tracked))
                return
            if not tracked.open or tracked.status is not OrderStatus.SUBMITTED:
                return  # the user stream settled it meanwhile
            if time.monotonic() > deadline:
                self._reject(order, f"never reached the exchange (not found by its client id in {self.settle_for:g} s)")
                return
            attempt += 1
            await asyncio.sleep(self._backoff(attempt))

    async def _cancel(self, cancel: CancelOrder) -> None:
        tracked = self.tracker.orders.get(cancel.client_order_id)
        if tracked is None or not tracked.open:
            return
        try:
            answer = await self.client.cancel_order(tracked.venue_order_id or None, cancel.symbol,
                                                    {"origClientOrderId": cancel.client_order_id})
        except ccxt.OrderNotFound:
            await self._settle(tracked.order)  # filled or cancelled already: the exchange says which
            return
        except (ccxt.BaseError, OSError) as exc:
            self._fault("cancel", f"cancel {cancel.client_order_id}: {type(exc).__name__}: {exc}")
            await self._settle(tracked.order)
            return
        self._publish(self._take_order(answer))

    # -- reports ----------------------------------------------------------------------------------------------
    def _take_order(self, found: Mapping[str, Any]) -> list[Event]:
        """Return what to hand on of an order dict of ccxt's: its new trades, then its state if it moved."""
        cid = _client_id(found)
        tracked = self.tracker.orders.get(cid) if cid else None
        if tracked is None:
            return []
        events: list[Event] = []
        for trade in found.get("trades") or _full_fills(found, tracked):
            events += self._take_trade(trade, tracked)
        update = _update(found, tracked, self._now())
        if update is not None:
            events += self.tracker.update(update)
        return events

    def _take_trade(self, trade: Mapping[str, Any], tracked: TrackedOrder | None = None) -> list[Event]:
        if tracked is None:
            tracked = self._owner(trade)
            if tracked is None:
                return []
        fill = _fill(trade, tracked)
        return [] if fill is None else list(self.tracker.fill(fill))

    def _owner(self, trade: Mapping[str, Any]) -> TrackedOrder | None:
        info = trade.get("info") or {}
        cid = info.get("c") if isinstance(info, Mapping) else None
        if cid and cid in self.tracker.orders:
            return self.tracker.orders[cid]
        venue_id = str(trade.get("order") or "")
        return next((t for t in self.tracker.orders.values() if venue_id and t.venue_order_id == venue_id), None)

    def _publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self._reports.publish(event)

    def _reject(self, order: Order, reason: str) -> None:
        self._publish(self._rejection(order, reason))

    def _rejection(self, order: Order, reason: str) -> list[OrderUpdate]:
        log.warning("order %s rejected: %s", order.client_order_id, reason)
        update = OrderUpdate(ts=self._now(), client_order_id=order.client_order_id, symbol=order.symbol,
                             status=OrderStatus.REJECTED, remaining_quantity=order.quantity, reason=reason)
        return self.tracker.update(update)

    # -- streams and checks -----------------------------------------------------------------------------------
    async def _watch_orders(self) -> None:
        while True:
            orders = await self._watch("orders", self.client.watch_orders)
            for found in orders:
                self._publish(self._take_order(dict(found)))  # ccxt changes its cached dicts in place: a copy

    async def _watch_trades(self) -> None:
        while True:
            trades = await self._watch("trades", self.client.watch_my_trades)
            for trade in trades:
                self._publish(self._take_trade(dict(trade)))

    async def _watch(self, what: str, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return await within(call(), self.stale_after)
            except TimeoutError:
                self._fault("stale", f"user stream {what}: nothing for {self.stale_after:g} s: resubscribing")
                await self.client.close_ws_clients()
            except (ccxt.BaseError, TypeError, ValueError, KeyError) as exc:
                attempt += 1
                self._fault("user_stream", f"{what}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self._backoff(attempt))
            self._spawn(self.check())  # whatever the stream missed meanwhile

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            await self.check()

    async def check(self) -> None:
        """Settle by REST what the user stream may have missed: each open order's state, and its trades when the
        exchange says it filled more than was handed on (an order's fills are handed on before the update that
        finishes it, so an order with a fill missing is still open here)."""
        for tracked in self.tracker.open_orders():
            if tracked.order.client_order_id in self._placing:
                continue  # its placing task settles it
            found = await self._by_client_id(self.client.fetch_order, tracked, "check")
            if found is not None:
                self._publish(await self._order_and_trades(found, tracked))

    async def _order_and_trades(self, found: Mapping[str, Any], tracked: TrackedOrder) -> list[Event]:
        """What to hand on of an order looked up by REST, with the trades the lookup does not carry (Binance's
        order query has none): fetched by the order's id when it filled more than was handed on."""
        events = self._take_order(found)
        if tracked.waiting is not None and found.get("id"):
            try:
                trades = await self.client.fetch_my_trades(tracked.order.symbol, None, None,
                                                           {"orderId": found["id"]})
            except (ccxt.BaseError, OSError) as exc:
                self._fault("check", f"trades of order {tracked.order.client_order_id}: {type(exc).__name__}: {exc}")
                return events
            for trade in trades:
                events += self._take_trade(trade, tracked)
        return events

    # -- start-up reconciliation ------------------------------------------------------------------------------
    async def reconcile(self, orders: Sequence[OrderRecord], since: int | None) -> AccountState:
        """Track the session's journaled ``orders``, settle those that were open by asking the exchange, and
        return what became of them, the account's balances, and the trades since ``since`` (ns) in the
        session's markets by orders that are not the session's (``engine.ports.Reconciling``).

        An order still in flight when the last process ended (sent, never answered) that the exchange does not
        know never reached it: rejected, never sent again. A failed request raises ``DataError``: a session that
        cannot see its account does not trade.
        """
        for record in orders:
            self.tracker.adopt(record.order, record.status, record.fills)
        try:
            reports: list[Event] = []
            for tracked in self.tracker.open_orders():
                reports += await self._recover(tracked)
            foreign = [] if since is None else await self._foreign_trades(since // _MS - 60_000)
            balances = await self._balances()
        except (ccxt.BaseError, OSError) as exc:
            raise DataError(f"reconciliation with {self.client.id}: {type(exc).__name__}: {exc}") from None
        return AccountState(reports, balances, foreign)

    async def _recover(self, tracked: TrackedOrder) -> list[Event]:
        order = tracked.order
        try:
            found = await self.client.fetch_order(tracked.venue_order_id or None, order.symbol,
                                                  {"origClientOrderId": order.client_order_id})
        except ccxt.OrderNotFound:
            if tracked.status is OrderStatus.SUBMITTED:
                return list(self._rejection(order, "never reached the exchange (not found by its client id when "
                                                   "the session resumed)"))
            self._fault("reconcile", f"order {order.client_order_id}: acknowledged, now unknown to the exchange")
            return []
        return await self._order_and_trades(found, tracked)

    async def _foreign_trades(self, since_ms: int) -> list[str]:
        ours = {t.venue_order_id for t in self.tracker.orders.values() if t.venue_order_id}
        foreign = []
        for symbol in self.symbols:
            for trade in await self.client.fetch_my_trades(symbol, since_ms):
                if str(trade.get("order") or "") not in ours:
                    foreign.append(f"{symbol} {trade.get('side')} {trade.get('amount')} at {trade.get('price')} "
                                   f"({trade.get('datetime')}, exchange order {trade.get('order')}, trade "
                                   f"{trade.get('id')})")
        return foreign

    async def _balances(self) -> dict[str, Decimal]:
        """Each asset of the session's markets, free and locked, exact: from the exchange's own text when ccxt
        keeps it (Binance's ``balances``), else ccxt's totals."""
        balance = await self.client.fetch_balance()
        raw = (balance.get("info") or {}).get("balances")
        if isinstance(raw, list):
            held = {str(b["asset"]): Decimal(str(b["free"])) + Decimal(str(b["locked"])) for b in raw}
        else:
            held = {asset: Decimal(str(total)) for asset, total in (balance.get("total") or {}).items()
                    if total is not None}
        return {asset: held.get(asset, Decimal(0)) for asset in self.assets}

    # -- helpers ----------------------------------------------------------------------------------------------
    async def _by_client_id(self, call: Callable[..., Any], tracked: TrackedOrder, what: str) -> Any:
        """Call ``fetch_order`` or ``cancel_order`` for a tracked order; None (logged) if the call failed."""
        order = tracked.order
        try:
            return await call(tracked.venue_order_id or None, order.symbol,
                              {"origClientOrderId": order.client_order_id})
        except (ccxt.BaseError, OSError) as exc:
            self._fault(what, f"order {order.client_order_id}: {type(exc).__name__}: {exc}")
            return None

    def _spawn(self, coroutine: Any, *, on_its_way: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        if on_its_way:
            self._on_its_way.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._on_its_way.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._fault("client", f"{type(exc).__name__}: {exc}")  # logged; the session goes on

    def _fault(self, kind: str, message: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1
        log.warning("execution %s: %s", kind, message)

    def _backoff(self, attempt: int) -> float:
        step = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        return step / 2 + self._rng.uniform(0, step / 2)

    def _retry_after(self, exc: BaseException, attempt: int) -> float:
        headers = getattr(self.client, "last_response_headers", None) or {}
        told = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return max(float(told), 0.0) if told is not None else self._backoff(attempt)
        except ValueError:
            return self._backoff(attempt)


def _client_id(found: Mapping[str, Any]) -> str:
    return str(found.get("clientOrderId") or (found.get("info") or {}).get("clientOrderId") or "")


def _update(found: Mapping[str, Any], tracked: TrackedOrder, now: int) -> OrderUpdate | None:
    status = _STATUS.get(str(found.get("status")))
    if status is None:
        return None
    info = found.get("info") or {}
    filled = _decimal(info.get("executedQty", info.get("z")), found.get("filled"))
    if status is OrderStatus.ACCEPTED and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    order = tracked.order
    quantity = order.quantity
    stamp = found.get("lastUpdateTimestamp") or found.get("timestamp")
    return OrderUpdate(ts=int(stamp) * _MS if isinstance(stamp, int) else now, client_order_id=order.client_order_id,
                       symbol=order.symbol, status=status, filled_quantity=filled,
                       remaining_quantity=max(quantity - filled, Decimal(0)),
                       average_price=None if not found.get("average") else _decimal(None, found.get("average")),
                       venue_order_id=str(found.get("id") or ""))


def _full_fills(found: Mapping[str, Any], tracked: TrackedOrder) -> list[dict[str, Any]]:
    """The fills of Binance's FULL answer to a new order, as ccxt trades (ccxt leaves them in ``info``)."""
    info = found.get("info") or {}
    fills = info.get("fills") if isinstance(info, Mapping) else None
    cid = tracked.order.client_order_id
    return [{"id": str(f.get("tradeId")), "order": str(found.get("id") or ""), "info": dict(f, c=cid),
             "timestamp": found.get("timestamp"), "price": f.get("price"), "amount": f.get("qty"),
             "fee": {"cost": f.get("commission"), "currency": f.get("commissionAsset")}, "takerOrMaker": "taker"}
            for f in fills or []]


def _fill(trade: Mapping[str, Any], tracked: TrackedOrder) -> Fill | None:
    info = trade.get("info") or {}
    fee = trade.get("fee") or {}
    trade_id = str(trade.get("id") or info.get("t") or "")
    if not trade_id:
        return None
    price = _decimal(info.get("L") or info.get("price"), trade.get("price"))
    quantity = _decimal(info.get("l") or info.get("qty"), trade.get("amount"))
    cost = _decimal(info.get("n") or info.get("commission"), fee.get("cost"))
    currency = str(info.get("N") or info.get("commissionAsset") or fee.get("currency") or "")
    stamp = trade.get("timestamp") or info.get("T") or info.get("time")
    maker = trade.get("takerOrMaker") == "maker" or info.get("m") is True or info.get("isMaker") is True
    order = tracked.order
    return Fill(ts=int(stamp) * _MS if stamp else order.ts, client_order_id=order.client_order_id, trade_id=trade_id,
                symbol=order.symbol, side=order.side, price=price, quantity=quantity, fee=cost,
                fee_currency=currency or order.symbol.split("/")[1],
                liquidity=Liquidity.MAKER if maker else Liquidity.TAKER, venue_order_id=str(trade.get("order") or ""))


def _decimal(raw: Any, parsed: Any) -> Decimal:
    """The exchange's own text when there is one, else ccxt's parsed number, as an exact Decimal."""
    value = raw if raw is not None else parsed
    return Decimal(str(value)) if value is not None else Decimal(0)

