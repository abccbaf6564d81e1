"""A real-money session resumed as a user resumes it: ``mlct live`` again with the same config and ``--out``, in
processes of their own, against the loopback Binance account. A process killed right after it sent an order is
restarted, finds the order and its fill, and goes on; the account is compared with the ledger before anything is
traded, and a difference nobody explains stops the session."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from engine.events import Fill, Order, OrderStatus, OrderUpdate
from engine.session_journal import read_events, read_runs
from engine.testing.binance_live import LiveBinanceServer, make_pro_client
from tests.integration.live_kit import SYMBOL, wavy_bars
from tests.integration.test_cli_live import KEYS, mlct, write_config

ENV = {"MLCT_TEST_KEY": KEYS[0], "MLCT_TEST_SECRET": KEYS[1]}


def live_server(bars: int = 600) -> LiveBinanceServer:
    return LiveBinanceServer({SYMBOL: wavy_bars(bars)}, live_from=100, credentials=KEYS,
                             balances={"USDT": 10_000.0})


def ledger_of(out: Path) -> dict[str, Decimal]:
    balances = json.loads((out / "result.json").read_text())["balances"]
    return {asset: Decimal(amount) for asset, amount in balances.items() if Decimal(amount)}


def held_by(account: dict[str, Decimal]) -> dict[str, Decimal]:
    return {asset: amount for asset, amount in account.items() if amount}


def test_a_session_killed_right_after_sending_an_order_resumes_with_the_order_and_its_fill(tmp_path: Path) -> None:
    out = tmp_path / "session"
    journal = out / "journal.sqlite"
    with live_server() as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        server.fail_next_order("hold", delay=6)  # placed and filled at the server; no word of it for 6 s
        server.play(bars_per_second=5)
        first = mlct("live", "--config", str(config), "--live", env=ENV)
        deadline = time.monotonic() + 90
        while server.orders_placed.total() < 1 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.01)
        first.kill()  # SIGKILL, by its pid: no handler runs, nothing is flushed
        _, first_err = first.communicate(timeout=30)
        assert first.returncode == -9, first_err[-2000:]
        (sent,) = server.orders_placed
        before = list(read_events(journal))
        assert [e.client_order_id for e in before if isinstance(e, Order)] == [sent]  # journaled before it left
        assert not [e for e in before if isinstance(e, Fill | OrderUpdate) and e.client_order_id == sent]

        second = mlct("live", "--config", str(config), "--live", "--max-bars", "12", env=ENV)
        _, stderr = second.communicate(timeout=150)
        server.pause()
        account = server.account_balances()
        placed = server.orders_placed
        trades = {str(fill.trade_id) for fill in server.account.fills(SYMBOL)}
    assert second.returncode == 0, stderr[-3000:]
    assert "recovered from the venue: 2 (1 fill(s), 1 order state(s))" in stderr
    assert "the account agrees with the ledger" in stderr
    events = list(read_events(journal))
    of_sent = [e for e in events if isinstance(e, Fill | OrderUpdate) and e.client_order_id == sent]
    assert isinstance(of_sent[0], Fill) and of_sent[-1].status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert sum(isinstance(e, Fill) for e in of_sent) == 1  # found once, though its late reports came too
    fills = [e for e in events if isinstance(e, Fill)]
    assert Counter(f.trade_id for f in fills) == Counter(trades)  # every trade of the account, each once
    assert all(n == 1 for n in placed.values()) and placed.total() >= 2  # nothing doubled; the session went on
    assert ledger_of(out) == held_by(account)  # to the last digit
    assert len(read_runs(journal)) == 2


def test_reconcile_only_compares_and_a_trade_that_is_not_the_sessions_stops_it_before_it_trades(
        tmp_path: Path) -> None:
    out = tmp_path / "session"
    journal = out / "journal.sqlite"
    with live_server() as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        server.play(bars_per_second=5)
        first = mlct("live", "--config", str(config), "--live", "--max-bars", "8", env=ENV)
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stderr[-3000:]
        server.pause()
        placed = server.orders_placed.total()
        journaled = len(list(read_events(journal)))

        check = mlct("live", "--config", str(config), "--live", "--reconcile-only", env=ENV)
        stdout, stderr = check.communicate(timeout=60)
        assert check.returncode == 0, stderr[-3000:]
        assert "the account agrees with the ledger" in stdout and "USDT" in stdout

        asyncio.run(trade_by_hand(server))  # someone trades on the account, outside the session
        check = mlct("live", "--config", str(config), "--live", "--reconcile-only", env=ENV)
        stdout, stderr = check.communicate(timeout=60)
        assert check.returncode == 1, stderr[-3000:]
        assert "the account differs from the ledger (BTC +1" in stdout
        assert "not the session's: BTC/USDT buy 1" in stdout

        server.play(bars_per_second=5)
        resumed = mlct("live", "--config", str(config), "--live", "--max-bars", "4", env=ENV)
        _, stderr = resumed.communicate(timeout=60)
        assert resumed.returncode == 1 and "the session did not trade" in stderr, stderr[-3000:]
        assert server.orders_placed.total() == placed + 1  # the hand's order only
    assert len(list(read_events(journal))) == journaled  # --reconcile-only and the stopped start wrote no event


async def trade_by_hand(server: LiveBinanceServer) -> None:
    client = make_pro_client(server)
    try:
        await client.load_markets()
        await client.create_order(SYMBOL, "market", "buy", 1, params={"newClientOrderId": "by-hand-1"})
    finally:
        await client.close()
