"""Saving a result from the command line: the ``--csv`` option and a line on stderr while the files are written.

Writing the files of a long back-test takes a moment (a second for a million bars, more with ``--csv``): on a
terminal one line shows the file being written and is cleared when done; to a pipe or a file (CI, ``nohup``,
``2> log``) a line is written per file, as a log reader expects, since a redrawn line there is noise. ``--quiet``
shows neither. At the end one log line (INFO) says how many files, megabytes and seconds.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from engine.progress import progress_enabled
from engine.result.files import Written

if TYPE_CHECKING:
    from engine.result import BacktestResult

log = logging.getLogger(__name__)

CSV_HELP = ("also write the per-bar tables as CSV (equity.csv, prices.csv) beside their Parquet files; "
            "trades, orders and fills are always CSV")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--csv`` to a command that saves a result."""
    parser.add_argument("--csv", action="store_true", default=None, help=CSV_HELP)


def save_result(result: BacktestResult, out: str | Path, *, csv: bool = False, quiet: bool = False,
                stream: TextIO | None = None) -> Path:
    """Save ``result`` to ``out`` (``BacktestResult.save``), telling stderr (or ``stream``) about each file."""
    stream = sys.stderr if stream is None else stream
    shown: FileLines | TerminalLine | None = None
    if not quiet:
        shown = TerminalLine(stream) if progress_enabled(stream=stream) else FileLines(stream)
    tally = Tally(shown)
    started = time.perf_counter()
    try:
        path = result.save(out, csv=csv, progress=tally)
    finally:
        if shown is not None:
            shown.close()
    log.info("results written", extra={"out": str(path), "files": len(tally.files),
                                       "megabytes": round(sum(f.size for f in tally.files) / 1e6, 1),
                                       "seconds": round(time.perf_counter() - started, 3)})
    return path


class Tally:
    """Keep what was written (for the log line at the end) and pass it on to what shows it, if anything does."""

    def __init__(self, shown: FileLines | TerminalLine | None) -> None:
        self.shown = shown
        self.files: list[Written] = []

    def writing(self, path: Path, index: int, total: int) -> None:
        if self.shown is not None:
            self.shown.writing(path, index, total)

    def written(self, file: Written) -> None:
        self.files.append(file)
        if self.shown is not None:
            self.shown.written(file)


class FileLines:
    """One plain line per file written: ``wrote out/equity.parquet: 1,000,000 rows, 20.0 MB in 0.10 s``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def writing(self, path: Path, index: int, total: int) -> None:
        """Nothing before a file: its line says how long it took."""

    def written(self, file: Written) -> None:
        print(f"wrote {file.path}: {file.rows:,} rows, {_megabytes(file.size)} in {file.seconds:.2f} s",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to clear."""


class TerminalLine:
    """One line redrawn in place, ``writing results 4/5: out/equity.parquet``, cut to the terminal's width (a
    wrapped line cannot be redrawn) and cleared at the end (the command's summary says where the results are)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0

    def writing(self, path: Path, index: int, total: int) -> None:
        self._show(f"writing results {index}/{total}: {path}")

    def written(self, file: Written) -> None:
        """Nothing: the next file's line replaces this one."""

    def close(self) -> None:
        self._show("")

    def _show(self, text: str) -> None:
        text = text[:shutil.get_terminal_size().columns - 1]
        self.stream.write("\r" + text.ljust(self.width) + ("\r" if not text else ""))
        self.stream.flush()
        self.width = len(text)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"
