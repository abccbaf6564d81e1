"""The session journal: every event the bus handles, in order, in one SQLite file per session (WAL mode).

It is subscribed to every event before any other handler, so each event is written before anything acts on it;
with the session's configuration and the code's version beside them, a session can be read back event by event
and compared with its replay through the back-tester (the parity a live session is judged by). Values are stored
as JSON: exact ``Decimal`` text, enum values, integer nanoseconds.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import importlib.metadata
import json
import sqlite3
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine import events as event_types
from engine.errors import DataError
from engine.events import Command, Event

__all__ = ["SessionJournal", "code_version", "event_record", "read_events", "read_runs", "read_session"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS session (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
                                   payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, settings TEXT NOT NULL);
"""
_KINDS: dict[str, type[Event]] = {
    name: cls for name, cls in vars(event_types).items()
    if isinstance(cls, type) and issubclass(cls, Event) and dataclasses.is_dataclass(cls)
}


class SessionJournal:
    """Append every event a bus handles to ``path``, before anything acts on it.

    The transaction is committed before any command (an order, a cancel) leaves the engine, whenever the session
    has nothing left to handle (``on_idle``, called by the live driver) and every ``commit_every`` events, so a
    killed process loses at most the market data and reports of its last moment, which the exchange still has,
    never an order it sent. A commit costs more than the append (SQLite's transaction, WAL), so a live bar pays
    one or two instead of one an event. ``close`` commits what is left.

    A journal records one session, which may run in several processes: a session killed or stopped is resumed
    with ``resume=True`` on its own file (``engine.resume`` rebuilds it from the events), and each process that
    runs it adds a row to ``runs`` with the settings it started with. Without ``resume`` the file must be new.
    """

    def __init__(self, path: str | Path, session: Mapping[str, Any], *, commit_every: int = 1000,
                 resume: bool = False) -> None:
        self.path = Path(path)
        existed = self.path.exists()
        if existed and not resume:
            raise DataError(f"{self.path}: a journal already exists here; a session writes a new one")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        settings = json.dumps(dict(session), default=str)
        if not existed:
            self._db.executemany("INSERT INTO session (key, value) VALUES (?, ?)",
                                 [(key, json.dumps(value, default=str)) for key, value in session.items()])
        first_seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()[0]
        self._db.execute("INSERT INTO runs (first_seq, settings) VALUES (?, ?)", (first_seq, settings))
        self._db.commit()
        self._commit_every = commit_every
        self._pending = 0
        self.count = 0

    def record(self, key: str, value: Any) -> None:
        """Add a fact about the session learnt after it started (the account's balances at its start), once:
        a resumed session keeps the first value."""
        self._db.execute("INSERT OR IGNORE INTO session (key, value) VALUES (?, ?)",
                         (key, json.dumps(value, default=str)))
        self._db.commit()

    def attach(self, kernel: Any) -> None:
        """Subscribe to every event, ahead of the kernel's own components."""
        kernel.bus.subscribe_first(Event, self.on_event)

    def on_event(self, event: Event) -> None:
        """Append ``event``; commit at once if it is a command about to leave the engine."""
        self._db.execute("INSERT INTO events (ts, kind, payload) VALUES (?, ?, ?)",
                         (event.ts, type(event).__name__, json.dumps(_fields(event))))
        self.count += 1
        self._pending += 1
        if self._pending >= self._commit_every or isinstance(event, Command):
            self.on_idle()

    def on_idle(self) -> None:
        """Commit what was appended since the last commit."""
        if self._pending:
            self._db.commit()
            self._pending = 0

    def close(self) -> None:
        """Commit what is left and close the file."""
        self._db.commit()
        self._db.close()


def code_version() -> str:
    """Return the installed version of the engine, recorded with each session."""
    try:
        return importlib.metadata.version("ml-crypto-trading")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_session(path: str | Path) -> dict[str, Any]:
    """Return the session's configuration and code version as they were recorded."""
    with _open(path) as db:
        return {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM session")}


def read_runs(path: str | Path) -> list[dict[str, Any]]:
    """Return the processes that ran the session, in order: the first event each journaled, and its settings."""
    with _open(path) as db:
        try:
            rows = db.execute("SELECT first_seq, settings FROM runs ORDER BY run").fetchall()
        except sqlite3.OperationalError:  # a journal written before sessions could resume: one run
            return [{"first_seq": 1, "settings": read_session(path)}]
    return [{"first_seq": first_seq, "settings": json.loads(settings)} for first_seq, settings in rows]


def read_events(path: str | Path) -> Iterator[Event]:
    """Yield the recorded events in the order the bus handled them, rebuilt as the engine's event types."""
    with _open(path) as db:
        for seq, kind, payload in db.execute("SELECT seq, kind, payload FROM events ORDER BY seq"):
            cls = _KINDS.get(kind)
            if cls is None:
                raise DataError(f"{path}: event {seq} is of unknown kind {kind!r}")
            yield _rebuild(cls, json.loads(payload))


@contextmanager
def _open(path: str | Path) -> Iterator[sqlite3.Connection]:
    """Open a journal that must exist, read-only, and close it after."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no session journal here")
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def event_record(event: Event) -> dict[str, Any]:
    """Return ``event`` as plain JSON values, with its kind: what the journal stores and exports."""
    return {"kind": type(event).__name__, **_fields(event)}


_NAMES: dict[type, tuple[str, ...]] = {}  # event type -> its field names
_PLAIN = frozenset({int, float, str, bool, type(None)})


def _fields(event: Event) -> dict[str, Any]:
    cls = type(event)
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    values = {}
    for name in names:
        value = getattr(event, name)
        if type(value) not in _PLAIN:
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, Mapping):
                value = dict(value)
        values[name] = value
    return values


def _rebuild(cls: type[Event], values: dict[str, Any]) -> Event:
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if value is None:
            continue
        kinds = typing.get_args(hints[name]) or (hints[name],)
        if Decimal in kinds:
            try:
                values[name] = Decimal(value)
            except decimal.InvalidOperation:
                raise DataError(f"{cls.__name__}.{name}: {value!r} is not a number") from None
        else:
            enum_type = next((k for k in kinds if isinstance(k, type) and issubclass(k, enum.Enum)), None)
            if enum_type is not None:
                values[name] = enum_type(value)
    return cls(**values)
