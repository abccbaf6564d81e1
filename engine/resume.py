"""Resuming a live or paper session from its journal, and checking it against the account before it trades.

A session's journal holds every event it handled, committed before any order left (``engine.session_journal``),
so a process that stopped or was killed is resumed by booking the journaled marks, orders, order states and fills
again: the ledger and the order manager end as they were, the orders still open are held again, nothing is sent.

Then what happened while nobody watched. A venue that keeps the account between our processes (an exchange,
``engine.ports.Reconciling``) is asked what became of the orders that were open, and its answers (fills, final
states) are booked like any report, through the bus, so they are journaled and the strategies hear of them
(before their ``on_start``: they learn what became of their orders while the session was down). Then each asset's
change at the venue since the session began must equal the change the ledger booked. Anything else (a trade by an
order that is not the session's, a transfer, a fee nobody reported) cannot be explained here: the session stops
before its strategies trade, with the comparison (fail closed). The simulated venue of a paper session does not
outlive its process: the orders it held are cancelled, with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from engine.errors import ConfigError, MlctError
from engine.events import Bar, Event, Fill, MarketData, Order, OrderStatus, OrderUpdate
from engine.kernel import Kernel
from engine.ports import AccountState, Reconciling

__all__ = [
    "IDENTITY",
    "BalanceCheck",
    "ReconcileError",
    "Reconciliation",
    "Restored",
    "cancel_left_open",
    "check_same_session",
    "reconcile",
    "restore",
]

# What a resumed session must share with the one that wrote its journal: anything else (the warm-up, the cash
# asked for, the streams) may change between processes.
IDENTITY = ("kind", "exchange", "symbols", "timeframe", "strategies")
_ZERO = Decimal(0)
# Why a paper session's open orders are cancelled when it resumes.
PAPER_RESTART = "the simulated exchange does not outlive its process: cancelled when the session resumed"


class ReconcileError(MlctError):
    """The account differs from the session's ledger in a way the venue's reports do not explain."""

    def __init__(self, reconciliation: Reconciliation) -> None:
        super().__init__(reconciliation.report())
        self.reconciliation = reconciliation


def check_same_session(path: Path, recorded: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` naming the first setting of ``IDENTITY`` that differs from the journaled one."""
    for key in IDENTITY:
        if key not in settings:
            continue
        now = json.loads(json.dumps(settings[key], default=str))  # as the journal stores it: lists, not tuples
        if recorded.get(key) != now:
            raise ConfigError(f"{path} was written by a session with {key} {recorded.get(key)!r}; this one has "
                              f"{now!r}: a journal records one session (give another --out)")


@dataclass
class Restored:
    """What the journal gave back: how many events, the orders it left open, and the time of its last market event:
    the exchange's clock, by which it stamps trades (ours stamps orders, and a fill reported without a time)."""

    events: int = 0
    exchange_ts: int | None = None
    open_orders: list[str] = field(default_factory=list)


def restore(events: Iterable[Event], kernel: Kernel) -> Restored:
    """Book the journaled ``events`` again into the kernel's ledger and order manager, in their order; nothing is
    published, so neither the venue, the strategies nor the journal hear of them again."""
    ledger, orders = kernel.ledger, kernel.orders
    restored = Restored()
    for event in events:
        restored.events += 1
        if isinstance(event, MarketData):
            restored.exchange_ts = max(restored.exchange_ts or event.ts, event.ts)
        if isinstance(event, Bar):
            ledger.on_bar(event)
        elif isinstance(event, Order):
            orders.restore(event, ledger.last_price(event.symbol))  # priced as the strategy's submit was
        elif isinstance(event, OrderUpdate):
            ledger.on_order_update(event)
            orders.on_order_update(event)
        elif isinstance(event, Fill):
            ledger.on_fill(event)
            orders.on_fill(event)
    restored.open_orders = [r.order.client_order_id for r in orders.open_orders()]
    return restored


@dataclass(frozen=True)
class BalanceCheck:
    """One asset: held at the venue when the session began, changed by what the ledger booked, held now."""

    asset: str
    at_start: Decimal
    booked: Decimal
    now: Decimal

    @property
    def expected(self) -> Decimal:
        return self.at_start + self.booked

    @property
    def difference(self) -> Decimal:
        return self.now - self.expected


@dataclass
class Reconciliation:
    """The comparison of a starting session with its account, as ``--reconcile-only`` prints it."""

    journaled: int
    recovered: list[Event]
    balances: list[BalanceCheck]
    foreign_trades: list[str]
    open_orders: list[str]
    note: str = ""

    @property
    def ok(self) -> bool:
        return all(check.difference == 0 for check in self.balances)

    def report(self) -> str:
        """The comparison for a person: what was recovered, each asset, and the verdict."""
        lines = [f"journal: {self.journaled} events; recovered from the venue: {len(self.recovered)} "
                 f"({_counted(self.recovered)}); the session's open orders: {len(self.open_orders)}"]
        lines += [f"  {_described(event)}" for event in self.recovered]
        if self.note:
            lines.append(self.note)
        if self.balances:
            rows = [(c.asset, _text(c.at_start), _signed(c.booked), _text(c.expected), _text(c.now),
                     _signed(c.difference)) for c in self.balances]
            table = pd.DataFrame(rows, columns=["asset", "at start", "ledger booked", "expected", "account now",
                                                "difference"])
            lines.append(table.to_string(index=False))
        lines += [f"not the session's: {trade}" for trade in self.foreign_trades]
        if self.ok:
            lines.append("the account agrees with the ledger")
        else:
            off = ", ".join(f"{c.asset} {_signed(c.difference)}" for c in self.balances if c.difference)
            lines.append(f"the account differs from the ledger ({off}) and the venue's reports do not explain it: "
                         "the session does not trade until the difference is understood")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "journaled": self.journaled, "recovered": [_described(e) for e in self.recovered],
                "open_orders": self.open_orders, "foreign_trades": self.foreign_trades, "note": self.note,
                "balances": [{"asset": c.asset, "at_start": str(c.at_start), "booked": str(c.booked),
                              "expected": str(c.expected), "now": str(c.now), "difference": str(c.difference)}
                             for c in self.balances]}


async def reconcile(kernel: Kernel, execution: Reconciling, restored: Restored, *,
                    at_start: Mapping[str, Decimal] | None, ledger_start: Mapping[str, Decimal]) -> tuple[
                        Reconciliation, AccountState]:
    """Ask the venue what became of the session's orders, book its answers through the bus, and compare each
    asset's change at the venue since ``at_start`` with the ledger's since ``ledger_start``.

    A new session passes ``at_start=None``: the account as it is now is where it begins (return it to journal).
    """
    state = await execution.reconcile(list(kernel.orders), restored.exchange_ts)
    for report in state.reports:
        kernel.bus.publish(report)
        await kernel.bus.drain()
    begin = dict(state.balances) if at_start is None else at_start
    ledger = kernel.ledger
    checks = [BalanceCheck(asset, begin.get(asset, _ZERO), ledger.balance(asset) - ledger_start.get(asset, _ZERO),
                           state.balances.get(asset, _ZERO))
              for asset in sorted(set(begin) | set(state.balances))]
    reconciliation = Reconciliation(restored.events, list(state.reports), checks, list(state.foreign_trades),
                                     [r.order.client_order_id for r in kernel.orders.open_orders()])
    return reconciliation, state


async def cancel_left_open(kernel: Kernel, restored: Restored) -> Reconciliation:
    """Cancel the orders a paper session left open (``PAPER_RESTART``), through the bus, so they are journaled."""
    for record in kernel.orders.open_orders():
        order = record.order
        kernel.bus.publish(OrderUpdate(ts=kernel.clock.now(), client_order_id=order.client_order_id,
                                       symbol=order.symbol, status=OrderStatus.CANCELLED,
                                       filled_quantity=record.filled_quantity,
                                       remaining_quantity=record.remaining_quantity, reason=PAPER_RESTART))
        await kernel.bus.drain()
    return Reconciliation(restored.events, [], [], [], [], note=(
        f"paper: {len(restored.open_orders)} open order(s) cancelled ({PAPER_RESTART}); there is no account "
        "to compare with"))


def _counted(events: Sequence[Event]) -> str:
    fills = sum(isinstance(e, Fill) for e in events)
    return f"{fills} fill(s), {len(events) - fills} order state(s)"


def _described(event: Event) -> str:
    if isinstance(event, Fill):
        return (f"fill {event.trade_id} of {event.client_order_id}: {event.side.value} {event.quantity} "
                f"{event.symbol} at {event.price}, fee {event.fee} {event.fee_currency}")
    if isinstance(event, OrderUpdate):
        return f"order {event.client_order_id}: {event.status.name} ({event.filled_quantity} filled)" + (
            f": {event.reason}" if event.reason else "")
    return repr(event)


def _text(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount else "0"


def _signed(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + _text(amount)
