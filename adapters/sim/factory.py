"""Build the simulated exchange from a back-test's settings (``BacktestConfig.venue = "adapters.sim:build_venue"``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from adapters.sim.config import SimConfig
from adapters.sim.exchange import AccountCheck, EventSink, SimulatedExchange
from adapters.sim.slippage import FixedBpsSlippage, NoSlippage, SlippageModel, VolumeShareSlippage
from engine.clock import Clock
from engine.errors import ConfigError
from engine.markets import Markets


class VenueSettings(Protocol):
    """The fields of ``engine.backtest.BacktestConfig`` the venue reads (fees and slippage in basis points)."""

    @property
    def fee_bps(self) -> float: ...
    @property
    def maker_fee_bps(self) -> float | None: ...
    @property
    def slippage(self) -> str: ...
    @property
    def slippage_bps(self) -> float: ...
    @property
    def volume_share(self) -> float | None: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def limit_fill(self) -> str: ...


def sim_config_from(settings: VenueSettings) -> SimConfig:
    """Translate back-test settings (bps, ms, a slippage name) into a ``SimConfig``."""
    taker = Decimal(str(settings.fee_bps)) / 10_000
    maker = taker if settings.maker_fee_bps is None else Decimal(str(settings.maker_fee_bps)) / 10_000
    slippage: SlippageModel
    if settings.slippage == "none":
        slippage = NoSlippage()
    elif settings.slippage == "fixed":
        slippage = FixedBpsSlippage(settings.slippage_bps)
    elif settings.slippage == "volume":
        slippage = VolumeShareSlippage(settings.slippage_bps)
    else:
        raise ConfigError(f"slippage must be one of none, fixed, volume, got {settings.slippage!r}")
    limit_fill: Literal["through", "touch"]
    if settings.limit_fill == "through":
        limit_fill = "through"
    elif settings.limit_fill == "touch":
        limit_fill = "touch"
    else:
        raise ConfigError(f"limit_fill must be 'through' or 'touch', got {settings.limit_fill!r}")
    return SimConfig(maker_fee=maker, taker_fee=taker, limit_fill=limit_fill, volume_share=settings.volume_share,
                     latency_ns=round(settings.latency_ms * 1_000_000), slippage=slippage)


def build_venue(bus: EventSink, clock: Clock, markets: Markets, ledger: AccountCheck,
                settings: VenueSettings) -> SimulatedExchange:
    """Return a simulated exchange configured from back-test settings, checking fills against ``ledger``."""
    return SimulatedExchange(bus, clock, markets, sim_config_from(settings), account=ledger)
