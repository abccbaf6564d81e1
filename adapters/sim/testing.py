"""A harness that drives the simulated exchange with a real bus and simulated clock on hand-made bars.

Part of the test kit users' tests can import too: ``Venue`` feeds bars and trades as the kernel does (the venue
first, then the bus), places orders and cancels, and keeps every update and fill it publishes; with balances it
books them in the real ledger, which checks every fill as in a back-test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from adapters.sim import SimConfig, SimulatedExchange
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.events import (
    Bar,
    CancelOrder,
    Event,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from engine.ledger import Ledger
from engine.markets import Market, Markets

MIN = 60_000_000_000  # one-minute bars, in ns
SYMBOL = "BTC/USD"


def t(i: int) -> int:
    """Return the open time of bar ``i`` (bar ``i`` closes, and is stamped, at ``t(i + 1)``)."""
    return i * MIN


def default_config(**overrides: Any) -> SimConfig:
    settings: dict[str, Any] = {"maker_fee": Decimal("0.001"), "taker_fee": Decimal("0.002")}
    settings.update(overrides)
    return SimConfig(**settings)


class Venue:
    """A simulated exchange on a real bus; every event it publishes is kept in ``events``."""

    def __init__(self, config: SimConfig | None = None, balances: Mapping[str, str] | None = None,
                 markets: Sequence[Market] | None = None) -> None:
        self.bus = EventBus()
        self.clock = SimulatedClock(self.bus)
        if markets is None:
            markets = [Market(symbol=SYMBOL, base="BTC", quote="USD", price_increment=Decimal("0.01"),
                              size_increment=Decimal("0.001"), min_size=Decimal("0.001"),
                              min_notional=Decimal("10"))]
        self.markets = Markets(list(markets))
        # With balances, the real ledger checks every fill and books it first, as the kernel wires it.
        self.ledger = None if balances is None else ledger(self.markets, **balances)
        self.exchange = SimulatedExchange(self.bus, self.clock, self.markets,
                                          config if config is not None else default_config(), self.ledger)
        if self.ledger is not None:
            self.bus.subscribe(Fill, self.ledger.on_fill)
            self.bus.subscribe(OrderUpdate, self.ledger.on_order_update)
        self.events: list[Event] = []
        self.bus.subscribe(Order, self.exchange.on_order)
        self.bus.subscribe(CancelOrder, self.exchange.on_cancel_order)
        self.bus.subscribe(Fill, self.events.append)
        self.bus.subscribe(OrderUpdate, self.events.append)

    # -- driving -------------------------------------------------------------------------------------------
    def bar(self, i: int, o: float, h: float, low: float, c: float, v: float = 100.0,
            symbol: str = SYMBOL) -> Bar:
        """Feed bar ``i`` (open time ``t(i)``) the way the kernel does: venue first, then the bus."""
        bar = Bar(ts=t(i + 1), symbol=symbol, open=float(o), high=float(h), low=float(low), close=float(c),
                  volume=float(v), interval=MIN)
        self.feed(bar)
        return bar

    def trade(self, ts: int, price: float, quantity: float = 1.0) -> Trade:
        trade = Trade(ts=ts, symbol=SYMBOL, price=float(price), quantity=float(quantity))
        self.feed(trade)
        return trade

    def feed(self, event: Bar | Trade) -> None:
        self.clock.set_time(event.ts)
        self.exchange.on_market_data(event)
        self.bus.dispatch()

    def order(self, cid: str, side: str, quantity: str, type: str = "market", price: str | None = None,
              stop: str | None = None, tif: str = "GTC", post_only: bool = False, ts: int | None = None,
              symbol: str = SYMBOL) -> Order:
        """Submit an order made now (the current bar's close) unless ``ts`` is given."""
        order = Order(ts=self.clock.now() if ts is None else ts, client_order_id=cid, symbol=symbol,
                      side=Side(side), type=OrderType(type), quantity=Decimal(quantity),
                      price=None if price is None else Decimal(price),
                      stop_price=None if stop is None else Decimal(stop),
                      time_in_force=TimeInForce(tif), post_only=post_only)
        self.bus.publish(order)
        self.bus.dispatch()
        return order

    def cancel(self, cid: str, ts: int | None = None, symbol: str = SYMBOL) -> None:
        self.bus.publish(CancelOrder(ts=self.clock.now() if ts is None else ts, client_order_id=cid,
                                     symbol=symbol))
        self.bus.dispatch()

    # -- reading -------------------------------------------------------------------------------------------
    def fills(self, cid: str | None = None) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill) and (cid is None or e.client_order_id == cid)]

    def updates(self, cid: str) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.client_order_id == cid]

    def statuses(self, cid: str) -> list[OrderStatus]:
        return [u.status for u in self.updates(cid)]

    def last(self, cid: str) -> OrderUpdate:
        return self.updates(cid)[-1]

    def clear(self) -> None:
        self.events.clear()


def ledger(markets: Markets, usd: str, btc: str = "0") -> Ledger:
    """Return the real ledger with ``usd`` USD and ``btc`` BTC, reserving nothing: the venue's orders bypass
    the order manager, so every fill is paid from free funds."""
    return Ledger(markets, "USD", {"USD": Decimal(usd), "BTC": Decimal(btc)})
