"""Rejections with reasons, funds checks through the real ledger, and guards against bad market data."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from adapters.sim.testing import Venue, t
from engine.errors import DataError
from engine.events import Bar, FundingRate, OrderStatus, OrderUpdate, Quote, Trade, VolIndex
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
    assert venue.last("y").reason == "duplicate client order id 'y': an order with it is open"


def test_insufficient_funds_cancels_the_order_without_a_fill(make_venue) -> None:
    venue = make_venue(balances={"usd": "150"})
    venue.bar(0, 100, 101, 99, 100)
    venue.order("m1", "buy", "2")
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    assert venue.statuses("m1") == [S.ACCEPTED, S.CANCELLED]
    last = venue.last("m1")
    assert (last.ts, last.remaining_quantity, last.reason) == (
        t(1), Decimal("2"), "fill 'sim-1' of order 'm1' on BTC/USD (buy 2.000 at 100.00): needs 200.40000000 USD, only "
        "150 USD available (free plus what the fill releases of its order's reservation)")


def test_insufficient_base_for_a_resting_sell_cancels_it(make_venue) -> None:
    venue = make_venue(balances={"usd": "0", "btc": "0.5"})
    venue.bar(0, 100, 101, 99, 100)
    venue.order("l", "sell", "1", "limit", price="100.5")
    venue.bar(1, 100, 101, 99, 100)
    assert venue.fills() == []
    assert (venue.last("l").status, venue.last("l").ts) == (S.CANCELLED, t(2))
    assert venue.exchange.open_orders() == []


def test_fills_of_the_same_bar_are_counted_before_the_ledger_applies_them(make_venue) -> None:
    venue = make_venue(balances={"usd": "250"})
    venue.bar(0, 100, 101, 99, 100)
    for cid in ("a", "b", "c"):
        venue.order(cid, "buy", "1")  # each needs 100.2 USD
    venue.bar(1, 100, 101, 99, 100)
    assert [f.client_order_id for f in venue.fills()] == ["a", "b"]
    assert venue.statuses("c") == [S.ACCEPTED, S.CANCELLED]
    assert venue.last("c").reason == ("fill 'sim-3' of order 'c' on BTC/USD (buy 1.000 at 100.00): needs 100.20000000 "
                                      "USD, only 49.60000000 USD available (free plus what the fill releases of "
                                      "its order's reservation, after the fills before it)")
    assert venue.ledger.balance("USD") == Decimal("49.60000000") and venue.ledger.balance("BTC") == 2


def test_a_sell_and_a_buy_of_one_bar_are_counted_in_turn(make_venue) -> None:
    # The sell's proceeds are not in the balance until the bus books it, but the account counts them in: the buy
    # after it is affordable only with them.
    venue = make_venue(balances={"usd": "60", "btc": "1"})
    venue.bar(0, 100, 101, 99, 100)
    venue.order("s", "sell", "1")
    venue.order("b", "buy", "1")
    venue.bar(1, 100, 101, 99, 100)
    assert [f.client_order_id for f in venue.fills()] == ["s", "b"]
    assert venue.ledger.balance("USD") == Decimal("60") - Decimal("0.2") - Decimal("0.2")
    assert venue.ledger.balance("BTC") == 1


def test_the_account_is_asked_about_each_fill_with_the_fills_before_it(make_venue) -> None:
    venue = make_venue(balances={"usd": "1000", "btc": "10"})
    asked: list[tuple[str, list[str]]] = []
    check = venue.ledger.check_fill

    def watch(fill, pending):
        asked.append((fill.trade_id, [f.trade_id for f in pending]))
        assert fill not in venue.events  # asked before it is published
        check(fill, pending)

    venue.exchange._account = SimpleNamespace(check_fill=watch)
    venue.bar(0, 100, 101, 99, 100)
    venue.order("a", "buy", "1")
    venue.order("b", "sell", "1")
    venue.bar(1, 100, 101, 99, 100)
    assert asked == [("sim-1", []), ("sim-2", ["sim-1"])]
    assert [f.trade_id for f in venue.fills()] == ["sim-1", "sim-2"]


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
