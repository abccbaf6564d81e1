"""The real ccxt client, logging at DEBUG under a root handler, never writes its credentials.

ccxt logs each request with its headers (Binance's ``X-MBX-APIKEY`` is the key) and body, and urllib3 logs
its URL; a client held by ``CcxtSource`` has its loggers filtered (``engine.redact``).
"""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, quote_plus

import ccxt
import pytest

from engine.datagen.exchange import CcxtSource
from engine.testing.binance import BinanceServer, make_client

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDENTIALS = [KEY, SECRET, quote(KEY, safe=""), quote_plus(SECRET)]


def test_a_signed_request_at_debug_logs_no_credential(root_at_debug: io.StringIO,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with BinanceServer(symbols=["BTC/USDT"], credentials=(KEY, SECRET), balances={"USDT": 1234.5}) as server:
        client = make_client(server, apiKey=KEY, secret=SECRET)
        CcxtSource("binance", exchange=client)
        with caplog.at_level(logging.DEBUG):
            balance = client.fetch_balance()
            client.fetch(f"{server.url}/api/v3/ping?apiKey={KEY}")  # a key in the URL, as some exchanges send it
    assert balance["USDT"]["free"] == 1234.5  # the server accepted the key and the signature
    shown = root_at_debug.getvalue()
    assert "/api/v3/account?timestamp=" in shown and "Request: {'X-MBX-APIKEY': '***'" in shown
    assert f"{server.url}/api/v3/ping?apiKey=***, Request:" in shown and "GET /api/v3/ping?apiKey=*** " in shown
    assert [c for c in CREDENTIALS if c in shown or c in caplog.text] == []


def test_a_wrong_key_is_refused_by_the_server() -> None:
    with BinanceServer(symbols=["BTC/USDT"], credentials=(KEY, SECRET)) as server:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            make_client(server, apiKey="another", secret=SECRET).fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            make_client(server, apiKey=KEY, secret="another").fetch_balance()
