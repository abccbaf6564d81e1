"""The ledger's journal: every change of the books, in order, as it was booked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from engine.store.packed import DECIMAL, I64, NAME, STR, PackedTable


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One change of the books.

    ``amount`` is the signed change. For ``deposit``/``withdraw``/``fill``/``fee`` entries ``balance_after`` is
    the currency's balance after it; for ``reserve``/``release`` the currency's reserved total after it; for
    ``set_aside``/``release_set_aside`` the currency's set-aside total after it.
    """

    ts: int
    kind: str
    currency: str
    amount: Decimal
    balance_after: Decimal
    reference: str


JournalRow = tuple[int, str, str, Decimal, Decimal, str]  # the fields of a JournalEntry, in order


def journal_table() -> PackedTable:
    """Return an empty table laid out for journal rows."""
    return PackedTable((I64, NAME, NAME, DECIMAL, DECIMAL, STR))


class Journal(Sequence[JournalEntry]):
    """A read-only view of the ledger's journal: every change of the books in order, read as ``JournalEntry``.

    The ledger appends plain tuples to a ``PackedTable`` (``journal_table``), and entries are made only when
    read: a session writes four to six rows per order, and as entry objects with their ``Decimal``s they were
    most of a long back-test's memory (see ``engine.store.packed``).
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[JournalRow]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[JournalEntry]: ...

    def __getitem__(self, index: int | slice) -> JournalEntry | list[JournalEntry]:
        if isinstance(index, slice):
            return [JournalEntry(*row) for row in self._rows[index]]
        return JournalEntry(*self._rows[index])

    def __iter__(self) -> Iterator[JournalEntry]:
        for row in self._rows:
            yield JournalEntry(*row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Journal):
            return len(self) == len(other) and all(a == b for a, b in zip(self._rows, other._rows, strict=True))
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __repr__(self) -> str:
        return f"Journal({list(self)!r})"
