"""The simulated exchange as a back-test's settings name it, and the venue a back-test builds from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, Literal

from adapters.sim.assumptions import ASSUMPTIONS
from adapters.sim.config import SimConfig
from adapters.sim.exchange import AccountCheck, SimulatedExchange
from adapters.sim.slippage import FixedBpsSlippage, NoSlippage, SlippageModel, VolumeShareSlippage
from engine.errors import ConfigError
from engine.markets import Markets
from engine.ports import Clock, EventSink


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """The simulator's settings in the units of ``mlct backtest`` and its config files: bps, ms, model names.

    They are turned into a ``SimConfig`` when made, which checks each of them: a bad value raises
    ``ConfigError``. Hand one to ``engine.backtest.run_backtest(..., venue=SimSettings(fee_bps=7.5))``.

    Parameters
    ----------
    fee_bps, maker_fee_bps
        Taker and maker fees in basis points of the notional; the maker fee defaults to the taker fee.
    slippage, slippage_bps
        ``"none"``; ``"fixed"``: ``slippage_bps`` on every taker fill; ``"volume"``: ``slippage_bps`` at 100%
        of the bar's volume, in proportion below it.
    volume_share
        Cap on the share of each bar's volume the fills of a symbol may take; None: no cap.
    latency_ms
        Delay before an order or a cancel takes effect.
    limit_fill
        ``"through"``: a resting limit fills when the bar trades beyond it; ``"touch"``: reaching it is enough.
    """

    fee_bps: float = 10.0
    maker_fee_bps: float | None = None
    slippage: str = "fixed"
    slippage_bps: float = 0.0
    volume_share: float | None = None
    latency_ms: float = 0.0
    limit_fill: Literal["through", "touch"] = "through"
    config: SimConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        taker = _rate("fee_bps", self.fee_bps)
        maker = taker if self.maker_fee_bps is None else _rate("maker_fee_bps", self.maker_fee_bps)
        latency_ns = round(_number("latency_ms", self.latency_ms) * 1_000_000)
        try:
            config = SimConfig(maker_fee=maker, taker_fee=taker, limit_fill=self.limit_fill,
                               volume_share=self.volume_share, latency_ns=latency_ns,
                               slippage=_slippage(self.slippage, self.slippage_bps))
        except ConfigError as exc:  # SimConfig names its own field: say which setting it was made from
            raise ConfigError(f"{exc}, made from {self!r}") from exc
        object.__setattr__(self, "config", config)

    def reserve_fee_rate(self) -> Decimal:
        """Return the highest fee rate a fill may pay, which the ledger reserves on top of a buy's notional."""
        return self.config.highest_fee_rate()

    def build(self, bus: EventSink, clock: Clock, markets: Markets, ledger: AccountCheck) -> SimulatedExchange:
        """Return a simulated exchange with these settings, checking each fill against ``ledger``."""
        return SimulatedExchange(bus, clock, markets, self.config, account=ledger)

    def assumptions(self) -> list[str]:
        """Return the rules the simulated exchange fills by, for the result and its report."""
        return list(ASSUMPTIONS)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as given, keyed as in a config file."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


def _number(name: str, value: object) -> float:
    """Return ``value`` if it is a finite number, else raise ``ConfigError`` naming the setting."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return value


def _rate(name: str, bps: object) -> Decimal:
    """Return a rate from basis points, exact as written (``7.5`` -> ``Decimal("0.00075")``)."""
    return Decimal(str(_number(name, bps))) / 10_000


def _slippage(name: str, bps: float) -> SlippageModel:
    """Return the slippage model called ``name``; the model checks ``bps``."""
    if name == "none":
        return NoSlippage()
    if name == "fixed":
        return FixedBpsSlippage(bps)
    if name == "volume":
        return VolumeShareSlippage(bps)
    raise ConfigError(f"slippage must be one of none, fixed, volume, got {name!r}")
