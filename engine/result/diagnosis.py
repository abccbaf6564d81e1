"""Why a run made no trade: the one sentence a trader needs instead of a table of zeros.

A run that ends without a round trip exits like any other, and its statistics alone cannot tell a strategy
that never got going (its warm-up is longer than the data) from one whose orders the account refused (every buy
lacked funds) or one whose signal never fired. ``explain_no_trades`` tells them apart from what the run kept
(the orders with their reasons, the fills, each strategy's ``warmup_bars()`` and the bars of each symbol) and
returns the cause as plain values for ``result.json`` and the summary ``mlct backtest`` prints.

Causes, checked in this order:

``position_open``
    Fills opened positions, none closed: the run traded, it has no round trip to show yet.
``warmup``
    No order, and every strategy needs more bars before its first decision than any symbol has.
``no_signal``
    No order although the data is longer than the warm-up: the strategy never decided to trade.
``all_rejected``
    Every order was refused (by the pre-trade checks, the account or the venue); the reasons are counted.
``none_filled``
    Orders were accepted but none filled (cancelled, expired or still open at the end).

Rejection reasons name the order and its figures (``order 'SmaCross-1' (buy 3.6 BTC/USD): needs 9509.49 USD,
only 0 USD free``), so no two are alike; they are counted by their wording with the order, quoted names and
numbers taken out (``needs <n> USD, only <n> USD free``), each kind with its first reason in full.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

__all__ = ["explain_no_trades", "rejection_kind", "rejections"]

# The order a reason names before its colon: "order 'id' (buy 1 BTC/USD): " (ledger) or "order 'id' on BTC/USD: "
_ORDER = re.compile(r"^order '[^']*'(?: \([^)]*\)| on \S+)?: ")
_QUOTED = re.compile(r"'[^']*'")
_NUMBER = re.compile(r"(?<![\w/.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w/])")


def rejection_kind(reason: str) -> str:
    """Return ``reason`` without what differs from one order to the next (its id, quoted names, numbers)."""
    text = _ORDER.sub("", reason.strip())
    return _NUMBER.sub("<n>", _QUOTED.sub("'<id>'", text)) or "(no reason given)"


def rejections(orders: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rejected orders counted by kind, most first: ``{"reason", "count", "first"}`` each."""
    if orders.empty:
        return []
    rejected = orders.loc[orders["status"].astype(str) == "rejected", "reason"]
    counted: dict[str, dict[str, Any]] = {}
    for reason in rejected.fillna("").astype(str):
        kind = rejection_kind(reason)
        entry = counted.setdefault(kind, {"reason": kind, "count": 0, "first": reason})
        entry["count"] += 1
    return sorted(counted.values(), key=lambda entry: -entry["count"])


def explain_no_trades(*, n_trades: int, n_fills: int, orders: pd.DataFrame, warmups: Mapping[str, int],
                      bars: Mapping[str, int], interval: str, account_currency: str,
                      quotes: Collection[str]) -> dict[str, Any] | None:
    """Return why a run made no round trip, None if it made one.

    Parameters
    ----------
    n_trades, n_fills
        Round trips and fills of the run.
    orders
        The orders frame (``status`` and ``reason`` columns).
    warmups
        ``warmup_bars()`` of each strategy, by name.
    bars
        Bars of each symbol the strategies saw.
    interval
        The bars' interval as text (``1d``), for the sentence.
    account_currency, quotes
        The currency of the account and the quote currencies of the symbols: a buy in a quote currency the
        account does not hold is refused for lack of funds, the most puzzling cause of all.

    Returns
    -------
    ``{"cause", "message", ...}`` with the figures behind the message: ``orders``, ``rejected`` (see
    ``rejections``), ``warmup_bars`` and ``bars``.
    """
    if n_trades:
        return None
    n_orders = len(orders)
    longest = max(bars.values(), default=0)
    if n_fills:
        return {"cause": "position_open", "orders": n_orders,
                "message": f"no round trip closed: {n_fills:,} fills opened positions still held at the end"}
    figures: dict[str, Any] = {"orders": n_orders, "warmup_bars": dict(warmups), "bars": dict(bars)}
    if not n_orders:
        needs = {name: warmup for name, warmup in warmups.items() if warmup >= longest}
        if warmups and len(needs) == len(warmups):
            who = "; ".join(f"{name} needs {warmup:,} bars" for name, warmup in needs.items())
            message = (f"the warm-up is longer than the data: {who} before its first decision, and the data has "
                       f"{longest:,} {interval} bars (give more bars, shorter windows or a shorter timeframe)")
            return {"cause": "warmup", "message": message, **figures}
        after = max(warmups.values(), default=0)
        message = (f"no signal: the strategy made no order in {longest:,} {interval} bars"
                   + (f" ({after:,} of them its warm-up)" if after else ""))
        return {"cause": "no_signal", "message": message, **figures}
    refused = rejections(orders)
    n_rejected = sum(entry["count"] for entry in refused)
    counts = "; ".join(f"{entry['count']:,} x {entry['reason']}" for entry in refused)
    if n_rejected == n_orders:
        message = f"all {n_orders:,} orders were rejected: {counts}"
        if quotes and account_currency not in quotes:
            message += (f" (the account is in {account_currency}, the orders pay in {', '.join(sorted(quotes))}, "
                        "and nothing converts one into the other)")
        return {"cause": "all_rejected", "message": message, **figures, "rejected": refused}
    states = orders["status"].astype(str).value_counts()
    ended = ", ".join(f"{count:,} {status}" for status, count in states.items())
    message = f"{n_orders:,} orders, none filled: {ended}" + (f" (rejected: {counts})" if refused else "")
    return {"cause": "none_filled", "message": message, **figures, "rejected": refused}
