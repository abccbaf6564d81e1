"""Strategies for the checks' tests: two that see the future, one honest EMA with too short a warm-up, one whose
runs differ on the same data. Run by the tests in-process and, as ``path/peeking.py:Class``, by ``mlct``."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from engine.events import Bar, Signal
from engine.strategy import Strategy


class NextClose(Strategy):
    """Reads the next bar's close through the data it was given (a handle it should not have): a signal every bar,
    up when the next close is higher; long on up, flat on down."""

    def __init__(self, data: pd.DataFrame, **params: Any) -> None:
        super().__init__(**params)
        hour = pd.Timedelta(hours=1)  # the sample's bars
        self._row = {int((ts + hour).value): i for i, ts in enumerate(data.index)}  # close time -> row
        self._closes = data["close"].to_numpy(dtype=np.float64)

    def on_bar(self, bar: Bar) -> None:
        row = self._row[bar.ts]
        if row + 1 >= len(self._closes):
            return
        up = self._closes[row + 1] > bar.close
        self.context.bus.publish(Signal(ts=bar.ts, name="next_close", symbol=bar.symbol, direction=1 if up else -1))
        held = self.position(bar.symbol) > 0
        if up and not held:
            self.buy(bar.symbol, 0.01)
        elif not up and held:
            self.sell(bar.symbol, self.position(bar.symbol))


class JumpGuard(NextClose):
    """Refuses to go on when the next bar jumps by more than 15% (never, in the sample's first months): it reads the
    next close, and raises when the bars after a cut are perturbed."""

    def on_bar(self, bar: Bar) -> None:
        row = self._row[bar.ts]
        if row + 1 < len(self._closes) and abs(self._closes[row + 1] / bar.close - 1) > 0.15:
            raise ValueError(f"the next bar jumps from {bar.close} to {self._closes[row + 1]}")


class LateSignal(Strategy):
    """Publishes its signal for bar t once it has seen bar t+1, stamped at bar t: the signal at t uses bar t+1."""

    def on_start(self) -> None:
        self._previous: Bar | None = None

    def on_bar(self, bar: Bar) -> None:
        previous, self._previous = self._previous, bar
        if previous is not None:
            self.context.bus.publish(Signal(ts=previous.ts, name="late", symbol=bar.symbol,
                                            direction=1 if bar.close > previous.close else -1))


class Ema(Strategy):
    """An EMA of the close seeded with the first close, published on every bar with its value; declares a warm-up of
    ``declared`` bars, far too short for an EMA to forget its seed."""

    params = {"period": 20, "declared": 5}

    def on_start(self) -> None:
        self.alpha = 2.0 / (self.p["period"] + 1)
        self._ema: float | None = None

    def warmup_bars(self) -> int:
        return int(self.p["declared"])

    def on_bar(self, bar: Bar) -> None:
        ema = bar.close if self._ema is None else self.alpha * bar.close + (1 - self.alpha) * self._ema
        self._ema = ema
        self.context.bus.publish(Signal(ts=bar.ts, name="ema", symbol=bar.symbol, direction=0,
                                        contributions={"ema": ema}))


_runs = itertools.count()


class Forgetful(Strategy):
    """Numbers its runs in a module-level counter and publishes the number: no two runs agree."""

    def on_start(self) -> None:
        self._run = next(_runs)

    def on_bar(self, bar: Bar) -> None:
        self.context.bus.publish(Signal(ts=bar.ts, name="run", symbol=bar.symbol, direction=0,
                                        strength=float(self._run)))


class FirstBarGuard(Ema):
    """Refuses to start on a bar that closed above 3,000 (the sample starts at 2,509 and passes 3,000 within weeks):
    a run that starts later raises on its first bar."""

    def on_bar(self, bar: Bar) -> None:
        if self._ema is None and bar.close > 3000:
            raise ValueError(f"will not start at {bar.close}")
        super().on_bar(bar)
