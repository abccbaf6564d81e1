"""Slippage models with exact prices, rounding against the trader, maker and taker fees, and settings."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from adapters.sim import FixedBpsSlippage, NoSlippage, SimConfig, VolumeShareSlippage
from adapters.sim.fees import trade_fee
from adapters.sim.testing import default_config
from engine.errors import ConfigError
from engine.events import Liquidity, Side


def _fill_prices(make_venue, open_: float, quantity: str = "1", volume: float = 100.0, **config) -> list[Decimal]:
    venue = make_venue(**config)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("b", "buy", quantity)
    venue.order("s", "sell", quantity)
    venue.bar(1, open_, open_ + 1, open_ - 1, open_, v=volume)
    return [f.price for f in venue.fills()]


def test_no_slippage_rounds_an_off_tick_open_against_the_trader(make_venue) -> None:
    assert _fill_prices(make_venue, 100.005) == [Decimal("100.01"), Decimal("100.00")]


def test_no_slippage_on_tick_open_is_exact(make_venue) -> None:
    assert _fill_prices(make_venue, 123.45, slippage=NoSlippage()) == [Decimal("123.45"), Decimal("123.45")]


def test_fixed_bps_slippage(make_venue) -> None:
    # 123.45 * 1.0025 = 123.758625 -> up to 123.76; 123.45 * 0.9975 = 123.141375 -> down to 123.14
    assert _fill_prices(make_venue, 123.45, slippage=FixedBpsSlippage(25)) == [Decimal("123.76"), Decimal("123.14")]


def test_fixed_bps_slippage_on_an_exact_tick_does_not_round_float_noise_up(make_venue) -> None:
    # 100 * 1.001 is 100.09999999999999 in floats: still 100.10, not 100.11
    assert _fill_prices(make_venue, 100.0, slippage=FixedBpsSlippage(10)) == [Decimal("100.10"), Decimal("99.90")]


def test_volume_share_slippage(make_venue) -> None:
    # 2 of a bar of 10: 100 bps * 0.2 = 20 bps
    assert _fill_prices(make_venue, 100.0, quantity="2", volume=10.0,
                        slippage=VolumeShareSlippage(100)) == [Decimal("100.20"), Decimal("99.80")]


def test_volume_share_slippage_is_capped_at_full_volume_and_on_empty_bars(make_venue) -> None:
    model = VolumeShareSlippage(100)
    assert _fill_prices(make_venue, 100.0, volume=0.0, slippage=model) == [Decimal("101.00"), Decimal("99.00")]
    assert _fill_prices(make_venue, 100.0, quantity="5", volume=1.0, slippage=model) == [Decimal("101.00"),
                                                                                          Decimal("99.00")]


def test_slippage_models_directly() -> None:
    assert NoSlippage().fill_price(Side.BUY, 100.0, 1.0, 10.0) == 100.0
    assert FixedBpsSlippage(50).fill_price(Side.SELL, 200.0, 1.0, 10.0) == pytest.approx(199.0)
    assert VolumeShareSlippage(10).fill_price(Side.BUY, 1000.0, 5.0, 10.0) == pytest.approx(1000.5)


def test_maker_fills_pay_no_slippage(make_venue) -> None:
    venue = make_venue(slippage=FixedBpsSlippage(100))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l", "buy", "1", "limit", price="99.5")
    venue.bar(1, 100, 101, 99, 100)
    assert [(f.price, f.liquidity) for f in venue.fills()] == [(Decimal("99.50"), Liquidity.MAKER)]


def test_maker_and_taker_fees_exact(make_venue) -> None:
    venue = make_venue(maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.00075"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("t", "buy", "1.234")
    venue.order("m", "sell", "0.777", "limit", price="101.37")
    venue.bar(1, 100.13, 102, 99, 101)
    fees = {f.client_order_id: (f.fee, f.fee_currency, f.liquidity) for f in venue.fills()}
    # taker: 100.13 * 1.234 * 0.00075 = 0.092670315 -> 0.09267032 (half-even at 1e-8, the digit after is 5)
    # maker: 101.37 * 0.777 * 0.0002 = 0.015752898 -> 0.01575290
    assert fees == {"t": (Decimal("0.09267032"), "USD", Liquidity.TAKER),
                    "m": (Decimal("0.01575290"), "USD", Liquidity.MAKER)}


def test_fee_quantization_is_half_even() -> None:
    cent = Decimal("0.01")
    assert trade_fee(Decimal("125"), Decimal("1"), Decimal("0.001"), cent) == Decimal("0.12")
    assert trade_fee(Decimal("135"), Decimal("1"), Decimal("0.001"), cent) == Decimal("0.14")


def test_fee_precision_setting_is_used(make_venue) -> None:
    venue = make_venue(fee_precision=Decimal("0.01"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("t", "buy", "1")
    venue.bar(1, 62.5, 63, 62, 62.5)  # 62.5 * 0.002 = 0.125 -> 0.12
    assert [f.fee for f in venue.fills()] == [Decimal("0.12")]


def test_negative_maker_fee_is_a_rebate(make_venue) -> None:
    venue = make_venue(maker_fee=Decimal("-0.0001"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l", "buy", "2", "limit", price="99.5")
    venue.bar(1, 100, 101, 99, 100)
    assert [f.fee for f in venue.fills()] == [Decimal("-0.01990000")]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("maker_fee", 0.001, "maker_fee must be a Decimal rate"),
    ("taker_fee", Decimal("NaN"), "taker_fee must be a Decimal rate"),
    ("fee_precision", Decimal(0), "fee_precision must be a positive Decimal"),
    ("limit_fill", "cross", "limit_fill must be 'through' or 'touch'"),
    ("volume_share", 0.0, "volume_share must be None or in (0, 1]"),
    ("volume_share", 1.5, "volume_share must be None or in (0, 1]"),
    ("latency_ns", -1, "latency_ns must be a non-negative int"),
    ("slippage", object(), "slippage must have fill_price"),
])
def test_config_refuses_bad_settings(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SimConfig(**{field: value})


def test_slippage_models_refuse_bad_bps() -> None:
    with pytest.raises(ConfigError, match="bps must be"):
        FixedBpsSlippage(-1)
    with pytest.raises(ConfigError, match="bps_at_full_volume must be"):
        VolumeShareSlippage(float("nan"))


def test_default_config() -> None:
    config = SimConfig()
    assert (config.maker_fee, config.taker_fee, config.fee_precision, config.limit_fill, config.volume_share,
            config.latency_ns, config.slippage) == (Decimal("0.001"), Decimal("0.001"), Decimal("1e-8"), "through",
                                                    None, 0, NoSlippage())
    assert default_config().taker_fee == Decimal("0.002")
