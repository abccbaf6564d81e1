"""The kernel: wires the shared components in one fixed order and runs the event loop.

Back-test and live both use this class; they hand it different clocks and execution clients, and a driver of
``engine.loop`` (replay or live) feeds it.
Subscription order is part of the contract, because handlers of one event run in that order:
ledger, order manager, execution client, risk engine, user handlers, strategies, recorders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.bus import EventBus
from engine.events import Bar, CancelOrder, Fill, Order, OrderUpdate
from engine.markets import Markets
from engine.orders import OrderManager
from engine.ports import Clock, ExecutionClient
from engine.risk import RiskEngine, RiskLimits
from engine.strategy import Strategy, StrategyContext

# Why orders made while warming up are refused: the reason their rejections carry.
WARMING_UP = "warming up: the session takes orders from its first live bar"


class Kernel:
    """Own the bus, clock, ledger, order manager, venue, handlers and strategies of one session."""

    def __init__(self, *, bus: EventBus, clock: Clock, ledger: Any, markets: Markets,
                 execution: ExecutionClient, strategies: Sequence[Strategy] = (),
                 handlers: Sequence[object] = (), recorders: Sequence[object] = (),
                 risk: RiskLimits | None = None) -> None:
        self.bus = bus
        self.clock = clock
        self.ledger = ledger
        self.markets = markets
        self.execution = execution
        self.orders = OrderManager(bus, clock, ledger, markets)
        self.strategies = list(strategies)
        self.handlers = list(handlers)
        self.recorders = list(recorders)
        self._wire(risk)

    def _wire(self, risk: RiskLimits | None) -> None:
        bus = self.bus
        ledger, orders, execution = self.ledger, self.orders, self.execution
        for event_type, handler, component in (
                (Fill, ledger.on_fill, "ledger"), (OrderUpdate, ledger.on_order_update, "ledger"),
                (Bar, ledger.on_bar, "ledger"), (OrderUpdate, orders.on_order_update, "order manager"),
                (Fill, orders.on_fill, "order manager"), (Order, execution.on_order, "venue"),
                (CancelOrder, execution.on_cancel_order, "venue")):
            bus.subscribe(event_type, handler)
            bus.name_component(handler, component)
        bus.name_component(execution.on_market_data, "venue")
        self.risk = None if risk is None or not risk.to_dict() else RiskEngine(
            risk, bus=bus, clock=self.clock, ledger=ledger, orders=orders, markets=self.markets)
        for handler in self.handlers:
            attach = getattr(handler, "attach", None)
            if callable(attach):
                attach(self)  # a handler that wants the kernel (clock, markets) subscribes itself
            else:
                bus.subscribe_object(handler)
        context = StrategyContext(bus=bus, clock=self.clock, ledger=self.ledger, orders=self.orders,
                                  markets=self.markets)
        for strategy in self.strategies:
            strategy.attach(context)
        for recorder in self.recorders:
            bus.subscribe_object(recorder)

    # -- lifecycle: the drivers (engine.loop) call these around a session and drain the bus after each ------
    def start(self) -> None:
        """Start the strategies."""
        for strategy in self.strategies:
            strategy.on_start()

    def stop(self) -> None:
        """Stop the strategies."""
        for strategy in self.strategies:
            strategy.on_stop()

    def idle(self) -> None:
        """Tell the handlers and recorders that have an ``on_idle`` method that nothing is left to handle for now
        (the live driver calls it before it waits for the next event): the session journal commits there."""
        for component in (*self.handlers, *self.recorders):
            on_idle = getattr(component, "on_idle", None)
            if callable(on_idle):
                on_idle()

    def begin_warm_up(self) -> None:
        """Handle history before the session trades: handlers and strategies see its events, so indicators and
        models are ready at the first live bar; orders are refused (``WARMING_UP``) and recorders record nothing.

        Both drivers take a warm-up the same way, so a live session and its replay decide alike.
        """
        self.orders.halt(WARMING_UP, by="warm-up")
        for recorder in self.recorders:
            self.bus.unsubscribe_object(recorder)

    def end_warm_up(self) -> None:
        """Take orders and record from the next event on."""
        self.orders.halt(None, by="warm-up")
        for recorder in self.recorders:
            self.bus.subscribe_object(recorder)
