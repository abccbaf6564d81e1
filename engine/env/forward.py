"""The forward component: perpetual and dated futures against spot: prices, funding, basis and annualised carry.

Prices are the close of each market's latest bar (or the mid of its latest quote), as of the latest event the
component took in (time ``t``). With ``S`` the spot price, ``F`` a future's, ``Y`` = 365 days:

=========================  ======================================================================================
``spot``                   ``S``
``perp.price``             the perpetual's ``F``
``perp.basis``             ``F - S``; ``perp.basis_rel`` = ``F / S - 1``
``perp.funding_rate``      the latest ``FundingRate.rate``: the fraction longs pay shorts per funding interval
``perp.carry``             ``rate * Y / funding_interval``: what a short perpetual, long spot position earns a year
                           at that rate (simple, not compounded)
``perp.carry_mean``        the same with the mean of the last ``funding_window`` rates (of all so far, before)
``perp.net_carry``         ``carry_mean - cost * Y / carry_horizon``: after opening and closing both legs once over
                           ``carry_horizon``
``<name>.price``           a dated future's ``F``; ``<name>.basis``, ``<name>.basis_rel`` as for the perpetual
``<name>.tau``             years to expiry: ``(expiry - t) / Y``
``<name>.carry``           ``basis_rel / tau``: the annualised (simple) return of buying spot and selling the future
                           held to expiry; NaN at or after expiry
``<name>.net_carry``       ``(basis_rel - cost) / tau``
=========================  ======================================================================================

``cost = 2 * (spot_fee_bps + fee_bps) / 10,000``: each leg opened and closed once at taker fees. ``t`` is the
time of the latest event taken in, so between events every value (``tau`` too) stands still, as a batch frame's
row does.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import pandas as pd

from engine.datagen.bar_feed import BarFeed, merge_feeds
from engine.datagen.frames import to_interval
from engine.env.batch import event_index, replay, snapshots_frame
from engine.env.window import NAN, YEAR_NS, check_window
from engine.errors import ConfigError
from engine.events import Bar, FundingRate, MarketData, Quote

PERP_NAMES = ("price", "basis", "basis_rel", "funding_rate", "carry", "carry_mean", "net_carry")
DATED_NAMES = ("price", "basis", "basis_rel", "tau", "carry", "net_carry")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatedFuture:
    """A dated future: the ``name`` its values go by (``"m1"`` -> ``m1.carry``), its symbol, its expiry.

    ``expiry`` may be given as text (``"2024-03-29 08:00"``); it is kept as a UTC ``Timestamp`` (UTC when the
    text names no zone).
    """

    name: str
    symbol: str
    expiry: pd.Timestamp | str

    def __post_init__(self) -> None:
        if not self.name or "." in self.name or self.name in ("spot", "perp"):
            raise ConfigError(f"forward: future name must be non-empty, without '.', not spot/perp: {self.name!r}")
        try:
            expiry = pd.Timestamp(self.expiry)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"forward: future {self.name!r} expiry {self.expiry!r} is not a time") from exc
        expiry = expiry.tz_localize("UTC") if expiry.tzinfo is None else expiry.tz_convert("UTC")
        object.__setattr__(self, "expiry", expiry)

    @property
    def expiry_ns(self) -> int:
        return pd.Timestamp(self.expiry).as_unit("ns").value


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardConfig:
    """Settings of the forward component.

    Parameters
    ----------
    spot
        Symbol of the spot price the basis is taken against (an index price works too: ``"BTC/USDT@index"``).
    perpetual
        Symbol of the perpetual swap (its bars or quotes, and its ``FundingRate`` events); None for none.
    futures
        Dated futures.
    timeframe
        Interval of the bars read; None reads bars of any interval (only the latest price matters here).
    funding_interval, funding_window
        Time between fundings (annualises a rate), and the rates averaged by ``perp.carry_mean``.
    fee_bps, spot_fee_bps
        Taker fees of the futures and of spot, basis points; None for spot takes the spot component's fee in an
        ``Env``, else 0.
    carry_horizon
        Holding period over which ``perp.net_carry`` spreads the cost of the trade.
    """

    spot: str
    perpetual: str | None = None
    futures: tuple[DatedFuture, ...] = ()
    timeframe: str | None = None
    funding_interval: str = "8h"
    funding_window: int = 21
    fee_bps: float = 5.0
    spot_fee_bps: float | None = None
    carry_horizon: str = "30D"

    def __post_init__(self) -> None:
        object.__setattr__(self, "futures", tuple(self.futures))
        symbols = [self.spot, self.perpetual, *(f.symbol for f in self.futures)]
        named = [s for s in symbols if s is not None]
        if len(set(named)) != len(named):
            raise ConfigError(f"forward: spot, perpetual and futures need distinct symbols, got {named}")
        names = [f.name for f in self.futures]
        if len(set(names)) != len(names):
            raise ConfigError(f"forward: future names must be distinct, got {names}")
        check_window("forward: funding_window", self.funding_window, 1)
        for name in ("funding_interval", "carry_horizon", "timeframe"):
            value = getattr(self, name)
            if value is not None:
                try:
                    to_interval(value)
                except ValueError as exc:
                    raise ConfigError(f"forward: {name} {value!r} is not a positive duration") from exc
        for name in ("fee_bps", "spot_fee_bps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or not value >= 0):
                raise ConfigError(f"forward: {name} must be a non-negative number, got {value!r}")

    def names(self) -> tuple[str, ...]:
        """Return the names of the values, in the order ``Forward.values`` and ``Forward.batch`` give them."""
        out = ["spot"]
        if self.perpetual is not None:
            out += [f"perp.{n}" for n in PERP_NAMES]
        for future in self.futures:
            out += [f"{future.name}.{n}" for n in DATED_NAMES]
        return tuple(out)


class Forward:
    """Stream the forward values from ``Bar``, ``Quote`` and ``FundingRate`` events; ``batch`` replays frames."""

    name = "forward"

    def __init__(self, config: ForwardConfig) -> None:
        self.config = config
        self.names = config.names()
        self.ts: int | None = None
        self._interval = to_interval(config.timeframe).value if config.timeframe is not None else 0
        # slot of each symbol's price in self._prices: 0 spot, 1 perpetual, 2.. the dated futures
        symbols = [config.spot, config.perpetual, *(f.symbol for f in config.futures)]
        self._slot = {s: i for i, s in enumerate(symbols) if s is not None}
        self._prices = [NAN] * len(symbols)
        self._expiry = [f.expiry_ns for f in config.futures]
        self._funding_per_year = YEAR_NS / to_interval(config.funding_interval).value
        self._cost = 2.0 * ((config.spot_fee_bps or 0.0) + config.fee_bps) / 10_000.0
        self._cost_per_year = self._cost * (YEAR_NS / to_interval(config.carry_horizon).value)
        self._rate = NAN
        self._rates: deque[float] = deque(maxlen=config.funding_window)
        self._cache: dict[str, float] | None = None

    def on_bar(self, bar: Bar) -> None:
        """Take the close of a bar of the spot, the perpetual or a dated future."""
        slot = self._slot.get(bar.symbol)
        if slot is None or (self._interval and bar.interval != self._interval):
            return
        self._prices[slot] = bar.close
        self.ts = bar.ts
        self._cache = None

    def on_quote(self, quote: Quote) -> None:
        """Take the mid of a quote of the spot, the perpetual or a dated future."""
        slot = self._slot.get(quote.symbol)
        if slot is None:
            return
        self._prices[slot] = (quote.bid + quote.ask) / 2.0
        self.ts = quote.ts
        self._cache = None

    def on_funding_rate(self, funding: FundingRate) -> None:
        """Take a funding rate of the perpetual."""
        if funding.symbol != self.config.perpetual:
            return
        self._rate = funding.rate
        self._rates.append(funding.rate)
        self.ts = funding.ts
        self._cache = None

    def values(self) -> dict[str, float]:
        """Return every value by name, as of the latest event."""
        if self._cache is None:
            spot = self._prices[0]
            row = [spot]
            if self.config.perpetual is not None:
                price = self._prices[1]
                rates = self._rates
                carry_mean = math.fsum(rates) / len(rates) * self._funding_per_year if rates else NAN
                row += [price, price - spot, price / spot - 1.0, self._rate, self._rate * self._funding_per_year,
                        carry_mean, carry_mean - self._cost_per_year]
            now = self.ts if self.ts is not None else 0
            for slot, expiry in enumerate(self._expiry, start=2):
                price = self._prices[slot]
                relative = price / spot - 1.0
                tau = (expiry - now) / YEAR_NS if self.ts is not None else NAN
                live = tau > 0.0
                row += [price, price - spot, relative, tau, relative / tau if live else NAN,
                        (relative - self._cost) / tau if live else NAN]
            self._cache = dict(zip(self.names, row, strict=True))
        return dict(self._cache)

    def value(self, name: str) -> float:
        """Return one value by name."""
        return self.values()[name]

    @classmethod
    def batch(cls, config: ForwardConfig, *, spot: pd.DataFrame, perpetual: pd.DataFrame | None = None,
              funding: pd.DataFrame | None = None, futures: Mapping[str, pd.DataFrame] | None = None
              ) -> pd.DataFrame:
        """Return every value at every event time of the frames, by replaying them through a ``Forward``.

        ``spot``, ``perpetual`` and each of ``futures`` (by future name) are OHLCV frames; ``funding`` is a
        funding frame (column ``funding_rate``). Ties in time are taken in that order, as ``merge_feeds`` does.
        The forward values need no window over prices, so replaying the same code is both exact and fast enough.
        """
        forward = cls(config)
        events = forward_events(config, spot=spot, perpetual=perpetual, funding=funding, futures=futures)
        times, rows = replay(forward, events)
        return snapshots_frame(times, rows, forward.names)


def forward_events(config: ForwardConfig, *, spot: pd.DataFrame, perpetual: pd.DataFrame | None = None,
                   funding: pd.DataFrame | None = None, futures: Mapping[str, pd.DataFrame] | None = None
                   ) -> Iterator[MarketData]:
    """Return the events of the forward frames merged in time order (ties: spot, perpetual, funding, futures)."""
    timeframe = config.timeframe
    feeds: list[Iterable[MarketData]] = [BarFeed(spot, config.spot, timeframe)]
    if perpetual is not None:
        if config.perpetual is None:
            raise ConfigError("forward: a perpetual frame was given but the config names no perpetual")
        feeds.append(BarFeed(perpetual, config.perpetual, timeframe))
    if funding is not None:
        if config.perpetual is None:
            raise ConfigError("forward: a funding frame was given but the config names no perpetual")
        feeds.append(funding_events(funding, config.perpetual))
    futures = dict(futures or {})
    for future in config.futures:
        if future.name in futures:
            feeds.append(BarFeed(futures.pop(future.name), future.symbol, timeframe))
    if futures:
        raise ConfigError(f"forward: frames given for unknown futures {sorted(futures)}")
    return merge_feeds(feeds)


def funding_events(frame: pd.DataFrame, symbol: str) -> list[FundingRate]:
    """Return the rows of a funding frame as ``FundingRate`` events (as ``CatalogFeed`` makes them)."""
    times = event_index(frame, "funding").asi8.tolist()
    rates = frame["funding_rate"].to_numpy(dtype=float).tolist()
    return [FundingRate(ts=ts, symbol=symbol, rate=rate) for ts, rate in zip(times, rates, strict=True)]
