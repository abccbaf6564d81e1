"""Every statistic against an independent computation: hand-computed cases, empyrical-reloaded, edge cases.

empyrical-reloaded (the maintained fork of Quantopian's empyrical, a dev dependency) computes the curve
statistics from the same returns with its own code; the trade statistics and durations are checked by hand.
"""

from __future__ import annotations

import json
import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.display import format_days, format_stat
from engine.result import stats
from engine.result.stats import (
    DAY_NS,
    YEAR_NS,
    buy_and_hold,
    compute_stats,
    drawdown,
    drawdown_durations,
    monthly_returns,
    periods_per_year,
)

HOUR = 3600 * 10**9
DAY = 24 * HOUR
NO_TRADES = pd.DataFrame({"pnl": [], "return": [], "entry_time": pd.to_datetime([], utc=True),
                          "exit_time": pd.to_datetime([], utc=True)})


def curve(values: list[float], interval_ns: int = DAY, start: str = "2024-01-01") -> pd.Series:
    """Equity at bar closes: the first bar opens at ``start``."""
    closes = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(1, len(values) + 1) * interval_ns)
    return pd.Series(values, index=pd.DatetimeIndex(closes, name="ts"), dtype="float64")


def trades_of(rows: list[tuple[float, float, int]]) -> pd.DataFrame:
    """Trades from (pnl, return, hours held)."""
    entry = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame({"pnl": [r[0] for r in rows], "return": [r[1] for r in rows],
                         "entry_time": [entry] * len(rows),
                         "exit_time": [entry + pd.Timedelta(hours=r[2]) for r in rows]})


def stats_of(values: list[float], trades: pd.DataFrame = NO_TRADES, interval_ns: int = DAY,
             initial: float = 100.0, **kwargs: object) -> dict[str, object]:
    return compute_stats(curve(values, interval_ns), trades, initial_equity=initial, interval_ns=interval_ns,
                         **kwargs)  # type: ignore[arg-type]


def test_periods_per_year_is_a_365_day_calendar() -> None:
    assert periods_per_year(HOUR) == 8760 and periods_per_year(DAY) == 365 and YEAR_NS == 365 * DAY
    assert periods_per_year(60 * 10**9) == 525_600
    with pytest.raises(ValueError):
        periods_per_year(0)


def test_curve_statistics_by_hand() -> None:
    s = stats_of([110.0, 99.0, 121.0])  # daily bars from 100: +10%, -10%, +22.2%
    r = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(r) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    downside = math.sqrt(0.1**2 / 3)
    assert s["total_return"] == pytest.approx(0.21)
    assert s["annual_return"] == pytest.approx(1.21 ** (365 / 3) - 1)
    assert s["annual_volatility"] == pytest.approx(std * math.sqrt(365))
    assert s["sharpe"] == pytest.approx(mean / std * math.sqrt(365))
    assert s["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert s["max_drawdown"] == pytest.approx(-0.1)
    assert s["calmar"] == pytest.approx((1.21 ** (365 / 3) - 1) / 0.1)
    assert s["max_drawdown_days"] == 2.0 and s["longest_drawdown_days"] == 2.0  # peak day 1, back above day 3
    assert s["final_equity"] == 121.0 and s["n_bars"] == 3


def test_drawdown_durations_deepest_and_longest_and_unrecovered() -> None:
    # times 0..7: a long shallow drawdown (1..4), then a deep one from 5 that never recovers
    values = np.array([100, 101, 100, 100.5, 100.8, 102, 80, 90.0])
    times = np.arange(8) * DAY
    deepest, longest = drawdown_durations(values, times)
    assert deepest == 2 * DAY  # from the peak at day 5 to the end (day 7), unrecovered
    assert longest == 4 * DAY  # from the peak at day 1 to the new high at day 5
    assert drawdown_durations(np.array([1.0, 2.0, 3.0]), np.arange(3)) == (0, 0)


def test_trade_statistics_by_hand() -> None:
    s = stats_of([101.0], trades_of([(5.0, 0.05, 1), (-2.0, -0.02, 2), (1.0, 0.01, 3)]))
    assert s["n_trades"] == 3
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["profit_factor"] == pytest.approx(6 / 2)
    assert s["expectancy"] == pytest.approx(4 / 3)
    assert s["avg_win"] == pytest.approx(0.03) and s["avg_loss"] == pytest.approx(-0.02)
    assert s["best_trade"] == 0.05 and s["worst_trade"] == -0.02
    assert s["avg_holding_days"] == pytest.approx(2 / 24)


def test_exposure_turnover_and_fees_are_reported() -> None:
    s = stats_of([100.0, 120.0], fees_paid=1.5, exposure=0.5, traded_notional=330.0)
    assert s["fees_paid"] == 1.5 and s["exposure"] == 0.5
    assert s["turnover"] == pytest.approx(330.0 / ((100 + 100 + 120) / 3))


def test_no_trades() -> None:
    s = stats_of([100.0, 105.0])
    assert s["n_trades"] == 0
    for key in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss", "best_trade", "worst_trade",
                "avg_holding_days"):
        assert s[key] is None, key


def test_one_winning_trade_and_one_losing_trade() -> None:
    win = stats_of([110.0], trades_of([(10.0, 0.1, 5)]))
    assert win["win_rate"] == 1.0 and win["profit_factor"] is None  # no loss: the factor is unbounded
    assert win["avg_loss"] is None and win["best_trade"] == win["worst_trade"] == 0.1
    assert win["sharpe"] is None and win["annual_volatility"] is None  # one return: no deviation
    loss = stats_of([90.0], trades_of([(-10.0, -0.1, 5)]))
    assert loss["win_rate"] == 0.0 and loss["profit_factor"] == 0.0 and loss["avg_win"] is None


def test_flat_equity() -> None:
    s = stats_of([100.0] * 50)
    assert s["total_return"] == 0.0 and s["annual_return"] == 0.0 and s["annual_volatility"] == 0.0
    assert s["max_drawdown"] == 0.0 and s["max_drawdown_days"] == 0.0
    assert s["sharpe"] is None and s["sortino"] is None and s["calmar"] is None


def test_total_loss_gives_finite_figures() -> None:
    s = stats_of([50.0, 0.0, 0.0, 0.0], trades_of([(-100.0, -1.0, 24)]))
    assert s["total_return"] == -1.0 and s["annual_return"] == -1.0
    assert s["max_drawdown"] == -1.0 and s["calmar"] == -1.0
    assert s["final_equity"] == 0.0 and s["max_drawdown_days"] == 4.0  # never recovered: to the end
    assert s["sharpe"] is not None and s["sharpe"] < 0
    json.dumps(s, allow_nan=False)


def test_no_bars() -> None:
    s = stats_of([])
    assert s["total_return"] == 0.0 and s["n_bars"] == 0 and s["annual_return"] is None
    assert s["sharpe"] is None and s["max_drawdown"] == 0.0
    json.dumps(s, allow_nan=False)


def test_an_index_without_times_is_taken_as_one_bar_apart() -> None:
    values = [100.0, 101, 100, 100.5, 100.8, 102, 80, 90]
    timed = stats_of(values)
    untimed = compute_stats(pd.Series(values), NO_TRADES, initial_equity=100.0, interval_ns=DAY)
    assert untimed == timed
    assert untimed["max_drawdown_days"] == 2.0 and untimed["longest_drawdown_days"] == 4.0


def test_overflowing_annual_return_is_none() -> None:
    s = stats_of([200.0, 400.0], interval_ns=60 * 10**9)  # doubling every minute
    assert s["annual_return"] is None and s["calmar"] is None and s["total_return"] == 3.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e9)), min_size=0, max_size=40),
       st.sampled_from([60 * 10**9, HOUR, DAY]))
def test_stats_are_always_strict_json(values: list[float], interval_ns: int) -> None:
    s = stats_of(values, interval_ns=interval_ns, benchmark=curve(values[::-1], interval_ns))
    json.dumps(s, allow_nan=False)


# -- against empyrical-reloaded ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("interval_ns", "seed"), [(HOUR, 1), (DAY, 2), (4 * HOUR, 3), (60 * 10**9, 4)])
def test_curve_statistics_match_empyrical(interval_ns: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0004, 0.01, 3000)
    returns[0] = -0.02  # a drawdown from the initial equity counts
    equity = curve(list(1000.0 * np.cumprod(1 + returns)), interval_ns)
    s = compute_stats(equity, NO_TRADES, initial_equity=1000.0, interval_ns=interval_ns)
    ann = YEAR_NS / interval_ns
    assert s["total_return"] == pytest.approx(ep.cum_returns_final(returns), rel=1e-9)
    assert s["annual_return"] == pytest.approx(ep.annual_return(returns, annualization=ann), rel=1e-9)
    assert s["annual_volatility"] == pytest.approx(ep.annual_volatility(returns, annualization=ann), rel=1e-9)
    assert s["sharpe"] == pytest.approx(ep.sharpe_ratio(returns, annualization=ann), rel=1e-9)
    assert s["sortino"] == pytest.approx(ep.sortino_ratio(returns, annualization=ann), rel=1e-9)
    assert s["max_drawdown"] == pytest.approx(ep.max_drawdown(returns), rel=1e-9)
    assert s["calmar"] == pytest.approx(ep.calmar_ratio(returns, annualization=ann), rel=1e-9)


def test_monthly_returns_match_empyrical() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.01, 24 * 120)  # 120 days of hourly bars, across five months
    equity = curve(list(500.0 * np.cumprod(1 + returns)), HOUR, start="2023-11-15")
    table = monthly_returns(equity, 500.0)
    # empyrical groups by the timestamp of each return: give it the bar's open time, the month its move belongs to
    opens = pd.DatetimeIndex(equity.index) - pd.Timedelta(hours=1)
    expected = ep.aggregate_returns(pd.Series(returns, index=opens), "monthly")
    got = table.stack().dropna()
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert table.index.tolist() == [2023, 2024] and table.columns.tolist() == list(range(1, 13))
    assert np.isnan(table.loc[2023, 1]) and monthly_returns(equity.iloc[:0], 500.0).empty


def test_bar_closing_at_midnight_belongs_to_the_month_before() -> None:
    equity = curve([110.0, 121.0], DAY, start="2024-01-30")  # closes Jan 31 00:00 and Feb 1 00:00
    table = monthly_returns(equity, 100.0)
    assert table.loc[2024, 1] == pytest.approx(0.21) and np.isnan(table.loc[2024, 2])


def test_buy_and_hold_buys_at_the_first_open_and_splits_between_symbols() -> None:
    index = pd.DatetimeIndex(pd.to_datetime([1, 2, 3], unit="h", utc=True), name="ts")
    btc = pd.DataFrame({"open": [100.0, 110, 120], "close": [110.0, 120, 90]}, index=index)
    eth = pd.DataFrame({"open": [10.0], "close": [20.0]}, index=index[1:2])  # starts at the second bar
    alone = buy_and_hold({"BTC/USD": btc}, index, 1000.0)
    assert alone.tolist() == pytest.approx([1100.0, 1200.0, 900.0])
    both = buy_and_hold({"BTC/USD": btc, "ETH/USD": eth}, index, 1000.0)
    assert both.tolist() == pytest.approx([550.0 + 500.0, 600.0 + 1000.0, 450.0 + 1000.0])


def test_buy_and_hold_statistics_match_empyrical_on_price_returns() -> None:
    rng = np.random.default_rng(6)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.02, 500))
    opens = np.concatenate([[100.0], closes[:-1]])
    index = curve(list(closes), HOUR).index
    prices = {"X/USD": pd.DataFrame({"open": opens, "close": closes}, index=index)}
    bench = buy_and_hold(prices, index, 1000.0)
    s = compute_stats(curve([1000.0] * 500, HOUR), NO_TRADES, initial_equity=1000.0, interval_ns=HOUR,
                      benchmark=bench)["buy_and_hold"]
    price_returns = np.diff(np.concatenate([[100.0], closes])) / np.concatenate([[100.0], closes[:-1]])
    assert s["total_return"] == pytest.approx(closes[-1] / 100 - 1)
    assert s["sharpe"] == pytest.approx(ep.sharpe_ratio(price_returns, annualization=8760), rel=1e-9)
    assert s["max_drawdown"] == pytest.approx(ep.max_drawdown(price_returns), rel=1e-9)


def test_formatting() -> None:
    assert format_stat(None, "percent") == "n/a"
    assert format_stat(0.12345, "percent") == "12.35%" and format_stat(1234.5, "money") == "1,234.50"
    assert format_stat(3.0, "times") == "3.00x" and format_stat(7, "count") == "7"
    assert format_days(2.5) == "2d 12h" and format_days(5.5 / 24) == "5h 30m" and format_days(0.01) == "14m"
    assert DAY_NS == DAY


# -- curves read in pieces ----------------------------------------------------------------------------------------
def same_figures(got: dict[str, object], want: dict[str, object]) -> bool:
    """Equal, floats to rounding (sums added up piece by piece): 1e-12 relative."""
    for key, value in want.items():
        other = got[key]
        if isinstance(value, dict) and isinstance(other, dict):
            if not same_figures(other, value):
                return False
        elif isinstance(value, float) and isinstance(other, float):
            if other != pytest.approx(value, rel=1e-12, abs=0.0):
                return False
        elif other != value:
            return False
    return True


def long_curves() -> dict[str, list[float]]:
    rng = np.random.default_rng(8)
    walk = list(100 * np.cumprod(1 + rng.normal(0, 0.02, 300)))
    return {"walk": walk, "ruin": walk[:120] + [0.0] * 60 + walk[:40], "flat": [100.0] * 200,
            "unrecovered": list(np.linspace(99.0, 40.0, 150)), "below_zero": [*walk[:50], -20.0, -5.0, *walk[:50]]}


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
@pytest.mark.parametrize("initial", [100.0, 0.0])  # 0: not a positive start, whole arrays as before
def test_curves_read_in_pieces_give_the_figures_of_the_whole_curve(chunk: int, initial: float,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, values in long_curves().items():
        monkeypatch.setattr(stats, "CHUNK", 10**9)  # one piece: the whole-array figures, to the bit
        whole = stats_of(values, initial=initial, benchmark=curve(values[::-1]))
        monkeypatch.setattr(stats, "CHUNK", chunk)
        pieces = stats_of(values, initial=initial, benchmark=curve(values[::-1]))
        assert same_figures(pieces, whole), name
        if initial > 0:  # the drawdown against the whole-array functions the report draws with
            full = np.array([initial, *values])
            deepest, longest = drawdown_durations(full, np.arange(len(full)) * DAY)
            assert pieces["max_drawdown"] == float(drawdown(full).min())
            assert (pieces["max_drawdown_days"], pieces["longest_drawdown_days"]) == (deepest / DAY, longest / DAY)


@pytest.mark.parametrize("chunk", [1, 2, 7])
def test_curves_with_values_that_are_not_finite_give_the_same_figures_in_any_piece_size(
        chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    walk = long_curves()["walk"]
    for bad in (math.inf, -math.inf, math.nan):
        for initial in (100.0, 0.0):
            values = [*walk[:20], bad, *walk[:30]]
            monkeypatch.setattr(stats, "CHUNK", 10**9)
            whole = stats_of(values, initial=initial, benchmark=curve(values[::-1]))
            monkeypatch.setattr(stats, "CHUNK", chunk)
            assert same_figures(stats_of(values, initial=initial, benchmark=curve(values[::-1])), whole), bad
            json.dumps(whole, allow_nan=False)


def test_a_curve_longer_than_a_piece_matches_empyrical() -> None:
    rng = np.random.default_rng(9)
    returns = rng.normal(0.0001, 0.01, 3 * stats.CHUNK + 123)
    equity = curve(list(1000.0 * np.cumprod(1 + returns)), HOUR)
    s = compute_stats(equity, NO_TRADES, initial_equity=1000.0, interval_ns=HOUR)
    assert s["annual_volatility"] == pytest.approx(ep.annual_volatility(returns, annualization=8760), rel=1e-9)
    assert s["sharpe"] == pytest.approx(ep.sharpe_ratio(returns, annualization=8760), rel=1e-9)
    assert s["sortino"] == pytest.approx(ep.sortino_ratio(returns, annualization=8760), rel=1e-9)
    assert s["max_drawdown"] == pytest.approx(ep.max_drawdown(returns), rel=1e-12)


def test_buy_and_hold_in_pieces_is_the_same_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    index = pd.DatetimeIndex(pd.to_datetime(np.arange(1, 40), unit="h", utc=True), name="ts")
    rng = np.random.default_rng(10)
    btc = pd.DataFrame({"open": 100 + rng.random(39), "close": 100 + rng.random(39)}, index=index)
    eth = pd.DataFrame({"open": 10 + rng.random(20), "close": 10 + rng.random(20)}, index=index[15:35])
    whole = buy_and_hold({"BTC/USD": btc, "ETH/USD": eth}, index, 1000.0)
    monkeypatch.setattr(stats, "CHUNK", 4)
    assert np.array_equal(buy_and_hold({"BTC/USD": btc, "ETH/USD": eth}, index, 1000.0).to_numpy(), whole.to_numpy())
