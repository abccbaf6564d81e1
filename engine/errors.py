"""One exception hierarchy, named by what the caller should do about it."""

from __future__ import annotations


class MlctError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(MlctError):
    """A setting, parameter or command-line value is wrong: fix the configuration."""


class DataError(MlctError):
    """Input data is malformed: the message names the file, row, field and value."""


class OrderRejected(MlctError):
    """An order the venue (or our pre-trade checks) would refuse."""


class InsufficientFunds(OrderRejected):
    """An order would spend more than the account has free."""


class TransientVenueError(MlctError):
    """A temporary venue or network failure: retry with backoff."""


class RateLimited(TransientVenueError):
    """The venue asked us to slow down."""


class EngineError(MlctError):
    """A component of the kernel (ledger, order manager, venue) failed on an event: a fault of the engine, not of
    the user's code or data. The message names the component, its handler and the event."""

    def __init__(self, component: str, handler: object, event: object, cause: BaseException) -> None:
        super().__init__(f"engine error in the {component} ({handler_name(handler)}) on {event!r}: "
                         f"{type(cause).__name__}: {cause}")
        self.component = component
        self.handler = handler
        self.event = event
        self.cause = cause


class StrategyError(MlctError):
    """User code (a strategy or handler) raised while handling an event."""


class HandlerError(StrategyError):
    """A user's bus handler raised; the message names the handler and the event."""

    def __init__(self, handler: object, event: object, cause: BaseException) -> None:
        super().__init__(f"handler {handler_name(handler)} failed on {event!r}: {type(cause).__name__}: {cause}")
        self.handler = handler
        self.event = event
        self.cause = cause


def handler_name(handler: object) -> str:
    """Return ``Class.method`` for a bound method, else the callable's qualified name."""
    name = getattr(handler, "__qualname__", repr(handler))
    owner = getattr(handler, "__self__", None)
    if owner is not None:
        name = f"{type(owner).__name__}.{getattr(handler, '__name__', name)}"
    return name


# Characters of a bad value an error message quotes: a malformed file can hold a cell of megabytes.
QUOTE_LIMIT = 80


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Return ``text`` as it is when it fits in ``limit`` characters, else its start, ``...`` and its length.

    Every message that quotes data (a cell, a header, a list of columns) passes it through here, so a bad value
    of any size still makes a one-line error.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit - 3]}... ({len(text):,} characters)"
