"""A strategy driven by one signal: long while it says buy, flat when it says sell (the account is spot).

The ready strategies of ``strategies/`` subclass ``SignalStrategy`` and only say which rule to trade
(``signal()``, built from their parameters). The strategy sets its rule up itself when it is attached, with
its own ``IndicatorSet`` subscribed to ``Bar`` first, so ``mlct backtest --strategy rsi`` needs no other flag;
and the same objects run live.
"""

from __future__ import annotations

import json
from typing import Any

from engine.analyze.indicators import IndicatorSet
from engine.analyze.rule import Rule
from engine.analyze.signals import SignalHandler
from engine.errors import ConfigError
from engine.events import Signal
from engine.strategy import Strategy, StrategyContext


class SignalStrategy(Strategy):
    """Buy ``size`` of equity when the signal says +1 and nothing is held; sell everything when it says -1.

    Parameters
    ----------
    size
        Share of equity to hold when long (0 < size <= 1). Orders are sized at the signal bar's close and fill
        at the next bar's open, so keep a margin for the move between them and for the fee (default 0.95).
    symbol
        Trade only this symbol (default: every symbol of the data, each on its own).

    Subclasses add their own parameters to ``params`` and implement ``signal``.
    """

    params = {"size": 0.95, "symbol": ""}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not 0 < self.p["size"] <= 1:
            raise ConfigError(f"{self.name}: size must be in (0, 1], got {self.p['size']}")
        self.signal()  # build once now, so that bad parameters fail before the run
        self.handler: SignalHandler | None = None
        self._signal_name = ""

    def signal(self) -> Rule:
        """Return a new rule built from the parameters: the signal this strategy trades (override)."""
        raise NotImplementedError

    def warmup_bars(self) -> int:
        """Return the bars after which every indicator of the signal is past its warm-up, sources included
        (``IndicatorSet.warmup``; a path-dependent one, never final, counts its lookback), plus two: the bar that
        reads them and the one before it that a cross compares with. A live session warms up on that many, so the
        rule speaks from its first live bar as in a back-test (``mlct check lookahead`` measures rsi's need at
        385-464 bars). A rule with a state of its own may still differ for a while from a longer history (a regime
        holds until the opposite run), and a composite may speak earlier (a child warming up counts as 0)."""
        indicators = IndicatorSet()
        self.signal().bind(indicators)  # a composite rule binds its children's indicators too
        needed = [indicators.warmup(i.key) for i in indicators.indicators]
        longest = max((i.lookback if n is None else n for i, n in zip(indicators.indicators, needed, strict=True)),
                      default=-1)
        return longest + 2

    def attach(self, context: StrategyContext) -> None:
        """Subscribe the signal's indicators and rule to ``Bar`` (before the strategy's own hooks), then the hooks."""
        rule = self.signal()
        settings = {k: v for k, v in self.p.items() if k not in ("size", "symbol")}
        rule.name = f"{self.name}{json.dumps(settings, sort_keys=True, separators=(',', ':'))}"  # ours alone
        self._signal_name = rule.name
        symbol = self.p["symbol"]
        self.handler = SignalHandler(rule, symbols=[symbol] if symbol else None)
        self.handler.bind(context.bus)
        super().attach(context)

    def on_signal(self, signal: Signal) -> None:
        if signal.name != self._signal_name:
            return
        symbol = signal.symbol
        if self.open_orders(symbol):
            return  # an order is on its way: decide again once it is done
        held = self.position(symbol) > 0
        if signal.direction > 0 and not held:
            self.enter(symbol, signal)
        elif signal.direction < 0 and held:
            self.exit(symbol, signal)

    def enter(self, symbol: str, signal: Signal) -> None:
        """Go long (override to size differently)."""
        self.target_percent(symbol, self.p["size"])

    def exit(self, symbol: str, signal: Signal | None = None) -> None:
        """Sell everything held of ``symbol``."""
        self.target_position(symbol, 0)
