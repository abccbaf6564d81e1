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
from pathlib import Path

import pandas as pd
import pytest

from engine.backtest import BacktestResult
from engine.events import Bar, Order, OrderUpdate
from engine.session_journal import read_events, read_session
from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, wavy_bars

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, server: LiveBinanceServer, *, symbols: str = '["BTC/USDT"]', warmup: int = 20) -> Path:
    root = server.url
    ws = root.replace("http", "ws") + "/stream/ws"
    path.write_text(f"""
[exchange]
id = "binance"
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
ws = {{ spot = "{ws}", margin = "{ws}" }}
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


def mlct(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
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
    for name in ("result.json", "orders.csv", "fills.csv", "trades.csv", "equity.csv", "prices.parquet"):
        assert (out / name).is_file(), name
    result = BacktestResult.load(out)
    assert result.stats["n_bars"] == live_bars
    assert set(json.loads((out / "result.json").read_text())["balances"]) <= {"USDT", "BTC"}
    events = list(read_events(out / "journal.sqlite"))
    orders = pd.read_csv(out / "orders.csv")
    journaled = {e.client_order_id for e in events if isinstance(e, Order | OrderUpdate)}  # refused: an update only
    assert sorted(orders["client_order_id"]) == sorted(journaled)
    assert read_session(out / "journal.sqlite")["paper"] == {"fee_bps": 7.5}


def test_mlct_live_paper_stops_after_max_bars_with_a_line_a_bar_and_a_back_tests_outputs(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100) as server:
        config = write_config(tmp_path / "live.toml", server)
        server.play(bars_per_second=5)
        proc = mlct("live", "--config", str(config), "--max-bars", "6")
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    lines = [line for line in stderr.splitlines() if "BTC/USDT close" in line and "equity" in line]
    assert len(lines) == 6, stderr
    out = tmp_path / "session"
    check_outputs(out, 6)
    assert "Buy & hold" in stdout and str(out) in stdout


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


def test_real_money_needs_what_part_two_builds(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(50)}, live_from=40) as server:
        config = write_config(tmp_path / "live.toml", server)
        proc = mlct("live", "--config", str(config), "--live")
        _, stderr = proc.communicate(timeout=60)
        requests = server.total_requests
    assert proc.returncode == 2 and "--paper" in stderr and requests == 0
