"""The market-stream messages a live Binance server pushes, built from a symbol's bars (one pure function each).

Each message is a pure function of a symbol's base bars and a bar position, so a test (or the server, for an
out-of-order fault) can rebuild the message of any bar: the trade and bookTicker of bar ``i`` carry id ``i + 1``,
which makes ids increase with time. Numbers are strings, as Binance sends them. ``malformed`` returns a copy with
wrong field types, the way a broken upstream would send it.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.testing.binance import _Bars, _num

__all__ = ["STREAM_TYPES", "book_ticker", "kline", "malformed", "stream_name", "trade"]

STREAM_TYPES = ("kline", "trade", "bookTicker")
_SPREAD = 1e-4  # half the bid/ask spread, as a fraction of the close
_MIN_QTY = 0.001  # a trade's quantity when the bar has no volume (a trade of zero is not a trade)


def stream_name(market_id: str, stream: str, interval: str) -> str:
    """Return Binance's stream name (``btcusdt@kline_1m``, ``btcusdt@trade``, ``btcusdt@bookTicker``)."""
    sid = market_id.lower()
    return f"{sid}@kline_{interval}" if stream == "kline" else f"{sid}@{stream}"


def kline(market_id: str, interval: str, step_ms: int, bars: _Bars, i: int, *, closed: bool,
          event_ms: int) -> dict[str, Any]:
    """Return the kline message of bar ``i``: its final values when ``closed``, else just opened (o=h=l=c, v=0)."""
    v = bars.values
    t = int(bars.open_ms[i])
    if closed:
        o, h, low, c, vol, quote, count = (v["open"][i], v["high"][i], v["low"][i], v["close"][i], v["volume"][i],
                                           v["quote_volume"][i], int(bars.trades[i]))
        first = last = i + 1  # the one trade the server pushes per bar
    else:
        o = h = low = c = v["open"][i]
        vol = quote = 0.0
        count, first, last = 0, -1, -1
    return {"e": "kline", "E": event_ms, "s": market_id, "k": {
        "t": t, "T": t + step_ms - 1, "s": market_id, "i": interval, "f": first, "L": last,
        "o": _num(o), "c": _num(c), "h": _num(h), "l": _num(low), "v": _num(vol), "n": count, "x": closed,
        "q": _num(quote), "V": "0", "Q": "0", "B": "0"}}


def trade(market_id: str, step_ms: int, bars: _Bars, i: int) -> dict[str, Any]:
    """Return the one trade of bar ``i``: at its close price and volume, stamped at its last millisecond."""
    ts = int(bars.open_ms[i]) + step_ms - 1
    volume = float(bars.values["volume"][i])
    return {"e": "trade", "E": ts, "s": market_id, "t": i + 1, "p": _num(bars.values["close"][i]),
            "q": _num(volume if volume > 0 else _MIN_QTY), "T": ts, "m": False, "M": True}


def book_ticker(market_id: str, bars: _Bars, i: int) -> dict[str, Any]:
    """Return the best bid and ask at bar ``i``'s close (a spread of 2e-4 around the close; no event field)."""
    close = float(bars.values["close"][i])
    return {"u": i + 1, "s": market_id, "b": _num(close * (1 - _SPREAD)), "B": "1",
            "a": _num(close * (1 + _SPREAD)), "A": "1"}


def malformed(stream: str, message: dict[str, Any]) -> dict[str, Any]:
    """Return ``message`` as valid JSON with wrong field types.

    kline: ``"t": "abc"`` (a start time that is no number); trade: ``"t"`` and ``"T"`` not numbers; bookTicker:
    ``"b": "abc"`` (a bid price that is no number).
    """
    bad = copy.deepcopy(message)
    if stream == "kline":
        bad["k"]["t"] = "abc"
    elif stream == "trade":
        bad["t"] = bad["T"] = "abc"
    else:
        bad["b"] = "abc"
    return bad
