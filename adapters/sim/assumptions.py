"""The rules the simulated exchange fills by, one line each, for the README's "Back-test assumptions"."""

from __future__ import annotations

ASSUMPTIONS: list[str] = [
    "Orders are acknowledged (ACCEPTED or REJECTED with a reason) at once; they and cancels take effect "
    "`latency_ns` after their ts.",
    "An order only matches bars that opened at or after it took effect (a trade counts as a one-price bar that "
    "opens at its ts), so it never fills at a price that was already gone.",
    "A market order made on bar t fills at bar t+1's open, plus slippage, as taker.",
    "A limit order marketable at the open of its first bar (buy: limit >= open) fills at the open as taker, "
    "never worse than its limit.",
    "A post-only order is rejected if it would take against the last price when it arrives, and cancelled if "
    "it would take at its first open.",
    "A resting limit fills at its limit price as maker only when the bar trades through it (buy: low < limit); "
    "with limit_fill='touch', touching is enough.",
    "A stop-market triggers when the bar reaches its stop (buy: high >= stop) and fills at the stop, or at the "
    "open if the bar opened beyond it, plus slippage, as taker.",
    "A triggered stop-limit fills in the trigger bar only if marketable at the trigger price (taker, capped by "
    "its limit); otherwise it rests as a maker limit from the next bar.",
    "IOC fills what it can at its first open (or trigger) and cancels the rest; FOK fills all there or expires.",
    "volume_share caps the quantity all orders of a symbol may fill per bar; a GTC remainder waits for later "
    "bars (market orders at the next opens).",
    "A marketable limit's unfilled remainder keeps taking at the next opens while marketable, then rests.",
    "Within a bar the open is matched first, by time priority; then stops and resting limits in the order the "
    "range reaches them from the open (best price first), then by time.",
    "Fees are rate x price x quantity in the quote currency, maker or taker, rounded half-even to fee_precision.",
    "Slippage applies to taker fills only; taker prices are rounded to the price increment against the trader.",
    "Fills at the open are stamped with the bar's open time, fills inside the bar with its close time.",
    "A cancel arriving after a fill is too late: the order stays live for every bar that opened before the "
    "cancel took effect, and the cancel is stamped at the open of the first bar after it.",
    "Each fill is checked against the account before it is published; a refused fill cancels the order's "
    "remainder. The account judges each fill as if the earlier fills of the same market event, which the bus has "
    "not booked yet, were booked (the ledger refuses what it could not pay after them).",
    "Quotes, funding rates and volatility prints never fill orders; reduce_only is not enforced by the venue.",
    "The venue keeps open orders only, as Binance does: a client order id is refused while an order with it is "
    "open, and a cancel of a closed order is rejected as an unknown order.",
]
