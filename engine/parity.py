"""Parity: did a paper or live session behave as the back-test says it would?

The market data a session journaled are replayed through the back-tester with the same strategy, parameters,
account, risk limits and warm-up, and the simulator's settings of the session (``[paper]``: for a live session
they are what the back-test assumes of the exchange). The two journals are then compared event by event, kind by
kind: bars, signals (with the values behind them, the ML contributions among them), orders, order states, fills,
and the balances the fills leave. For each kind the first divergence is reported, with its cause when it can be
told: a fill later than the back-test's (latency), part of an order filled, a price or a fee other than the one
the back-test assumed, a rejection the back-test did not see, or a decision that follows an earlier divergence.

A paper session runs the back-tester's own simulator on the same bars, keeping market time: it must show none.

What the engine's own clock stamps (an order's time, a refusal's) is not compared: the wall clock live, the bar's
close in a back-test. A real-money session's order ids carry its tag (``m`` and base-36 digits, then ``-``); it is
left out of the comparison.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from engine.backtest import BacktestConfig, BacktestVenue, run_backtest
from engine.errors import DataError
from engine.events import Bar, Event, Fill, Order, OrderStatus, OrderUpdate, Side, Signal
from engine.live import BarsSeen
from engine.markets import Market
from engine.risk import RiskLimits
from engine.session_journal import read_events, read_runs, read_session
from engine.strategy import Strategy

__all__ = ["KINDS", "Divergence", "ParityReport", "compare_journals", "parity"]

KINDS = ("Bar", "Signal", "Order", "OrderUpdate", "Fill", "balance")
_TAG = re.compile(r"^m[0-9a-z]{6,10}-")


@dataclass(frozen=True)
class Divergence:
    """The first place one kind of event differs: its position among that kind, both sides, and why."""

    kind: str
    index: int
    session: dict[str, Any] | None
    backtest: dict[str, Any] | None
    cause: str


@dataclass
class ParityReport:
    """Counts of each kind on both sides, and the first divergence of each kind that has one."""

    journal: str
    counts: dict[str, tuple[int, int]]
    divergences: list[Divergence] = field(default_factory=list)

    @property
    def zero(self) -> bool:
        return not self.divergences

    def format(self) -> str:
        rows = []
        first = {d.kind: d for d in self.divergences}
        for kind in KINDS:
            session, backtest = self.counts.get(kind, (0, 0))
            found = first.get(kind)
            rows.append((kind, f"{session:,}", f"{backtest:,}", "-" if found is None else f"#{found.index}",
                         "same" if found is None else found.cause))
        table = pd.DataFrame(rows, columns=["events", "session", "back-test", "first divergence", "why"])
        lines = [f"parity of {self.journal} with its back-test", table.to_string(index=False)]
        for d in self.divergences:
            lines.append(f"\n{d.kind} #{d.index}: {d.cause}\n  session:   {_shown(d.session)}\n"
                         f"  back-test: {_shown(d.backtest)}")
        lines.append("\nzero divergence: the session did what its back-test does" if self.zero else
                     f"\n{len(self.divergences)} kind(s) of event diverge")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"journal": self.journal, "zero": self.zero,
                "counts": {k: {"session": s, "backtest": b} for k, (s, b) in self.counts.items()},
                "divergences": [dataclasses.asdict(d) for d in self.divergences]}


def parity(journal: str | Path, make_strategy: Callable[[dict[str, Any]], Strategy],
           venue: Callable[[dict[str, Any]], BacktestVenue]) -> ParityReport:
    """Replay the session journaled in ``journal`` through the back-tester and compare the two.

    ``make_strategy(params)`` builds the session's strategy from its journaled parameters; ``venue(settings)``
    the simulator from the session's ``[paper]`` settings (the command line passes ``adapters.sim.SimSettings``).
    """
    path = Path(journal)
    session = read_session(path)
    if len(read_runs(path)) > 1:
        raise DataError(f"{path}: the session was resumed ({len(read_runs(path))} runs); parity compares a session "
                        "that ran in one process")
    strategies = session.get("strategies") or []
    if len(strategies) != 1:
        raise DataError(f"{path}: parity replays one strategy, the session journaled {len(strategies)}")
    events = list(read_events(path))
    seen = BarsSeen()
    for event in events:
        if isinstance(event, Bar):
            seen.on_bar(event)
    if not seen.bars:
        raise DataError(f"{path}: the session journaled no bar: nothing to replay")
    recorded = session["config"]
    config = BacktestConfig(cash=Decimal(recorded["cash"]), currency=recorded.get("currency"),
                            set_aside=Decimal(recorded.get("set_aside", "0")),
                            markets=tuple(_market(m) for m in recorded.get("markets", [])),
                            risk=RiskLimits.from_mapping(recorded.get("risk", {})))
    venue_settings = session.get("venue") or {}
    paper_settings = {k: v for k, v in venue_settings.items() if k != "venue"} if venue_settings.get(
        "venue") == "paper" else {}
    settings = dict(session.get("paper") or paper_settings)  # a live session's [paper]: the back-test's assumptions
    with tempfile.TemporaryDirectory() as scratch:
        replayed = Path(scratch) / "replay.sqlite"
        run_backtest(make_strategy(dict(strategies[0]["params"])), seen.feeds(), config, venue=venue(settings),
                     warmup=int(session.get("warmup_events", 0)), journal=replayed)
        backtest = list(read_events(replayed))
    return compare_journals(str(path), events, backtest, cash=config.cash,
                            currency=config.currency or next(iter(seen.bars)).split("/")[1])


def compare_journals(name: str, session: Sequence[Event], backtest: Sequence[Event], *, cash: Decimal,
                     currency: str) -> ParityReport:
    """Compare two journals kind by kind; the first divergence of each kind, with its cause. Causes are told in
    the session's order: a divergence that comes after another is said to follow it."""
    report = ParityReport(name, {})
    found: list[tuple[int, str, int, dict[str, Any] | None, dict[str, Any] | None]] = []
    for kind in KINDS[:-1]:
        ours = [(seq, _plain(e)) for seq, e in enumerate(session) if type(e).__name__ == kind]
        theirs = [_plain(e) for e in backtest if type(e).__name__ == kind]
        report.counts[kind] = (len(ours), len(theirs))
        first = _first(ours, theirs)
        if first is not None:
            found.append((first[0], kind, *first[1:]))
    earlier: Divergence | None = None
    for _, kind, index, a, b in sorted(found, key=lambda f: f[0]):
        divergence = Divergence(kind, index, a, b, _cause(kind, a, b, earlier))
        report.divergences.append(divergence)
        earlier = earlier or divergence
    report.divergences.sort(key=lambda d: KINDS.index(d.kind))
    balances = (_balances(session, cash, currency), _balances(backtest, cash, currency))
    report.counts["balance"] = (len(balances[0]), len(balances[1]))
    if balances[0] != balances[1]:
        assets = sorted(set(balances[0]) | set(balances[1]))
        off = [a for a in assets if balances[0].get(a) != balances[1].get(a)]
        report.divergences.append(Divergence(
            "balance", assets.index(off[0]), {a: str(balances[0].get(a, 0)) for a in off},
            {a: str(balances[1].get(a, 0)) for a in off},
            f"follows the {earlier.kind} divergence #{earlier.index}" if earlier is not None
            else "the same fills booked differently"))
    return report


def _first(ours: list[tuple[int, dict[str, Any]]], theirs: list[dict[str, Any]]) -> tuple[
        int, int, dict[str, Any] | None, dict[str, Any] | None] | None:
    """The first difference: the session journal's position of it, its index among its kind, both sides."""
    for index, ((seq, a), b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return seq, index, a, b
    if len(ours) == len(theirs):
        return None
    index = min(len(ours), len(theirs))
    if index < len(ours):
        return ours[index][0], index, ours[index][1], None
    return (ours[-1][0] + 1 if ours else 0), index, None, theirs[index]


def _cause(kind: str, a: dict[str, Any] | None, b: dict[str, Any] | None, earlier: Divergence | None) -> str:
    if a is not None and kind == "OrderUpdate" and a["status"] == OrderStatus.REJECTED.name and (
            b is None or b["status"] != a["status"]):
        return f"a rejection the back-test did not see: {a['reason']}"
    if a is None or b is None:
        more = "session" if a is not None else "back-test"
        return (f"follows the {earlier.kind} divergence #{earlier.index}" if earlier is not None
                else f"only the {more} has it")
    if kind == "Fill" and a["client_order_id"] == b["client_order_id"]:
        if a["ts"] > b["ts"]:
            late = pd.Timedelta(a["ts"] - b["ts"], unit="ns")
            return f"latency: filled {late} after the back-test's fill ({a['price']} against {b['price']})"
        if a["quantity"] != b["quantity"]:
            return f"a partial fill: {a['quantity']} of the back-test's {b['quantity']}"
        if a["price"] != b["price"]:
            return f"a price the back-test assumed: {b['price']}, the venue's {a['price']}"
        if a["fee"] != b["fee"] or a["fee_currency"] != b["fee_currency"]:
            return (f"a fee the back-test assumed: {b['fee']} {b['fee_currency']}, the venue's {a['fee']} "
                    f"{a['fee_currency']}")
    if earlier is not None:
        return f"follows the {earlier.kind} divergence #{earlier.index}"
    if kind in ("Signal", "Order"):
        return "the strategy decided otherwise on the same bars: it is not deterministic, or it reads the clock"
    return "differs"


def _plain(event: Event) -> dict[str, Any]:
    """An event as compared: plain values, the engine clock's stamps and a session's id tag left out."""
    values = {k: v for k, v in dataclasses.asdict(event).items()  # type: ignore[call-overload]
              if k not in ("venue_order_id", "trade_id", "liquidity")}  # the venue's own names for things
    if isinstance(event, Order | OrderUpdate):
        values.pop("ts")  # our clock's, or the venue's acknowledgement: times are compared through the fills
    if isinstance(event, OrderUpdate | Fill | Order):
        values["client_order_id"] = _TAG.sub("", values["client_order_id"])
    for key, value in values.items():
        if isinstance(value, Decimal):
            values[key] = value.normalize()
        elif isinstance(value, OrderStatus | Side):
            values[key] = value.name
    if isinstance(event, Signal):
        values["values"] = dict(values.get("values") or {})
    return values


def _balances(events: Sequence[Event], cash: Decimal, currency: str) -> dict[str, Decimal]:
    """What the fills leave of the starting cash, asset by asset (what the ledger books)."""
    held: dict[str, Decimal] = {currency: cash}
    for event in events:
        if isinstance(event, Fill):
            base, quote = event.symbol.split("/")
            sign = 1 if event.side is Side.BUY else -1
            held[base] = held.get(base, Decimal(0)) + sign * event.quantity
            held[quote] = held.get(quote, Decimal(0)) - sign * event.quantity * event.price
            held[event.fee_currency] = held.get(event.fee_currency, Decimal(0)) - event.fee
    return {asset: amount.normalize() for asset, amount in held.items() if amount}


def _market(recorded: dict[str, str]) -> Market:
    decimals = {k: Decimal(v) for k, v in recorded.items() if k not in ("symbol", "base", "quote")}
    return Market(symbol=recorded["symbol"], base=recorded["base"], quote=recorded["quote"], **decimals)


def _shown(values: dict[str, Any] | None) -> str:
    if values is None:
        return "(none)"
    return ", ".join(f"{k}={v}" for k, v in values.items())
