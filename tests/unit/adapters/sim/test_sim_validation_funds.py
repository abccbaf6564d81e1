"""Rejections with reasons, funds checks through a fake account, and guards against bad market data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_harness import FakeAccount, PlainAccount, Venue, t

from engine.errors import DataError
from engine.events import Bar, FundingRate, OrderStatus, OrderUpdate, Quote, Side, Trade, VolIndex
from engine.markets import Market

S = OrderStatus


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"quantity": "0.0015"}, "order 'x' on BTC/USD: quantity 0.0015 is not a multiple of the size increment 0.001"),
    ({"quantity": "1", "type": "limit", "price": "100.005"},
     "order 'x' on BTC/USD: price 100.005 is not a multiple of the price increment 0.01"),
    ({"quantity": "1", "type": "stop_market", "stop": "99.999"},
     "order 'x' on BTC/USD: stop_price 99.999 is not a multiple of the price increment 0.01"),
    ({"quantity": "0.05", "type": "limit", "price": "100"},
     "order 'x' on BTC/USD: notional 5.00 is below the minimum 10"),
    ({"quantity": "0.05"}, "order 'x' on BTC/USD: notional 5.000 is below the minimum 10"),  # at the last close
])
def test_rejections_name_the_rule_broken(venue: Venue, kwargs: dict, reason: str) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("x", "buy", **kwargs)  # the parameters are shared by every run of the test: read, never changed
    assert venue.events == [OrderUpdate(ts=t(1), client_order_id="x", symbol="BTC/USD", status=S.REJECTED,
                                        remaining_quantity=Decimal(kwargs["quantity"]), reason=reason)]
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []


def test_minimum_size_rejection(make_venue) -> None:
    venue = make_venue(markets=[Market(symbol="BTC/USD", base="BTC", quote="USD", min_size=Decimal("0.01"))])
    venue.order("x", "sell", "0.005")
    assert venue.last("x").status is S.REJECTED
    assert venue.last("x").reason == "order 'x' on BTC/USD: quantity 0.005 is below the minimum size 0.01"


def test_market_order_before_any_price_skips_the_notional_check(venue: Venue) -> None:
    venue.order("x", "buy", "0.05")
    assert venue.statuses("x") == [S.ACCEPTED]


def test_unknown_symbol_and_duplicate_id_are_rejected(venue: Venue) -> None:
    venue.order("x", "buy", "1", symbol="ETH/USD")
    assert (venue.last("x").status, venue.last("x").reason) == (S.REJECTED, "unknown symbol 'ETH/USD'")
    venue.order("y", "buy", "1")
    venue.order("y", "sell", "1")
    assert venue.statuses("y") == [S.ACCEPTED, S.REJECTED]
    assert venue.last("y").reason == "duplicate client order id 'y'"


def test_insufficient_funds_cancels_the_order_without_a_fill(make_venue) -> None:
    venue = make_venue(account=FakeAccount(quote="150", base="0"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "2")
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    assert venue.statuses("m1") == [S.ACCEPTED, S.CANCELLED]
    last = venue.last("m1")
    assert (last.ts, last.remaining_quantity, last.reason) == (
        t(1), Decimal("2"), "fill of order 'm1' needs 200.40000000 USD, free 150")


def test_insufficient_base_for_a_resting_sell_cancels_it(make_venue) -> None:
    venue = make_venue(account=FakeAccount(quote="0", base="0.5"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l", "sell", "1", "limit", price="100.5")
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    assert (venue.last("l").status, venue.last("l").ts) == (S.CANCELLED, t(2))
    assert venue.exchange.open_orders() == []


def test_fills_of_the_same_bar_are_counted_before_the_ledger_applies_them(make_venue) -> None:
    account = FakeAccount(quote="250", base="0")
    venue = make_venue(account=account)
    venue.bar(0, 100, 101, 99, 100)
    for cid in ("a", "b", "c"):
        venue.order(cid, "buy", "1")  # each needs 100.2 USD
    venue.bar(1, 100, 101, 99, 100)
    assert [f.client_order_id for f in venue.fills()] == ["a", "b"]
    assert venue.statuses("c") == [S.ACCEPTED, S.CANCELLED]
    assert venue.last("c").reason == "fill of order 'c' needs 100.20000000 USD, free 49.60000000"


def test_plain_account_check_is_called_with_the_fill_only(make_venue) -> None:
    venue = make_venue(account=PlainAccount(quote="150"))
    venue.bar(0, 100, 101, 99, 100)
    venue.order("a", "buy", "1")
    venue.order("b", "buy", "1")
    venue.order("c", "buy", "2")
    venue.bar(1, 100, 101, 99, 100)
    # Without ``pending`` the account cannot see a and b until the bus applies them (the documented limitation).
    assert [f.client_order_id for f in venue.fills()] == ["a", "b"]
    assert venue.last("c").reason == "needs more than 150 USD"


def test_account_sees_each_fill_before_it_is_published(make_venue) -> None:
    account = FakeAccount(quote="1000", base="10")
    venue = make_venue(account=account)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("a", "buy", "1")
    venue.order("b", "sell", "1")
    venue.bar(1, 100, 101, 99, 100)
    assert account.checked == venue.fills()
    assert [(f.side, f.trade_id) for f in account.checked] == [(Side.BUY, "sim-1"), (Side.SELL, "sim-2")]


@pytest.mark.parametrize(("field", "values", "message"), [
    ("open", {"open": float("nan")}, "bar BTC/USD at ts 120000000000: open must be a positive finite price, got nan"),
    ("low", {"low": -1.0}, "bar BTC/USD at ts 120000000000: low must be a positive finite price, got -1.0"),
    ("volume", {"volume": float("nan")}, "bar BTC/USD at ts 120000000000: volume must be finite and >= 0, got nan"),
    ("range", {"high": 98.0}, "bar BTC/USD at ts 120000000000: high/low 98.0/99.0 do not contain open 100.0 and "
                              "close 100.0"),
])
def test_bad_bar_raises_data_error_naming_symbol_ts_and_field(venue: Venue, field: str, values: dict,
                                                               message: str) -> None:
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "1")
    fields = {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 10.0} | values
    bar = Bar(ts=t(2), symbol="BTC/USD", interval=t(1), **fields)
    with pytest.raises(DataError) as info:
        venue.exchange.on_market_data(bar)
    assert str(info.value) == message


def test_bad_trade_raises_data_error(venue: Venue) -> None:
    venue.order("m1", "buy", "1")
    with pytest.raises(DataError) as info:
        venue.exchange.on_market_data(Trade(ts=5, symbol="BTC/USD", price=-3.0, quantity=1.0))
    assert str(info.value) == "trade BTC/USD at ts 5: price must be a positive finite price, got -3.0"


def test_trades_match_as_one_price_bars(venue: Venue) -> None:
    venue.trade(t(0), 100.0)
    venue.order("m", "buy", "1")
    venue.order("l", "sell", "1", "limit", price="100.5")
    venue.trade(t(0) + 10, 100.2, 3.0)  # the market order fills at the trade's price; the limit is not reached
    venue.trade(t(0) + 20, 100.5, 3.0)  # touching is not trading through
    venue.trade(t(0) + 30, 100.6, 3.0)
    assert [(f.client_order_id, f.ts, f.price) for f in venue.fills()] == [
        ("m", t(0) + 10, Decimal("100.20")), ("l", t(0) + 30, Decimal("100.50"))]


def test_events_of_other_symbols_and_kinds_do_not_match(venue: Venue) -> None:
    venue.order("m", "buy", "1")
    venue.bar(0, 100, 101, 99, 100, symbol="ETH/USD")
    assert venue.fills() == []
    assert venue.exchange.last_price("ETH/USD") == 100.0
    assert venue.exchange.last_price("BTC/USD") is None


def test_funding_and_vol_prints_do_not_replace_the_last_price(venue: Venue) -> None:
    venue.bar(0, 100, 101, 99, 100.5)
    venue.exchange.on_market_data(FundingRate(ts=t(1), symbol="BTC/USD", rate=0.0001))
    venue.exchange.on_market_data(VolIndex(ts=t(1), symbol="BTC/USD", value=0.6))
    assert venue.exchange.last_price("BTC/USD") == 100.5
    venue.exchange.on_market_data(Quote(ts=t(1), symbol="BTC/USD", bid=100.0, ask=101.0))
    assert venue.exchange.last_price("BTC/USD") == 100.5
