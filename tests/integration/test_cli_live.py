"""``mlct live`` as a user runs it, in a process of its own, against the loopback Binance server: a paper session
that stops after N bars or on SIGTERM with a complete journal and a back-test's outputs, and a bad config that
stops with one line before anything connects."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from engine.backtest import BacktestResult
from engine.events import Bar, Order, OrderUpdate
from engine.session_journal import read_events, read_session
from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, wavy_bars

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, server: LiveBinanceServer, *, symbols: str = '["BTC/USDT"]', warmup: int = 20,
                 keys: bool = False) -> Path:
    root = server.url
    ws = root.replace("http", "ws") + "/stream/ws"
    names = 'api_key_env = "MLCT_TEST_KEY"\nsecret_env = "MLCT_TEST_SECRET"' if keys else ""
    path.write_text(f"""
[exchange]
id = "binance"
{names}
[exchange.options]
defaultType = "spot"
fetchCurrencies = false
fetchMargins = false
fetchMarkets = {{ types = ["spot"] }}
[exchange.urls]
public = "{root}/api/v3"
private = "{root}/api/v3"
v1 = "{root}/api/v1"
sapi = "{root}/sapi/v1"
ws = {{ spot = "{ws}", margin = "{ws}", ws-api = {{ spot = "{root.replace('http', 'ws')}/ws-api/v3" }} }}
[run]
symbols = {symbols}
timeframe = "1m"
strategy = "sma_cross"
cash = 10000
out = "session"
warmup_bars = {warmup}
stale_after = 5
[run.params]
fast = 3
slow = 8
[paper]
fee_bps = 7.5
""")
    return path


def mlct(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def journal_bars(path: Path) -> int:
    """Count the bars a running session has journaled so far (0 before the journal exists)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM events WHERE kind = 'Bar'").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are being made
        return 0


def check_outputs(out: Path, live_bars: int) -> None:
    """The session wrote what a back-test writes, agreeing with its journal."""
    for name in ("result.json", "orders.csv", "fills.csv", "trades.csv", "equity.parquet", "prices.parquet"):
        assert (out / name).is_file(), name
    result = BacktestResult.load(out)
    assert result.stats["n_bars"] == live_bars
    assert set(json.loads((out / "result.json").read_text())["balances"]) <= {"USDT", "BTC"}
    events = list(read_events(out / "journal.sqlite"))
    orders = pd.read_csv(out / "orders.csv")
    journaled = {e.client_order_id for e in events if isinstance(e, Order | OrderUpdate)}  # refused: an update only
    assert sorted(orders["client_order_id"]) == sorted(journaled)
    assert read_session(out / "journal.sqlite")["paper"] == {"fee_bps": 7.5}
    manifest = json.loads((out / "manifest.json").read_text())  # the session's folder is one run's, listed
    assert manifest["kind"] == "live" and manifest["stats"]["n_trades"] == result.stats["n_trades"]
    assert {"journal.sqlite", "result.json", "equity.parquet"} <= {f["name"] for f in manifest["files"]}


def test_mlct_live_paper_stops_after_max_bars_with_a_line_a_bar_and_a_back_tests_outputs(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100) as server:
        config = write_config(tmp_path / "live.toml", server)
        server.play(bars_per_second=5)
        proc = mlct("live", "--config", str(config), "--max-bars", "6", "--csv")
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    lines = [line for line in stderr.splitlines() if "BTC/USDT close" in line and "equity" in line]
    assert len(lines) == 6, stderr
    out = tmp_path / "session"
    check_outputs(out, 6)
    assert "Buy & hold" in stdout and str(out) in stdout
    assert (out / "equity.csv").is_file() and f"wrote {out / 'equity.parquet'}" in stderr  # --csv, a line a file


def test_sigterm_mid_session_leaves_a_complete_journal_and_the_outputs(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100) as server:
        config = write_config(tmp_path / "live.toml", server, warmup=10)
        server.play(bars_per_second=5)
        proc = mlct("live", "--config", str(config), "--out", str(tmp_path / "term"))
        journal = tmp_path / "term" / "journal.sqlite"
        deadline = time.monotonic() + 90
        while journal_bars(journal) < 10 + 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopping: SIGTERM" in stderr
    live_bars = sum(isinstance(e, Bar) for e in read_events(journal)) - 10
    assert live_bars >= 4
    check_outputs(tmp_path / "term", live_bars)


@pytest.mark.parametrize(("symbols", "named"), [('["BTCUSDT"]', "run.symbols"), ('["DOGE/USDT"]', "DOGE/USDT")])
def test_a_bad_config_stops_with_one_line_and_exit_2(tmp_path: Path, symbols: str, named: str) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(50)}, live_from=40) as server:
        config = write_config(tmp_path / "live.toml", server, symbols=symbols)
        proc = mlct("live", "--config", str(config))
        _, stderr = proc.communicate(timeout=60)
        ws_connections = server.ws_connections
    assert proc.returncode == 2 and named in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert ws_connections == 0  # nothing streamed
    assert not (tmp_path / "session" / "journal.sqlite").exists()


KEYS = ("loopback-key-4f9a", "loopback-secret-7c21")


def test_real_money_needs_the_keys_named_by_the_config_before_anything_connects(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(50)}, live_from=40) as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        proc = mlct("live", "--config", str(config), "--live", env={"MLCT_TEST_KEY": "", "MLCT_TEST_SECRET": ""})
        _, stderr = proc.communicate(timeout=60)
        requests = server.total_requests
    assert proc.returncode == 2 and "MLCT_TEST_KEY" in stderr and requests == 0


def test_mlct_live_trades_real_orders_and_ends_with_the_ledger_equal_to_the_account_and_no_secret_shown(
        tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100, credentials=KEYS,
                           balances={"USDT": 10_000.0}) as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        server.play(bars_per_second=5)
        proc = mlct("live", "--config", str(config), "--live", "--max-bars", "12", "--log-level", "DEBUG",
                    env={"MLCT_TEST_KEY": KEYS[0], "MLCT_TEST_SECRET": KEYS[1]})
        stdout, stderr = proc.communicate(timeout=120)
        server.pause()
        account = server.account_balances()
        placed = server.orders_placed
    assert proc.returncode == 0, stderr[-3000:]
    assert "*** REAL MONEY ***" in stderr and "MLCT_TEST_KEY" in stderr
    out = tmp_path / "session"
    result = json.loads((out / "result.json").read_text())
    ledger = {asset: Decimal(amount) for asset, amount in result["balances"].items() if Decimal(amount)}
    assert ledger == {asset: amount for asset, amount in account.items() if amount}
    assert all(n == 1 for n in placed.values())
    assert read_session(out / "journal.sqlite")["kind"] == "live"
    texts = [stdout, stderr, *(p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file())]
    for secret in KEYS:
        assert not any(secret in text for text in texts), secret  # in no log line, output file or journal row


def test_mlct_live_serves_the_monitor_page_its_config_asks_for(tmp_path: Path) -> None:
    """``[monitor] port`` in live.toml: the session logs the page's URL and serves it, read-only, while it runs."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to 127.0.0.1, whatever the env
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100) as server:
        config = write_config(tmp_path / "live.toml", server)
        config.write_text(config.read_text() + "[monitor]\nport = 0\n")
        server.play(bars_per_second=2)
        proc = mlct("live", "--config", str(config), "--max-bars", "20")
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:  # the log line comes before the first live bar
            if "monitor page: " in line:
                url = line.split("monitor page: ", 1)[1].strip()
                break
        try:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/"), url
            with opener.open(url + "state.json", timeout=30) as response:
                state = json.load(response)
            assert state["about"]["kind"] == "paper" and state["about"]["symbols"] == [SYMBOL]
            assert state["about"]["strategies"] == ["SmaCross"]
            with pytest.raises(urllib.error.HTTPError) as refused:
                opener.open(urllib.request.Request(url + "state.json", data=b"{}", method="POST"), timeout=30)
            assert refused.value.code == 405
        finally:
            proc.communicate(timeout=120)
    assert proc.returncode == 0
