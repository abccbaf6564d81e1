"""The back-test: a session whose clock is simulated, whose feed is replayed and whose venue is simulated.

The caller hands in the venue, built and configured by its adapter (``adapters.sim.SimSettings``): the engine
never imports or names an adapter.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from engine.bus import EventBus
from engine.clock import SimulatedClock
from engine.datagen.bar_feed import BarFeed, merge_feeds
from engine.datagen.catalog import Catalog, looks_like_query, read_bars
from engine.datagen.files import load_bars
from engine.datagen.fingerprint import data_fingerprint, feed_prices, interval_text
from engine.datagen.sample import load_sample
from engine.errors import ConfigError
from engine.kernel import Kernel
from engine.ledger import Ledger
from engine.loop import replay
from engine.markets import Market, Markets
from engine.ports import Clock, EventSink, ExecutionClient
from engine.progress import bar, progress_enabled, track
from engine.result import BacktestResult
from engine.result.diagnosis import explain_no_trades
from engine.result.recorder import EquityRecorder
from engine.result.stats import buy_and_hold, compute_stats
from engine.result.tables import fills_frame, orders_frame
from engine.result.trades import summarize_fills
from engine.risk import RiskLimits
from engine.session_journal import SessionJournal, code_version
from engine.store import FillLog
from engine.strategy import Strategy

__all__ = ["ENGINE_ASSUMPTIONS", "BacktestConfig", "BacktestResult", "BacktestVenue", "build_result", "load_object",
           "run_backtest"]

log = logging.getLogger(__name__)

# The engine's side of the back-test rules (the venue lists its own): shown in every report, and kept in the
# README's "Back-test assumptions" by a test.
ENGINE_ASSUMPTIONS: list[str] = [
    "Bars are events stamped at their close (`ts` = open time + interval); nothing computed at time t sees data "
    "stamped after t.",
    "The simulated venue sees each market event before the strategy does: fills at a bar's open are booked by "
    "the ledger, and reported to the strategy, before that bar's `on_bar`.",
    "Orders made while handling bar t (at its close) reach the venue at that time; with zero latency the "
    "earliest fill is bar t+1's open.",
    "Equity is marked to market at each bar's close; statistics annualise with the data's bar interval on a "
    "365-day year.",
    "Buy-and-hold puts the initial cash, split equally between the symbols, into them at the first bar's open, "
    "without fees.",
]


# The largest starting cash: a quadrillion leaves Decimal's 28 digits 13 decimal places for booked amounts and keeps
# statistics within float64's 15 significant digits (1e30 made orders fail mid-run, 1e400 every quantity infinite).
MAX_CASH = Decimal("1e15")


@dataclass(frozen=True, kw_only=True)
class BacktestConfig:
    """The account of one back-test (the venue's settings are its adapter's); a bad value raises ``ConfigError``."""

    cash: Decimal = Decimal("10000")
    currency: str | None = None  # account currency; default: the quote currency of the first market
    set_aside: Decimal = Decimal(0)  # cash the strategy may not spend
    markets: tuple[Market, ...] = ()
    risk: RiskLimits = field(default_factory=RiskLimits)  # a config's [risk] table is read into RiskLimits

    def __post_init__(self) -> None:
        if isinstance(self.risk, Mapping):
            object.__setattr__(self, "risk", RiskLimits.from_mapping(self.risk))
        elif not isinstance(self.risk, RiskLimits):
            raise ConfigError(f"risk must be a table of limits, got {self.risk!r}")
        cash = _decimal("cash", self.cash)
        object.__setattr__(self, "cash", cash)
        object.__setattr__(self, "set_aside", _decimal("set_aside", self.set_aside))
        if cash <= 0:
            raise ConfigError(f"cash must be positive, got {cash}")
        if cash > MAX_CASH:
            raise ConfigError(f"cash must be at most {MAX_CASH:,.0f}, got {cash:.6g}: money is booked in Decimal of "
                              f"28 digits down to the market's precision, and statistics in float64")
        if not Decimal(0) <= self.set_aside <= cash:
            raise ConfigError(f"set_aside must be between 0 and cash ({cash}), got {self.set_aside}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cash"] = str(self.cash)
        out["set_aside"] = str(self.set_aside)
        out["markets"] = [{k: str(v) for k, v in asdict(m).items()} for m in self.markets]
        out["risk"] = self.risk.to_dict()
        return out


def _decimal(name: str, value: object) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not result.is_finite():
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return result


class BacktestVenue(Protocol):
    """A simulated venue as its adapter configures it (``adapters.sim.SimSettings``): what a back-test needs of it."""

    def reserve_fee_rate(self) -> Decimal:
        """Return the highest fee rate a fill may pay: the ledger reserves it on top of a buy's notional."""
        ...

    def build(self, reports: EventSink, clock: Clock, markets: Markets, ledger: Ledger) -> ExecutionClient:
        """Return the venue of one run, handing its reports to ``reports`` (see ``engine.live``: the bus, or the
        live loop's inbox for a venue whose reports arrive on their own)."""
        ...

    def assumptions(self) -> list[str]:
        """Return the rules the venue fills by, one line each, for the result and its report."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Return the settings, as plain values, for the result's configuration."""
        ...


def load_object(spec: str, what: str) -> Any:
    """Import ``module:Name`` (or ``module.Name``) and return the object, with a clear error naming ``spec``."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"{what} must be given as module:Name, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {what} {spec!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{what} {spec!r}: module {module_name!r} has no {attr!r}") from None


def run_backtest(strategy: Strategy | Sequence[Strategy], data: Any, config: BacktestConfig | None = None, *,
                 venue: BacktestVenue, symbol: str | None = None, handlers: Sequence[object] = (),
                 progress: bool = False, data_dir: str | Path | None = None,
                 journal: str | Path | None = None, warmup: int = 0) -> BacktestResult:
    """Replay ``data`` through the strategy on the simulated ``venue`` and return the result.

    ``venue`` comes configured from its adapter, e.g. ``adapters.sim.SimSettings(fee_bps=7.5)``. ``data`` is a
    standard OHLCV DataFrame (``symbol`` required), a path to a file, or a list of ``(frame, symbol)`` pairs for
    several symbols. ``handlers`` are user objects with ``on_<event>`` methods
    (or an ``attach(kernel)`` method) added to the run after the venue and before the strategies. With
    ``progress``, a progress bar is drawn on stderr when it is a terminal. With ``journal``, every event the bus
    handles is written to that new SQLite file (``engine.session_journal``), as a live session writes its own.
    The first ``warmup`` events are a warm-up, as a live session's history is: handlers and strategies see them,
    orders are refused and the equity curve starts after them.
    """
    config = config or BacktestConfig()
    strategies = [strategy] if isinstance(strategy, Strategy) else list(strategy)
    feeds = feeds_from_data(data, symbol, data_dir)
    markets = Markets(list(config.markets))
    for feed in feeds:
        if feed.symbol not in markets:
            markets.add(Market.from_symbol(feed.symbol))
    currency = config.currency or next(iter(markets)).quote
    bus = EventBus(halt_on_error=True)
    clock = SimulatedClock(bus)
    ledger = Ledger(markets, currency, {currency: config.cash}, clock=clock, reserve_fee_rate=venue.reserve_fee_rate())
    if config.set_aside:
        ledger.set_aside(config.set_aside, currency)
    execution = venue.build(bus, clock, markets, ledger)
    recorder = EquityRecorder(ledger.equity)
    recording = None if journal is None else SessionJournal(journal, {
        "kind": "backtest", "config": config.to_dict(), "venue": venue.to_dict(),
        "strategies": [{"name": s.name, "params": s.p} for s in strategies], "code_version": code_version()},
        commit_every=10_000)
    kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=execution,
                    strategies=strategies, handlers=[*([recording] if recording else []), *handlers],
                    recorders=[recorder], risk=config.risk)
    n_bars = sum(len(feed) for feed in feeds)
    log.info("back-test starting", extra={"symbols": ",".join(f.symbol for f in feeds), "bars": n_bars,
                                          "strategies": ",".join(s.name for s in strategies)})
    with bar(n_bars, "back-test", enabled=progress and progress_enabled()) as shown:
        events: Iterable[Any] = merge_feeds(feeds)
        if not shown.disable:
            events = track(events, shown.update, total=n_bars)
        try:
            replay(kernel, events, warmup=warmup)
        finally:
            if recording is not None:
                recording.close()
    result = build_result(config, venue, feeds, strategies, [*handlers, *strategies], recorder,
                          kernel.orders.fills, kernel, ledger, history_bars=0)
    log.info("back-test finished", extra={"trades": result.stats["n_trades"],
                                          "final_equity": result.stats["final_equity"]})
    return result


def build_result(config: BacktestConfig, venue: BacktestVenue, feeds: Sequence[BarFeed],
                 strategies: Sequence[Strategy], contributors: Sequence[object], recorder: EquityRecorder,
                 fills: FillLog, kernel: Kernel, ledger: Ledger, *, history_bars: int | None = None) -> BacktestResult:
    """Build the result after a run (a back-test, a live session): frames, prices and fingerprint of the data
    the strategies saw, stats, assumptions, extras, and why no trade was made if none was.

    ``history_bars``: the bars of each symbol the strategies saw before the first of ``feeds`` (0 for a
    back-test, whose feeds hold any warm-up); None when not known, and a run without trades is then not
    blamed on its warm-up.
    """
    equity = recorder.frame()
    interval_ns = min(feed.interval_ns for feed in feeds)
    summary = summarize_fills(fills, pd.DatetimeIndex(equity.index).asi8)
    prices = feed_prices(feeds, equity.index)  # a feed closing at the equity's times shares its index
    benchmark = buy_and_hold(prices, pd.DatetimeIndex(equity.index), float(config.cash)) if prices else None
    if benchmark is not None:
        equity["buy_and_hold"] = benchmark  # on the same index the column shares the benchmark's array
    stats = compute_stats(equity["equity"], summary.trades, initial_equity=float(config.cash),
                          interval_ns=interval_ns, fees_paid=summary.fees_paid, exposure=summary.exposure,
                          traded_notional=summary.traded_notional, benchmark=benchmark)
    orders = orders_frame(kernel.orders)
    no_trades = explain_no_trades(
        n_trades=len(summary.trades), n_fills=len(fills), orders=orders,
        warmups={} if history_bars is None else {s.name: s.warmup_bars() for s in strategies},
        bars=_bars_by_symbol(feeds, history_bars or 0), interval=interval_text(interval_ns),
        account_currency=ledger.account_currency, quotes={kernel.markets[feed.symbol].quote for feed in feeds})
    extras: dict[str, Any] = {}
    for contributor in contributors:
        contribute = getattr(contributor, "result_extras", None)
        if callable(contribute):
            extras.update(contribute())
    return BacktestResult(stats=stats, equity=equity, orders=orders, fills=fills_frame(fills),
                          trades=summary.trades, config={**config.to_dict(), **venue.to_dict(), "strategies": [
                              {"name": s.name, "params": s.p, **_indicators(s)} for s in strategies]}, ledger=ledger,
                          prices=prices, data=data_fingerprint(feeds),
                          assumptions={"engine": list(ENGINE_ASSUMPTIONS), "venue": venue.assumptions()},
                          extras=extras,
                          balances={asset: str(amount) for asset, amount in ledger.balances().items()},
                          no_trades=no_trades)


def _indicators(strategy: Strategy) -> dict[str, Any]:
    """Return ``{"indicators": ...}`` when the strategy declares lines for the report, else nothing."""
    declared = strategy.chart_indicators()
    return {"indicators": declared} if declared else {}


def _bars_by_symbol(feeds: Sequence[BarFeed], history_bars: int) -> dict[str, int]:
    bars: dict[str, int] = {}
    for feed in feeds:
        bars[feed.symbol] = bars.get(feed.symbol, history_bars) + len(feed)
    return bars


def feeds_from_data(data: Any, symbol: str | None, data_dir: str | Path | None = None) -> list[BarFeed]:
    """Turn what the caller gave (None for the sample, a path, a catalog query, a frame, pairs of frame and
    symbol) into feeds. A query reads the catalog in ``data_dir``, else ``$MLCT_DATA_DIR``."""
    if data is None:
        frame, meta = load_sample()
        return [BarFeed(frame, symbol or meta.symbol)]
    if isinstance(data, BarFeed):
        return [data]
    if looks_like_query(data):  # binance:BTC/USDT:1h@2024-01-01..2024-06-01, read from the catalog
        frame, query = read_bars(data, Catalog(data_dir) if data_dir is not None else None)
        return [BarFeed(frame, symbol or query.symbol, query.timeframe)]
    if isinstance(data, str | Path):
        frame, meta = load_bars(data, symbol=symbol)
        return [BarFeed(frame, symbol or meta.symbol)]
    if isinstance(data, pd.DataFrame):
        if symbol is None:
            raise ConfigError("a DataFrame needs a symbol: run_backtest(..., symbol='BTC/USD')")
        integer_columns = [c for c in data.columns if pd.api.types.is_integer_dtype(data[c])]
        return [BarFeed(data.astype(dict.fromkeys(integer_columns, "float64")), symbol)]
    if isinstance(data, Sequence):
        feeds: list[BarFeed] = []
        for item in data:
            item_data, item_symbol = item if isinstance(item, tuple) else (item, symbol)
            feeds.extend(feeds_from_data(item_data, item_symbol, data_dir))
        if not feeds:
            raise ConfigError("no data given: the list of feeds is empty")
        return feeds
    raise ConfigError(f"cannot back-test on data of type {type(data).__name__}")
