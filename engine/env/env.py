"""The market environment: spot, forward and vol components behind one handler and one snapshot.

An ``Env`` is a bus handler (``on_bar``, ``on_quote``, ``on_funding_rate``, ``on_vol_index``), so a kernel given
it in ``handlers`` updates it before any strategy sees the event. ``features()`` names every current value
``<component>.<value>`` (``spot.ema``, ``forward.perp.carry``, ``vol.rv_gk``): the feature vector of the ML
layer. The same values come as frames for research (``batch``, vectorised), from replayed events (``replay``)
or from a session's history (``record=True``, then ``frame()``), and all of them agree float for float.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import pandas as pd

from engine.env.batch import asof_join, prefixed, replay, snapshots_frame
from engine.env.forward import Forward, ForwardConfig
from engine.env.spot import Spot, SpotConfig
from engine.env.vol import Vol, VolConfig
from engine.errors import ConfigError
from engine.events import Bar, Event, FundingRate, Quote, VolIndex


class Env:
    """Compose the configured components, route market events to them, and report their values by name.

    Parameters
    ----------
    spot, forward, vol
        Configurations of the components wanted (at least one). In an ``Env``, a vol config without a symbol
        or timeframe takes the spot config's, and a forward config without ``spot_fee_bps`` takes the spot fee.
    record
        Keep a snapshot of ``features()`` per event time for ``frame()`` (costs one snapshot per time).
    """

    def __init__(self, *, spot: SpotConfig | None = None, forward: ForwardConfig | None = None,
                 vol: VolConfig | None = None, record: bool = False) -> None:
        if spot is None and forward is None and vol is None:
            raise ConfigError("env: configure at least one of spot, forward, vol")
        if spot is not None and vol is not None:
            vol = dataclasses.replace(vol, symbol=vol.symbol if vol.symbol is not None else spot.symbol,
                                      timeframe=vol.timeframe if vol.timeframe is not None else spot.timeframe)
        if spot is not None and forward is not None and forward.spot_fee_bps is None:
            forward = dataclasses.replace(forward, spot_fee_bps=spot.fee_bps)
        self.spot = Spot(spot) if spot is not None else None
        self.forward = Forward(forward) if forward is not None else None
        self.vol = Vol(vol) if vol is not None else None
        self.components: tuple[Spot | Forward | Vol, ...] = tuple(
            c for c in (self.spot, self.forward, self.vol) if c is not None)
        self.names: tuple[str, ...] = tuple(f"{c.name}.{n}" for c in self.components for n in c.names)
        self._bar_handlers = tuple(c.on_bar for c in self.components)
        self._quote_handlers = tuple(c.on_quote for c in (self.spot, self.forward) if c is not None)
        self.record = record
        self._times: list[int] = []
        self._rows: list[dict[str, float]] = []
        self._last_ts: int | None = None

    def __repr__(self) -> str:
        return f"Env({', '.join(c.name for c in self.components)})"

    # -- streaming -------------------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """Update every component with a bar."""
        if self.record:
            self._snapshot_before(bar.ts)
        for handle in self._bar_handlers:
            handle(bar)

    def on_quote(self, quote: Quote) -> None:
        """Update spot and forward with a quote."""
        if self.record:
            self._snapshot_before(quote.ts)
        for handle in self._quote_handlers:
            handle(quote)

    def on_funding_rate(self, funding: FundingRate) -> None:
        """Update forward with a funding rate."""
        if self.record:
            self._snapshot_before(funding.ts)
        if self.forward is not None:
            self.forward.on_funding_rate(funding)

    def on_vol_index(self, index: VolIndex) -> None:
        """Update vol with a volatility-index print."""
        if self.record:
            self._snapshot_before(index.ts)
        if self.vol is not None:
            self.vol.on_vol_index(index)

    def _snapshot_before(self, ts: int) -> None:
        """Record the state of the previous event time when an event of a later time arrives."""
        last = self._last_ts
        if last is not None and ts != last:
            self._times.append(last)
            self._rows.append(self.features())
        self._last_ts = ts

    def features(self) -> dict[str, float]:
        """Return every current value as ``{"<component>.<value>": float}`` (NaN where not yet known)."""
        out: dict[str, float] = {}
        for component in self.components:
            prefix = component.name
            for name, value in component.values().items():
                out[f"{prefix}.{name}"] = value
        return out

    def frame(self) -> pd.DataFrame:
        """Return the recorded snapshots, one row per event time so far (the last one as of now)."""
        if not self.record:
            raise ConfigError("env: frame() needs Env(record=True)")
        times, rows = list(self._times), list(self._rows)
        if self._last_ts is not None:
            times.append(self._last_ts)
            rows.append(self.features())
        return snapshots_frame(times, rows, self.names)

    def replay(self, events: Iterable[Event]) -> pd.DataFrame:
        """Feed ``events`` (time order) to this env and return its features after each event time."""
        times, rows = replay(_Features(self), events)
        return snapshots_frame(times, rows, self.names)

    # -- batch -----------------------------------------------------------------------------------------------
    def batch(self, bars: pd.DataFrame | None = None, *, quotes: pd.DataFrame | None = None,
              forward_spot: pd.DataFrame | None = None, perpetual: pd.DataFrame | None = None,
              funding: pd.DataFrame | None = None, futures: Mapping[str, pd.DataFrame] | None = None,
              vol_index: pd.DataFrame | None = None) -> pd.DataFrame:
        """Return the features at every event time of the frames, computed in batch from this env's configs.

        Parameters
        ----------
        bars
            OHLCV bars of the spot market (read by spot and vol).
        quotes
            Spot quotes (``bid``, ``ask`` columns), optional.
        forward_spot
            Bars of the forward component's spot symbol when it is not ``bars``' market (an index price).
        perpetual, funding, futures
            The perpetual's bars, its funding frame, dated futures' bars by future name.
        vol_index
            A ``vol`` frame of the implied-vol index.

        The streaming state of this env is neither used nor changed.
        """
        parts = []
        if self.spot is not None:
            parts.append(prefixed(Spot.batch(_need(bars, "spot"), self.spot.config, quotes=quotes), "spot"))
        if self.forward is not None:
            spot_bars = forward_spot if forward_spot is not None else _need(bars, "forward")
            parts.append(prefixed(Forward.batch(self.forward.config, spot=spot_bars, perpetual=perpetual,
                                                funding=funding, futures=futures), "forward"))
        if self.vol is not None:
            parts.append(prefixed(Vol.batch(_need(bars, "vol"), self.vol.config, index=vol_index), "vol"))
        return asof_join(parts, self.names)


class _Features:
    """Adapt an ``Env`` to ``replay``: its handlers, and ``features()`` as ``values()``."""

    def __init__(self, env: Env) -> None:
        self.on_bar = env.on_bar
        self.on_quote = env.on_quote
        self.on_funding_rate = env.on_funding_rate
        self.on_vol_index = env.on_vol_index
        self.values = env.features


def _need(frame: pd.DataFrame | None, component: str) -> pd.DataFrame:
    if frame is None:
        raise ConfigError(f"env: the {component} component needs bars")
    return frame
