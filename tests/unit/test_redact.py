"""engine.redact: credentials in every form they travel in are masked in texts, exception chains and log records."""

from __future__ import annotations

import base64
import gc
import io
import logging
import traceback
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import ccxt
import pandas as pd
import pytest
import requests

from engine.datagen.exchange import CcxtSource
from engine.datagen.query import Query
from engine.errors import ConfigError
from engine.redact import (
    HTTP_LOGGER,
    CredentialFilter,
    RedactedError,
    call_redacted,
    credentials,
    guard_logger,
    redact_exception,
    redactor,
)

KEY = "AK/ey+with=odd&chars 01"
SECRET = "s3cr3t/+=?#%~é"


def forms(*secrets: str) -> list[str]:
    """Return the forms a test plants: each secret as is, URL-encoded three ways, in base64, and Basic auth."""
    out = [f for s in secrets for f in (s, quote(s, safe=""), quote_plus(s), base64.b64encode(s.encode()).decode())]
    return [*out, base64.b64encode(":".join(secrets).encode()).decode()]


def leaks(text: str) -> list[str]:
    return [form for form in forms(KEY, SECRET) if form in text]


class Client:
    """Enough of a ccxt client: credentials and a logger of its own."""

    def __init__(self, logger: logging.Logger | None = None, **settings: object) -> None:
        self.apiKey, self.secret, self.uid = KEY, SECRET, ""
        self.logger = logger or logging.getLogger("ccxt.base.exchange")
        self.__dict__.update(settings)


def planted_error() -> ccxt.AuthenticationError:
    """Return an AuthenticationError raised the way ccxt raises one, chained to the HTTP library's error.

    Between them, the messages, the chained cause and context, the response and a note hold every form of the
    key and the secret that ``forms`` lists.
    """
    k_quoted, k_plus, k_64, s_quoted, s_plus, s_64, basic = forms(KEY, SECRET)[1:4] + forms(KEY, SECRET)[5:]
    url = f"https://api.example.com/v3/account?apiKey={k_quoted}&key={k_plus}&recvWindow=5000"
    response = requests.Response()
    response.status_code, response.url = 401, url
    try:
        try:
            try:
                raise ValueError(f"header Authorization: Basic {basic}")
            except ValueError as exc:
                raise requests.HTTPError(f"401 Client Error for url: {url} (token {k_64})", response=response) from exc
        except requests.HTTPError as cause:
            raise ccxt.AuthenticationError(f'example GET {url} {{"key": "{KEY}", "secret": "{s_plus}", '
                                           f'"s": "{s_quoted}", "b": "{s_64}"}}') from cause
    except ccxt.AuthenticationError as exc:
        exc.add_note(f"signed with {SECRET}")
        return exc


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def everything_shown(exc: BaseException) -> str:
    """Return all an exception shows: str, repr, args and attributes of each link, its formatted traceback, and
    the local variables of the frames it passed through outside this file (whose own frames hold the planted
    error)."""
    parts = [f"{e!s} {e!r} {e.args!r} {vars(e)!r}" for e in chain(exc)]
    parts += traceback.format_exception(exc)
    for link in chain(exc):
        frames = [(f, n) for f, n in traceback.walk_tb(link.__traceback__) if f.f_code.co_filename != __file__]
        parts += traceback.StackSummary.extract(iter(frames), capture_locals=True).format()
    return "\n".join(parts)


def test_the_planted_error_shows_every_form_before_redaction() -> None:
    assert leaks(everything_shown(planted_error())) == forms(KEY, SECRET)


def test_redactor_masks_each_form_and_nothing_else() -> None:
    redact = redactor([KEY, SECRET, ""])
    text = " | ".join(forms(KEY, SECRET)) + " | public words stay"
    assert redact(text) == " | ".join(["***"] * 9) + " | public words stay"
    assert redact(quote(KEY, safe="").replace("%2F", "%2f")) == "***"  # lower-case hex escapes too
    assert redact(repr({"k": f"line\n{SECRET}"})) == "{'k': 'line\\n***'}"
    assert not redactor(["", ""]) and redactor([]).__call__("a") == "a"


def test_redactor_masks_a_secret_inside_another_whole() -> None:
    assert redactor(["abcd", "xxabcdxx"])("[xxabcdxx] [abcd]") == "[***] [***]"


def test_credentials_reads_the_fields_ccxt_declares() -> None:
    client = Client(requiredCredentials={"apiKey": True, "memo": False}, memo="m3mo", password=None, twofa=True)
    assert sorted(credentials(client)) == sorted([KEY, "m3mo", SECRET])


def test_redact_exception_rebuilds_the_chain_with_types_and_no_secret() -> None:
    original = planted_error()
    clean = redact_exception(original, redactor([KEY, SECRET]))
    assert not leaks(everything_shown(clean))
    assert [type(e) for e in chain(clean)] == [type(e) for e in chain(original)]
    assert str(clean) == ('example GET https://api.example.com/v3/account?apiKey=***&key=***&recvWindow=5000 '
                          '{"key": "***", "secret": "***", "s": "***", "b": "***"}')
    assert clean.__notes__ == ["signed with ***"]  # type: ignore[attr-defined]
    cause = clean.__cause__
    assert isinstance(cause, requests.HTTPError) and cause.response == "<Response [401]>"  # type: ignore[comparison-overlap]
    assert isinstance(cause.__context__, ValueError) and str(cause.__context__) == "header Authorization: Basic ***"
    assert all(e.__traceback__ is None for e in chain(clean))


def test_redact_exception_copes_with_loops_and_types_it_cannot_rebuild() -> None:
    class Picky(Exception):
        def __new__(cls, *, code: int) -> Picky:
            return super().__new__(cls)

    looped = RuntimeError(f"key {KEY}")
    looped.__context__ = Picky.__new__(Picky, code=1)
    looped.__context__.args = (f"secret {SECRET}",)
    looped.__context__.__context__ = looped
    clean = redact_exception(looped, redactor([KEY, SECRET]))
    assert str(clean) == "key ***" and clean.__context__ is not None
    assert isinstance(clean.__context__, RedactedError) and clean.__context__.__context__ is clean
    assert str(clean.__context__).endswith("Picky: secret ***")


def test_call_redacted_raises_a_clean_copy_with_no_trace_of_the_original() -> None:
    original = planted_error()

    def fetch() -> None:
        raise original

    with pytest.raises(ccxt.AuthenticationError) as info:
        call_redacted(Client(), fetch)
    assert info.value is not original and not leaks(everything_shown(info.value))
    assert all(e is not original for e in chain(info.value))


def test_call_redacted_passes_results_and_errors_of_a_client_without_credentials() -> None:
    original = planted_error()

    def fetch() -> None:
        raise original

    assert call_redacted(Client(), lambda x: x + 1, 1) == 2
    with pytest.raises(ccxt.AuthenticationError) as info:
        call_redacted(Client(apiKey="", secret=""), fetch)
    assert info.value is original


def test_guarded_logger_withholds_headers_and_masks_credentials_at_debug(root_at_debug: io.StringIO,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redact.client")
    client = Client(logger)
    guard_logger(client)
    guard_logger(client)  # once per client
    try:
        assert sum(isinstance(f, CredentialFilter) for f in logger.filters) == 1
        url = f"https://api.example.com/v3/account?apiKey={quote(KEY, safe='')}"
        logger.debug("%s %s, Request: %s %s", "POST", url, {"X-MBX-APIKEY": KEY, "X-Other": "public"},
                     f"secret={quote_plus(SECRET)}&x=1")
        logging.getLogger(HTTP_LOGGER).debug('%s://%s "%s %s" %s', "https", "api.example.com", "GET", url, 200)
        try:
            raise ccxt.AuthenticationError(f"refused {KEY}")
        except ccxt.AuthenticationError:
            logger.exception("failed")
        shown = root_at_debug.getvalue()
        assert not leaks(shown) and not leaks(caplog.text)
        assert ("DEBUG tests.redact.client POST https://api.example.com/v3/account?apiKey=***, Request: "
                "{'X-MBX-APIKEY': '***', 'X-Other': '***'} secret=***&x=1") in shown
        assert 'GET https://api.example.com/v3/account?apiKey=***" 200' in shown
        assert "AuthenticationError: refused ***" in shown
    finally:
        del client
        gc.collect()
    assert not any(isinstance(f, CredentialFilter) for f in logger.filters)  # gone with its client


def test_the_filter_reads_credentials_set_after_it_was_fitted(root_at_debug: io.StringIO) -> None:
    logger = logging.getLogger("tests.redact.later")
    client = Client(logger, apiKey="", secret="")
    guard_logger(client)
    client.apiKey = KEY
    logger.debug("key %s", KEY)
    assert "key ***" in root_at_debug.getvalue() and KEY not in root_at_debug.getvalue()


def test_a_ccxt_error_through_ccxt_source_keeps_no_credential(caplog: pytest.LogCaptureFixture) -> None:
    client = ccxt.binance({"apiKey": KEY, "secret": SECRET, "options": {"fetchMarkets": {"types": ["spot"]},
                                                                         "fetchCurrencies": False}})
    errors = [ccxt.RequestTimeout(f"binance GET https://api.binance.com/api/v3/exchangeInfo?apiKey="
                                  f"{quote(KEY, safe='')} ({SECRET})"), planted_error()]

    def http(*args: object, **kwargs: object) -> None:  # ccxt's HTTP layer: the network is never reached
        raise errors.pop(0)

    client.fetch = http
    source = CcxtSource("binance", exchange=client, sleep=lambda seconds: None, now=lambda: 0)
    query = Query(exchange="binance", symbol="BTC/USDT", timeframe="1h", start=pd.Timestamp("2024-01-01", tz="UTC"))
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as info:
        source.fetch(query)
    assert not errors and "retry 1 of 5" in caplog.text and "RequestTimeout: binance GET" in caplog.text
    assert str(info.value).startswith("binance refused load_markets BTC/USDT (AuthenticationError)")
    assert isinstance(info.value.__cause__, ccxt.AuthenticationError)
    assert not leaks(everything_shown(info.value)) and not leaks(caplog.text)
