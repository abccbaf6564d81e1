"""Slippage models: the price a taker actually gets, given the reference price it aimed at.

A model returns a float; the exchange then rounds it to the price increment against the trader and caps it
at the order's limit price. Models apply to taker fills only: a maker fills at its own limit price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from engine.errors import ConfigError
from engine.events import Side


@runtime_checkable
class SlippageModel(Protocol):
    """Turn a reference price into the price a taker fills at."""

    def fill_price(self, side: Side, price: float, quantity: float, volume: float) -> float:
        """Return the fill price of ``quantity`` taken at reference ``price`` in a bar that traded ``volume``."""
        ...


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Fill at the reference price."""

    def fill_price(self, side: Side, price: float, quantity: float, volume: float) -> float:
        return price


@dataclass(frozen=True, slots=True)
class FixedBpsSlippage:
    """Pay ``bps`` basis points of the reference price: buys fill higher, sells lower."""

    bps: float

    def __post_init__(self) -> None:
        if not 0 <= self.bps < 10_000:
            raise ConfigError(f"FixedBpsSlippage: bps must be in [0, 10000), got {self.bps!r}")

    def fill_price(self, side: Side, price: float, quantity: float, volume: float) -> float:
        shift = self.bps / 10_000.0
        return price * (1.0 + shift) if side is Side.BUY else price * (1.0 - shift)


@dataclass(frozen=True, slots=True)
class VolumeShareSlippage:
    """Pay ``bps_at_full_volume * quantity / volume`` basis points: the more of the bar you take, the more it costs.

    The share of the bar's volume is capped at 1, so an order as large as the bar or larger, or any order in a
    bar with no volume, pays ``bps_at_full_volume``.
    """

    bps_at_full_volume: float

    def __post_init__(self) -> None:
        if not 0 <= self.bps_at_full_volume < 10_000:
            raise ConfigError("VolumeShareSlippage: bps_at_full_volume must be in [0, 10000), "
                              f"got {self.bps_at_full_volume!r}")

    def fill_price(self, side: Side, price: float, quantity: float, volume: float) -> float:
        share = min(quantity / volume, 1.0) if volume > 0 else 1.0
        shift = self.bps_at_full_volume * share / 10_000.0
        return price * (1.0 + shift) if side is Side.BUY else price * (1.0 - shift)
