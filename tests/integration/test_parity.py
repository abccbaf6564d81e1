"""``mlct parity`` as a user runs it on sessions of ``mlct live`` against the loopback Binance server: a paper
session shows zero divergence; a real-money session whose orders reach the exchange 200 ms late is reported with
its first divergences and their causes."""

from __future__ import annotations

import json
from pathlib import Path

from engine.testing.binance_live import LiveBinanceServer
from tests.integration.live_kit import SYMBOL, wavy_bars
from tests.integration.test_cli_live import KEYS, mlct, write_config


def test_a_paper_session_shows_zero_divergence_and_the_report_gains_the_section(tmp_path: Path) -> None:
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100) as server:
        config = write_config(tmp_path / "live.toml", server)
        server.play(bars_per_second=5)
        session = mlct("live", "--config", str(config), "--max-bars", "30")
        _, stderr = session.communicate(timeout=150)
    assert session.returncode == 0, stderr[-3000:]
    out = tmp_path / "session"
    (out / "report.html").unlink(missing_ok=True)
    check = mlct("parity", str(out / "journal.sqlite"), "--out", str(out))
    stdout, stderr = check.communicate(timeout=120)
    assert check.returncode == 0, stdout + stderr
    assert "zero divergence" in stdout
    written = json.loads((out / "parity.json").read_text())
    assert written["zero"] is True and written["counts"]["Fill"]["session"] >= 2  # it traded: a real comparison
    assert written["counts"]["Bar"]["session"] == written["counts"]["Bar"]["backtest"] > 30
    assert "Parity with the back-test" in (out / "report.html").read_text()


def test_a_live_session_with_late_orders_is_reported_with_the_cause(tmp_path: Path) -> None:
    env = {"MLCT_TEST_KEY": KEYS[0], "MLCT_TEST_SECRET": KEYS[1]}
    with LiveBinanceServer({SYMBOL: wavy_bars(400)}, live_from=100, credentials=KEYS, balances={"USDT": 10_000.0},
                           order_latency=0.2) as server:
        config = write_config(tmp_path / "live.toml", server, keys=True)
        server.play(bars_per_second=5)  # a bar every 200 ms: a late order meets a later bar
        session = mlct("live", "--config", str(config), "--live", "--max-bars", "30", env=env)
        _, stderr = session.communicate(timeout=150)
    assert session.returncode == 0, stderr[-3000:]
    check = mlct("parity", str(tmp_path / "session" / "journal.sqlite"), "--json")
    stdout, stderr = check.communicate(timeout=120)
    assert check.returncode == 1, stdout + stderr
    report = json.loads(stdout)
    first = {d["kind"]: d for d in report["divergences"]}
    assert "Bar" not in first and "Signal" not in first  # the same market, the same signals
    assert first["Fill"]["cause"].startswith("latency: filled ")
    assert first["balance"]["cause"].startswith("follows the ")
