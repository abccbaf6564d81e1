"""Settings of the simulated exchange: fees, fill rules, volume cap, latency and slippage."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from adapters.sim.slippage import NoSlippage, SlippageModel
from engine.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """How the simulated exchange fills orders.

    Parameters
    ----------
    maker_fee, taker_fee
        Fee rates of the notional (``Decimal("0.001")`` is 0.1 %); a negative maker fee is a rebate, the taker
        fee is never negative.
    fee_precision
        Fees are quantized (half-even) to this, in the quote currency.
    limit_fill
        ``"through"``: a resting limit fills only when the bar trades through its price (buy: low < price);
        ``"touch"``: touching is enough (buy: low <= price).
    volume_share
        Cap on the quantity all orders of a symbol may fill per bar, as a share of the bar's volume; None: no cap.
    latency_ns
        Orders and cancels take effect this many nanoseconds after their ``ts``.
    slippage
        The model of taker fill prices (``NoSlippage``, ``FixedBpsSlippage``, ``VolumeShareSlippage``).
    """

    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    fee_precision: Decimal = Decimal("1e-8")
    limit_fill: Literal["through", "touch"] = "through"
    volume_share: float | None = None
    latency_ns: int = 0
    slippage: SlippageModel = field(default_factory=NoSlippage)

    def __post_init__(self) -> None:
        if not _below_one(self.maker_fee) or self.maker_fee <= -1:
            raise ConfigError(f"SimConfig.maker_fee must be a Decimal rate in (-1, 1), got {self.maker_fee!r}")
        if not _below_one(self.taker_fee) or self.taker_fee < 0:
            raise ConfigError(f"SimConfig.taker_fee must be a Decimal rate in [0, 1), got {self.taker_fee!r}")
        if not isinstance(self.fee_precision, Decimal) or not self.fee_precision.is_finite() \
                or self.fee_precision <= 0:
            raise ConfigError(f"SimConfig.fee_precision must be a positive Decimal, got {self.fee_precision!r}")
        if self.limit_fill not in ("through", "touch"):
            raise ConfigError(f"SimConfig.limit_fill must be 'through' or 'touch', got {self.limit_fill!r}")
        share = self.volume_share
        if share is not None and not (isinstance(share, int | float) and 0 < share <= 1):
            raise ConfigError(f"SimConfig.volume_share must be None or in (0, 1], got {share!r}")
        if not isinstance(self.latency_ns, int) or self.latency_ns < 0:
            raise ConfigError(f"SimConfig.latency_ns must be a non-negative int, got {self.latency_ns!r}")
        if not isinstance(self.slippage, SlippageModel):
            raise ConfigError(f"SimConfig.slippage must have fill_price(side, price, quantity, volume), "
                              f"got {self.slippage!r}")

    def highest_fee_rate(self) -> Decimal:
        """Return the highest rate a fill may pay in fees: what a buy's reservation holds on top of its notional."""
        return max(self.maker_fee, self.taker_fee)


def _below_one(rate: object) -> bool:
    return isinstance(rate, Decimal) and rate.is_finite() and rate < 1
