"""Random strategies through whole back-tests with the real ledger: the books hold after every event.

Hypothesis draws the prices (gaps of up to 25% between bars, one to three symbols) and a script of orders of
every type and time in force, several a bar for most of the cash, and cancels. A checker subscribed to every
event, after the kernel's components, asserts what must hold whatever a strategy does: no negative balance,
nothing reserved by a finished order, each balance equal to the initial cash plus the cash flow of the fills
booked so far, exactly. The run itself must never halt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.events import Bar, Event, Fill, OrderType, OrderUpdate, Side, TimeInForce
from engine.ledger import Ledger
from engine.strategy import Strategy

SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD")
CASH = Decimal(10_000)


@dataclass(frozen=True)
class Action:
    """One order (or a cancel) a strategy makes on a bar, drawn by Hypothesis."""

    kind: str  # an OrderType value, or "cancel"
    side: Side
    share: float  # of the free cash (buys) or of the position (sells)
    offset: float  # of the limit / stop price from the close
    tif: TimeInForce


actions = st.builds(
    Action,
    kind=st.sampled_from([t.value for t in OrderType] + ["cancel"]),
    side=st.sampled_from(list(Side)),
    share=st.floats(0.05, 0.95),
    offset=st.floats(-0.06, 0.06),
    tif=st.sampled_from(list(TimeInForce)),
)


@st.composite
def markets(draw: Any) -> list[tuple[pd.DataFrame, str]]:
    n_symbols = draw(st.integers(1, len(SYMBOLS)))
    n_bars = draw(st.integers(3, 25))
    index = pd.date_range("2024-01-01", periods=n_bars, freq="1h", tz="UTC", name="ts")
    feeds = []
    for symbol in SYMBOLS[:n_symbols]:
        moves = draw(st.lists(st.floats(-0.25, 0.25), min_size=n_bars, max_size=n_bars))
        inside = draw(st.lists(st.floats(-0.05, 0.05), min_size=n_bars, max_size=n_bars))
        opens, closes, price = [], [], 100.0
        for move, drift in zip(moves, inside, strict=True):
            price = round(price * (1 + move), 2)  # the gap from the last close to this open
            opens.append(price)
            price = round(price * (1 + drift), 2)
            closes.append(price)
        highs = [round(max(o, c) * 1.01, 2) for o, c in zip(opens, closes, strict=True)]
        lows = [round(min(o, c) * 0.99, 2) for o, c in zip(opens, closes, strict=True)]
        volumes = draw(st.lists(st.sampled_from([0.5, 5.0, 1e6]), min_size=n_bars, max_size=n_bars))
        frame = pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes, "volume": volumes},
                             index=index)
        feeds.append((frame, symbol))
    return feeds


class Scripted(Strategy):
    """Make the drawn actions on each bar of each symbol, in turn."""

    def __init__(self, script: list[list[Action]]) -> None:
        super().__init__()
        self.script = script
        self.step = 0

    def on_bar(self, bar: Bar) -> None:
        todo = self.script[self.step % len(self.script)]
        self.step += 1
        for action in todo:
            self.act(bar, action)

    def act(self, bar: Bar, action: Action) -> None:
        symbol = bar.symbol
        if action.kind == "cancel":
            open_orders = self.open_orders(symbol)
            if open_orders:
                self.cancel(open_orders[int(action.share * len(open_orders))])
            return
        kind = OrderType(action.kind)
        if action.side is Side.BUY:
            quantity = float(self.context.ledger.free("USD")) * action.share / bar.close
        else:
            quantity = float(self.position(symbol)) * action.share
        level = bar.close * (1 + action.offset)
        price = level if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        stop = level if kind in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) else None
        self.submit(action.side, symbol, quantity, type=kind, price=price, stop_price=stop,
                    time_in_force=action.tif)


class BooksChecker:
    """Check the ledger's books after every event the bus handles (subscribed after the kernel's components)."""

    def __init__(self) -> None:
        self.expected: dict[str, Decimal] = {"USD": CASH}
        self.events = 0
        self.fills = 0
        self.refused = 0

    def attach(self, kernel: Any) -> None:
        self.ledger: Ledger = kernel.ledger
        self.orders = kernel.orders
        kernel.bus.subscribe(Event, self.check)

    def check(self, event: Event) -> None:
        self.events += 1
        ledger = self.ledger
        if isinstance(event, Fill):
            self.fills += 1
            market = ledger.markets[event.symbol]
            sign = 1 if event.side is Side.BUY else -1
            expected = self.expected
            expected[market.base] = expected.get(market.base, Decimal(0)) + sign * event.quantity
            expected[market.quote] = expected.get(market.quote, Decimal(0)) - sign * event.price * event.quantity
            expected[event.fee_currency] -= event.fee
        if isinstance(event, OrderUpdate) and event.status.is_terminal:
            assert ledger.reservation(event.client_order_id) == 0, event
            if "available" in event.reason:
                self.refused += 1
        for currency in set(self.expected) | set(ledger.balances()):
            balance = ledger.balance(currency)
            assert balance == self.expected.get(currency, Decimal(0)), (currency, event)
            assert balance >= 0 and ledger.reserved(currency) >= 0 and ledger.free(currency) >= 0, (currency, event)
        held: dict[str, Decimal] = {}
        for record in self.orders.open_orders():
            market = ledger.markets[record.order.symbol]
            currency = market.quote if record.order.side is Side.BUY else market.base
            held[currency] = held.get(currency, Decimal(0)) + ledger.reservation(record.order.client_order_id)
        for currency in set(held) | set(self.expected):
            assert ledger.reserved(currency) == held.get(currency, Decimal(0)), (currency, event)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds=markets(), script=st.lists(st.lists(actions, max_size=4), min_size=1, max_size=12),
       fee_bps=st.sampled_from([0.0, 10.0, 25.0]), slippage=st.sampled_from(["none", "fixed", "volume"]),
       volume_share=st.sampled_from([None, 0.5]))
def test_random_strategies_keep_the_books_exact_after_every_event(feeds, script, fee_bps, slippage,
                                                                    volume_share) -> None:
    checker = BooksChecker()
    venue = SimSettings(fee_bps=fee_bps, slippage=slippage, slippage_bps=5.0, volume_share=volume_share)
    result = run_backtest(Scripted(script), feeds, BacktestConfig(cash=CASH), venue=venue,
                          handlers=[checker])  # raises if anything halts the run
    assert checker.events > 0
    event(f"fills: {'some' if checker.fills else 'none'}")
    event(f"fills refused for funds: {'some' if checker.refused else 'none'}")
    statuses = set(result.orders["status"]) if len(result.orders) else set()
    for status in statuses:
        event(f"status {status}")
