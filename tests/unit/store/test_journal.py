"""The ledger's journal: packed rows read back as the entries they were."""

from __future__ import annotations

from decimal import Decimal as D

from engine.store.journal import Journal, JournalEntry, journal_table


def test_journal_view_reads_packed_rows_as_entries() -> None:
    table = journal_table()
    journal = Journal(table)
    for i in range(5000):
        table.append((i, "deposit", "USD", D(i), D(i * (i + 1) // 2), "n"))
    assert len(journal) == 5000
    assert journal[4999] == JournalEntry(4999, "deposit", "USD", D(4999), D(4999 * 5000 // 2), "n")
    assert journal[0] == JournalEntry(0, "deposit", "USD", D(0), D(0), "n")
    assert list(journal)[4096] == journal[4096]
    assert journal == list(journal)
