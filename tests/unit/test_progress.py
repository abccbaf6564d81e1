"""Progress bars that cost nothing per item, and structured log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from engine.progress import bar, progress_enabled, setup_logging, track


@pytest.mark.parametrize("total", [None, 10])
def test_track_yields_everything_and_updates_once_per_window(total: int | None) -> None:
    updates: list[int] = []
    seen = []
    for item in track(iter(range(10)), updates.append, total=total, every=4):
        seen.append(item)
        assert sum(updates) <= item  # a window is counted only once handled
    assert seen == list(range(10)) and updates == [4, 4, 2]
    assert list(track([], updates.append, total=0 if total else None)) == [] and updates == [4, 4, 2]
    with pytest.raises(ValueError):
        track([1], updates.append, every=0)


def test_track_with_a_wrong_total_still_yields_every_item() -> None:
    updates: list[int] = []
    assert list(track(range(7), updates.append, total=5, every=2)) == list(range(7))
    assert updates == [2, 2, 1]
    assert list(track(range(3), updates.append, total=5, every=2)) == [0, 1, 2]


def test_progress_is_off_when_quiet_or_not_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress_enabled(stream=Terminal())
    assert not progress_enabled(quiet=True, stream=Terminal())
    assert not progress_enabled(stream=io.StringIO())
    assert bar(10, "x", enabled=False).disable


def test_text_log_lines_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    setup_logging("info", "text", stream=stream)
    try:
        logging.getLogger("engine.test").info("ran", extra={"bars": 5, "rate": 1234.5678, "who": "a b"})
        logging.getLogger("engine.test").debug("hidden")
    finally:
        setup_logging("WARNING")
    line = stream.getvalue().strip()
    assert line.endswith('INFO engine.test: ran bars=5 rate=1234.57 who="a b"'), line
    assert "hidden" not in stream.getvalue()


def test_json_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", "json", stream=stream)
    try:
        logging.getLogger("engine.test").warning("careful", extra={"symbol": "BTC/USD"})
    finally:
        setup_logging("WARNING")
    record = json.loads(stream.getvalue())
    assert record["level"] == "WARNING" and record["logger"] == "engine.test"
    assert record["message"] == "careful" and record["symbol"] == "BTC/USD" and record["ts"].endswith("Z")


def test_setup_logging_refuses_unknown_names_and_replaces_its_handler() -> None:
    with pytest.raises(ValueError, match="log level"):
        setup_logging("LOUD")
    with pytest.raises(ValueError, match="log format"):
        setup_logging("INFO", "xml")
    setup_logging("INFO")
    setup_logging("WARNING")
    from engine.progress import TqdmHandler

    assert sum(isinstance(h, TqdmHandler) for h in logging.getLogger().handlers) == 1


def test_progress_lines_tell_a_log_how_far_a_step_got_without_flooding_it() -> None:
    import io

    from engine.progress import ProgressLines, progress_display

    now = [0.0]
    out = io.StringIO()
    shown = ProgressLines(120, "walk-forward", unit="fit", stream=out, every_s=10.0, clock=lambda: now[0])
    for _ in range(120):
        now[0] += 0.25          # a fit every quarter second: 30 s in all
        shown.update(1)
    shown.close()
    lines = out.getvalue().splitlines()
    assert lines == ["walk-forward: 40/120 fits (33%), 10 s", "walk-forward: 80/120 fits (67%), 20 s",
                     "walk-forward: 120/120 fits (100%), 30 s", "walk-forward: 120/120 fits (100%), 30 s done"]
    assert isinstance(progress_display(5, "x", stream=io.StringIO()), ProgressLines)  # not a terminal
    assert progress_display(5, "x", quiet=True, stream=io.StringIO()) is None
