"""Websockets dropped three times during a real-orders session, once exactly as an order fills: no fill missed
(recovered by REST), none counted twice, no order doubled, and the ledger ends equal to the account.

``sma_cross`` trades real orders (``PaperRun(..., real_orders=True)``) against the loopback Binance account while
the server breaks the market sockets and the user-data stream:

1. both at a quiet moment (the market sockets aborted, the user stream dropped);
2. the user stream exactly as the next order fills (``lost``: its TRADE report withheld, the user sockets closed
   at that moment), the market sockets closed with a close frame: the order's answer still carries the fill;
3. the same, with the order's answer lost too (``lost_answer``) and new market sockets refused for a bar: only
   the lookup by client id and the REST check of trades know of the fill.

Each lost fill must reach the session while it runs (the REST check runs every second), not only at its stop.
The last case is also checked alone, on the execution client without a session.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from adapters.ccxt.execution import CcxtExecution
from engine.events import Fill, OrderStatus
from engine.session_journal import read_events
from engine.testing.binance_live import LiveBinanceServer
from strategies.sma_cross import SmaCross
from tests.integration.live_kit import SYMBOL, PaperRun, wait_until, wavy_bars
from tests.integration.test_live_execution import order, settled, trading_desk

KEYS = ("loopback-key", "loopback-secret")
HISTORY, WARMUP = 40, 20
WAIT = 20.0  # seconds for what must happen (a loaded 2-core machine is slow; the REST check runs every second)
MOST_BARS = 30  # bars to close before a planned fault must have met an order (sma_cross 3/8 trades every ~7)


class SeenFills:
    """A handler that notes the trade id of every fill the session booked, as it books it."""

    def __init__(self) -> None:
        self.trade_ids: list[str] = []

    def on_fill(self, fill: Fill) -> None:
        self.trade_ids.append(fill.trade_id)


async def close_until(run: PaperRun, condition: Callable[[], bool], what: str) -> None:
    """Close bars one at a time until ``condition`` holds, at most ``MOST_BARS``."""
    for _ in range(MOST_BARS):
        if condition():
            return
        await run.close_bars(1)
    await wait_until(condition, what, timeout=WAIT)


async def test_websockets_dropped_three_times_lose_no_fill_count_none_twice_and_double_no_order(
        tmp_path: Path) -> None:
    frame = wavy_bars(HISTORY + 3 * MOST_BARS + 10)
    with LiveBinanceServer({SYMBOL: frame}, live_from=HISTORY, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        fills = SeenFills()
        run = PaperRun(server, [SmaCross(fast=3, slow=8)], tmp_path / "drops.sqlite", warmup_bars=WARMUP,
                       real_orders=True, handlers=[fills])
        try:
            task = await run.start()
            assert run.session is not None and run.session.kernel is not None
            kernel = run.session.kernel
            execution = kernel.execution
            assert isinstance(execution, CcxtExecution)

            async def quiet() -> None:
                """Wait until no order of the session is on its way and the user stream listens again, so that
                a fault planned now meets the next order."""
                await wait_until(lambda: not kernel.orders.open_orders(), "the session's orders settled", WAIT)
                await server.wait_for_user_stream(timeout=WAIT)

            await run.close_bars(3)
            server.drop_sockets()  # 1: both streams, nothing on its way
            server.user_stream_fault("drop")
            await run.close_bars(3)

            await quiet()  # 2: the user stream breaks as an order fills
            server.drop_sockets(how="close")
            server.user_stream_fault("lost")
            await close_until(run, lambda: server.account_faults_served["lost"] == 1, "an order filled (1st lost)")
            first = str(server.user_reports_lost[0]["t"])
            await wait_until(lambda: first in fills.trade_ids, f"the lost fill {first} booked", WAIT)

            await quiet()  # 3: and the order's answer is lost too
            server.drop_sockets(refuse_for_bars=1)
            server.fail_next_order("lost_answer")
            server.user_stream_fault("lost")
            await close_until(run, lambda: server.account_faults_served["lost"] == 2, "an order filled (2nd lost)")
            second = str(server.user_reports_lost[1]["t"])
            await wait_until(lambda: second in fills.trade_ids, f"the lost fill {second} booked", WAIT)
            await wait_until(lambda: execution.faults.get("in_flight") == 1, "its lost answer noticed", WAIT)

            traded = len(server.account.fills(SYMBOL))
            await close_until(run, lambda: len(server.account.fills(SYMBOL)) >= traded + 2,
                              "two more trades after the drops")  # the session trades on
            await quiet()
            run.session.stop("the test is over")
            result = await task
        finally:
            await run.close()
        trades = [str(f.trade_id) for f in server.account.fills(SYMBOL)]
        placed = server.orders_placed
        account = server.account_balances()
        served = server.account_faults_served
        market_drops = server.faults_served["drop"]

    assert result is not None
    journal = [e.trade_id for e in read_events(tmp_path / "drops.sqlite") if isinstance(e, Fill)]
    assert sorted(journal, key=int) == trades  # every trade at the server once: none missed, none twice
    assert sorted(fills.trade_ids, key=int) == trades and list(result.fills["trade_id"].astype(str)) == journal
    assert len(trades) >= 5 and placed.total() == len(trades)  # market orders: one trade each
    assert all(n == 1 for n in placed.values())  # no order doubled
    ledger = {asset: Decimal(amount) for asset, amount in result.balances.items() if Decimal(amount)}
    assert ledger == {asset: amount for asset, amount in account.items() if amount}  # exactly, to the last digit
    assert (served["drop"], served["lost"], served["lost_answer"]) == (1, 2, 1) and market_drops >= 3
    # the lost reports were never sent: the session heard of those fills by REST, and noticed the breaks
    assert execution.faults.get("user_stream", 0) >= 3 and execution.faults.get("in_flight") == 1
    assert server.user_stream_connections >= 4


async def test_a_fill_whose_report_and_answer_are_both_lost_is_found_by_the_rest_check() -> None:
    async with trading_desk(check_every=1.0, stale_after=30.0, settle_for=10.0, backoff_base=0.05,
                            backoff_cap=0.5) as (server, execution, reports):
        server.fail_next_order("lost_answer")
        server.user_stream_fault("lost")
        execution.on_order(order("x-1"))
        final = await settled(reports, "x-1")  # while the client runs: its stop checks by REST once more
        (lost,) = server.user_reports_lost
        placed = server.orders_placed
    fills = [e for e in reports.events if isinstance(e, Fill)]
    assert final.status is OrderStatus.FILLED and [f.trade_id for f in fills] == [str(lost["t"])]
    assert reports.of("x-1")[-2:] == ["fill 0.5", "FILLED"] and placed == {"x-1": 1}
    assert execution.faults["in_flight"] == 1 and execution.faults["user_stream"] >= 1
