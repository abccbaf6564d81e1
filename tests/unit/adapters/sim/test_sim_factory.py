"""Building the venue from back-test settings (``adapters.sim:build_venue``)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from sim_harness import ledger

from adapters.sim import (
    FixedBpsSlippage,
    NoSlippage,
    SimConfig,
    SimulatedExchange,
    VolumeShareSlippage,
    build_venue,
    sim_config_from,
)
from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.errors import ConfigError
from engine.events import Bar, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.markets import Market, Markets


def settings(**overrides: object) -> SimpleNamespace:
    values: dict[str, object] = {"fee_bps": 10.0, "maker_fee_bps": None, "slippage": "fixed", "slippage_bps": 2.5,
                                 "volume_share": None, "latency_ms": 0.0, "limit_fill": "through"}
    values.update(overrides)
    return SimpleNamespace(**values)


def test_settings_in_bps_and_ms_become_a_sim_config() -> None:
    config = sim_config_from(settings(maker_fee_bps=2.0, volume_share=0.25, latency_ms=1.5, limit_fill="touch"))
    assert config == SimConfig(maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.001"), limit_fill="touch",
                               volume_share=0.25, latency_ns=1_500_000, slippage=FixedBpsSlippage(2.5))


@pytest.mark.parametrize(("name", "model"), [("none", NoSlippage()), ("fixed", FixedBpsSlippage(2.5)),
                                             ("volume", VolumeShareSlippage(2.5))])
def test_slippage_is_chosen_by_name(name: str, model: object) -> None:
    assert sim_config_from(settings(slippage=name)).slippage == model


def test_maker_fee_defaults_to_the_taker_fee() -> None:
    config = sim_config_from(settings())
    assert config.maker_fee == config.taker_fee == Decimal("0.001")


def test_unknown_slippage_or_limit_fill_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="slippage must be one of none, fixed, volume, got 'random'"):
        sim_config_from(settings(slippage="random"))
    with pytest.raises(ConfigError, match="limit_fill must be 'through' or 'touch', got 'cross'"):
        sim_config_from(settings(limit_fill="cross"))


def test_build_venue_checks_fills_against_the_ledger() -> None:
    bus = EventBus()
    markets = Markets([Market.from_symbol("BTC/USD")])
    venue = build_venue(bus, SimulatedClock(bus), markets, ledger(markets, "100"), settings())
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
