"""Resuming a session from its journal, in process: the rebuilt ledger is the one the journal's session ended with;
an order left resting at the exchange that filled while the session was down is found and booked before the
strategy trades; a paper session's resting order, which its simulator did not keep, is cancelled with the reason;
a journal of another session is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.datagen.synthetic import synthetic_bars
from engine.errors import ConfigError
from engine.events import Bar, Fill, OrderStatus, OrderUpdate
from engine.kernel import Kernel
from engine.ledger import Ledger
from engine.markets import Market, Markets
from engine.resume import PAPER_RESTART, check_same_session, restore
from engine.session_journal import read_events, read_runs
from engine.strategy import Strategy
from engine.testing.binance_live import LiveBinanceServer
from strategies.sma_cross import SmaCross
from tests.integration.live_kit import SYMBOL, PaperRun, wavy_bars

KEYS = ("loopback-key", "loopback-secret")


class RestingBuy(Strategy):
    """A limit buy of one BTC ``below`` the close, sent on a live bar when it holds none and has no order open:
    it rests, and the swings of ``wavy_bars`` fill it a few bars on."""

    params = {"below": 1.0}

    def on_bar(self, bar: Bar) -> None:
        if self.halted is None and not self.open_orders() and not self.position(bar.symbol):
            self.buy(bar.symbol, 1, price=round(bar.close - self.p["below"], 2))


class Nowhere:
    def on_market_data(self, event: Any) -> None: ...

    def on_order(self, order: Any) -> None:
        raise AssertionError("a restored order is never sent again")

    def on_cancel_order(self, cancel: Any) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def test_the_ledger_rebuilt_from_a_journal_is_the_one_its_session_ended_with(tmp_path: Path) -> None:
    bars = synthetic_bars(600, interval="1h", seed=4)
    journal = tmp_path / "run.journal"
    result = run_backtest(SmaCross(fast=5, slow=20), bars, venue=SimSettings(fee_bps=10), symbol="SYN/USD",
                          journal=journal)
    assert len(result.fills) > 10
    markets = Markets([Market.from_symbol("SYN/USD")])  # as run_backtest makes it
    bus = EventBus()
    clock = SimulatedClock(bus)
    ledger = Ledger(markets, "USD", {"USD": Decimal(10_000)}, clock=clock)
    kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=Nowhere())
    restored = restore(read_events(journal), kernel)
    assert {k: v for k, v in ledger.balances().items() if v} == {
        k: Decimal(v) for k, v in result.balances.items() if Decimal(v)}
    assert ledger.fees_paid() == {"USD": sum((Decimal(str(fee)) for fee in result.fills["fee"]), Decimal(0))}
    assert len(kernel.orders.fills) == len(result.fills) and restored.open_orders == []


def test_a_journal_of_another_session_is_refused_naming_what_differs(tmp_path: Path) -> None:
    recorded = {"kind": "live", "symbols": ["BTC/USDT"], "strategies": [{"name": "SmaCross", "params": {"fast": 3}}]}
    check_same_session(tmp_path / "j", recorded, {**recorded, "warmup_bars": 50})  # the warm-up may change
    with pytest.raises(ConfigError, match=r"strategies .*'fast': 3.*'fast': 4.*give another --out"):
        check_same_session(tmp_path / "j", recorded,
                           {**recorded, "strategies": [{"name": "SmaCross", "params": {"fast": 4}}]})
    with pytest.raises(ConfigError, match="symbols"):
        check_same_session(tmp_path / "j", recorded, {**recorded, "symbols": ("ETH/USDT",)})


async def test_a_resting_order_filled_while_the_session_was_down_is_booked_before_it_trades(
        tmp_path: Path) -> None:
    journal = tmp_path / "live.sqlite"
    with LiveBinanceServer({SYMBOL: wavy_bars(120)}, live_from=40, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        first = PaperRun(server, [RestingBuy()], journal, warmup_bars=5, max_bars=1, real_orders=True,
                         cancel_on_stop=False)
        await first.run_bars(1)
        assert len(server.account.open_orders(SYMBOL)) == 1  # kept at the exchange when the session stopped
        for _ in range(40):  # the market moves on while nobody watches
            server.advance()
            if not server.account.open_orders(SYMBOL):
                break
        assert not server.account.open_orders(SYMBOL)  # it filled meanwhile
        second = PaperRun(server, [RestingBuy()], journal, warmup_bars=5, max_bars=2, real_orders=True)
        result = await second.run_bars(2)
        account = server.account_balances()
        placed = server.orders_placed
    assert second.session is not None and second.session.reconciliation is not None
    checked = second.session.reconciliation
    assert [type(e).__name__ for e in checked.recovered] == ["Fill", "OrderUpdate"] and checked.ok
    assert checked.recovered[-1].status is OrderStatus.FILLED  # type: ignore[attr-defined]
    assert placed.total() == 1  # holding its BTC, the strategy sent nothing more
    assert {a: Decimal(v) for a, v in result.balances.items() if Decimal(v)} == {a: v for a, v in account.items() if v}
    events = list(read_events(journal))
    assert sum(isinstance(e, Fill) for e in events) == 1 and len(read_runs(journal)) == 2


async def test_a_paper_sessions_resting_order_is_cancelled_when_it_resumes_and_new_ids_never_repeat(
        tmp_path: Path) -> None:
    journal = tmp_path / "paper.sqlite"
    with LiveBinanceServer({SYMBOL: wavy_bars(120)}, live_from=40) as server:
        first = PaperRun(server, [RestingBuy()], journal, warmup_bars=5, max_bars=1)
        await first.run_bars(1)
        assert first.session is not None and first.session.kernel is not None
        (left_open,) = [r.order.client_order_id for r in first.session.kernel.orders.open_orders()]
        second = PaperRun(server, [RestingBuy()], journal, warmup_bars=5, max_bars=2)
        await second.run_bars(2)
    assert second.session is not None and second.session.kernel is not None
    events = list(read_events(journal))
    cancelled = [e for e in events if isinstance(e, OrderUpdate) and e.client_order_id == left_open]
    assert [(e.status, e.reason) for e in cancelled] == [(OrderStatus.ACCEPTED, ""),
                                                         (OrderStatus.CANCELLED, PAPER_RESTART)]
    kernel = second.session.kernel
    (new,) = [r.order.client_order_id for r in kernel.orders.open_orders()]
    assert new != left_open and new.startswith("m")  # a resumed session tags its ids
    assert kernel.ledger.reserved("USDT") == kernel.ledger.reservation(new) > 0  # the cancelled order holds nothing
