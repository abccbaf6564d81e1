"""The execution client against the loopback Binance account, with the real ccxt.pro client: orders reach the
server once whatever the answer, refusals reach the strategy with their reason, and the user stream's repeats and
regressions change nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from adapters.ccxt.execution import CcxtExecution
from adapters.ccxt.markets import markets_from_exchange
from engine.events import Event, Fill, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.testing.binance_live import LiveBinanceServer, make_pro_client
from tests.integration.live_kit import SYMBOL, wait_until, wavy_bars

KEYS = ("loopback-key", "loopback-secret")


class Reports:
    """The execution client's sink: every report, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cid: str) -> list[str]:
        return [e.status.name if isinstance(e, OrderUpdate) else f"fill {e.quantity.normalize()}" for e in self.events
                if getattr(e, "client_order_id", None) == cid]

    def final(self, cid: str) -> OrderUpdate | None:
        updates = [e for e in self.events if isinstance(e, OrderUpdate) and e.client_order_id == cid]
        return updates[-1] if updates and updates[-1].status.is_terminal else None


def order(cid: str, quantity: str = "0.5", side: Side = Side.BUY, price: str | None = None) -> Order:
    return Order(ts=time.time_ns(), client_order_id=cid, symbol=SYMBOL, side=side,
                 type=OrderType.MARKET if price is None else OrderType.LIMIT, quantity=Decimal(quantity),
                 price=None if price is None else Decimal(price))


@contextlib.asynccontextmanager
async def trading_desk(**settings: Any) -> AsyncIterator[tuple[LiveBinanceServer, CcxtExecution, Reports]]:
    """A loopback account holding 10,000 USDT, the real ccxt.pro client, and an execution client with ``settings``
    started on it and subscribed to the user stream; stopped and closed however the test ends."""
    with LiveBinanceServer({SYMBOL: wavy_bars(60)}, live_from=30, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        client = make_pro_client(server, timeout=3000)
        await client.load_markets()
        reports = Reports()
        execution = CcxtExecution(client, reports, markets_from_exchange(client, [SYMBOL]), time.time_ns, **settings)
        await execution.start()
        try:
            await server.wait_for_user_stream(timeout=30)
            yield server, execution, reports
        finally:
            await execution.stop()
            await client.close()


@pytest.fixture
async def desk() -> AsyncIterator[tuple[LiveBinanceServer, CcxtExecution, Reports]]:
    async with trading_desk(check_every=1.0, stale_after=3.0, settle_for=10.0, backoff_base=0.05,
                            backoff_cap=0.5) as opened:
        yield opened


async def settled(reports: Reports, cid: str) -> OrderUpdate:
    await wait_until(lambda: reports.final(cid) is not None, f"order {cid} settled", timeout=20)
    final = reports.final(cid)
    assert final is not None
    return final


async def test_a_market_order_fills_once_with_the_exchanges_exact_figures(desk: Any) -> None:
    server, execution, reports = desk
    execution.on_order(order("m-1"))
    final = await settled(reports, "m-1")
    assert final.status is OrderStatus.FILLED and final.filled_quantity == Decimal("0.5")
    await wait_until(lambda: len(server.account.fills(SYMBOL)) == 1, "the server's trade")
    fills = [e for e in reports.events if isinstance(e, Fill)]
    served = server.account.fills(SYMBOL)[0]
    assert len(fills) == 1 and reports.of("m-1")[-2:] == ["fill 0.5", "FILLED"]  # the fill before what ends it
    assert (fills[0].price, fills[0].quantity, fills[0].trade_id) == (served.price, served.qty, str(served.trade_id))
    assert fills[0].fee == served.commission and fills[0].fee_currency == served.commission_asset == "USDT"
    assert server.orders_placed["m-1"] == 1


@pytest.mark.parametrize("fault", ["unknown_status", "lost_answer", "timeout"])
async def test_an_ambiguous_answer_is_settled_by_looking_the_order_up_never_by_sending_it_again(
        desk: Any, fault: str) -> None:
    server, execution, reports = desk
    server.fail_next_order(fault, delay=5.0)
    execution.on_order(order("a-1"))
    final = await settled(reports, "a-1")
    assert final.status is OrderStatus.FILLED
    # the user stream may report the fill before the answer fails: wait for the client's side of it too
    await wait_until(lambda: execution.faults.get("in_flight") == 1, "the ambiguous answer", timeout=20)
    await wait_until(lambda: not execution.tracker.open_orders(), "the lookup")
    assert server.orders_placed["a-1"] == 1 and server.orders_placed.total() == 1  # not doubled
    assert sum(isinstance(e, Fill) for e in reports.events) == 1 and reports.of("a-1").count("FILLED") == 1


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda server: server.fail_next_order("insufficient"), "InsufficientFunds"),
    (lambda server: None, "NOTIONAL"),
])
async def test_refusals_reach_the_strategy_as_rejections_with_their_reason(
        desk: Any, setup: Callable[[Any], None], reason: str) -> None:
    server, execution, reports = desk
    setup(server)
    quantity = "0.5" if reason == "InsufficientFunds" else "0.0001"  # 0.01 USDT: below the minimum notional
    execution.on_order(order("r-1", quantity))
    final = await settled(reports, "r-1")
    assert final.status is OrderStatus.REJECTED and reason in final.reason
    assert server.orders_placed.total() == 0


async def test_a_rate_limit_is_waited_out_and_the_order_placed_once(desk: Any) -> None:
    server, execution, reports = desk
    server.fail_next_order("rate_limit")
    started = time.monotonic()
    execution.on_order(order("l-1"))
    final = await settled(reports, "l-1")
    assert final.status is OrderStatus.FILLED and time.monotonic() - started >= 0.9  # Retry-After: 1
    assert server.orders_placed["l-1"] == 1 and execution.faults["rate_limited"] == 1


async def test_repeated_and_regressing_reports_and_a_dropped_stream_change_nothing(desk: Any) -> None:
    server, execution, reports = desk
    server.user_stream_fault("duplicate")
    execution.on_order(order("d-1"))
    await settled(reports, "d-1")
    server.user_stream_fault("regress")
    execution.on_order(order("d-2", side=Side.SELL))
    await settled(reports, "d-2")
    server.user_stream_fault("drop")
    execution.on_order(order("d-3"))
    await settled(reports, "d-3")
    await execution.check()  # what REST says now changes nothing either
    fills = [e for e in reports.events if isinstance(e, Fill)]
    assert sorted(f.trade_id for f in fills) == sorted({f.trade_id for f in fills}) and len(fills) == 3
    for cid in ("d-1", "d-2", "d-3"):
        assert reports.of(cid)[-1] == "FILLED" and reports.of(cid).count("FILLED") == 1


async def test_a_resting_limit_order_is_cancelled_and_a_silent_stream_is_settled_by_the_rest_check(
        desk: Any) -> None:
    server, execution, reports = desk
    execution.on_order(order("c-1", price="50.00"))  # far below the market: rests
    await wait_until(lambda: "ACCEPTED" in reports.of("c-1"), "the acknowledgement")
    from engine.events import CancelOrder

    execution.on_cancel_order(CancelOrder(ts=time.time_ns(), client_order_id="c-1", symbol=SYMBOL))
    assert (await settled(reports, "c-1")).status is OrderStatus.CANCELLED
    server.user_stream_fault("malformed")  # ends ccxt's receive loop without a word
    execution.on_order(order("c-2"))
    assert (await settled(reports, "c-2")).status is OrderStatus.FILLED
    assert server.account_balances()["USDT"] < Decimal(10_000)


async def test_refused_keys_halt_trading_with_a_clear_reason() -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(60)}, live_from=30, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        client = make_pro_client(server, apiKey=KEYS[0], secret="not-the-secret")
        await client.load_markets()
        reports = Reports()
        execution = CcxtExecution(client, reports, markets_from_exchange(client, [SYMBOL]), time.time_ns,
                                  backoff_base=0.05, backoff_cap=0.2)
        try:
            execution.on_order(order("k-1"))
            first = await settled(reports, "k-1")
            execution.on_order(order("k-2"))
            second = await settled(reports, "k-2")
        finally:
            await execution.stop()
            await client.close()
    assert first.status is second.status is OrderStatus.REJECTED
    assert "refused the API keys" in first.reason and second.reason == first.reason
    assert "not-the-secret" not in first.reason and server.orders_placed.total() == 0


async def test_sma_cross_trades_real_orders_unchanged_and_the_ledger_ends_equal_to_the_account(
        tmp_path: Any) -> None:
    from strategies.sma_cross import SmaCross
    from tests.integration.live_kit import PaperRun

    with LiveBinanceServer({SYMBOL: wavy_bars(120)}, live_from=40, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "live.sqlite", warmup_bars=20, max_bars=40,
                       real_orders=True)
        result = await run.run_bars(40)
        account = server.account_balances()
        placed = server.orders_placed
    assert result is not None and placed.total() >= 4  # the cross traded: a real comparison
    assert all(n == 1 for n in placed.values())  # no order doubled
    ledger = {asset: Decimal(amount) for asset, amount in result.balances.items() if Decimal(amount)}
    assert ledger == {asset: amount for asset, amount in account.items() if amount}  # exactly, to the last digit
    assert set(ledger) == {"USDT", "BTC"} or set(ledger) == {"USDT"}
    assert all(cid.startswith("m") and len(cid) <= 36 for cid in placed)  # the session's tagged ids


async def orders_left_after_stopping(cancel_on_stop: bool) -> list[Any]:
    """Place a resting order, stop the client; return the orders still open at the server."""
    async with trading_desk(cancel_on_stop=cancel_on_stop) as (server, execution, reports):
        execution.on_order(order("s-1", price="50.00"))
        await wait_until(lambda: "ACCEPTED" in reports.of("s-1"), "the acknowledgement")
    return list(server.account.open_orders(SYMBOL))


async def test_stopping_cancels_the_sessions_open_orders_unless_told_to_keep_them() -> None:
    assert await orders_left_after_stopping(cancel_on_stop=True) == []
    assert len(await orders_left_after_stopping(cancel_on_stop=False)) == 1


async def test_reconciling_an_order_in_flight_that_never_reached_the_exchange_rejects_it_without_sending_it(
        desk: Any) -> None:
    from engine.store import OrderRecord

    server, execution, _ = desk
    state = await execution.reconcile([OrderRecord(order("lost-1"))], None)
    (update,) = state.reports
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.REJECTED
    assert "never reached the exchange" in update.reason
    assert server.orders_placed.total() == 0 and state.balances == {"BTC": Decimal(0), "USDT": Decimal(10_000)}
    assert state.foreign_trades == []
