"""Why a run made no trade: each cause, and rejections counted by kind."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.events import Bar
from engine.result.diagnosis import explain_no_trades, rejection_kind, rejections
from engine.strategy import Strategy
from strategies.sma_cross import SmaCross


class BuyOnce(Strategy):
    """Buy on the first bar and hold to the end."""

    params = {"quantity": 0.01}

    def on_bar(self, bar: Bar) -> None:
        if self.position(bar.symbol) == 0 and not self.open_orders(bar.symbol):
            self.buy(bar.symbol, self.p["quantity"])


def orders(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"status": pd.Categorical([r[0] for r in rows]), "reason": [r[1] for r in rows]})


def explain(frame: pd.DataFrame, *, n_fills: int = 0, warmups: dict[str, int] | None = None, bars: int = 100,
            currency: str = "USD") -> dict[str, Any]:
    """Explain a run of ``bars`` one-hour BTC/USD bars without a round trip."""
    found = explain_no_trades(n_trades=0, n_fills=n_fills, orders=frame,
                              warmups={"S": 10} if warmups is None else warmups, bars={"BTC/USD": bars},
                              interval="1h", account_currency=currency, quotes={"USD"})
    assert found is not None
    return found


@pytest.mark.parametrize(("reason", "kind"), [
    ("order 'S-1' (buy 3.62071659 BTC/USD): needs 9509.4999816577761 USD, only 0 USD free",
     "needs <n> USD, only <n> USD free"),
    ("order 'S-7' on ETH/USD: quantity 0.0001 is below the minimum size 0.001",
     "quantity <n> is below the minimum size <n>"),
    ("order 'x' on 1INCH/USD: notional 4.5 is below the minimum notional 5", "notional <n> is below the minimum "
                                                                            "notional <n>"),
    ("post-only order 'S-3' would take liquidity: buy limit 101.5 >= best ask 101.4",
     "post-only order '<id>' would take liquidity: buy limit <n> >= best ask <n>"),
    ("warming up: the session takes orders from its first live bar",
     "warming up: the session takes orders from its first live bar"),
    ("", "(no reason given)"),
])
def test_a_rejection_kind_drops_what_differs_between_orders(reason: str, kind: str) -> None:
    assert rejection_kind(reason) == kind


def test_rejections_are_counted_by_kind_most_first_with_the_first_reason() -> None:
    frame = orders(("rejected", "order 'a' on B/USD: quantity 1 is below the minimum size 2"),
                   ("rejected", "order 'b' (buy 1 B/USD): needs 5 USD, only 1 USD free"),
                   ("filled", ""),
                   ("rejected", "order 'c' (buy 2 B/USD): needs 9 USD, only 0 USD free"))
    assert rejections(frame) == [
        {"reason": "needs <n> USD, only <n> USD free", "count": 2,
         "first": "order 'b' (buy 1 B/USD): needs 5 USD, only 1 USD free"},
        {"reason": "quantity <n> is below the minimum size <n>", "count": 1,
         "first": "order 'a' on B/USD: quantity 1 is below the minimum size 2"}]


def test_each_cause() -> None:
    nothing = orders()
    assert explain_no_trades(n_trades=1, n_fills=2, orders=nothing, warmups={}, bars={}, interval="1h",
                             account_currency="USD", quotes={"USD"}) is None
    assert explain(nothing, warmups={"S": 100, "T": 5}, bars=100)["cause"] == "no_signal"  # T could decide
    warm = explain(nothing, warmups={"S": 100, "T": 120}, bars=100)
    assert warm["cause"] == "warmup"
    assert "S needs 100 bars; T needs 120 bars before its first decision, and the data has 100 1h" in warm["message"]
    assert explain(nothing, warmups={}, bars=5)["message"] == "no signal: the strategy made no order in 5 1h bars"
    refused = orders(("rejected", "order 'a' (buy 1 B/USD): needs 5 USD, only 0 USD free"))
    assert explain(refused)["message"] == "all 1 orders were rejected: 1 x needs <n> USD, only <n> USD free"
    assert "the account is in EUR, the orders pay in USD" in str(explain(refused, currency="EUR")["message"])
    waiting = orders(("accepted", ""), ("cancelled", "cancelled by the strategy"),
                     ("rejected", "order 'a' (buy 1 B/USD): needs 5 USD, only 0 USD free"))
    unfilled = explain(waiting)
    assert unfilled["cause"] == "none_filled"
    assert unfilled["message"] == ("3 orders, none filled: 1 accepted, 1 cancelled, 1 rejected (rejected: 1 x needs "
                                   "<n> USD, only <n> USD free)")


def test_a_position_never_closed_is_not_taken_for_no_trading() -> None:
    result = run_backtest(BuyOnce(quantity=0.01), synthetic_bars(50, interval="1h", seed=2), venue=SimSettings(),
                          symbol="SYN/USD")
    assert result.stats["n_trades"] == 0 and result.no_trades is not None
    assert result.no_trades["cause"] == "position_open"
    assert result.no_trades["message"] == "no round trip closed: 1 fills opened positions still held at the end"


def test_a_back_test_counts_its_warm_up_among_the_bars_and_a_session_of_unknown_history_blames_no_warm_up() -> None:
    frame = synthetic_bars(60, interval="1h", seed=2)
    for warmup in (0, 10):  # a back-test's warm-up is in its feeds: the strategy saw 60 bars either way
        result = run_backtest(SmaCross(fast=5, slow=70), frame, venue=SimSettings(), symbol="SYN/USD", warmup=warmup)
        assert result.no_trades is not None and result.no_trades["cause"] == "warmup"
        assert result.no_trades["bars"] == {"SYN/USD": 60} and result.no_trades["warmup_bars"] == {"SmaCross": 71}
    # A live session's result is built from its live bars only: it warmed up on history it does not count.
    live = explain_no_trades(n_trades=0, n_fills=0, orders=orders(), warmups={}, bars={"SYN/USD": 5},
                             interval="1m", account_currency="USD", quotes={"USD"})
    assert live is not None and live["cause"] == "no_signal"
