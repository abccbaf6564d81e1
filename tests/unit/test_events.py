"""Events are treated as immutable: Order, OrderUpdate and Fill are not frozen for speed, so nobody may set a field."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.bus import EventBus
from engine.datagen.synthetic import synthetic_bars
from engine.events import Event, Fill, Order, OrderType, OrderUpdate, Side, TimeInForce
from engine.strategy import Strategy


class Busy(Strategy):
    """Orders of every type, partial fills and cancels, so every kernel component handles every kind of event."""

    def on_bar(self, bar) -> None:
        step = self.context.clock.now() // bar.interval % 6
        if step == 0:
            self.buy(bar.symbol, 3)
        elif step == 1:
            self.sell(bar.symbol, 1, price=bar.close * 1.001)
        elif step == 2:
            self.submit(Side.BUY, bar.symbol, 1, type=OrderType.STOP_LIMIT, stop_price=bar.close * 1.002,
                        price=bar.close * 1.003, time_in_force=TimeInForce.GTC)
        elif step == 3:
            self.cancel_all(bar.symbol)
        elif step == 4:
            self.sell(bar.symbol, 2, time_in_force=TimeInForce.IOC)


def test_no_component_changes_an_event_once_it_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[tuple[Event, tuple[object, ...]]] = []
    publish = EventBus.publish

    def keep(self: EventBus, event: Event) -> None:
        published.append((event, dataclasses.astuple(event)))
        publish(self, event)

    monkeypatch.setattr(EventBus, "publish", keep)
    run_backtest(Busy(), synthetic_bars(600, interval="1m", seed=5), venue=SimSettings(volume_share=0.01),
                 symbol="SYN/USD")
    kinds = {type(event) for event, _ in published}
    assert {Order, OrderUpdate, Fill} <= kinds
    changed = [event for event, fields in published if dataclasses.astuple(event) != fields]
    assert changed == []
