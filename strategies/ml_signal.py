"""ML signal: go long when the model expects a rise beyond costs, hold for its horizon, exit early on a sell.

The strategy runs its own ``engine.ml.handler.MLSignal`` on the model directory given (``mlct ml train
--out DIR``), so ``mlct backtest --strategy ml_signal --param model=DIR`` is all it takes. Each bar is predicted
by the model that was valid then (the walk-forward's fold models, the final one after the training data), so
it trades only bars its models never trained on: before the first out-of-sample bar it only warms up.

Rules, per symbol, on each ``ml`` signal (the bar's close):

- a buy (``p_up >= threshold``), confirmed if asked: go long ``size`` of equity if flat, and hold until
  ``hold`` bars after the latest buy (default: the label horizon, the period the model predicted);
- a sell (``p_down >= threshold``) with ``exit_on_sell``: exit;
- otherwise exit once the holding period is over.

Orders are market orders at the next bar's open, the price the labels were measured from.

Parameters
----------
model
    The model directory (required).
threshold
    Probability threshold; 0 (default) uses each model's own, chosen on its training data.
hold
    Bars to hold after the latest buy; 0 (default) = the model's label horizon.
confirm
    ``""`` (none), ``"trend"`` (the fast SMA above the slow one: ``engine.analyze`` ``ma_cross`` in state
    mode over ``confirm_fast``/``confirm_slow`` bars), or any signal of ``engine.analyze.rules`` by name with
    its defaults (``regime``, ``macd`` ...): a buy needs that signal's direction to be +1 on the same bar.
size, symbol, exit_on_sell
    Share of equity when long (0.95); the symbol (default: the model's); exit on a sell signal (true).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from engine.errors import ConfigError
from engine.events import Bar, Fill, Side, Signal
from engine.ml.handler import MLSignal
from engine.strategy import Strategy, StrategyContext


class MlSignal(Strategy):
    """Long on the model's buy signals for its horizon, flat otherwise; every entry keeps its explanation."""

    params = {"model": "", "threshold": 0.0, "hold": 0, "confirm": "", "confirm_fast": 50, "confirm_slow": 200,
              "size": 0.95, "exit_on_sell": True, "symbol": ""}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not self.p["model"]:
            raise ConfigError("MlSignal: give the model directory: --param model=DIR (mlct ml train --out DIR)")
        if not 0 < self.p["size"] <= 1:
            raise ConfigError(f"MlSignal: size must be in (0, 1], got {self.p['size']}")
        if self.p["hold"] < 0:
            raise ConfigError(f"MlSignal: hold must be >= 0 bars, got {self.p['hold']}")
        threshold = float(self.p["threshold"]) or None
        self.handler = MLSignal(self.p["model"], symbol=self.p["symbol"] or None, threshold=threshold)
        self.hold = int(self.p["hold"]) or self.handler.bundle.label.horizon
        self.confirmation = _confirmation(self.p) if self.p["confirm"] else None
        self._bars: dict[str, int] = {}
        self._exit_at: dict[str, int] = {}
        self._pending: dict[str, Signal] = {}  # the buy signal behind the entry order in flight
        self._in_trade: set[str] = set()
        self._entries: list[dict[str, Any]] = []

    def warmup_bars(self) -> int:
        """The model's features' longest window (and the trend confirmation's slow average)."""
        return max(self.handler.features.warmup, self.p["confirm_slow"] if self.p["confirm"] == "trend" else 0)

    def attach(self, context: StrategyContext) -> None:
        """Run the model (and the confirming signal) on the run's bus, then subscribe the hooks."""
        self.handler.bind(context.bus)
        if self.confirmation is not None:
            self.confirmation.bind(context.bus)
        super().attach(context)

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        count = self._bars[symbol] = self._bars.get(symbol, 0) + 1
        # a holding period that ended on a bar without a signal (no model valid any more): exit anyway
        if symbol in self._exit_at and count > self._exit_at[symbol] + 1:
            self._exit(symbol)

    def on_signal(self, signal: Signal) -> None:
        if signal.name != self.handler.name:
            return
        symbol = signal.symbol
        count = self._bars.get(symbol, 0)
        sell = signal.direction < 0 and self.p["exit_on_sell"]
        expired = symbol in self._exit_at and count >= self._exit_at[symbol]
        if signal.direction > 0 and self._confirmed(symbol):
            self._exit_at[symbol] = count + self.hold
            if self.position(symbol) == 0 and not self.open_orders(symbol):
                self._pending[symbol] = signal
                self.target_percent(symbol, self.p["size"])
        elif sell or expired:
            self._exit(symbol)

    def _exit(self, symbol: str) -> None:
        self._exit_at.pop(symbol, None)
        quantity = self.position(symbol)
        if quantity > 0 and not self.open_orders(symbol):  # an exit already in flight is left to fill
            self.sell(symbol, quantity)

    def _confirmed(self, symbol: str) -> bool:
        if self.confirmation is None:
            return True
        reading = self.confirmation.reading(self.confirmation.rules[0].name, symbol)
        return reading is not None and reading.direction > 0

    def on_fill(self, fill: Fill) -> None:
        symbol = fill.symbol
        if fill.side is Side.BUY and symbol not in self._in_trade:
            self._in_trade.add(symbol)
            signal = self._pending.pop(symbol, None)
            row: dict[str, Any] = {"entry_time": pd.Timestamp(fill.ts, tz="UTC"), "symbol": symbol,
                                   "p_up": signal.strength if signal is not None else float("nan")}
            row.update(dict(signal.contributions or {}) if signal is not None else {})
            self._entries.append(row)
        elif fill.side is Side.SELL and self.position(symbol) == 0:
            self._in_trade.discard(symbol)

    def result_extras(self) -> dict[str, Any]:
        """Return the ML section of the report: the signal table over this run and each trade's explanation."""
        extras = self.handler.result_extras()
        contributions = pd.DataFrame(self._entries)
        if not contributions.empty:
            indicators = [c for c in contributions.columns if c not in ("entry_time", "symbol", "p_up")]
            contributions = contributions[["entry_time", "symbol", *indicators]].fillna(0.0)
        extras["ml"]["contributions"] = contributions
        return extras


def _confirmation(p: dict[str, Any]) -> Any:
    """Build the confirming signal's handler (``engine.analyze``), evaluated on every bar."""
    from engine.analyze.signals import SignalHandler, make_signal

    kind = p["confirm"]
    if kind == "trend":
        rule = make_signal("ma_cross", name="ml_confirm", fast=p["confirm_fast"], slow=p["confirm_slow"],
                           mode="state")
    else:
        rule = make_signal(kind, name="ml_confirm")
    return SignalHandler(rule, emit="every")
