"""The market environment: spot, forward (perpetuals, dated futures) and vol components and their settings.

Each component is a bus handler that updates from market events (``Spot``: bars and quotes; ``Forward``: bars,
quotes and funding rates; ``Vol``: bars and volatility-index prints) and reports its current values by name;
each also computes the same values from frames for research (``batch``), float for float. ``Env`` composes them
into one handler whose ``features()`` name every value ``<component>.<value>``. ``RegimeSimulator`` draws Monte-
Carlo price paths from a regime-switching model fitted on a history (``Spot.fit_simulator``).
"""

from engine.env.env import Env
from engine.env.forward import DatedFuture, Forward, ForwardConfig
from engine.env.montecarlo import MonteCarloConfig, RegimeSimulator
from engine.env.spot import Spot, SpotConfig
from engine.env.vol import Vol, VolConfig
from engine.env.window import YEAR_NS, periods_per_year

__all__ = [
    "YEAR_NS",
    "DatedFuture",
    "Env",
    "Forward",
    "ForwardConfig",
    "MonteCarloConfig",
    "RegimeSimulator",
    "Spot",
    "SpotConfig",
    "Vol",
    "VolConfig",
    "periods_per_year",
]
