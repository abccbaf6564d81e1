"""A whole market the env tests replay: spot bars, a perpetual, its funding, a dated future, an implied index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.datagen.bar_feed import BarFeed, merge_feeds
from engine.env import DatedFuture, ForwardConfig, SpotConfig, VolConfig
from engine.env.forward import funding_events
from engine.events import MarketData, VolIndex

from .helpers import flat_bars, funding_frame

SPOT, PERP, FUTURE, DVOL = "BTC/USD", "BTC/USD:USD", "BTC/USD:USD-F", "BTC-DVOL"


@dataclass
class Market:
    bars: pd.DataFrame
    perpetual: pd.DataFrame
    funding: pd.DataFrame
    future: pd.DataFrame
    index: pd.DataFrame

    def frames(self) -> dict:
        """Keyword arguments of ``Env.batch``."""
        return {"bars": self.bars, "perpetual": self.perpetual, "funding": self.funding,
                "futures": {"m1": self.future}, "vol_index": self.index}

    def events(self) -> list[MarketData]:
        """The same data as events, in time order (ties: spot, perpetual, funding, future, index)."""
        prints = [VolIndex(ts=ts, symbol=DVOL, value=v * 0.01)
                  for ts, v in zip(self.index.index.asi8.tolist(), self.index["volatility"].tolist(), strict=True)]
        return list(merge_feeds([BarFeed(self.bars, SPOT), BarFeed(self.perpetual, PERP),
                                 funding_events(self.funding, PERP), BarFeed(self.future, FUTURE), prints]))


def configs() -> dict:
    """Keyword arguments of ``Env``: every component, short windows so a few hundred bars exercise them all."""
    return {
        "spot": SpotConfig(symbol=SPOT, ma_window=10, ema_span=10, stats_window=24),
        "forward": ForwardConfig(spot=SPOT, perpetual=PERP, funding_window=3,
                                 futures=(DatedFuture(name="m1", symbol=FUTURE, expiry="2018-06-01"),)),
        "vol": VolConfig(window=12, vov_window=6, index_symbol=DVOL),
    }


def market(bars: pd.DataFrame, seed: int = 0) -> Market:
    """Build the derivatives around real spot ``bars``: premiums and prints drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    start = bars.index[0]
    close = bars["close"].to_numpy()
    perpetual = flat_bars(close * (1 + rng.normal(0.0005, 0.0005, len(close))), start=start)
    future = flat_bars(close[::4] * (1 + rng.normal(0.01, 0.002, len(close[::4]))), step="4h",
                       start=start + pd.Timedelta(minutes=30))
    funding = funding_frame(rng.normal(0.0001, 0.0001, len(close) // 8).tolist(), start=start)
    stamps = bars.index[::2] + pd.Timedelta(minutes=45)
    index = pd.DataFrame({"volatility": 70 * np.exp(np.cumsum(rng.normal(0, 0.03, len(stamps))))}, index=stamps)
    return Market(bars=bars, perpetual=perpetual, funding=funding, future=future, index=index)
