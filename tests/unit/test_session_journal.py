"""The session journal: every event of a run, in the bus's order, written before anything acts on it, read back
as the same events; the command line records and reads it."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.cli import main
from engine.datagen.synthetic import synthetic_bars
from engine.errors import DataError
from engine.events import Bar, Fill, Order, OrderUpdate
from engine.session_journal import SessionJournal, read_events, read_session
from engine.testing.events import make_bar, make_order, make_update
from strategies.sma_cross import SmaCross


def test_a_backtest_journal_holds_every_event_in_order_and_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    seen: list[object] = []

    class Everything:
        def attach(self, kernel: object) -> None:
            kernel.bus.subscribe(Bar, seen.append)  # type: ignore[attr-defined]
            for kind in (Order, OrderUpdate, Fill):
                kernel.bus.subscribe(kind, seen.append)  # type: ignore[attr-defined]

    result = run_backtest(SmaCross(fast=5, slow=20), synthetic_bars(400, interval="1h", seed=2),
                          venue=SimSettings(fee_bps=10), symbol="SYN/USD", handlers=[Everything()], journal=path)
    recorded = list(read_events(path))
    counts = Counter(type(e).__name__ for e in recorded)
    assert counts["Bar"] == 400 and counts["Fill"] == len(result.fills) > 0 and counts["Order"] == len(result.orders)
    assert [e for e in recorded if isinstance(e, Bar | Order | OrderUpdate | Fill)] == seen  # equal, in order
    session = read_session(path)
    assert session["kind"] == "backtest" and session["venue"]["fee_bps"] == 10
    assert session["strategies"][0]["name"] == "SmaCross" and session["strategies"][0]["params"]["fast"] == 5
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_journal_hears_each_event_before_the_kernel_acts_on_it(tmp_path: Path) -> None:
    order_of_handlers: list[str] = []
    journal = SessionJournal(tmp_path / "j", {"kind": "test"})

    class FirstLook:
        def attach(self, kernel: object) -> None:
            journal.attach(kernel)
            handlers = kernel.bus.handlers_for(Fill)  # type: ignore[attr-defined]
            order_of_handlers.extend(getattr(h, "__qualname__", repr(h)) for h in handlers)

    run_backtest(SmaCross(), synthetic_bars(50, interval="1h", seed=1), venue=SimSettings(), symbol="SYN/USD",
                 handlers=[FirstLook()])
    journal.close()
    assert order_of_handlers[0] == "SessionJournal.on_event" and order_of_handlers[1] == "Ledger.on_fill"


def test_a_journal_is_never_written_over(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    path.write_text("an earlier session")
    with pytest.raises(DataError, match="a journal already exists here"):
        SessionJournal(path, {})
    assert path.read_text() == "an earlier session"
    with pytest.raises(DataError, match="no session journal here"):
        list(read_events(tmp_path / "missing.journal"))


def test_the_command_line_records_shows_and_exports_a_journal(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sma.journal"
    assert main(["backtest", "--quiet", "--json", "--journal", str(path)]) == 0
    trades = json.loads(capsys.readouterr().out)["stats"]["n_trades"]
    assert main(["journal", "show", str(path), "--limit", "2"]) == 0
    shown = capsys.readouterr().out
    assert '"kind": "backtest"' in shown and "events: Bar 20,111" in shown
    exported = tmp_path / "sma.jsonl"
    assert main(["journal", "export", str(path), "-o", str(exported)]) == 0
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert sum(1 for line in lines if line["kind"] == "Bar") == 20_111
    assert sum(1 for line in lines if line["kind"] == "Fill") >= 2 * trades > 0  # each round trip: in and out


def test_appends_are_committed_before_a_command_leaves_and_when_the_session_is_idle(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = SessionJournal(path, {"kind": "test"}, commit_every=1000)

    def committed() -> list[str]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:  # another reader sees commits only
            return [kind for (kind,) in db.execute("SELECT kind FROM events ORDER BY seq")]

    journal.on_event(make_bar(1, 100.0))
    assert committed() == []  # market data waits for the next commit
    journal.on_event(make_order("o1"))
    assert committed() == ["Bar", "Order"]  # on disk before the venue is handed the order
    journal.on_event(make_update("o1"))
    assert committed() == ["Bar", "Order"]
    journal.on_idle()
    assert committed() == ["Bar", "Order", "OrderUpdate"]
    journal.close()
