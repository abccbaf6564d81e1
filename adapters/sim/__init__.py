"""The simulated exchange: order book, matching, fees, slippage and latency for back-tests and paper trading."""

from adapters.sim.assumptions import ASSUMPTIONS
from adapters.sim.config import SimConfig
from adapters.sim.exchange import ALREADY_CLOSED, UNKNOWN_ORDER, AccountCheck, SimulatedExchange
from adapters.sim.settings import SimSettings
from adapters.sim.slippage import FixedBpsSlippage, NoSlippage, SlippageModel, VolumeShareSlippage

__all__ = [
    "ALREADY_CLOSED",
    "ASSUMPTIONS",
    "UNKNOWN_ORDER",
    "AccountCheck",
    "FixedBpsSlippage",
    "NoSlippage",
    "SimConfig",
    "SimSettings",
    "SimulatedExchange",
    "SlippageModel",
    "VolumeShareSlippage",
]
