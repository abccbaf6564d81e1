"""The forward component on prices and funding the tests build, with answers known in advance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.datagen.bar_feed import BarFeed, merge_feeds
from engine.env import YEAR_NS, DatedFuture, Forward, ForwardConfig
from engine.env.forward import funding_events
from engine.errors import ConfigError
from engine.events import FundingRate, Quote

from .helpers import HOUR, START, assert_same, bar, flat_bars, funding_frame, streamed

PERP = "BTC/USDT:USDT"
SPOT = "BTC/USDT"
EXPIRY = START + pd.Timedelta(days=73)  # a fifth of a year after START


def config(**kwargs: object) -> ForwardConfig:
    base: dict = {"spot": SPOT, "perpetual": PERP, "fee_bps": 5.0, "spot_fee_bps": 10.0,
                  "futures": (DatedFuture(name="m1", symbol="BTC/USDT:USDT-240314", expiry=EXPIRY),)}
    base.update(kwargs)
    return ForwardConfig(**base)


def test_known_funding_gives_known_annualised_carry() -> None:
    forward = Forward(config(funding_window=2))
    forward.on_funding_rate(FundingRate(ts=1, symbol=PERP, rate=0.0001))
    assert forward.value("perp.funding_rate") == 0.0001
    assert forward.value("perp.carry") == pytest.approx(0.0001 * 365 * 3, rel=1e-15)  # three fundings a day
    forward.on_funding_rate(FundingRate(ts=2, symbol=PERP, rate=0.0003))
    forward.on_funding_rate(FundingRate(ts=3, symbol=PERP, rate=0.0005))
    forward.on_funding_rate(FundingRate(ts=4, symbol="ETH/USDT:USDT", rate=0.9))  # not ours
    values = forward.values()
    assert values["perp.carry"] == pytest.approx(0.0005 * 1095, rel=1e-15)
    assert values["perp.carry_mean"] == pytest.approx(0.0004 * 1095, rel=1e-14)  # the last two rates
    cost = 2 * (5 + 10) / 10_000  # both legs opened and closed at taker fees
    assert values["perp.net_carry"] == pytest.approx(0.0004 * 1095 - cost * 365 / 30, rel=1e-14)


def test_funding_interval_sets_the_annualisation() -> None:
    forward = Forward(config(funding_interval="1h"))
    forward.on_funding_rate(FundingRate(ts=1, symbol=PERP, rate=0.00001))
    assert forward.value("perp.carry") == pytest.approx(0.00001 * 8760, rel=1e-15)


def test_known_basis() -> None:
    forward = Forward(config())
    forward.on_bar(bar(HOUR, 100.0, symbol=SPOT))
    forward.on_bar(bar(HOUR, 101.0, symbol=PERP))
    assert forward.value("perp.basis") == 1.0
    assert forward.value("perp.basis_rel") == pytest.approx(0.01, rel=1e-13)
    forward.on_quote(Quote(ts=2 * HOUR, symbol=PERP, bid=99.0, ask=100.0))  # quotes count by their mid
    assert forward.value("perp.basis") == -0.5


def test_dated_future_carry_is_the_basis_over_the_time_to_expiry() -> None:
    forward = Forward(config())
    start = START.value
    forward.on_bar(bar(start, 100.0, symbol=SPOT))
    forward.on_bar(bar(start, 102.0, symbol="BTC/USDT:USDT-240314"))
    values = forward.values()
    assert values["m1.basis"] == 2.0
    assert values["m1.tau"] == pytest.approx(0.2, rel=1e-15)
    assert values["m1.carry"] == pytest.approx(0.02 / 0.2, rel=1e-13)
    assert values["m1.net_carry"] == pytest.approx((0.02 - 0.003) / 0.2, rel=1e-13)
    half = start + (EXPIRY.value - start) // 2  # halfway to expiry the same basis earns twice as fast
    forward.on_bar(bar(half, 100.0, symbol=SPOT))
    assert forward.value("m1.carry") == pytest.approx(0.2, rel=1e-12)
    forward.on_bar(bar(EXPIRY.value, 100.0, symbol=SPOT))
    assert forward.value("m1.tau") == 0.0 and math.isnan(forward.value("m1.carry"))


def test_values_are_nan_until_known() -> None:
    forward = Forward(config())
    assert all(math.isnan(v) for v in forward.values().values())
    forward.on_bar(bar(HOUR, 100.0, symbol=SPOT))
    assert math.isnan(forward.value("perp.basis")) and forward.value("spot") == 100.0


def test_batch_matches_an_independent_asof_computation(hourly_head: pd.DataFrame) -> None:
    spot = hourly_head
    rng = np.random.default_rng(5)
    perp = flat_bars(spot["close"].to_numpy() * (1 + rng.normal(0.0005, 0.0003, len(spot))),
                     start=spot.index[0])
    future = flat_bars(spot["close"].to_numpy()[::4] * 1.01, step="4h", start=spot.index[0] + pd.Timedelta("30min"))
    funding = funding_frame(rng.normal(0.0001, 0.00005, len(spot) // 8).tolist(), start=spot.index[0])
    cfg = config(futures=(DatedFuture(name="m1", symbol="F", expiry=spot.index[-1] + pd.Timedelta(days=30)),))
    out = Forward.batch(cfg, spot=spot, perpetual=perp, funding=funding, futures={"m1": future})

    def at_close(frame: pd.DataFrame, step: str) -> pd.Series:
        return pd.Series(frame["close"].to_numpy(), index=frame.index + pd.Timedelta(step))

    s = at_close(spot, "1h").reindex(out.index, method="ffill")
    p = at_close(perp, "1h").reindex(out.index, method="ffill")
    f = at_close(future, "4h").reindex(out.index, method="ffill")
    rate = funding["funding_rate"].reindex(out.index, method="ffill")
    np.testing.assert_array_equal(out["perp.basis"], p - s)
    np.testing.assert_array_equal(out["perp.basis_rel"], p / s - 1)
    np.testing.assert_array_equal(out["perp.carry"], rate * (YEAR_NS / (8 * HOUR)))
    tau = (cfg.futures[0].expiry_ns - out.index.asi8) / YEAR_NS
    np.testing.assert_allclose(out["m1.carry"], (f / s - 1) / tau, rtol=1e-14)
    means = funding["funding_rate"].rolling(21, min_periods=1).mean().reindex(out.index, method="ffill")
    np.testing.assert_allclose(out["perp.carry_mean"], means * 1095, rtol=1e-12)


def test_streaming_equals_batch(hourly_head: pd.DataFrame) -> None:
    spot = hourly_head.iloc[:500]
    perp = flat_bars(spot["close"].to_numpy() * 1.001, start=spot.index[0])
    funding = funding_frame([0.0001, -0.0002, 0.0003] * 20, start=spot.index[0])
    cfg = config(futures=())
    events = merge_feeds([BarFeed(spot, SPOT), BarFeed(perp, PERP), funding_events(funding, PERP)])
    assert_same(streamed(Forward(cfg), events), Forward.batch(cfg, spot=spot, perpetual=perp, funding=funding))


def test_bars_of_another_timeframe_are_ignored_when_one_is_set() -> None:
    forward = Forward(config(timeframe="1h"))
    forward.on_bar(bar(HOUR, 100.0, symbol=SPOT, interval=60_000_000_000))
    assert math.isnan(forward.value("spot"))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"perpetual": SPOT}, "distinct symbols"),
    ({"futures": (DatedFuture(name="a", symbol="X", expiry="2025-01-01"),
                  DatedFuture(name="a", symbol="Y", expiry="2025-02-01"))}, "distinct"),
    ({"funding_interval": "never"}, "funding_interval"),
    ({"funding_window": 0}, "funding_window"),
    ({"fee_bps": -1}, "fee_bps"),
])
def test_bad_settings_are_refused_by_name(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config(**kwargs)


def test_bad_future_names_and_expiries_are_refused() -> None:
    with pytest.raises(ConfigError, match="name"):
        DatedFuture(name="perp", symbol="X", expiry="2025-01-01")
    with pytest.raises(ConfigError, match="expiry"):
        DatedFuture(name="m1", symbol="X", expiry="someday")
    assert pd.Timestamp(DatedFuture(name="m1", symbol="X", expiry="2025-01-01").expiry).tzname() == "UTC"


def test_frames_must_match_the_config(hourly_head: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="unknown futures"):
        Forward.batch(config(), spot=hourly_head, futures={"m9": hourly_head})
    with pytest.raises(ConfigError, match="no perpetual"):
        Forward.batch(config(perpetual=None), spot=hourly_head, funding=funding_frame([0.1]))
