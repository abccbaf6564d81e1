"""The market-stream messages a live Binance server pushes, and the faults planned for them.

Each message is a pure function of a symbol's base bars and a bar position, so a test (or the server, for an
out-of-order fault) can rebuild the message of any bar: the trade and bookTicker of bar ``i`` carry id ``i + 1``,
which makes ids increase with time. Numbers are strings, as Binance sends them. ``malformed`` returns a copy with
wrong field types, the way a broken upstream would send it. ``StreamFaults`` holds the faults a test planned
(thread-safe: the test plans them, the server loop serves them) and counts those served.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from engine.testing.binance import _Bars, _num

__all__ = ["FAULT_KINDS", "STREAM_TYPES", "StreamFaults", "book_ticker", "kline", "malformed", "stream_name",
           "trade"]

STREAM_TYPES = ("kline", "trade", "bookTicker")
FAULT_KINDS = ("truncated", "malformed", "duplicate", "out_of_order")
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


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


@dataclass(frozen=True)
class _Injection:
    kind: str
    stream: str
    symbol: str | None


class StreamFaults:
    """The faults planned for a market websocket and the count of those served (``served``), thread-safe.

    Kinds counted in ``served``: the injected kinds, ``skip_next_bar`` (bars skipped), ``stalled`` (messages
    held back, per socket), ``drop`` (sockets ended) and ``refused`` (connections refused).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        self._skips = 0
        self._stalled = False
        self._refuse_bars = 0
        self._refuse_until = 0.0
        self.served: Counter[str] = Counter()

    def inject(self, kind: str, stream: str, symbol: str | None) -> None:
        """Plan ``kind`` for the next message of ``stream`` (of ``symbol``, or of any symbol when None)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        if stream not in STREAM_TYPES:
            raise ValueError(f"stream must be one of {', '.join(STREAM_TYPES)}, got {stream!r}")
        with self._lock:
            self._injections.append(_Injection(kind, stream, symbol))

    def skip_next_bar(self) -> None:
        """Plan one more bar whose messages are not sent."""
        with self._lock:
            self._skips += 1

    def stall(self, on: bool) -> None:
        """Hold every message back while ``on``."""
        with self._lock:
            self._stalled = on

    def refuse(self, bars: int, seconds: float) -> None:
        """Refuse connections for ``bars`` more bars and ``seconds`` more seconds (whichever ends later)."""
        with self._lock:
            self._refuse_bars = max(self._refuse_bars, bars)
            self._refuse_until = max(self._refuse_until, time.monotonic() + seconds)

    @property
    def refusing(self) -> bool:
        """Return whether connections are refused now."""
        with self._lock:
            return self._refuse_bars > 0 or time.monotonic() < self._refuse_until

    def count(self, kind: str, n: int = 1) -> None:
        """Count ``n`` faults of ``kind`` served."""
        with self._lock:
            self.served[kind] += n

    def next_bar(self) -> bool:
        """Count one bar off the refusal; return whether this bar's messages are skipped (and count the skip)."""
        with self._lock:
            self._refuse_bars = max(0, self._refuse_bars - 1)
            skip = self._skips > 0
            if skip:
                self._skips -= 1
                self.served["skip_next_bar"] += 1
            return skip

    def hold_back(self) -> bool:
        """Return whether a message about to be sent is held back (stalled), counting it if so."""
        with self._lock:
            if self._stalled:
                self.served["stalled"] += 1
            return self._stalled

    def texts(self, stream: str, symbol: str, message: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
        """Return the frames to send for ``message``: itself, or as spoilt by the first fault planned for it.

        ``previous`` is the same stream's message of the bar before (None for the first bar); an out-of-order
        fault waits for a message that has one.
        """
        kind = self._take(stream, symbol, previous is not None)
        text = _text(message)
        if kind == "truncated":
            return [text[: len(text) // 2]]
        if kind == "malformed":
            return [_text(malformed(stream, message))]
        if kind == "duplicate":
            return [text, text]
        if kind == "out_of_order" and previous is not None:
            return [text, _text(previous)]
        return [text]

    def _take(self, stream: str, symbol: str, has_previous: bool) -> str | None:
        with self._lock:
            for injection in self._injections:
                if injection.stream != stream or injection.symbol not in (None, symbol):
                    continue
                if injection.kind == "out_of_order" and not has_previous:
                    continue
                self._injections.remove(injection)
                self.served[injection.kind] += 1
                return injection.kind
        return None
