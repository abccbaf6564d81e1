"""The live monitor (``engine.monitor``): what it keeps of a run, and a server that only reads.

The handler is the same in a back-test as in a live session, so a back-test shows what it collects: every live
bar's equity beside buy and hold, the fills and orders (refusals while warming up included), the signals with the
values behind them, the risk limits with their use. The server answers GET on 127.0.0.1 only: every other method
is refused on every path, a request naming another host is refused, nothing listens on another address, and a port
that cannot be had is a ``ConfigError`` naming ``monitor.port``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.errors import ConfigError
from engine.events import KillSwitch
from engine.monitor import Monitor
from engine.risk import RiskLimits
from strategies.ma_simple import MaSimple

SYMBOL = "BTC/USDT"
WARMUP = 20  # long enough for a cross while warming up: its order is refused


def wavy(n: int) -> pd.DataFrame:
    """Minute bars swinging around 100, so a 3/8 moving-average cross trades every few bars."""
    rng = np.random.default_rng(3)
    closes = [round(100 + 5 * math.sin(2 * math.pi * i / 14) + float(rng.integers(-8, 9)) / 8, 2) for i in range(n)]
    opens = [closes[0], *closes[:-1]]
    index = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC", name="ts")
    return pd.DataFrame({"open": opens, "high": [max(o, c) + 0.25 for o, c in zip(opens, closes, strict=True)],
                         "low": [min(o, c) - 0.25 for o, c in zip(opens, closes, strict=True)], "close": closes,
                         "volume": 10.0}, index=index)


def test_the_monitor_keeps_what_the_page_shows_of_a_run() -> None:
    frame = wavy(80)
    limits = RiskLimits(max_order_notional=Decimal(20_000), max_position=Decimal(500), max_open_orders=5,
                        max_orders_per_minute=10, daily_loss_limit=Decimal(5_000), max_drawdown=Decimal("0.5"))
    monitor = Monitor(about={"kind": "back-test", "symbols": [SYMBOL], "api_key_env": "NOT_SHOWN"}, rows=200)
    result = run_backtest(MaSimple(fast=3, slow=8), frame, BacktestConfig(cash=Decimal(10_000), risk=limits),
                          venue=SimSettings(), symbol=SYMBOL, handlers=[monitor], warmup=WARMUP)
    state = json.loads(json.dumps(monitor.state(), allow_nan=False))  # what the page is sent: strict JSON

    assert state["about"] == {"kind": "back-test", "symbols": [SYMBOL]}  # only the settings the header shows
    assert state["bars"]["warmup"] == WARMUP and state["bars"]["live"] == len(frame) - WARMUP
    assert state["bars"]["last"][SYMBOL]["close"] == frame["close"].iloc[-1]
    assert state["state"] == "trading" and state["halts"] == [] and state["kill_switch"] is None
    # One equity point a live bar, equal to the result's; buy and hold starts level and follows the close.
    equity = state["equity"]
    assert len(equity["ts"]) == len(result.equity) == len(frame) - WARMUP
    assert equity["equity"] == pytest.approx(result.equity["equity"].tolist())
    first_close, last_close = frame["close"].iloc[WARMUP], frame["close"].iloc[-1]
    assert equity["buy_hold"][0] == pytest.approx(equity["equity"][0])
    assert equity["buy_hold"][-1] == pytest.approx(equity["start"] * last_close / first_close)
    assert equity["live_from"] == equity["ts"][0] and equity["currency"] == "USDT"
    assert len(state["prices"][SYMBOL]["close"]) == len(frame)  # the warm-up's closes too
    # Every fill, newest first, exactly as booked.
    assert len(result.fills) >= 4
    assert [f["id"] for f in state["fills"]] == result.fills["client_order_id"].tolist()[::-1]
    assert [Decimal(f["price"]) for f in state["fills"]] == [Decimal(str(p)) for p in result.fills["price"][::-1]]
    # Orders with their final states; the refusals while warming up are there with their reason.
    statuses = {o["status"] for o in state["orders"]}
    assert "filled" in statuses
    assert any(o["status"] == "rejected" and "warming up" in o["reason"] and o["side"] == "buy"
               for o in state["orders"])
    assert state["open_orders"] == []
    # The signals with the indicator values behind them.
    signal = state["signals"][0]
    assert signal["name"] == 'MaSimple{"fast":3,"matype":0,"slow":8}' and signal["direction"] in (-1, 1)
    assert [k for k, _ in signal["values"]] in (["MA_3_0", "MA_8_0"], ["MA_8_0", "MA_3_0"])  # largest first
    assert all(90 < v < 110 for _, v in signal["values"])
    # Each limit that is on, with its use.
    use = {row["limit"]: row for row in state["risk"]["limits"]}
    assert set(use) == set(limits.to_dict())
    assert use["max_open_orders"]["used"] == 0 and use["max_open_orders"]["share"] == 0
    assert 0 < use["max_order_notional"]["used"] <= 10_000
    drawdown = use["max_drawdown"]["used"]
    peak = max(result.equity["equity"])
    assert drawdown == pytest.approx((peak - equity["now"]) / peak)
    position = next(p for p in state["positions"] if p["symbol"] == SYMBOL)
    assert Decimal(position["quantity"]) == result.ledger.position(SYMBOL).quantity  # type: ignore[union-attr]


def test_the_monitor_shows_no_risk_use_without_limits_and_bounds_what_it_keeps() -> None:
    monitor = Monitor(rows=3, points=10)
    run_backtest(MaSimple(fast=3, slow=8), wavy(80), venue=SimSettings(), symbol=SYMBOL, handlers=[monitor])
    state = monitor.state()
    assert state["risk"]["limits"] == []
    assert len(state["fills"]) == 3 and len(state["orders"]) <= 3
    assert len(state["equity"]["ts"]) == 10 and len(state["prices"][SYMBOL]["ts"]) == 10


def test_breaches_halts_and_the_kill_switch_are_shown() -> None:
    monitor = Monitor()
    limits = RiskLimits(max_order_notional=Decimal(5_000))  # every order of the cross is about 9,500
    run_backtest(MaSimple(fast=3, slow=8), wavy(80), BacktestConfig(risk=limits), venue=SimSettings(),
                 symbol=SYMBOL, handlers=[monitor])
    state = monitor.state()
    assert state["fills"] == []
    breaches = state["risk"]["breaches"]
    assert breaches and all(b["limit"] == "max_order_notional" and b["id"] and "above 5000" in b["detail"]
                            for b in breaches)
    assert {b["id"] for b in breaches} == {o["id"] for o in state["orders"]}
    assert all(o["status"] == "rejected" and o["reason"].startswith("risk limit max_order_notional")
               for o in state["orders"])
    assert state["risk"]["limits"][0]["text"] == "no order yet"  # none passed
    # The kill switch, as the session's handler acts on it: the halt is the order manager's, the event the bus's.
    kernel = monitor._kernel
    kernel.orders.halt("kill switch: enough (asked by a test)", by="kill switch")
    kernel.bus.dispatch_event(KillSwitch(ts=kernel.clock.now(), by="a test", reason="enough", cancel=True))
    state = monitor.state()
    assert state["state"] == "kill switch pulled"
    assert state["kill_switch"]["by"] == "a test" and state["kill_switch"]["cancel"] is True
    assert state["halts"] == [{"by": "kill switch", "reason": "kill switch: enough (asked by a test)"}]


@pytest.fixture
async def served() -> AsyncIterator[Monitor]:
    monitor = Monitor(about={"kind": "paper"})
    await monitor.start(0)
    try:
        yield monitor
    finally:
        await monitor.stop()


async def test_the_page_and_its_state_are_served_on_127_0_0_1_only(served: Monitor) -> None:
    assert served.url is not None and served.url.startswith("http://127.0.0.1:")
    port = int(served.url.rstrip("/").rsplit(":", 1)[1])
    assert served._runner is not None and {host for host, *_ in served._runner.addresses} == {"127.0.0.1"}
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url) as page:
            assert page.status == 200 and page.content_type == "text/html"
            assert "state.json" in await page.text()
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        async with http.get(served.url + "state.json") as state:
            assert state.status == 200 and (await state.json())["about"] == {"kind": "paper"}
        # Another loopback address of this machine: nothing listens there.
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.2:{port}/state.json")
        # A page from elsewhere reaching this port through its own name (DNS rebinding) is refused.
        async with http.get(served.url + "state.json", headers={"Host": f"attacker.example:{port}"}) as foreign:
            assert foreign.status == 403


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
async def test_every_method_but_get_is_refused_on_every_path(served: Monitor, method: str) -> None:
    assert served.url is not None
    before = served.requests
    async with aiohttp.ClientSession() as http:
        for path in ("", "state.json", "order", "orders/cancel", "kill"):
            async with http.request(method, served.url + path, json={"side": "buy", "quantity": 1}) as response:
                assert response.status == 405, (method, path)
                assert response.headers["Allow"] == "GET"
    assert served.requests == before  # the state was never even read


async def test_a_port_in_use_is_a_config_error_naming_the_key_and_the_server_stops_with_the_session(
        served: Monitor) -> None:
    assert served.url is not None
    port = int(served.url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=rf"monitor\.port: cannot serve the monitor on 127\.0\.0\.1:{port}"):
        await Monitor().start(port)
    await served.stop()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(served.url)


def test_state_before_the_session_starts_says_so() -> None:
    state: dict[str, Any] = Monitor().state()
    assert state["started"] is False
