"""The kill switch against the loopback Binance server: pulled from a file, from ``mlct live kill`` in another
process, or by a second SIGINT, it halts trading at once, cancels and closes what it was asked to, journals who
asked and why, and the session stops cleanly with nothing left open at the server when asked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from engine.events import Bar, CancelOrder, KillSwitch, Order
from engine.kill_switch import KILL_FILE, request_kill
from engine.session_journal import read_events
from engine.strategy import Strategy
from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, PaperRun, wait_until, wavy_bars
from tests.integration.test_cli_live import KEYS as CLI_KEYS
from tests.integration.test_cli_live import journal_bars, mlct, write_config

KEYS = ("loopback-key", "loopback-secret")


class BuyAndRest(Strategy):
    """On its first live bar: two BTC at market, and a limit buy far below the market that stays open."""

    def __init__(self) -> None:
        super().__init__()
        self.done = False

    def on_bar(self, bar: Bar) -> None:
        if self.halted is None and not self.done:
            self.done = True
            self.buy(bar.symbol, 2)
            self.buy(bar.symbol, 1, price=round(bar.close * 0.5, 2))


def after_the_kill(journal: Path) -> tuple[KillSwitch, list[Order]]:
    events = list(read_events(journal))
    (kill,) = [e for e in events if isinstance(e, KillSwitch)]
    return kill, [e for e in events[events.index(kill):] if isinstance(e, Order)]


async def test_a_kill_file_halts_cancels_and_closes_and_nothing_is_left_open_at_the_server(tmp_path: Path) -> None:
    journal = tmp_path / "session" / "journal.sqlite"
    with LiveBinanceServer({SYMBOL: wavy_bars(120)}, live_from=40, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        run = PaperRun(server, [BuyAndRest()], journal, warmup_bars=5, real_orders=True, cancel_on_stop=False)
        try:
            task = await run.start()
            await run.close_bars(2)
            await wait_until(lambda: len(server.account.open_orders(SYMBOL)) == 1
                             and server.account_balances().get("BTC") == Decimal(2), "the position and the order")
            request_kill(journal.parent, by="the test", reason="drill", cancel=True, flatten=True)
            result = await asyncio.wait_for(task, 60)
        finally:
            await run.close()
        account = server.account_balances()
        open_orders = server.account.open_orders(SYMBOL)
    assert open_orders == [] and not account.get("BTC")  # cancelled, and closed at market
    kill, sent_after = after_the_kill(journal)
    assert (kill.by, kill.reason, kill.cancel, kill.flatten) == ("the test", "drill", True, True)
    assert [o.client_order_id.split("-")[1] for o in sent_after] == ["kill"]  # only the closing sell
    assert run.session is not None and run.session.stopped_by == "kill switch pulled by the test: drill"
    assert (journal.parent / f"{KILL_FILE}.done").is_file() and not (journal.parent / KILL_FILE).exists()
    assert result is not None
    assert {a: Decimal(v) for a, v in result.balances.items() if Decimal(v)} == {a: v for a, v in account.items() if v}


async def paper_session_pulled(journal: Path, pull: Callable[[PaperRun], None]) -> PaperRun:
    """A paper session of ``BuyAndRest`` that holds BTC and a resting order when ``pull`` pulls its switch; return
    it once it stopped by itself."""
    with LiveBinanceServer({SYMBOL: wavy_bars(120)}, live_from=40) as server:
        run = PaperRun(server, [BuyAndRest()], journal, warmup_bars=5)
        try:
            task = await run.start()
            await run.close_bars(2)
            pull(run)
            await asyncio.wait_for(task, 60)
        finally:
            await run.close()
    return run


async def test_without_cancel_or_flatten_the_switch_only_halts_and_stops(tmp_path: Path) -> None:
    journal = tmp_path / "paper" / "journal.sqlite"
    run = await paper_session_pulled(journal, lambda run: request_kill(
        journal.parent, by="the test", reason="just stop", cancel=False, flatten=False))
    kernel = run.session.kernel if run.session else None
    assert kernel is not None
    assert kernel.orders.halted == "kill switch: just stop (asked by the test)"
    assert len(kernel.orders.open_orders()) == 1 and kernel.ledger.position(SYMBOL).quantity == 2  # left as they were
    assert after_the_kill(journal)[1] == []


async def test_a_second_sigint_pulls_the_switch_while_the_session_stops(tmp_path: Path) -> None:
    journal = tmp_path / "paper" / "journal.sqlite"

    def twice(run: PaperRun) -> None:
        assert run.session is not None
        run.session._signalled("SIGINT")  # as the loop's signal handler calls it
        run.session._signalled("SIGINT")

    run = await paper_session_pulled(journal, twice)
    assert run.session is not None
    kill, _ = after_the_kill(journal)
    assert (kill.by, kill.cancel) == ("a second SIGINT", True)
    assert run.session.stopped_by == "SIGINT"
    events = list(read_events(journal))
    cancels = [e.client_order_id for e in events[events.index(kill):] if isinstance(e, CancelOrder)]
    assert cancels == ["BuyAndRest-2"]  # the resting order (the simulator is gone with the process anyway)


def test_mlct_live_kill_from_another_terminal_stops_a_real_money_session_with_nothing_open(tmp_path: Path) -> None:
    env = {"MLCT_TEST_KEY": CLI_KEYS[0], "MLCT_TEST_SECRET": CLI_KEYS[1]}
    with LiveBinanceServer({SYMBOL: wavy_bars(600)}, live_from=100, credentials=CLI_KEYS,
                           balances={"USDT": 10_000.0}) as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        server.play(bars_per_second=5)
        session = mlct("live", "--config", str(config), "--live", env=env)
        deadline = time.monotonic() + 90
        journal = tmp_path / "session" / "journal.sqlite"
        while not server.account_balances().get("BTC") and time.monotonic() < deadline and session.poll() is None:
            time.sleep(0.05)  # until sma_cross holds BTC
        assert journal_bars(journal) > 0
        kill = mlct("live", "kill", "--cancel", "--flatten", "--reason", "end of the drill", str(config))
        kill_out, kill_err = kill.communicate(timeout=60)
        assert kill.returncode == 0, kill_err
        _, stderr = session.communicate(timeout=90)
        server.pause()
        account = server.account_balances()
        open_orders = server.account.open_orders(SYMBOL)
    assert session.returncode == 0, stderr[-3000:]
    assert "kill switch set" in kill_out and "kill switch: end of the drill (asked by mlct live kill" in stderr
    assert open_orders == [] and not account.get("BTC")
    kill_event, _ = after_the_kill(journal)
    assert kill_event.by.startswith("mlct live kill (user ") and kill_event.flatten
