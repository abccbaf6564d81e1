"""The simulated exchange: takes orders and cancels from the bus, matches them against bars and trades.

The kernel calls ``on_market_data`` with each market event before the bus dispatches it, so fills at a bar's
open reach the ledger and the strategy before the bar itself. The rules it applies are listed, one line each,
in ``adapters.sim.assumptions.ASSUMPTIONS``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import NoReturn, Protocol

from adapters.sim.book import CLOSED, SimOrder, SymbolBook
from adapters.sim.config import SimConfig
from adapters.sim.fees import trade_fee
from adapters.sim.rounding import floor_to, price_against
from engine.errors import DataError, OrderRejected
from engine.events import (
    Bar,
    CancelOrder,
    Fill,
    Liquidity,
    MarketData,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Quote,
    TimeInForce,
    Trade,
)
from engine.markets import Markets
from engine.ports import Clock, EventSink

UNKNOWN_ORDER = "unknown order"
ALREADY_CLOSED = "already closed"

_IOC, _FOK = TimeInForce.IOC, TimeInForce.FOK
_MAKER, _TAKER = Liquidity.MAKER, Liquidity.TAKER
_STOP_MARKET = OrderType.STOP_MARKET
_INF = math.inf
_PRICED = (Bar, Trade, Quote)


class AccountCheck(Protocol):
    """The account a venue asks before it publishes a fill (the ledger implements it)."""

    def check_fill(self, fill: Fill, pending: Sequence[Fill]) -> None:
        """Raise ``OrderRejected`` (``InsufficientFunds``) if ``fill`` cannot be paid after ``pending``.

        ``pending`` are the fills already published in the same market event, which the bus has not booked yet.
        """


class _Slice:
    """One market event as the matcher sees it: a bar, or a trade taken as a one-price bar."""

    __slots__ = ("book", "budget", "close_ts", "fills", "high", "low", "open", "open_ts", "volume")

    def __init__(self, book: SymbolBook, open_: float, high: float, low: float, volume: float,
                 open_ts: int, close_ts: int, budget: Decimal | None) -> None:
        self.book = book
        self.open, self.high, self.low, self.volume = open_, high, low, volume
        self.open_ts, self.close_ts = open_ts, close_ts
        self.budget = budget  # quantity all orders of the symbol may still fill in this event; None: no cap
        self.fills: list[Fill] = []


class SimulatedExchange:
    """A venue that fills orders against historical (or live) market data by written rules.

    Parameters
    ----------
    bus
        Where order updates and fills are published.
    clock
        Stamps acknowledgements and rejections.
    markets
        The symbols traded, with their increments and minimums.
    config
        Fees, fill rules, volume cap, latency and slippage (default ``SimConfig()``).
    account
        Optional funds check called before each fill is published (see ``AccountCheck``).
    """

    def __init__(self, bus: EventSink, clock: Clock, markets: Markets, config: SimConfig | None = None,
                 account: AccountCheck | None = None) -> None:
        self._publish = bus.publish
        self._clock = clock
        self._markets = markets
        self.config = config if config is not None else SimConfig()
        self._slippage = self.config.slippage
        self._touch = self.config.limit_fill == "touch"
        self._latency = self.config.latency_ns
        self._account = account
        self._books: dict[str, SymbolBook] = {}
        self._live: dict[str, SymbolBook] = {}  # symbols with open orders or pending cancels: the only ones matched
        # The open orders only, as an exchange keeps them: the order manager is the record of every order, and
        # Binance too refuses a client order id only while an order with it is open.
        self._orders: dict[str, SimOrder] = {}
        self._last: dict[str, MarketData] = {}
        self._order_seq = 0
        self._trade_seq = 0

    # -- lifecycle: nothing to open or close; reports go straight to the sink it was built with ---------------
    async def start(self) -> None:
        """Start the session (the simulator holds no connection)."""

    async def stop(self) -> None:
        """Stop the session (the simulator holds no connection)."""

    # -- commands ------------------------------------------------------------------------------------------
    def on_order(self, order: Order) -> None:
        """Validate ``order`` and publish ACCEPTED (it activates ``latency_ns`` after its ts) or REJECTED."""
        cid, symbol = order.client_order_id, order.symbol
        if cid in self._orders:
            return self._reject(order, f"duplicate client order id {cid!r}: an order with it is open")
        market = self._markets.get(symbol)
        if market is None:
            return self._reject(order, f"unknown symbol {symbol!r}")
        # The last price only serves the minimum-notional and post-only rules: read only where one applies.
        last = self.last_price(symbol) if market.min_notional or order.post_only else None
        reference = None if last is None or not market.min_notional else market.round_price(last)
        try:
            market.check_order(cid, order.quantity, order.price, order.stop_price, reference)
        except OrderRejected as exc:
            return self._reject(order, str(exc))
        if order.post_only and last is not None and order.price is not None \
                and (float(order.price) >= last if order.side.sign > 0 else float(order.price) <= last):
            return self._reject(order, f"post-only order {cid!r} would take liquidity: {order.side.value} limit "
                                       f"{order.price} against last price {last!r}")
        self._order_seq += 1
        so = SimOrder.from_order(order, self._order_seq, order.ts + self._latency)
        self._orders[cid] = so
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = SymbolBook(market)
        book.add_new(so)
        self._live[symbol] = book
        self._update(so, OrderStatus.ACCEPTED, max(order.ts, self._clock.now()))

    def on_cancel_order(self, cancel: CancelOrder) -> None:
        """Cancel an open order ``latency_ns`` after the request; it may still fill until then."""
        so = self._orders.get(cancel.client_order_id)
        if so is None or so.order.symbol != cancel.symbol:  # closed or never seen, as an exchange answers it
            self._publish(OrderUpdate(ts=self._clock.now(), client_order_id=cancel.client_order_id,
                                      symbol=cancel.symbol, status=OrderStatus.REJECTED, reason=UNKNOWN_ORDER))
        else:
            book = self._books[cancel.symbol]
            book.cancels.append((cancel.ts + self._latency, so, cancel))
            self._live[cancel.symbol] = book

    # -- market data: the hot path -------------------------------------------------------------------------
    def on_market_data(self, event: MarketData) -> None:
        """Match the open orders of ``event.symbol`` against a bar or trade; publish fills and updates.

        With no open order for the symbol this only remembers the event (the last price) and returns. Bars and
        trades that are matched are checked first: a NaN, infinite or non-positive price, a negative volume or
        a high/low that does not contain the open and close raises ``DataError`` naming symbol, ts and field.
        """
        if isinstance(event, _PRICED):  # funding and vol prints are no price
            self._last[event.symbol] = event
        if event.symbol in self._live:
            self._match(event)

    # -- reads ---------------------------------------------------------------------------------------------
    def last_price(self, symbol: str) -> float | None:
        """Return the last price seen for ``symbol`` (bar close, trade price or quote mid), or None."""
        event = self._last.get(symbol)
        if isinstance(event, Bar):
            return event.close
        if isinstance(event, Trade):
            return event.price
        if isinstance(event, Quote) and event.bid > 0 and event.ask > 0:
            return (event.bid + event.ask) / 2
        return None

    def open_orders(self, symbol: str | None = None) -> list[SimOrder]:
        """Return the venue's open orders (of ``symbol``, or all), oldest first: its own records, to read only."""
        books = [self._books[symbol]] if symbol in self._books else [] if symbol else list(self._books.values())
        return sorted((so for book in books for so in book.open_orders()), key=lambda so: so.seq)

    # -- matching ------------------------------------------------------------------------------------------
    def _match(self, event: MarketData) -> None:
        if type(event) is Bar or isinstance(event, Bar):
            open_, high, low, volume = event.open, event.high, event.low, event.volume
            open_ts = event.ts - event.interval
            if not (0 < low <= open_ <= high < _INF and low <= event.close <= high and 0 <= volume < _INF):
                _bad_bar(event)
        elif isinstance(event, Trade):
            open_ = high = low = event.price
            volume = event.quantity
            open_ts = event.ts
            if not (0 < open_ < _INF and 0 <= volume < _INF):
                _bad_trade(event)
        else:
            return  # quotes, funding and volatility prints do not match orders
        symbol = event.symbol
        book = self._live[symbol]
        if book.cancels:
            self._apply_cancels(book, open_ts)
        if book.new or book.taking or low <= book.floor or high >= book.ceiling:
            share = self.config.volume_share
            budget = None if share is None else floor_to(share * volume, book.market.size_increment)
            s = _Slice(book, open_, high, low, volume, open_ts, event.ts, budget)
            self._match_open(s)
            self._match_inside(s)
        if not book.open_count and not book.cancels:
            del self._live[symbol]

    def _apply_cancels(self, book: SymbolBook, open_ts: int) -> None:
        due = [c for c in book.cancels if c[0] <= open_ts]
        if not due:
            return
        book.cancels = [c for c in book.cancels if c[0] > open_ts]
        # The order was live for every bar that opened before the cancel took effect, so the cancel is stamped
        # at the open of the first bar after it: event times stay in order.
        for _effective, so, _cancel in due:
            if so.stage == CLOSED:
                self._update(so, OrderStatus.REJECTED, open_ts, ALREADY_CLOSED)
            else:
                self._close(book, so, OrderStatus.CANCELLED, open_ts, "cancelled by request")

    def _match_open(self, s: _Slice) -> None:
        """Handle at the open, by time priority: takers, orders activating now, stops the market gapped through."""
        book = s.book
        gapped = book.pop_stops_gapped(s.open)
        candidates = [*book.pop_taking(), *book.pop_active(s.open_ts), *gapped]
        if len(candidates) > 1:
            candidates.sort(key=lambda so: so.seq)
        open_, ts = s.open, s.open_ts
        for so in candidates:
            if so.stop is not None and not so.triggered:
                if open_ >= so.stop_f if so.buy else open_ <= so.stop_f:
                    self._trigger(s, so, open_, ts)
                else:
                    book.add_stop(so)
            elif so.limit is None:
                self._take(s, so, open_, ts)
            elif so.marketable(open_):
                if so.order.post_only:
                    self._close(book, so, OrderStatus.CANCELLED, ts,
                                f"post-only order would take liquidity: {so.order.side.value} limit {so.limit} "
                                f"against open {open_!r}")
                else:
                    self._take(s, so, open_, ts)
            else:
                self._not_marketable(s, so, open_, ts, rest_from=ts, where="the open")

    def _match_inside(self, s: _Slice) -> None:
        """Handle what the bar's range reached: stops triggered, resting limits traded through, nearest first."""
        book = s.book
        open_, high, low, open_ts = s.open, s.high, s.low, s.open_ts
        if book.floor < low and high < book.ceiling:
            return  # the range reached no resting order and no stop (see SymbolBook.floor)
        reached: list[tuple[float, int, SimOrder]] = []  # (distance from the open, time priority, order)
        for so in book.buy_stops:
            if so.stop_f > high:
                break
            reached.append((so.stop_f - open_, so.seq, so))
        for so in book.sell_stops:
            if so.stop_f < low:
                break
            reached.append((open_ - so.stop_f, so.seq, so))
        touch = self._touch
        for so in book.bids:
            if not (so.limit_f > low or (touch and so.limit_f == low)):
                break
            if so.rest_from <= open_ts:
                reached.append((open_ - so.limit_f, so.seq, so))
        for so in book.asks:
            if not (so.limit_f < high or (touch and so.limit_f == high)):
                break
            if so.rest_from <= open_ts:
                reached.append((so.limit_f - open_, so.seq, so))
        if not reached:
            return
        reached.sort(key=lambda r: (r[0], r[1]))
        for distance, _, so in reached:
            if so.stop is not None and not so.triggered:
                book.detach(so)
                self._trigger(s, so, so.stop_f, s.close_ts)
                continue
            if s.budget is not None and not s.budget:
                continue  # the bar's volume is used up: the order rests on
            quantity = so.remaining if s.budget is None else min(so.remaining, s.budget)
            # A market that opened through the limit filled it at the open; otherwise somewhere inside the bar.
            at_open = distance < 0 or (touch and distance == 0)
            assert so.limit is not None
            self._fill(s, so, so.limit, quantity, open_ts if at_open else s.close_ts, _MAKER)

    def _trigger(self, s: _Slice, so: SimOrder, price: float, ts: int) -> None:
        """Trigger a detached stop at ``price``, then fill it as a market or limit order from that point."""
        so.triggered = True
        self._update(so, OrderStatus.TRIGGERED, ts)
        if so.order.type is _STOP_MARKET or so.marketable(price):
            self._take(s, so, price, ts)
        else:
            self._not_marketable(s, so, price, ts, rest_from=s.close_ts, where="its trigger")

    def _not_marketable(self, s: _Slice, so: SimOrder, price: float, ts: int, rest_from: int, where: str) -> None:
        tif = so.order.time_in_force
        if tif is _IOC or tif is _FOK:
            self._close(s.book, so, OrderStatus.CANCELLED if tif is _IOC else OrderStatus.EXPIRED, ts,
                        f"{tif.value}: {so.order.side.value} limit {so.limit} not marketable at {where} {price!r}")
        else:
            s.book.rest(so, rest_from)

    def _take(self, s: _Slice, so: SimOrder, price: float, ts: int) -> None:
        """Fill a detached order as taker at ``price`` (plus slippage) within the volume cap; handle the rest."""
        tif = so.order.time_in_force
        quantity = so.remaining if s.budget is None else min(so.remaining, s.budget)
        if tif is _FOK and quantity < so.remaining:
            self._close(s.book, so, OrderStatus.EXPIRED, ts,
                        f"FOK: only {quantity} of {so.remaining} could fill (volume cap)")
            return
        if quantity:
            fill_price = price_against(self._slippage.fill_price(so.order.side, price, float(quantity), s.volume),
                                       so.buy, s.book.market.price_increment)
            if so.limit is not None:
                fill_price = min(fill_price, so.limit) if so.buy else max(fill_price, so.limit)
            if not self._fill(s, so, fill_price, quantity, ts, _TAKER):
                return
        if so.remaining:
            if tif is _IOC:
                self._close(s.book, so, OrderStatus.CANCELLED, ts,
                            f"IOC: remainder {so.remaining} not filled (volume cap)")
            else:
                s.book.take_next_open(so)

    def _fill(self, s: _Slice, so: SimOrder, price: Decimal, quantity: Decimal, ts: int,
              liquidity: Liquidity) -> bool:
        """Check funds, then publish a fill and the order's new status; return False if the account refused it."""
        market = s.book.market
        price = price.quantize(market.price_increment)  # exact (already a multiple); shows the market's precision
        quantity = quantity.quantize(market.size_increment)
        config = self.config
        rate = config.maker_fee if liquidity is _MAKER else config.taker_fee
        order = so.order
        fill = Fill(ts=ts, client_order_id=order.client_order_id, trade_id=f"sim-{self._trade_seq + 1}",
                    symbol=order.symbol, side=order.side, price=price, quantity=quantity,
                    fee=trade_fee(price, quantity, rate, config.fee_precision), fee_currency=market.quote,
                    liquidity=liquidity, venue_order_id=so.venue_order_id)
        account = self._account
        if account is not None:
            try:
                account.check_fill(fill, s.fills)
            except OrderRejected as exc:
                self._close(s.book, so, OrderStatus.CANCELLED, ts, str(exc))
                return False
        self._trade_seq += 1
        so.filled += quantity
        so.remaining -= quantity
        so.notional += price * quantity
        if s.budget is not None:
            s.budget -= quantity
        s.fills.append(fill)
        self._publish(fill)
        if so.remaining:
            self._update(so, OrderStatus.PARTIALLY_FILLED, ts)
        else:
            self._close(s.book, so, OrderStatus.FILLED, ts)
        return True

    # -- updates -------------------------------------------------------------------------------------------
    def _close(self, book: SymbolBook, so: SimOrder, status: OrderStatus, ts: int, reason: str = "") -> None:
        book.close(so, status)
        self._update(so, status, ts, reason)
        del self._orders[so.order.client_order_id]

    def _update(self, so: SimOrder, status: OrderStatus, ts: int, reason: str = "") -> None:
        order = so.order
        self._publish(OrderUpdate(ts=ts, client_order_id=order.client_order_id, symbol=order.symbol, status=status,
                                  filled_quantity=so.filled, remaining_quantity=so.remaining,
                                  average_price=so.average_price, reason=reason,
                                  venue_order_id=so.venue_order_id))

    def _reject(self, order: Order, reason: str) -> None:
        self._publish(OrderUpdate(ts=max(order.ts, self._clock.now()), client_order_id=order.client_order_id,
                                  symbol=order.symbol, status=OrderStatus.REJECTED, remaining_quantity=order.quantity,
                                  reason=reason))


def _bad_bar(bar: Bar) -> NoReturn:
    """Raise ``DataError`` naming the symbol, ts and field of a bar no exchange could have printed."""
    for name in ("open", "high", "low", "close"):
        value = getattr(bar, name)
        if not (0 < value < _INF):
            raise DataError(f"bar {bar.symbol} at ts {bar.ts}: {name} must be a positive finite price, got {value!r}")
    if not (0 <= bar.volume < _INF):
        raise DataError(f"bar {bar.symbol} at ts {bar.ts}: volume must be finite and >= 0, got {bar.volume!r}")
    raise DataError(f"bar {bar.symbol} at ts {bar.ts}: high/low {bar.high!r}/{bar.low!r} do not contain "
                    f"open {bar.open!r} and close {bar.close!r}")


def _bad_trade(trade: Trade) -> NoReturn:
    if not (0 < trade.price < _INF):
        raise DataError(f"trade {trade.symbol} at ts {trade.ts}: price must be a positive finite price, "
                        f"got {trade.price!r}")
    raise DataError(f"trade {trade.symbol} at ts {trade.ts}: quantity must be finite and >= 0, "
                    f"got {trade.quantity!r}")
