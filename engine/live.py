"""A live or paper session: a back-test's kernel, strategies, handlers, journal and outputs, run by the live driver
on a live clock and a live feed, with the venue the caller hands in (the engine never names an adapter).

The session warms up on the feed's history (the last closed bars by REST) before it takes orders, logs one line
per closed bar, stops cleanly after ``max_bars`` bars, on ``stop()`` or on SIGINT/SIGTERM (strategies'
``on_stop`` run, the journal is closed), or when its kill switch is pulled (``engine.kill_switch``: a ``KILL``
file in its directory, a second SIGINT/SIGTERM), and returns what a back-test returns, built the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from engine.backtest import BacktestConfig, BacktestResult, BacktestVenue, build_result
from engine.bus import EventBus
from engine.clock import LiveClock
from engine.datagen.bar_feed import BarFeed
from engine.events import Bar, KillSwitch, MarketData, Signal
from engine.kernel import Kernel
from engine.kill_switch import KILL_FILE, KillSwitchHandler, watch_file
from engine.ledger import Ledger
from engine.loop import Inbox, live
from engine.markets import Markets
from engine.monitor import Monitor
from engine.ports import DataFeed, Reconciling
from engine.result.recorder import EquityRecorder
from engine.resume import (
    ReconcileError,
    Reconciliation,
    Restored,
    cancel_left_open,
    check_same_session,
    reconcile,
    restore,
)
from engine.session_journal import SessionJournal, code_version, read_events, read_session
from engine.strategy import Strategy

__all__ = ["LiveFeed", "LiveSession"]

log = logging.getLogger(__name__)


class LiveFeed(DataFeed, Protocol):
    """A live ``DataFeed`` that can also fetch its recent history for the warm-up."""

    async def warm_up(self, n: int) -> Sequence[MarketData]:
        """Return the last ``n`` closed bars of each symbol in time order; the feed goes on after them."""
        ...


class LiveSession:
    """One paper (or, with a live venue, real) session. ``await session.run()`` returns its result.

    Parameters
    ----------
    strategies, handlers
        As for a back-test; ``handlers`` come before the strategies.
    feed
        The live feed (``adapters.ccxt.CcxtFeed``).
    venue
        The venue's settings, built like a back-test's (``adapters.sim.paper.Paper`` for paper trading).
    config
        Cash, currency and the markets as the exchange states them.
    journal
        The new SQLite file every event is written to (``engine.session_journal``).
    settings
        What to record in the journal beside the config (the session's config file, the symbols ...).
    warmup_bars, max_bars
        Closed bars of history per symbol to warm up on; stop after this many live bars (None: run until
        stopped).
    monitor_port
        Serve the read-only monitor page (``engine.monitor``) on 127.0.0.1 at this port while the session runs
        (0: any free port; its URL is logged and is ``self.monitor.url``); None: no page.
    """

    def __init__(self, strategies: Sequence[Strategy], feed: LiveFeed, venue: BacktestVenue, config: BacktestConfig,
                 *, journal: str | Path, settings: Mapping[str, Any] | None = None,
                 handlers: Sequence[object] = (), warmup_bars: int = 0, max_bars: int | None = None,
                 monitor_port: int | None = None) -> None:
        if max_bars is not None and max_bars < 1:
            raise ValueError(f"max_bars must be at least 1, got {max_bars}")
        self.strategies = list(strategies)
        self.feed = feed
        self.venue = venue
        self.config = config
        self.journal_path = Path(journal)
        self.settings = dict(settings or {})
        self.handlers = list(handlers)
        self.warmup_bars = warmup_bars
        self.max_bars = max_bars
        self.inbox = Inbox()
        self.stopped_by: str | None = None
        self.kernel: Kernel | None = None
        self.reconciliation: Reconciliation | None = None  # the check against the account at start, if any
        self.kill_switch: KillSwitchHandler | None = None
        self.monitor_port = monitor_port
        self.monitor: Monitor | None = None

    async def _reconcile(self, kernel: Kernel, execution: object, recorded: Mapping[str, Any],
                         journal: SessionJournal | None, ledger_start: Mapping[str, Decimal]) -> Reconciliation | None:
        """Rebuild the session from its journal, settle with the venue, and fail closed on a difference."""
        restored = restore(read_events(self.journal_path), kernel) if recorded else Restored()
        if isinstance(execution, Reconciling):
            raw = recorded.get("account_at_start")
            at_start = None if raw is None else {asset: Decimal(amount) for asset, amount in raw.items()}
            checked, state = await reconcile(kernel, execution, restored, at_start=at_start,
                                             ledger_start=ledger_start)
            if at_start is None and journal is not None:
                journal.record("account_at_start", {asset: str(amount) for asset, amount in state.balances.items()})
        elif recorded:
            checked = await cancel_left_open(kernel, restored)
        else:
            return None
        if recorded:
            log.info("resumed from %s:\n%s", self.journal_path, checked.report())
        if journal is not None and not checked.ok:
            raise ReconcileError(checked)
        return checked

    def _signalled(self, name: str) -> None:
        """The first SIGINT or SIGTERM stops the session cleanly; a second pulls the kill switch (cancel too)."""
        if self.stopped_by is None:
            self.stop(name)
        else:
            self.inbox.publish(KillSwitch(ts=time.time_ns(), by=f"a second {name}", reason="asked again to stop",
                                          cancel=True))

    def stop(self, why: str = "asked") -> None:
        """End the session once the events already handed in are handled; call it from the session's loop."""
        if self.stopped_by is None:
            self.stopped_by = why
            log.info("stopping: %s", why)
            self.inbox.close()

    async def run(self, *, stop_on_signals: bool = True, reconcile_only: bool = False) -> BacktestResult | None:
        """Run until stopped; return the result, or None when no live bar was handled.

        A journal that exists already is the session's own: the session resumes from it (``engine.resume``),
        and checks it against the account before it trades; ``ReconcileError`` when they differ. With
        ``reconcile_only`` the check is all it does (``self.reconciliation``), writing nothing.
        """
        resuming = self.journal_path.exists()
        recorded = read_session(self.journal_path) if resuming else {}
        config = self.config
        if resuming:  # the ledger begins where the session began, whatever the account holds now
            config = dataclasses.replace(config, cash=Decimal(recorded["config"]["cash"]))
        markets = Markets(list(config.markets))
        currency = config.currency or next(iter(markets)).quote
        settings = {**self.settings, "config": config.to_dict(), "venue": self.venue.to_dict(),
                    "strategies": [{"name": s.name, "params": s.p} for s in self.strategies],
                    "code_version": code_version()}
        if resuming:
            check_same_session(self.journal_path, recorded, settings)
        needed = max((s.warmup_bars() for s in self.strategies), default=0)
        if needed > self.warmup_bars:
            log.warning("warm-up: %d bars asked for, the strategies need %d: taking %d", self.warmup_bars, needed,
                        needed)
        warmup_bars = max(self.warmup_bars, needed)
        warm = list(await self.feed.warm_up(warmup_bars)) if warmup_bars and not reconcile_only else []
        bus = EventBus(halt_on_error=False)  # live, a failing handler is logged as an event and the session goes on
        clock = LiveClock(self.inbox)
        ledger = Ledger(markets, currency, {currency: config.cash}, clock=clock,
                        reserve_fee_rate=self.venue.reserve_fee_rate())
        if config.set_aside:
            ledger.set_aside(config.set_aside, currency)
        # A simulated venue reports while it is shown an event or handed an order: to the bus, handled in the same
        # drain, as in a back-test. An exchange's reports arrive on their own: to the inbox, like market data.
        reports = self.inbox if getattr(self.venue, "reports_arrive_on_their_own", False) else bus
        execution = self.venue.build(reports, clock, markets, ledger)
        journal = None if reconcile_only else SessionJournal(
            self.journal_path, {**settings, "warmup_events": len(warm)}, resume=resuming)
        seen = BarsSeen()
        equity = EquityRecorder(ledger.equity)
        recorders: list[object] = [equity, BarLine(ledger)]
        if self.max_bars is not None:
            recorders.append(StopAfter(self.max_bars, [m.symbol for m in markets], self.stop))
        kill_switch = self.kill_switch = KillSwitchHandler(self.stop)
        monitor = self.monitor = None if self.monitor_port is None or reconcile_only else Monitor(
            feeds=[self.feed], about={**self.settings, "strategies": [s.name for s in self.strategies],
                                      "symbols": [m.symbol for m in markets]})
        kernel = self.kernel = Kernel(bus=bus, clock=clock, ledger=ledger, markets=markets, execution=execution,
                                      strategies=self.strategies,
                                      handlers=[*([journal] if journal else []), seen, kill_switch,
                                                *([monitor] if monitor else []), *self.handlers],
                                      recorders=recorders, risk=config.risk)
        if reports is self.inbox or resuming:  # ids no other session of ours, or earlier run of this one, used
            kernel.orders.id_tag = session_tag(clock.now())
        try:
            self.reconciliation = await self._reconcile(kernel, execution, recorded, journal, {currency: config.cash})
        except BaseException:
            if journal is not None:
                journal.close()
            raise
        if journal is None:
            return None
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if stop_on_signals else ()
        for number in signals:
            loop.add_signal_handler(number, self._signalled, signal.Signals(number).name)
        log.info("session starting: %s on %s, %d bars of warm-up", ", ".join(s.name for s in self.strategies),
                 ", ".join(m.symbol for m in markets), len(warm))
        watcher = asyncio.ensure_future(watch_file(self.journal_path.parent / KILL_FILE, self.inbox, clock.now))
        try:
            if monitor is not None:
                log.info("monitor page: %s", await monitor.start(self.monitor_port or 0))
            await live(kernel, [self.feed], self.inbox, warmup=warm)
        finally:
            watcher.cancel()
            if monitor is not None:
                await monitor.stop()
            for number in signals:
                loop.remove_signal_handler(number)
            journal.close()
        if not equity.ts:
            log.warning("no live bar was handled: the journal is written, there is no result")
            return None
        feeds = seen.feeds()
        return build_result(config, self.venue, feeds, self.strategies, [*self.handlers, *self.strategies], equity,
                            kernel.orders.fills, kernel, ledger, history_bars=0)  # the feeds hold the warm-up


def session_tag(now: int) -> str:
    """Return a short tag unique to a session started at ``now`` (ns): ``m`` and the start in base 36 ms, ``-``."""
    ms, digits = now // 1_000_000, ""
    while True:
        ms, digit = divmod(ms, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not ms:
            return f"m{digits}-"


class BarsSeen:
    """Keep every bar the strategies saw, warm-up included, for the result's prices and data fingerprint."""

    def __init__(self) -> None:
        self.bars: dict[str, list[Bar]] = {}

    def on_bar(self, bar: Bar) -> None:
        self.bars.setdefault(bar.symbol, []).append(bar)

    def feeds(self) -> list[BarFeed]:
        feeds = []
        for symbol, bars in self.bars.items():
            interval = bars[0].interval
            index = pd.to_datetime([b.ts - interval for b in bars], unit="ns", utc=True).rename("ts")
            frame = pd.DataFrame({"open": [b.open for b in bars], "high": [b.high for b in bars],
                                  "low": [b.low for b in bars], "close": [b.close for b in bars],
                                  "volume": [b.volume for b in bars]}, index=index)
            feeds.append(BarFeed(frame, symbol, interval))
        return feeds


class BarLine:
    """Log one line per closed bar once the session trades: time, close, position, equity, the bar's signals."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._signals: dict[str, list[Signal]] = {}

    def on_signal(self, sig: Signal) -> None:
        self._signals.setdefault(sig.symbol, []).append(sig)

    def on_bar(self, bar: Bar) -> None:
        signals = [s for s in self._signals.pop(bar.symbol, []) if s.ts == bar.ts]
        if not log.isEnabledFor(logging.INFO):
            return
        shown = " ".join(f"{s.name}{s.direction:+d}" for s in signals) or "-"
        log.info("%s %s close %s position %s equity %.2f signal %s",
                 pd.Timestamp(bar.ts, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S"), bar.symbol, bar.close,
                 self._ledger.position(bar.symbol).quantity, self._ledger.equity(), shown)


class StopAfter:
    """Stop the session once every symbol has had ``n`` bars handled live."""

    def __init__(self, n: int, symbols: Sequence[str], stop: Any) -> None:
        self._n = n
        self._left = dict.fromkeys(symbols, n)
        self._stop = stop

    def on_bar(self, bar: Bar) -> None:
        left = self._left
        if bar.symbol in left:
            left[bar.symbol] -= 1
            if left[bar.symbol] == 0:
                del left[bar.symbol]
                if not left:
                    self._stop(f"every symbol had its {self._n} live bars (max_bars)")
