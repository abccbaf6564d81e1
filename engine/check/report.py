"""The report of ``mlct check lookahead``: what was checked, what moved, what each value needs; as text or JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from engine.check.lookahead import FACTORS, VARIANTS, LookaheadReport, Moved
from engine.check.warmup import WarmupReport

MAX_ROWS = 25  # rows of the warm-up table in text; --json has every one
WIDTH = 116  # of the text's paragraphs


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The checks of one strategy on one data set: look-ahead, and the warm-up when it was measured."""

    strategy: str
    params: dict[str, Any]
    symbol: str
    interval: str
    times: pd.DatetimeIndex
    lookahead: LookaheadReport
    warmup: WarmupReport | None

    @property
    def exit_code(self) -> int:
        """0 when no look-ahead was found, 1 when something moved (or the strategy is not deterministic)."""
        return 0 if self.lookahead.clean else 1

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON values (times in ISO 8601 UTC, bars as rows of the data)."""
        look = self.lookahead
        first = look.first
        out: dict[str, Any] = {
            "strategy": {"name": self.strategy, "params": self.params},
            "data": {"symbol": self.symbol, "interval": self.interval, "bars": len(self.times),
                     "start": _iso(self.times[0]), "end": _iso(self.times[-1])},
            "lookahead": {
                "clean": look.clean,
                "variants": {name: _variant_text(name) for name in VARIANTS},
                "nondeterministic": _moved(look.nondeterministic),
                "first": None if first is None else {"cut": first[0].bar, "variant": first[1],
                                                     **(_moved(first[2]) or {})},
                "cuts": [{"bar": cut.bar, "time": _iso(cut.time), "compared": cut.compared,
                          "moved": {variant: _moved(moved) for variant, moved in cut.moved.items()}}
                         for cut in look.cuts],
            },
            "warmup": None,
        }
        if self.warmup is not None:
            warm = self.warmup
            needed = warm.needed
            out["warmup"] = {
                "declared": warm.declared, "sufficient": warm.sufficient, "tolerance": warm.tolerance,
                "histories": warm.histories, "targets": [{"bar": t, "time": _iso(self.times[t])} for t in warm.targets],
                "needed": None if needed is None else {"series": needed.series, "settled_at": needed.settled_at,
                                                       "unsettled_at": needed.unsettled_at},
                "series": [{"series": s.series, "kind": s.kind, "settled_at": s.settled_at,
                            "unsettled_at": s.unsettled_at, "difference": s.difference} for s in warm.series],
                "failures": [{"target": target, "history": history, "raised": failure}
                             for target, history, failure in warm.failures],
            }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_json_value)

    def format(self) -> str:
        """Return the report as text: a title, the look-ahead table and verdict, the warm-up table and verdict."""
        times = self.times
        params = json.dumps(self.params, sort_keys=True, default=str)
        lines = [*_wrap(f"{self.strategy} {params} on {self.symbol}: {len(times):,} {self.interval} bars from "
                        f"{_minute(times[0])} to {_minute(times[-1])} UTC"), ""]
        lines += self._lookahead_lines()
        if self.warmup is not None:
            lines += ["", *self._warmup_lines(self.warmup)]
        return "\n".join(lines)

    def _lookahead_lines(self) -> list[str]:
        look = self.lookahead
        variants = [_variant_text(v) for v in VARIANTS]
        lines = [*_wrap(f"Look-ahead: the full run against three runs at each cut, every bar after it {variants[0]}, "
                        f"{variants[1]} or {variants[2]}; every event up to the cut and every indicator value at it "
                        "must be identical."), ""]
        header = ("cut (bar open, UTC)", "row", "compared", *VARIANTS)
        rows = [(_minute(cut.time), f"{cut.bar:,}", f"{cut.compared:,}",
                 *("same" if cut.moved[v] is None else f"MOVED at {_minute(cut.moved[v].time)}"  # type: ignore[union-attr]
                   for v in VARIANTS)) for cut in look.cuts]
        lines += _table(header, rows, right=(1, 2))
        lines.append("")
        if look.nondeterministic is not None:
            lines += _wrap("NOT DETERMINISTIC: two runs on the same data differ, so the check cannot conclude: "
                           + _where(look.nondeterministic))
        first = look.first
        if first is not None:
            cut, variant, moved = first
            lines += _wrap(f"LOOK-AHEAD: with the bars after {_minute(cut.time)} {variant}, " + _where(moved))
            others = sum(m is not None for c in look.cuts for m in c.moved.values()) - 1
            if others:
                lines.append(f"({others} more run{'s' if others > 1 else ''} moved: see the table, --json for each)")
        elif look.nondeterministic is None:
            lines.append(f"No look-ahead: nothing published up to any of the {len(look.cuts)} cuts moved.")
        return lines

    def _warmup_lines(self, warm: WarmupReport) -> list[str]:
        if not warm.series:
            return _wrap("Warm-up: nothing was published on the cut bars (no signal, no indicator set): nothing to "
                         "measure.")
        histories = [str(h) for h in warm.histories]
        shown = ", ".join(histories if len(histories) <= 8 else [*histories[:6], "...", histories[-1]])
        lines = [*_wrap(f"Warm-up: what was published on {len(warm.targets)} bars with the whole history, against "
                        f"the last N bars only (N = {shown}); relative tolerance {warm.tolerance:g}. Orders are not "
                        "compared (they follow the position, which depends on where trading started)."), ""]
        rows = [(s.series, s.needs, s.difference) for s in warm.series[:MAX_ROWS]]
        lines += _table(("published value", "needs (bars of history)", "at the longest history that differed"),
                        rows, right=(1,))
        if len(warm.series) > MAX_ROWS:
            lines.append(f"... {len(warm.series) - MAX_ROWS} more (--json has every one)")
        lines.append("")
        if warm.failures:
            target, history, failure = min(warm.failures, key=lambda f: (-f[1], f[0]))
            lines += _wrap(f"The strategy raised in {len(warm.failures)} run(s), with up to {history} bars of history "
                           f"(at {_minute(self.times[target])}): {failure}")
        needed, sufficient = warm.needed, warm.sufficient
        declared = f"Declared warm-up (warmup_bars): {warm.declared} bars"
        if needed is None or sufficient is None:
            lines.append(f"{declared}; no signal was published on the target bars to judge it by.")
        elif sufficient:
            lines.append(f"{declared}: enough; the signals settle within {needed.needs} bars.")
        else:
            lines += _wrap(f"WARNING: {declared}, too short: {needed.series} needs {needed.needs} bars.")
        return lines


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _variant_text(variant: str) -> str:
    if variant == "removed":
        return "removed"
    (low, high), (v_low, v_high) = FACTORS[variant]
    return f"{variant} (prices x{low:g}-{high:g}, volume x{v_low:g}-{v_high:g})"


def _where(moved: Moved) -> str:
    return f"on bar {_minute(moved.time)} (row {moved.bar:,}) {moved.describe()}"


def _moved(moved: Moved | None) -> dict[str, Any] | None:
    if moved is None:
        return None
    return {"bar": moved.bar, "time": _iso(moved.time), "what": moved.what, "field": moved.field,
            "expected": _json_value(moved.expected), "got": _json_value(moved.got), "instead": moved.instead,
            "raised": moved.raised, "description": moved.describe()}


def _json_value(value: Any) -> Any:
    """Return a recorded value as JSON: NaN and infinities as text, pairs as objects, other objects as text."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, tuple):
        if all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return {k: _json_value(v) for k, v in value}
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if i in right else "-" * w for i, w in enumerate(widths)) + " |"
    return [line(header), rule, *(line(r) for r in rows)]


def _iso(time: Any) -> str:
    return pd.Timestamp(time).isoformat()


def _minute(time: Any) -> str:
    return pd.Timestamp(time).strftime("%Y-%m-%d %H:%M")
