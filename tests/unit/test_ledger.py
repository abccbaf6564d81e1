"""The ledger: exact booking of fills, reservations and set-aside; nothing half-applied; conservation of money."""

from __future__ import annotations

import contextlib
from decimal import Decimal as D

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.bus import EventBus
from engine.errors import ConfigError, InsufficientFunds, OrderRejected
from engine.events import Bar, Fill, Liquidity, Order, OrderStatus, OrderType, OrderUpdate, Side
from engine.ledger import JournalEntry, Ledger
from engine.markets import Market, Markets
from engine.position import Position
from engine.testing.events import make_fill, make_order


def make_ledger(usd: str = "10000", **balances: str) -> Ledger:
    markets = Markets([Market.from_symbol("BTC/USD"), Market.from_symbol("ETH/USD"), Market.from_symbol("ETH/BTC")])
    return Ledger(markets, "USD", {"USD": D(usd), **{k: D(v) for k, v in balances.items()}})


def fill(side: Side, qty: str, price: str, fee: str = "0", fee_currency: str = "USD", *, symbol: str = "BTC/USD",
         order: str = "o1", ts: int = 1) -> Fill:
    return make_fill(order, side, qty, price, fee=fee, fee_currency=fee_currency, symbol=symbol, ts=ts)


def order(side: Side, qty: str, price: str | None = None, *, cid: str = "o1", symbol: str = "BTC/USD",
          type: OrderType | None = None, stop: str | None = None) -> Order:
    return make_order(cid, side, qty, price, stop_price=stop, type=type, symbol=symbol)


BUY, SELL = Side.BUY, Side.SELL


# -- booking fills ---------------------------------------------------------------------------------------------
def test_buy_then_sell_with_fees_books_exact_balances_and_pnl() -> None:
    ledger = make_ledger()
    ledger.apply_fill(fill(BUY, "0.4", "20000", fee="8"))
    assert ledger.balance("USD") == D(10000) - D(8000) - D(8) == D(1992)
    assert ledger.balance("BTC") == D("0.4")
    assert ledger.position("BTC/USD") == Position("BTC/USD", D("0.4"), D(20000), D(0), D(8), D(8000))
    ledger.apply_fill(fill(SELL, "0.4", "22000", fee="8.8"))
    assert ledger.balance("USD") == D(1992) + D(8800) - D("8.8") == D("10783.2")
    assert ledger.balance("BTC") == 0
    assert ledger.realized_pnl() == D(800)
    assert ledger.fees_paid() == {"USD": D("16.8")}
    assert ledger.positions() == {}
    assert ledger.position("BTC/USD").fees == D("16.8")


def test_scaling_in_averages_the_price_and_partial_sells_realize_against_it() -> None:
    ledger = make_ledger()
    ledger.apply_fill(fill(BUY, "1", "100"))
    ledger.apply_fill(fill(BUY, "3", "200"))
    assert ledger.position("BTC/USD").average_price == D(175)
    ledger.apply_fill(fill(SELL, "1", "300"))
    position = ledger.position("BTC/USD")
    assert (position.quantity, position.average_price, position.realized_pnl) == (D(3), D(175), D(125))
    ledger.apply_fill(fill(SELL, "3", "150"))
    assert ledger.realized_pnl() == D(125) - D(75)
    assert ledger.balance("USD") == D(10000) - 100 - 600 + 300 + 450


def test_partial_sell_of_an_uneven_average_keeps_the_books_exact() -> None:
    ledger = make_ledger()
    ledger.apply_fill(fill(BUY, "1", "100"))
    ledger.apply_fill(fill(BUY, "2", "101"))  # average 100.666...
    ledger.apply_fill(fill(SELL, "1", "110"))
    position = ledger.position("BTC/USD")
    assert position.cost + ledger.balance("USD") == D(10000) + position.realized_pnl
    ledger.apply_fill(fill(SELL, "2", "90"))
    assert ledger.position("BTC/USD").cost == 0
    assert ledger.balance("USD") == D(10000) + ledger.realized_pnl() == D(10000) - 302 + 110 + 180


def test_fee_in_base_currency_reduces_the_holding_and_is_valued_at_the_fill_price() -> None:
    ledger = make_ledger()
    ledger.apply_fill(fill(BUY, "1", "100", fee="0.001", fee_currency="BTC"))
    assert ledger.balance("BTC") == D("0.999")
    assert ledger.balance("USD") == D(9900)
    position = ledger.position("BTC/USD")
    assert (position.quantity, position.average_price, position.fees) == (D("0.999"), D(100), D("0.1"))
    assert ledger.fees_paid() == {"BTC": D("0.001")}
    with pytest.raises(InsufficientFunds):
        ledger.apply_fill(fill(SELL, "0.999", "100", fee="0.001", fee_currency="BTC"))
    ledger.apply_fill(fill(SELL, "0.998", "100", fee="0.001", fee_currency="BTC"))
    assert ledger.balance("BTC") == 0


def test_fee_in_a_third_currency_is_paid_from_it() -> None:
    ledger = make_ledger(BNB="1")
    ledger.apply_fill(fill(BUY, "1", "100", fee="0.25", fee_currency="BNB"))
    assert ledger.balance("BNB") == D("0.75")
    assert ledger.fees_paid() == {"BNB": D("0.25")}
    assert ledger.position("BTC/USD").fees == 0
    with pytest.raises(InsufficientFunds, match=r"needs 1 BNB, only 0\.75 BNB"):
        ledger.apply_fill(fill(BUY, "1", "100", fee="1", fee_currency="BNB"))


def test_overspending_is_refused_by_name_and_changes_nothing() -> None:
    ledger = make_ledger("1000")
    ledger.apply_fill(fill(BUY, "1", "500"))
    ledger.mark("BTC/USD", 510.0)
    before, equity = ledger.snapshot(), ledger.equity()
    bad = fill(BUY, "1", "500", fee="1", order="big")
    with pytest.raises(InsufficientFunds) as excinfo:
        ledger.apply_fill(bad)
    message = str(excinfo.value)
    assert "'big'" in message and "needs 501 USD" in message and "only 500 USD" in message
    with pytest.raises(InsufficientFunds):
        ledger.check_fill(bad, ())
    assert ledger.snapshot() == before
    assert ledger.equity() == equity


def test_selling_more_than_held_is_refused() -> None:
    ledger = make_ledger()
    ledger.apply_fill(fill(BUY, "1", "100"))
    before = ledger.snapshot()
    with pytest.raises(InsufficientFunds, match=r"needs 1\.5 BTC, only 1 BTC"):
        ledger.apply_fill(fill(SELL, "1.5", "100"))
    assert ledger.snapshot() == before


@pytest.mark.parametrize(("field", "value", "error"), [
    ("price", D(0), ValueError), ("price", D("NaN"), ValueError), ("quantity", D(-1), ValueError),
    ("fee", D("Infinity"), ValueError), ("symbol", "DOGE/USD", ConfigError),
])
def test_malformed_fills_are_refused_before_anything_changes(field: str, value: object, error: type) -> None:
    ledger = make_ledger()
    before = ledger.snapshot()
    kwargs = {"ts": 1, "client_order_id": "o", "trade_id": "t", "symbol": "BTC/USD", "side": BUY,
              "price": D(100), "quantity": D(1), "fee": D(0), "fee_currency": "USD", "liquidity": Liquidity.MAKER}
    kwargs[field] = value
    with pytest.raises(error):
        ledger.apply_fill(Fill(**kwargs))  # type: ignore[arg-type]
    assert ledger.snapshot() == before


def test_an_id_held_by_an_open_reservation_is_refused_and_changes_nothing() -> None:
    # Ids are the order manager's to keep unique (tests/unit/test_orders.py); the ledger guards its own books.
    ledger = make_ledger("1000")
    ledger.reserve(order(BUY, "1", "100", cid="o"))
    before = ledger.snapshot()
    with pytest.raises(OrderRejected, match="order 'o': duplicate client order id"):
        ledger.reserve(order(BUY, "2", "100", cid="o"))
    assert ledger.snapshot() == before


# -- reservations and set-aside --------------------------------------------------------------------------------
def test_reserve_holds_quote_for_buys_with_the_fee_rate_and_base_for_sells() -> None:
    ledger = Ledger(Markets([Market.from_symbol("BTC/USD")]), "USD", {"USD": D(1000), "BTC": D(2)},
                    reserve_fee_rate=D("0.001"))
    ledger.reserve(order(BUY, "2", "100", cid="b"))
    assert ledger.reserved("USD") == D("200.2")
    assert ledger.free("USD") == D("799.8")
    ledger.reserve(order(SELL, "1.5", "120", cid="s"))
    assert (ledger.reserved("BTC"), ledger.free("BTC")) == (D("1.5"), D("0.5"))
    ledger.reserve(order(BUY, "1", cid="m"), reference_price=D(50))
    ledger.reserve(order(BUY, "1", cid="st", type=OrderType.STOP_MARKET, stop="60"))
    assert ledger.reserved("USD") == D("200.2") + D("50.05") + D("60.06")
    ledger.release("b")
    ledger.release("nobody")
    assert ledger.reserved("USD") == D("110.11")
    assert ledger.reservation("b") == 0 and ledger.reservation("m") == D("50.05")


def test_the_reserved_total_is_the_same_decimal_with_one_holder_or_several() -> None:
    """One order's total skips the sum but must give the very Decimal (digits and exponent) the sum gives."""
    ledger = Ledger(Markets([Market.from_symbol("BTC/USD")]), "USD", {"USD": D(10_000)})
    ledger.reserve(order(BUY, "1", "1E+2", cid="a"))  # 1 x 1E+2: a positive exponent, which 0 + x drops
    ledger.reserve(order(BUY, "1", "2E+2", cid="b"))
    totals = [entry.balance_after for entry in ledger.journal if entry.kind == "reserve"]
    assert [t.as_tuple() for t in totals] == [sum([D("1E+2")], D(0)).as_tuple(),
                                              sum([D("1E+2"), D("2E+2")], D(0)).as_tuple()]
    assert str(totals[0]) == "100"


def test_reserve_refusals_name_the_order_and_change_nothing() -> None:
    ledger = make_ledger("100")
    ledger.reserve(order(BUY, "1", "50", cid="a"))
    before = ledger.snapshot()
    with pytest.raises(InsufficientFunds, match=r"order 'b'.*needs 60 USD, only 50 USD free"):
        ledger.reserve(order(BUY, "1", "60", cid="b"))
    with pytest.raises(OrderRejected, match="duplicate"):
        ledger.reserve(order(BUY, "0.1", "50", cid="a"))
    with pytest.raises(OrderRejected, match="reference price"):
        ledger.reserve(order(BUY, "0.1", cid="c"))
    with pytest.raises(InsufficientFunds, match="needs 1 BTC, only 0 BTC"):
        ledger.reserve(order(SELL, "1", cid="d"))
    with pytest.raises(ConfigError, match="DOGE"):
        ledger.reserve(order(BUY, "1", "1", cid="e", symbol="DOGE/USD"))
    assert ledger.snapshot() == before


def test_fills_shrink_the_reservation_by_their_share_and_may_use_it() -> None:
    ledger = make_ledger("1000")
    ledger.reserve(order(BUY, "4", "200", cid="o1"))
    assert ledger.free("USD") == 200
    ledger.apply_fill(fill(BUY, "1", "200", order="o1"))  # 200 from the order's own reservation
    assert (ledger.reserved("USD"), ledger.free("USD")) == (D(600), D(200))
    ledger.apply_fill(fill(BUY, "1", "190", fee="1", order="o1"))
    assert (ledger.reserved("USD"), ledger.free("USD")) == (D(400), D(209))
    with pytest.raises(InsufficientFunds, match="only 609 USD available"):
        ledger.check_fill(fill(BUY, "2", "305", order="o1"), ())
    ledger.apply_fill(fill(BUY, "2", "200", order="o1"))
    assert ledger.reserved("USD") == 0 and ledger.reservation("o1") == 0
    assert ledger.balance("USD") == D(1000) - 200 - 191 - 400


def test_a_partial_fill_uses_only_its_share_of_the_reservation_so_the_rest_stays_backed() -> None:
    # 4 reserved at 200 (800 held, 200 free). A fill of 1 at 450 releases 200 of the reservation: with the 200 free,
    # 400 may pay for it. Counting the whole reservation would book it and leave the other 3's 600 unbacked.
    ledger = make_ledger("1000")
    ledger.reserve(order(BUY, "4", "200", cid="o1"))
    before = ledger.snapshot()
    with pytest.raises(InsufficientFunds, match="needs 450 USD, only 400 USD available"):
        ledger.apply_fill(fill(BUY, "1", "450", order="o1"))
    assert ledger.snapshot() == before
    ledger.apply_fill(fill(BUY, "1", "390", order="o1"))
    assert (ledger.balance("USD"), ledger.reserved("USD"), ledger.free("USD")) == (D(610), D(600), D(10))


def test_set_aside_blocks_spending_but_counts_in_equity() -> None:
    ledger = make_ledger("1000")
    ledger.set_aside(D(700))
    assert (ledger.set_aside_amount(), ledger.free("USD"), ledger.equity()) == (D(700), D(300), 1000.0)
    with pytest.raises(InsufficientFunds, match="needs 400 USD, only 300 USD"):
        ledger.reserve(order(BUY, "1", "400", cid="x"))
    with pytest.raises(InsufficientFunds):
        ledger.apply_fill(fill(BUY, "1", "400"))
    with pytest.raises(InsufficientFunds, match="only 300 USD free"):
        ledger.set_aside(D(301))
    with pytest.raises(ValueError, match="only 700 USD set aside"):
        ledger.release_set_aside(D(701))
    ledger.release_set_aside(D(200))
    ledger.reserve(order(BUY, "1", "400", cid="x"))
    assert ledger.free("USD") == D(100)
    assert ledger.balance("USD") == ledger.free("USD") + ledger.reserved("USD") + ledger.set_aside_amount("USD")


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
                                    OrderStatus.FILLED])
def test_terminal_order_updates_release_the_reservation(status: OrderStatus) -> None:
    ledger = make_ledger("1000")
    ledger.reserve(order(BUY, "2", "100", cid="o1"))
    ledger.apply_fill(fill(BUY, "1", "100", order="o1"))
    ledger.on_order_update(OrderUpdate(ts=7, client_order_id="o1", symbol="BTC/USD",
                                       status=OrderStatus.PARTIALLY_FILLED))
    assert ledger.reserved("USD") == 100
    ledger.on_order_update(OrderUpdate(ts=9, client_order_id="o1", symbol="BTC/USD", status=status))
    assert ledger.reserved("USD") == 0 and ledger.free("USD") == 900
    assert ledger.journal[-1] == JournalEntry(9, "release", "USD", D(-100), D(0), "o1")


# -- valuation ---------------------------------------------------------------------------------------------------
def test_mark_equity_and_unrealized_pnl() -> None:
    ledger = make_ledger("1000", ETH="2")
    ledger.apply_fill(fill(BUY, "2", "100"))
    assert ledger.equity() == 800.0 + 200.0  # BTC at its average price; ETH has no mark and no position
    assert ledger.unrealized_pnl("BTC/USD") == 0.0
    ledger.on_bar(Bar(ts=2, symbol="BTC/USD", open=1, high=1, low=1, close=130.0, volume=1, interval=1))
    ledger.mark("ETH/USD", 10.0)
    assert ledger.last_price("BTC/USD") == 130.0 and ledger.last_price("ADA/USD") is None
    assert ledger.equity() == 800.0 + 260.0 + 20.0
    assert ledger.unrealized_pnl("BTC/USD") == 60.0
    assert ledger.unrealized_pnl("ETH/USD") == 0.0


def test_equity_values_currencies_through_a_chain_of_markets() -> None:
    ledger = Ledger(Markets([Market.from_symbol("ETH/BTC"), Market.from_symbol("BTC/USD")]), "USD",
                    {"USD": D(100), "ETH": D(3)})
    ledger.mark("ETH/BTC", 0.05)
    ledger.mark("BTC/USD", 20000.0)
    assert ledger.equity() == pytest.approx(100 + 3 * 0.05 * 20000)
    inverse = Ledger(Markets([Market.from_symbol("USD/EUR")]), "EUR", {"USD": D(10)})
    inverse.mark("USD/EUR", 0.5)
    assert inverse.equity() == 5.0


def test_equity_refuses_a_currency_it_cannot_value() -> None:
    ledger = make_ledger("100", BNB="1")
    with pytest.raises(ConfigError, match="cannot value BNB in USD"):
        ledger.equity()


# -- journal, clock, bus -----------------------------------------------------------------------------------------
def test_journal_records_every_change_with_its_reference() -> None:
    class Clock:
        def now(self) -> int:
            return 42

    markets = Markets([Market.from_symbol("BTC/USD")])
    ledger = Ledger(markets, "USD", {"USD": D(1000)}, clock=Clock())  # type: ignore[arg-type]
    ledger.set_aside(D(100))
    ledger.reserve(order(BUY, "1", "300", cid="o1"))
    f = Fill(ts=5, client_order_id="o1", trade_id="t9", symbol="BTC/USD", side=BUY, price=D(300),
             quantity=D(1), fee=D("0.3"), fee_currency="USD", liquidity=Liquidity.MAKER)
    ledger.apply_fill(f)
    ledger.release_set_aside(D(100))
    assert ledger.journal == [
        JournalEntry(42, "deposit", "USD", D(1000), D(1000), "initial"),
        JournalEntry(42, "set_aside", "USD", D(100), D(100), ""),
        JournalEntry(42, "reserve", "USD", D(300), D(300), "o1"),
        JournalEntry(5, "fill", "USD", D(-300), D(700), "o1/t9"),
        JournalEntry(5, "fill", "BTC", D(1), D(1), "o1/t9"),
        JournalEntry(5, "fee", "USD", D("-0.3"), D("699.7"), "o1/t9"),
        JournalEntry(5, "release", "USD", D(-300), D(0), "o1"),
        JournalEntry(42, "release_set_aside", "USD", D(-100), D(0), ""),
    ]


def test_journal_is_a_read_only_sequence_of_entries() -> None:
    ledger = make_ledger("10")
    ledger.deposit("USD", D(5), ts=3, note="top-up")
    journal = ledger.journal
    assert len(journal) == 2
    assert list(journal) == journal[:] == [JournalEntry(0, "deposit", "USD", D(10), D(10), "initial"),
                                           JournalEntry(3, "deposit", "USD", D(5), D(15), "top-up")]
    assert journal[0] == JournalEntry(0, "deposit", "USD", D(10), D(10), "initial")
    assert journal != [journal[0]]
    assert not hasattr(journal, "append")
    with pytest.raises(IndexError):
        journal[2]


def test_deposit_and_withdraw_check_their_amounts() -> None:
    ledger = make_ledger("10")
    ledger.deposit("USD", D(5), ts=3, note="top-up")
    assert ledger.journal[-1] == JournalEntry(3, "deposit", "USD", D(5), D(15), "top-up")
    for bad in (D(0), D(-1), D("NaN")):
        with pytest.raises(ValueError, match="deposit of USD"):
            ledger.deposit("USD", bad)
    with pytest.raises(InsufficientFunds, match="only 15 USD free"):
        ledger.withdraw("USD", D(16))
    ledger.withdraw("USD", D(15))
    assert ledger.balance("USD") == 0 and ledger.equity() == 0.0


def test_bus_routes_fills_updates_and_bars_to_the_ledger() -> None:
    ledger = make_ledger("1000")
    bus = EventBus()
    assert set(bus.subscribe_object(ledger)) == {Bar, Fill, OrderUpdate}
    ledger.reserve(order(BUY, "1", "100", cid="o1"))
    bus.publish(fill(BUY, "0.5", "100", order="o1"))
    bus.publish(OrderUpdate(ts=2, client_order_id="o1", symbol="BTC/USD", status=OrderStatus.CANCELLED))
    bus.publish(Bar(ts=3, symbol="BTC/USD", open=1, high=1, low=1, close=120.0, volume=1, interval=1))
    bus.dispatch()
    assert (ledger.balance("BTC"), ledger.reserved("USD"), ledger.equity()) == (D("0.5"), D(0), 950.0 + 60.0)


# -- properties --------------------------------------------------------------------------------------------------
SYMBOLS = ("BTC/USD", "ETH/USD")
prices = st.integers(1, 5_000_000).map(lambda n: D(n).scaleb(-2))
quantities = st.integers(1, 300_000_000).map(lambda n: D(n).scaleb(-8))
fees = st.integers(0, 2_000).map(lambda n: D(n).scaleb(-4))
operations = st.lists(st.tuples(st.sampled_from(["fill", "fill", "fill", "reserve", "release"]),
                                st.sampled_from(SYMBOLS), st.sampled_from([BUY, SELL]), quantities, prices, fees,
                                st.sampled_from(["quote", "base", "BNB"]), st.integers(0, 3)),
                      min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_any_sequence_of_fills_conserves_money_and_never_overdraws(ops: list[tuple]) -> None:
    markets = Markets([Market.from_symbol(s) for s in (*SYMBOLS, "BNB/USD")])
    initial = D(50_000)
    ledger = Ledger(markets, "USD", {"USD": initial, "BTC": D("0.5"), "BNB": D(1)}, reserve_fee_rate=D("0.001"))
    for n, (kind, symbol, side, quantity, price, fee, fee_in, back) in enumerate(ops):
        cid = f"o{n - 1 - back}"  # the order reserved a few steps back, if that step was a reservation
        base = markets[symbol].base
        before, equity = ledger.snapshot(), ledger.equity()
        try:
            if kind == "reserve":
                ledger.reserve(Order(ts=n, client_order_id=f"o{n}", symbol=symbol, side=side,
                                     type=OrderType.LIMIT, quantity=quantity, price=price))
            elif kind == "release":
                ledger.release(cid)
            else:
                fee_currency = {"quote": "USD", "base": base}.get(fee_in, fee_in)
                scaled = fee * price if fee_in == "quote" else fee.scaleb(-2)
                event("fill with reservation" if ledger.reservation(cid) else "fill")
                ledger.apply_fill(Fill(ts=n, client_order_id=cid, trade_id=f"t{n}", symbol=symbol,
                                       side=side, price=price, quantity=quantity, fee=scaled,
                                       fee_currency=fee_currency, liquidity=Liquidity.TAKER))
        except InsufficientFunds:
            event(f"{kind} refused")
            assert ledger.snapshot() == before  # (c) a refused write changes nothing
            assert ledger.equity() == equity
        # (b) a spot account never holds a negative balance
        assert all(amount >= 0 for amount in ledger.snapshot()["balances"].values())
        assert all(ledger.reserved(c) >= 0 for c in ("USD", "BTC", "ETH"))
        # (a) cash + holdings at cost + fees == initial cash + realized PnL, exactly
        positions = [ledger.position(s) for s in SYMBOLS]
        assert (ledger.balance("USD") + sum(p.cost for p in positions) + sum(p.fees for p in positions)
                == initial + sum(p.realized_pnl for p in positions))
        for p in positions:
            assert p.quantity * p.average_price == pytest.approx(p.cost, rel=D("1e-20"), abs=D("1e-20"))
            assert p.quantity == ledger.balance(markets[p.symbol].base) - (D("0.5") if p.symbol == "BTC/USD" else 0)


def test_a_float_reference_price_reserves_as_the_decimal_of_its_repr() -> None:
    """The strategy hands the last price over as the float it is; the ledger reads it only for a market buy."""
    as_float, as_decimal = make_ledger(), make_ledger()
    as_float.reserve(order(BUY, "2", cid="m"), reference_price=100.1)
    as_decimal.reserve(order(BUY, "2", cid="m"), reference_price=D("100.1"))
    assert as_float.reserved("USD") == as_decimal.reserved("USD") == D("200.2")
    assert as_float.reservation("m").as_tuple() == as_decimal.reservation("m").as_tuple()
    with pytest.raises(ValueError, match="order 'n': reference price must be a positive finite number, got nan"):
        as_float.reserve(order(BUY, "1", cid="n"), reference_price=float("nan"))
    assert as_float.reserved("USD") == D("200.2")  # the refusal changed nothing


def test_the_minimum_notional_reads_a_float_reference_price() -> None:
    market = Market.from_symbol("BTC/USD", min_notional=D("10"))
    market.check_order("ok", D("0.1"), None, None, 100.0)
    with pytest.raises(OrderRejected, match=r"notional 9\.99 is below the minimum 10"):
        market.check_order("low", D("0.1"), None, None, 99.9)
    market.check_order("no price yet", D("0.1"), None, None, None)


_SIDES = st.sampled_from([BUY, SELL])


@settings(max_examples=150, deadline=None)
@given(orders=st.lists(st.tuples(_SIDES, st.integers(1, 5), st.integers(80, 120)), min_size=1, max_size=4),
       fills=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 4), st.integers(70, 130), st.integers(0, 3)),
                      min_size=1, max_size=8),
       usd=st.integers(0, 1500), btc=st.integers(0, 6))
def test_a_fill_checked_after_pending_fills_is_judged_as_if_they_were_booked(orders, fills, usd, btc) -> None:
    """``check_fill(f, pending)`` accepts exactly what booking ``pending`` first and checking ``f`` accepts."""

    def setup() -> Ledger:
        ledger = make_ledger(str(usd), BTC=str(btc))
        for i, (side, qty, price) in enumerate(orders):
            # an order the account cannot hold reserves nothing: its fills are paid from what is free
            with contextlib.suppress(InsufficientFunds):
                ledger.reserve(order(side, str(qty), str(price), cid=f"o{i}"))
        return ledger

    booked, planned = setup(), setup()
    pending: list[Fill] = []
    for index, qty, price, fee in fills:
        side = orders[index][0] if index < len(orders) else BUY  # index beyond the orders: no reservation
        candidate = fill(side, str(qty), str(price), fee=str(fee), order=f"o{index}")
        try:
            booked.check_fill(candidate, ())
            sequential = None
        except InsufficientFunds as exc:
            sequential = exc
        try:
            planned.check_fill(candidate, pending)
            with_pending = None
        except InsufficientFunds as exc:
            with_pending = exc
        assert (sequential is None) == (with_pending is None), (sequential, with_pending)
        if sequential is not None:
            assert str(sequential).split("only ")[1].split(" ")[0] == str(with_pending).split("only ")[1].split(" ")[0]
            event("refused")
            continue
        booked.apply_fill(candidate)
        pending.append(candidate)
    assert planned.balance("USD") == usd and planned.balance("BTC") == btc  # checking never booked anything
