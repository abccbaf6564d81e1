"""The composed Env: names, routing, and the same values streamed, replayed, recorded, batched and back-tested."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.bus import EventBus
from engine.env import Env, ForwardConfig, SpotConfig, VolConfig
from engine.errors import ConfigError
from engine.events import Bar
from engine.strategy import Strategy

from .helpers import assert_same
from .scenario import SPOT, Market, configs, market


@pytest.fixture(scope="module")
def scenario(hourly_head: pd.DataFrame) -> Market:
    return market(hourly_head.iloc[:600])


def test_features_name_every_value_by_component() -> None:
    env = Env(**configs())
    features = env.features()
    assert tuple(features) == env.names
    assert {"spot.close", "spot.log_ret_q95", "forward.perp.carry", "forward.m1.tau", "vol.rv_gk",
            "vol.iv_rv_spread"} <= set(features)
    assert all(math.isnan(v) for v in features.values())
    assert repr(env) == "Env(spot, forward, vol)"


def test_batch_replay_record_and_bus_agree_float_for_float(scenario: Market) -> None:
    events = scenario.events()
    batch = Env(**configs()).batch(**scenario.frames())
    assert_same(Env(**configs()).replay(events), batch)
    recorded = Env(**configs(), record=True)
    bus = EventBus()
    bus.subscribe_object(recorded)
    for event in events:
        bus.publish(event)
        bus.dispatch()
    assert_same(recorded.frame(), batch)
    alive = batch.iloc[-1].drop(["spot.quote_mid", "spot.quote_spread"])  # the scenario has no quotes
    assert alive.notna().all(), alive[alive.isna()]


def test_a_strategy_reads_the_env_after_it_took_the_bar(hourly_head: pd.DataFrame) -> None:
    """In a back-test the env is a handler, updated before the strategy sees the bar."""
    frame = hourly_head.iloc[:300]
    env = Env(spot=SpotConfig(symbol=SPOT), vol=VolConfig())

    class Reader(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.seen: dict[int, dict[str, float]] = {}

        def on_bar(self, bar: Bar) -> None:
            self.seen[bar.ts] = env.features()

    reader = Reader()
    run_backtest(reader, frame, venue=SimSettings(), symbol=SPOT, handlers=[env])
    batch = env.batch(frame)
    seen = pd.DataFrame.from_dict(reader.seen, orient="index")
    seen.index = batch.index
    assert_same(seen[list(env.names)].rename_axis("ts"), batch)


def test_vol_takes_the_spot_symbol_and_forward_the_spot_fee() -> None:
    env = Env(spot=SpotConfig(symbol="ETH/USD", timeframe="4h", fee_bps=7.0), vol=VolConfig(),
              forward=ForwardConfig(spot="ETH/USD", perpetual="ETH/USD:USD"))
    assert env.vol is not None and env.forward is not None
    assert env.vol.config.symbol == "ETH/USD" and env.vol.config.timeframe == "4h"
    assert env.forward.config.spot_fee_bps == 7.0
    own = Env(spot=SpotConfig(symbol="ETH/USD"), forward=ForwardConfig(spot="ETH/USD", spot_fee_bps=1.0))
    assert own.forward is not None and own.forward.config.spot_fee_bps == 1.0


def test_a_component_alone(hourly_head: pd.DataFrame) -> None:
    env = Env(vol=VolConfig(window=5))
    out = env.batch(hourly_head.iloc[:50])
    assert list(out.columns) == [f"vol.{n}" for n in env.vol.names]  # type: ignore[union-attr]


def test_misuse_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        Env()
    with pytest.raises(ConfigError, match="record=True"):
        Env(spot=SpotConfig()).frame()
    with pytest.raises(ConfigError, match="needs bars"):
        Env(spot=SpotConfig()).batch()
