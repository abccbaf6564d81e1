"""Keep exchange credentials out of messages, exceptions and logs: the ccxt boundary.

ccxt writes the request URL (with the signature, and on some exchanges the key, in its query string) and the
response body into its exception messages; it chains the error of the HTTP library, whose attributes hold the
request with its headers; and at DEBUG it logs every request with its headers (Binance's ``X-MBX-APIKEY`` is
the key) and body. So every call our code makes into ccxt goes through ``call_redacted``, which turns a failure
into a copy of the exception, its arguments and its whole chain with each credential replaced by ``***``, and
``guard_logger`` fits the client's logger with a ``CredentialFilter``.

A credential is hidden in every form it travels in: as is, URL-encoded (``quote``, ``quote_plus``, upper or
lower case hex), escaped as in JSON or a ``repr``, and in base64 (alone, and joined in pairs as HTTP Basic
authentication sends them).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

__all__ = ["CREDENTIAL_FIELDS", "MASK", "CredentialFilter", "RedactedError", "Redactor", "call_redacted",
           "credentials", "guard_logger", "redact_exception", "redactor"]

T = TypeVar("T")
MASK = "***"
# The attributes a ccxt client keeps its credentials in; a client's own ``requiredCredentials`` adds any other.
CREDENTIAL_FIELDS = ("apiKey", "secret", "password", "uid", "login", "twofa", "accountId", "privateKey",
                     "walletAddress", "token")
HTTP_LOGGER = "urllib3.connectionpool"
_HEX_ESCAPE = re.compile(r"%[0-9A-F]{2}")


class Redactor:
    """Replace each of some secrets, in each form it may be written in, by ``***`` in a text."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s})
        forms = {form for secret in values for form in _forms(secret)}
        forms |= {_base64(f"{a}:{b}") for a, b in itertools.permutations(values, 2)}
        # Longest first: a secret inside another must not cut the longer one short of its mask.
        ordered = sorted(forms - {""}, key=lambda form: (-len(form), form))
        self._pattern = re.compile("|".join(map(_pattern, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)


def redactor(secrets: Iterable[str]) -> Redactor:
    """Return a function that replaces each of ``secrets`` (and its encodings) by ``***`` in a text."""
    return Redactor(secrets)


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe=""),
            json.dumps(secret)[1:-1], repr(secret)[1:-1], _base64(secret),
            base64.urlsafe_b64encode(secret.encode()).decode()}


def _pattern(form: str) -> str:
    """Return the regular expression of ``form``, its URL escapes (``%2F``) matching in either case."""
    return _HEX_ESCAPE.sub(lambda m: f"(?i:{m.group()})", re.escape(form))


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def credentials(exchange: object) -> list[str]:
    """Return the credentials set on a ccxt client: the non-empty values of its credential attributes."""
    names = {*CREDENTIAL_FIELDS, *(getattr(exchange, "requiredCredentials", None) or {})}
    values = (getattr(exchange, name, None) for name in sorted(names))
    return [str(value) for value in values if isinstance(value, str | int) and not isinstance(value, bool)
            and str(value)]


class RedactedError(Exception):
    """Stands for an exception whose type cannot be rebuilt; its message names the type it stands for."""


def redact_exception(exc: BaseException, redact: Callable[[str], str]) -> BaseException:
    """Return a copy of ``exc`` and of its whole chain with ``redact`` applied to every text they carry.

    The copy has the type of the original, its arguments and attributes redacted, and ``__cause__`` and
    ``__context__`` copied the same way. Texts are redacted inside tuples, lists and dicts; any other object (a
    request, a response) becomes its redacted ``repr``: it may hold credentials in ways no text shows. The
    copies carry no traceback: the frames of the original hold the credentials in their local variables.
    """
    return _Copier(redact).exception(exc)


class _Copier:
    """Copy exceptions and their values redacted, once each (a chain may loop back on itself)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.done: dict[int, BaseException] = {}

    def exception(self, exc: BaseException) -> BaseException:
        copied = self.done.get(id(exc))
        if copied is not None:
            return copied
        args = tuple(self.value(arg) for arg in exc.args)
        kind = type(exc)
        try:
            copy = kind.__new__(kind, *args)  # no __init__: constructors differ, the state is copied below
            copy.args = args
        except Exception:  # a type whose __new__ wants other arguments
            copy = RedactedError(f"{kind.__module__}.{kind.__qualname__}: {self.redact(_text(exc))}")
        self.done[id(exc)] = copy
        if isinstance(copy, kind):
            for name, value in getattr(exc, "__dict__", {}).items():
                with contextlib.suppress(AttributeError, TypeError):  # read-only: the copy goes without it
                    setattr(copy, name, self.value(value))
        copy.__cause__ = None if exc.__cause__ is None else self.exception(exc.__cause__)
        copy.__context__ = None if exc.__context__ is None else self.exception(exc.__context__)
        copy.__suppress_context__ = exc.__suppress_context__
        return copy

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, BaseException):
            return self.exception(value)
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        return self.redact(_text(value, repr))


def _text(value: object, show: Callable[[object], str] = str) -> str:
    try:
        return show(value)
    except Exception:  # a broken __str__ or __repr__ must not hide the error being reported
        return f"<{type(value).__name__}>"


def call_redacted(exchange: object, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Return ``fn(*args, **kwargs)``; if it raises, raise a redacted copy of the error and its chain instead.

    ``fn`` is a method of the ccxt client ``exchange``, whose credentials are hidden. The copy is raised after
    the ``except`` block, so the original is not even its ``__context__``. A client without credentials has
    nothing to hide: its errors pass unchanged, tracebacks and all.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        redact = redactor(credentials(exchange))
        if not redact:
            raise
        clean = redact_exception(exc, redact)
    raise clean


class CredentialFilter(logging.Filter):
    """Redact one ccxt client's credentials from every record of its logger, and withhold header values.

    The message is formatted here, every argument that is a mapping (ccxt passes request and response headers
    as mappings) shown with its values withheld, then redacted; an exception's text likewise. Credentials are
    read from the client for each record, so keys set after the filter was fitted are hidden too.
    """

    def __init__(self, exchange: object) -> None:
        super().__init__()
        self.exchange = weakref.ref(exchange)
        self._cache: tuple[list[str], Redactor] = ([], Redactor(()))

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor()
        if record.args:
            record.args = _withheld(record.args)
        record.msg, record.args = redact(record.getMessage()), ()
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

    def _redactor(self) -> Redactor:
        exchange = self.exchange()
        secrets = credentials(exchange) if exchange is not None else []
        if secrets != self._cache[0]:
            self._cache = (secrets, Redactor(secrets))
        return self._cache[1]


def _withheld(args: tuple[object, ...] | Mapping[str, object]) -> Any:
    if isinstance(args, Mapping):  # logging keeps a lone mapping argument as the args themselves
        return dict.fromkeys(args, MASK)
    return tuple(dict.fromkeys(arg, MASK) if isinstance(arg, Mapping) else arg for arg in args)


def guard_logger(exchange: object) -> None:
    """Fit the loggers that write the requests of the ccxt client ``exchange`` with its ``CredentialFilter``.

    Library code installs nothing process-wide, but a client holding credentials makes our code the owner of
    what that client writes, so its filter goes on exactly the loggers that write its requests: the client's
    own (``ccxt.base.exchange`` unless the caller gave it another; not ``ccxt``: a logger's filters see only the
    records created on it, never those its children pass up) and ``urllib3.connectionpool``, which writes each
    request's URL at DEBUG under ccxt's synchronous clients (some exchanges send the key in it). Filters hold
    whatever handlers and levels the application sets up, a root handler at DEBUG included. Each client is
    fitted once, and its filters leave with it when it is garbage collected.
    """
    own = getattr(exchange, "logger", None)
    if not isinstance(own, logging.Logger):
        return
    for logger in (own, logging.getLogger(HTTP_LOGGER)):
        if not any(isinstance(f, CredentialFilter) and f.exchange() is exchange for f in logger.filters):
            _fit(logger, exchange)


def _fit(logger: logging.Logger, exchange: object) -> None:
    guard = CredentialFilter(exchange)
    guard.exchange = weakref.ref(exchange, lambda _: logger.removeFilter(guard))
    logger.addFilter(guard)
