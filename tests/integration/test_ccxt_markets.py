"""Markets from the exchange: the real ccxt client loads the loopback Binance server's exchangeInfo, and the
engine's pre-trade checks apply the exchange's tick, lot step, minimum size and notional."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from adapters.ccxt import markets_from_exchange
from engine.errors import ConfigError, OrderRejected
from engine.testing.binance import BinanceServer, make_client


def test_markets_come_from_load_markets_and_drive_the_pre_trade_checks() -> None:
    with BinanceServer(symbols=["BTC/USDT", "ETH/USDT"]) as server:
        client = make_client(server)
        client.load_markets()
        markets = markets_from_exchange(client, ["BTC/USDT", "ETH/USDT"])
    btc = markets["BTC/USDT"]
    assert (btc.base, btc.quote) == ("BTC", "USDT")
    assert (btc.price_increment, btc.size_increment) == (Decimal("0.01"), Decimal("0.00001"))
    assert (btc.min_size, btc.min_notional) == (Decimal("0.00001"), Decimal("5"))
    btc.check_order("ok", Decimal("0.001"), Decimal("50000.01"), None, None)
    with pytest.raises(OrderRejected, match=r"not a multiple of the size increment 0\.00001"):
        btc.check_order("x", Decimal("0.000015"), Decimal("50000"), None, None)
    with pytest.raises(OrderRejected, match=r"notional 4\.0000 is below the minimum 5"):
        btc.check_order("y", Decimal("0.0001"), Decimal("40000"), None, None)


def test_an_unknown_symbol_or_unloaded_markets_are_config_errors() -> None:
    with BinanceServer(symbols=["BTC/USDT"]) as server:
        client = make_client(server)
        with pytest.raises(ConfigError, match="markets are not loaded"):
            markets_from_exchange(client, ["BTC/USDT"])
        client.load_markets()
        with pytest.raises(ConfigError, match="binance does not list symbol 'DOGE/USDT'"):
            markets_from_exchange(client, ["DOGE/USDT"])


def test_decimal_places_precision_becomes_a_step() -> None:
    exchange = SimpleNamespace(id="kraken", precisionMode=2, markets={
        "BTC/EUR": {"base": "BTC", "quote": "EUR", "precision": {"price": 1, "amount": 8},
                    "limits": {"amount": {"min": 0.0001}, "cost": {"min": None}}}})
    market = markets_from_exchange(exchange, ["BTC/EUR"])["BTC/EUR"]
    assert (market.price_increment, market.size_increment) == (Decimal("0.1"), Decimal("1E-8"))
    assert (market.min_size, market.min_notional) == (Decimal("0.0001"), Decimal(0))
    exchange.precisionMode = 3
    with pytest.raises(ConfigError, match="significant digits"):
        markets_from_exchange(exchange, ["BTC/EUR"])
