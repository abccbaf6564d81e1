"""Live latency: from a market event's arrival at the engine to the order it leads to leaving the engine, and from
a fill's arrival to the strategy's ``on_fill``.

A paper session (``engine.live.LiveSession`` on ``adapters.sim.paper.Paper``) runs on the real ccxt.pro client
against the loopback Binance server (``engine.testing.binance_live``), which closes one-minute bars at a steady
pace. The strategy orders on every bar (buy when flat, sell when long), so each live bar gives one sample. A
session trading real orders on the server's account (below) is timed alike.

What is timed, with ``time.perf_counter_ns()``:

- t0, *arrival*: the bar is handed to the session's ``Inbox`` (``Inbox.publish``, called by the live loop's pump
  for each event the feed yields). That is the engine's boundary: before it is the adapter (ccxt parsing the
  websocket message, ``CcxtFeed`` deciding the bar is closed), which a faster feed would change and the engine
  cannot. The inbox is subclassed, the session's own replaced before it runs.
- t0', *dequeue*: the live loop takes the bar off the inbox (``Inbox.get`` returns). Arrival to dequeue is time
  the bar waits in the queue behind other work of the event loop (here, ccxt reading the next kline message that
  came in the same burst); dequeue to order is the engine alone.
- t1, *order out*: the paper venue's ``on_order`` is called with the bar's order. The wrapper is put on the venue
  before the kernel wires it, so it is the very call the bus makes; it is timed there, not by a handler of
  ``Order`` events, because the bus calls the venue after the journal has written the order (the journal is
  subscribed first): that write is part of the engine's path and a first subscriber would miss it.

Between t0' and t1 the engine shows the bar to the venue (which fills the previous bar's order, with its fill
and order updates journaled and booked), journals and books the bar, runs the strategy and the recorders, then
journals the order and hands it to the venue: everything a live bar costs, the SQLite journal appending every
event and committing before the order leaves (WAL). The pace (``--rate``, bars a second) leaves the engine idle
when each bar arrives, so no sample queues behind the previous bar. Logging is left unconfigured (the session's
one line a bar is not written).

The server runs in a child process by default, as an exchange is another machine. On a thread of this process
(``--server thread``, the tests' way) its sending of each step's messages competes with the engine for the GIL
(on this machine the p90 rose from about 0.95 to 1.2-1.4 ms).

Fills, with ``time.perf_counter_ns()`` too:

- f0, *fill in*: the venue hands the fill to the engine. With real orders (``adapters.ccxt.venue.Exchange`` on the
  loopback server's trading account) that is ``Inbox.publish``, called by the execution client with the first
  report of the trade (the order's REST answer or the user stream's TRADE report, whichever comes first; later
  copies are dropped by its ``OrderTracker`` before the inbox): before it is the adapter (ccxt reading the answer
  or the websocket message, the tracker), as for bars. The paper venue has no report that arrives: it fills the
  previous bar's order while it is shown a bar, inside the live loop, and publishes the fill on the bus, where it
  is handled in the same drain. Its boundary is that publish (the sink the venue is built with is wrapped), so
  its figure is the engine's own path with no queue; the time from the bar's arrival is the bar's, above.
- f0', *fill dequeued* (real orders only): the live loop takes the fill off the inbox.
- f1, *on_fill*: the strategy's ``on_fill`` is called with it. Between f0' and f1 the fill is journaled, booked by
  the ledger and recorded by the order manager, as in a back-test.

The real-orders session's order out is the execution client's ``on_order`` (it then sends the order on a task of
its own), so its bar-to-order figure is measured at the same boundary as the paper venue's.

The paper session runs twice: the journal on disk (the system's temporary directory, or ``--journal-dir``) and on
tmpfs (``/dev/shm``); the real-orders session once, journal on disk, ``--real-bars`` bars at ``--real-rate`` (each
order a signed REST round trip to the server and a user-stream report back: a slower pace than paper's). Beside
them, the reference of the paper runs: the back-test of the same strategy on the same bars (``run_backtest`` with
``SimSettings()``), its total time over its bars, without and with a journal, the best of ``--repeat`` runs.

    python benchmarks/bench_live.py [--bars 2000] [--rate 200] [--real-bars 1000] [--real-rate 50] [--repeat 3]
        [--journal-dir DIR] [--server process|thread] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, cast

import pandas as pd

from adapters.ccxt.execution import CcxtExecution
from adapters.ccxt.feed import CcxtFeed
from adapters.ccxt.markets import markets_from_exchange
from adapters.ccxt.venue import Exchange
from adapters.sim import SimSettings
from adapters.sim.exchange import AccountCheck
from adapters.sim.paper import Paper, PaperVenue
from engine.backtest import BacktestConfig, run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.events import Bar, Event, Fill, Order
from engine.live import LiveSession
from engine.loop import Inbox
from engine.markets import Markets
from engine.ports import Clock, EventSink
from engine.strategy import Strategy
from engine.testing.binance import make_client
from engine.testing.binance_live import LiveBinanceServer, make_pro_client

SYMBOL = "BTC/USDT"
STREAM = "btcusdt@kline_1m"
CASH = 10_000
QUANTITY = 0.5  # about 50 USDT a trade: above Binance's 5 USDT minimum, far below the cash
TARGET_P99_US = 1_000.0
TMPFS = Path("/dev/shm")
KEYS = ("bench-key", "bench-secret")  # the loopback account's (nothing here reaches a real exchange)


class EveryBar(Strategy):
    """Order on every bar: buy ``quantity`` when flat, sell it when long (the last order filled at this bar's
    open, which the venue sees before the strategy does)."""

    params = {"quantity": QUANTITY}

    def __init__(self, fill_seen: Callable[[Fill], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._fill_seen = fill_seen

    def on_bar(self, bar: Bar) -> None:
        self.target_position(bar.symbol, 0 if self.position(bar.symbol) else self.p["quantity"])

    def on_fill(self, fill: Fill) -> None:
        if self._fill_seen is not None:
            self._fill_seen(fill)


@dataclass
class Samples:
    """The latencies of one session, in nanoseconds, and the stamps of the bar being handled."""

    arrival_to_order: list[int] = field(default_factory=list)
    dequeue_to_order: list[int] = field(default_factory=list)
    arrived: dict[int, int] = field(default_factory=dict)  # bar ts -> perf_counter_ns at Inbox.publish
    current: tuple[int, int] | None = None  # (arrival, dequeue) of the bar the loop is handling
    bars: int = 0
    fill_in_to_on_fill: list[int] = field(default_factory=list)
    fill_dequeue_to_on_fill: list[int] = field(default_factory=list)
    fill_in: dict[str, int] = field(default_factory=dict)  # trade id -> perf_counter_ns when the venue handed it in
    fill_dequeued: dict[str, int] = field(default_factory=dict)  # trade id -> when the loop took it off the inbox

    def order_out(self, now: int) -> None:
        """Note an order leaving the engine: one sample for the bar being handled, its first order only."""
        if self.current is not None:
            arrival, dequeue = self.current
            self.arrival_to_order.append(now - arrival)
            self.dequeue_to_order.append(now - dequeue)
            self.current = None

    def on_fill(self, fill: Fill) -> None:
        """Note the strategy's ``on_fill``: one sample a fill handed in while timed."""
        now = time.perf_counter_ns()
        arrived = self.fill_in.pop(fill.trade_id, None)
        if arrived is not None:
            self.fill_in_to_on_fill.append(now - arrived)
        dequeued = self.fill_dequeued.pop(fill.trade_id, None)
        if dequeued is not None:
            self.fill_dequeue_to_on_fill.append(now - dequeued)


class TimedInbox(Inbox):
    """The live loop's inbox, stamping each bar and fill when it is handed in and when the loop takes it."""

    def __init__(self, samples: Samples) -> None:
        super().__init__()
        self._samples = samples

    def publish(self, event: Event) -> None:
        if type(event) is Bar:
            self._samples.arrived[event.ts] = time.perf_counter_ns()
        elif type(event) is Fill:
            self._samples.fill_in[event.trade_id] = time.perf_counter_ns()
        super().publish(event)

    async def get(self) -> Event | None:
        event = await super().get()
        if type(event) is Bar:
            samples = self._samples
            samples.current = (samples.arrived.pop(event.ts), time.perf_counter_ns())
            samples.bars += 1
        elif type(event) is Fill:
            self._samples.fill_dequeued[event.trade_id] = time.perf_counter_ns()
        return event


class FillStamp:
    """The sink a simulated venue publishes to (the bus), stamping each fill as the venue hands it in."""

    def __init__(self, sink: EventSink, samples: Samples) -> None:
        self._publish = sink.publish
        self._fill_in = samples.fill_in

    def publish(self, event: Event) -> None:
        if type(event) is Fill:
            self._fill_in[event.trade_id] = time.perf_counter_ns()
        self._publish(event)


def timed_on_order(on_order: Callable[[Order], None], samples: Samples) -> Callable[[Order], None]:
    """Return ``on_order`` stamping the moment an order leaves the engine."""
    order_out = samples.order_out
    clock_ns = time.perf_counter_ns

    def timed(order: Order) -> None:
        order_out(clock_ns())
        on_order(order)

    return timed


class TimedPaper(Paper):
    """The paper venue, its ``on_order`` stamping the moment an order leaves the engine."""

    def __init__(self, samples: Samples, settings: SimSettings | None = None) -> None:
        super().__init__(settings)
        self._samples = samples

    def build(self, bus: EventSink, clock: Clock, markets: Markets, ledger: AccountCheck) -> PaperVenue:
        venue = super().build(FillStamp(bus, self._samples), clock, markets, ledger)
        # on the instance, before the kernel wires it
        venue.on_order = timed_on_order(venue.on_order, self._samples)  # type: ignore[method-assign,assignment]
        return venue


class TimedExchange(Exchange):
    """The real-orders venue, its execution client's ``on_order`` stamping the moment an order leaves the engine
    (its fills are stamped by the inbox it reports to)."""

    def __init__(self, client: Any, samples: Samples) -> None:
        super().__init__(client)
        self._samples = samples

    def build(self, reports: EventSink, clock: Clock, markets: Markets, ledger: Any) -> CcxtExecution:
        execution = super().build(reports, clock, markets, ledger)
        execution.on_order = timed_on_order(  # type: ignore[method-assign,assignment]
            execution.on_order, self._samples)
        return execution


def market_bars(n: int) -> pd.DataFrame:
    """``n`` synthetic one-minute bars, prices on Binance's 0.01 tick."""
    frame = synthetic_bars(n, interval="1min", seed=7)
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column].round(2)
    return frame


class LoopbackServer(Protocol):
    """What the session needs of the loopback server, wherever it runs."""

    port: int

    @property
    def url(self) -> str: ...

    async def wait_for_subscriptions(self, *streams: str, timeout: float = 20.0) -> None: ...

    async def wait_for_user_stream(self, subscribed: int = 1, timeout: float = 20.0) -> None: ...

    def play(self, bars_per_second: float) -> None: ...

    def pause(self) -> None: ...


def _server(frame: pd.DataFrame) -> LiveBinanceServer:
    """The loopback server on ``frame`` (bar 0 closed, bar 1 forming), with a trading account holding the cash."""
    return LiveBinanceServer({SYMBOL: frame}, live_from=1, credentials=KEYS, balances={"USDT": float(CASH)})


def _serve(frame: pd.DataFrame, conn: Connection) -> None:
    """The child process's server: answer the parent's commands until told to stop."""
    with _server(frame) as server:
        conn.send(server.port)
        while True:
            command, argument = conn.recv()
            if command == "subscriptions":
                conn.send(server.subscriptions)
            elif command == "user_stream":
                try:
                    asyncio.run(server.wait_for_user_stream(timeout=argument))
                    conn.send(None)
                except TimeoutError as exc:
                    conn.send(str(exc))
            elif command == "play":
                server.play(argument)
                conn.send(None)
            elif command == "pause":
                server.pause()
                conn.send(None)
            else:  # "stop"
                conn.send(None)
                return


class ServerProcess:
    """The loopback server in a child process, as an exchange is another machine: its work does not take this
    process's GIL while the engine handles a bar (on a thread of this process it does)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(frame, child), daemon=True)
        self._process.start()
        self.port: int = self._conn.recv()
        self._credentials = KEYS  # make_pro_client signs with the server's keys

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    async def wait_for_subscriptions(self, *streams: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not set(streams) <= self._ask("subscriptions"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not subscribed within {timeout} s: {', '.join(streams)}")
            await asyncio.sleep(0.01)

    async def wait_for_user_stream(self, subscribed: int = 1, timeout: float = 20.0) -> None:
        failed = await asyncio.to_thread(self._ask, "user_stream", timeout)  # the child waits: this loop runs on
        if failed is not None:
            raise TimeoutError(failed)

    def play(self, bars_per_second: float) -> None:
        self._ask("play", bars_per_second)

    def pause(self) -> None:
        self._ask("pause")

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(timeout=20)


@contextmanager
def loopback_server(frame: pd.DataFrame, where: str) -> Iterator[LoopbackServer]:
    """The loopback server on ``frame`` (bar 0 closed, bar 1 forming), in a child process or on a thread."""
    if where == "thread":
        with _server(frame) as server:
            yield server
        return
    child = ServerProcess(frame)
    try:
        yield child
    finally:
        child.stop()


async def live_session(frame: pd.DataFrame, bars: int, rate: float, journal: Path, where: str,
                       real_orders: bool) -> tuple[Samples, float, Markets]:
    """Run a paper session (with ``real_orders``, one trading the server's account) on ``bars`` live bars closed
    at ``rate`` a second; return its samples, its wall time in seconds and the markets the exchange stated."""
    samples = Samples()
    with loopback_server(frame, where) as server:
        # make_pro_client and make_client read only the server's port and url: a server in a child process will do
        client = make_pro_client(cast(LiveBinanceServer, server))
        rest = make_client(cast(LiveBinanceServer, server))
        try:
            await client.load_markets()
            markets = markets_from_exchange(client, [SYMBOL])
            feed = CcxtFeed(client, [SYMBOL], "1m", rest=rest, stale_after=30.0)
            venue = TimedExchange(client, samples) if real_orders else TimedPaper(samples)
            session = LiveSession([EveryBar(samples.on_fill)], feed, venue,
                                  BacktestConfig(cash=Decimal(CASH), markets=tuple(markets)), journal=journal,
                                  max_bars=bars, settings={"kind": "paper", "benchmark": "bench_live"})
            session.inbox = TimedInbox(samples)  # before run(): the clock and the loop take it from there
            task = asyncio.create_task(session.run(stop_on_signals=False))
            await server.wait_for_subscriptions(STREAM)
            if real_orders:
                await server.wait_for_user_stream()
            start = time.perf_counter()
            server.play(rate)
            await task
            seconds = time.perf_counter() - start
            server.pause()
        finally:
            await client.close()
    return samples, seconds, markets


def backtest_per_bar(frame: pd.DataFrame, markets: Markets, repeat: int,
                     journal_dir: Path | None) -> tuple[float, int]:
    """Return the best seconds a bar of the back-test of ``frame`` over ``repeat`` runs, and its orders."""
    config = BacktestConfig(cash=Decimal(CASH), markets=tuple(markets))
    best, orders = float("inf"), 0
    for round_number in range(repeat):
        journal = None if journal_dir is None else journal_dir / f"replay-{round_number}.sqlite"
        start = time.perf_counter()
        result = run_backtest(EveryBar(), frame, config, venue=SimSettings(), symbol=SYMBOL, journal=journal)
        best = min(best, (time.perf_counter() - start) / len(frame))
        orders = len(result.orders)
    return best, orders


def percentiles_us(values_ns: Sequence[int]) -> dict[str, float]:
    """Median, p90, p99 and max in microseconds (nearest rank)."""
    ordered = sorted(values_ns)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1000

    return {"median": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": ordered[-1] / 1000}


MEASURES = ("arrival_to_order", "dequeue_to_order", "fill_in_to_on_fill", "fill_dequeue_to_on_fill")


def run_live(name: str, frame: pd.DataFrame, bars: int, rate: float, journal_dir: Path, where: str,
             real_orders: bool = False) -> dict[str, Any]:
    """One session with its journal in a new directory under ``journal_dir``; its figures."""
    with tempfile.TemporaryDirectory(dir=journal_dir, prefix="bench_live-") as tmp:
        samples, seconds, markets = asyncio.run(live_session(frame, bars, rate, Path(tmp) / "session.sqlite",
                                                             where, real_orders))
    if not samples.arrival_to_order or not samples.fill_in_to_on_fill:
        raise RuntimeError(f"{name}: no order left the engine or no fill reached the strategy: nothing to measure")
    return {"name": name, "journal_dir": str(journal_dir), "bars": samples.bars, "rate": rate,
            "samples": len(samples.arrival_to_order), "seconds": seconds, "markets": markets,
            **{f"{what}_us": percentiles_us(values) for what in MEASURES if (values := getattr(samples, what))},
            **{f"{what}_samples": len(getattr(samples, what)) for what in MEASURES}}


def print_table(runs: Sequence[dict[str, Any]], replay: Sequence[tuple[str, float, int]], where: str) -> None:
    print(f"live sessions on live one-minute bars closed by the loopback server (in a "
          f"{'child process' if where == 'process' else 'thread of this process'}), an order a bar when flat or "
          f"long, latency in microseconds:")
    for run in runs:
        print(f"  {run['name']}: {run['bars']:,} bars at {run['rate']:g} a second")
    print(f"{'':56}{'samples':>8}{'median':>9}{'p90':>9}{'p99':>9}{'max':>10}   target p99 < 1 ms")
    for run in runs:
        for what in MEASURES:
            figures = run.get(f"{what}_us")
            if figures is None:
                continue
            met = "met" if figures["p99"] < TARGET_P99_US else "not met"
            label = f"{what.replace('_', ' ')}, {run['name']}"
            print(f"{label:56}{run[f'{what}_samples']:>8,}{figures['median']:>9.0f}{figures['p90']:>9.0f}"
                  f"{figures['p99']:>9.0f}{figures['max']:>10.0f}   {met}")
    print("back-test of the paper sessions' bars and strategy (best of its runs), per bar:")
    for label, seconds, orders in replay:
        print(f"{label:56}{orders:>8,} orders{seconds * 1e6:>9.0f} us a bar")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=2_000, help="live bars a session (default 2000; at least 1000)")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="bars the server closes a second (default 200: one every 5 ms)")
    parser.add_argument("--real-bars", type=int, default=1_000,
                        help="live bars of the real-orders session (default 1000; 0: no real-orders session)")
    parser.add_argument("--real-rate", type=float, default=50.0,
                        help="bars a second in the real-orders session (default 50: each order is a REST round trip)")
    parser.add_argument("--repeat", type=int, default=3, help="back-test runs, the best kept (default 3)")
    parser.add_argument("--journal-dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the on-disk session journal goes (default: the system's temporary directory)")
    parser.add_argument("--server", choices=("process", "thread"), default="process",
                        help="run the loopback server in a child process (default) or on a thread of this one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()
    if args.bars < 1000:
        parser.error(f"--bars must be at least 1000, got {args.bars}")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.real_bars < 0:
        parser.error(f"--real-bars must not be negative, got {args.real_bars}")

    frame = market_bars(args.bars + 2)  # bar 0 is history, then the live bars, then one left forming
    dirs = [("journal on disk", args.journal_dir)] + ([("journal on tmpfs", TMPFS)] if TMPFS.is_dir() else [])
    runs = [run_live(f"paper, {name}", frame, args.bars, args.rate, directory, args.server)
            for name, directory in dirs]
    if args.real_bars:
        runs.append(run_live("real orders, journal on disk", market_bars(args.real_bars + 2), args.real_bars,
                             args.real_rate, args.journal_dir, args.server, real_orders=True))
    live_bars = frame.iloc[1:args.bars + 1]
    markets = runs[0].pop("markets")
    for run in runs[1:]:
        run.pop("markets")
    with tempfile.TemporaryDirectory(dir=args.journal_dir, prefix="bench_live-") as tmp:
        replay = [("back-test, no journal", *backtest_per_bar(live_bars, markets, args.repeat, None)),
                  ("back-test, journal on disk", *backtest_per_bar(live_bars, markets, args.repeat, Path(tmp)))]
    if args.json:
        print(json.dumps({"bars": args.bars, "rate": args.rate, "real_bars": args.real_bars,
                          "real_rate": args.real_rate, "server": args.server,
                          "target_p99_us": TARGET_P99_US, "live": runs,
                          "backtest": [{"name": n, "seconds_per_bar": s, "orders": o} for n, s, o in replay]},
                         indent=2))
    else:
        print_table(runs, replay, args.server)
    return 0 if all(run["samples"] >= args.bars for run in runs if run["name"].startswith("paper")) else 1


if __name__ == "__main__":
    sys.exit(main())
