"""The simulator's settings as a back-test names them (``SimSettings``): turned into a ``SimConfig``, which checks
them, and the venue built from them."""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal

import pytest

from adapters.sim import (
    ASSUMPTIONS,
    FixedBpsSlippage,
    NoSlippage,
    SimConfig,
    SimSettings,
    SimulatedExchange,
    VolumeShareSlippage,
)
from adapters.sim.testing import ledger
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.errors import ConfigError
from engine.events import Bar, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.markets import Market, Markets


def test_settings_in_bps_and_ms_become_a_sim_config() -> None:
    settings = SimSettings(fee_bps=10.0, maker_fee_bps=2.0, slippage_bps=2.5, volume_share=0.25, latency_ms=1.5,
                           limit_fill="touch")
    assert settings.config == SimConfig(maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.001"), limit_fill="touch",
                                        volume_share=0.25, latency_ns=1_500_000, slippage=FixedBpsSlippage(2.5))


@pytest.mark.parametrize(("name", "model"), [("none", NoSlippage()), ("fixed", FixedBpsSlippage(2.5)),
                                             ("volume", VolumeShareSlippage(2.5))])
def test_slippage_is_chosen_by_name(name: str, model: object) -> None:
    assert SimSettings(slippage=name, slippage_bps=2.5).config.slippage == model


def test_maker_fee_defaults_to_the_taker_fee() -> None:
    config = SimSettings().config
    assert config.maker_fee == config.taker_fee == Decimal("0.001")


@pytest.mark.parametrize(("settings", "message"), [
    ({"slippage": "random"}, "slippage must be one of none, fixed, volume, got 'random'"),
    ({"limit_fill": "cross"}, "limit_fill must be 'through' or 'touch', got 'cross'"),
    ({"fee_bps": "ten"}, "fee_bps must be a finite number, got 'ten'"),
    ({"fee_bps": -1.0}, "taker_fee must be a Decimal rate in [0, 1), got Decimal('-0.0001')"),
    ({"maker_fee_bps": float("nan")}, "maker_fee_bps must be a finite number, got nan"),
    ({"latency_ms": float("inf")}, "latency_ms must be a finite number, got inf"),
    ({"latency_ms": -1}, "latency_ns must be a non-negative int, got -1000000"),
    ({"volume_share": 1.5}, "volume_share must be None or in (0, 1], got 1.5"),
    ({"slippage_bps": -2.0}, "bps must be in [0, 10000), got -2.0"),
])
def test_a_bad_setting_is_a_config_error_when_made(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SimSettings(**settings)  # type: ignore[arg-type]


def test_a_maker_rebate_is_allowed_and_the_ledger_reserves_the_taker_fee() -> None:
    settings = SimSettings(fee_bps=7.5, maker_fee_bps=-1.0)
    assert settings.config.maker_fee == Decimal("-0.0001")
    assert settings.reserve_fee_rate() == Decimal("0.00075")
    assert SimSettings(fee_bps=10, maker_fee_bps=25).reserve_fee_rate() == Decimal("0.0025")


def test_to_dict_gives_the_settings_keyed_as_in_a_config_file() -> None:
    settings = SimSettings(fee_bps=5, slippage="none")
    assert settings.to_dict() == {"fee_bps": 5, "maker_fee_bps": None, "slippage": "none", "slippage_bps": 0.0,
                                  "volume_share": None, "latency_ms": 0.0, "limit_fill": "through"}
    assert set(settings.to_dict()) == {f.name for f in fields(SimSettings) if f.init}
    assert settings.assumptions() == ASSUMPTIONS


def test_build_checks_fills_against_the_ledger() -> None:
    bus = EventBus()
    markets = Markets([Market.from_symbol("BTC/USD")])
    venue = SimSettings(slippage_bps=2.5).build(bus, SimulatedClock(bus), markets, ledger(markets, "100"))
    assert isinstance(venue, SimulatedExchange)
    updates: list[OrderUpdate] = []
    bus.subscribe(OrderUpdate, updates.append)
    venue.on_order(Order(ts=0, client_order_id="x", symbol="BTC/USD", side=Side.BUY, type=OrderType.MARKET,
                         quantity=Decimal("1")))
    venue.on_market_data(Bar(ts=60, symbol="BTC/USD", open=150.0, high=150.0, low=150.0, close=150.0, volume=1.0,
                             interval=60))
    bus.dispatch()
    assert [(u.status, u.reason) for u in updates] == [
        (OrderStatus.ACCEPTED, ""),
        (OrderStatus.CANCELLED, "fill 'sim-1' of order 'x' on BTC/USD (buy 1.00000000 at 150.04): needs 150.1900400000 "
                                "USD, only 100 USD available (free plus what the fill releases of its order's "
                                "reservation)")]  # 2.5 bps up
