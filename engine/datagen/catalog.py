"""The local catalog: every data set fetched once, kept as Parquet, served again without asking the source.

Layout under the data directory (``MLCT_DATA_DIR``, else ``$XDG_DATA_HOME/mlct``, else ``~/.local/share/mlct``)::

    <root>/<source>/<exchange or _>/<symbol>/<kind>[-<timeframe>]/
        dataset.json        the data set's query and its coverage: the time ranges already fetched
        2024-01.parquet     the rows whose ts falls in January 2024 (one file per partition)
        ...

``query.dataset`` (the query without its range) names one data set. Partitions are years for daily bars and
longer, months for bars of a minute or more, days for anything finer and for events (trades, funding...), so a
range read opens only the files of that range, and a file stays small enough to rewrite whole. ``/`` in a
symbol is written ``-`` and any other character outside ``[A-Za-z0-9._]`` as ``%XX``.

Coverage is what makes the catalog trustworthy: a range is covered once the source has answered for it, with
rows or without. So "fetched and empty" (an exchange had no trading) differs from "never fetched", a repeated
query asks the source nothing, and a widened one asks only for what is new. Coverage never claims more than the
files hold: rows are written first, coverage after. ``dataset.json`` also records the partitions stored, so a
file deleted by hand is reported missing rather than read as a stretch without data.

Every file is replaced atomically (``storage``). A download stores page by page in place, so one that fails or
is killed mid-way keeps the pages it stored and the next request resumes after them. ``put`` (import, synth)
changes a data set as a whole: the new state is built in a staging directory beside it and swapped in by
renames, so a crash leaves the old data set or the new one, never a mix, and a new data set is not seen before
it is complete. A damaged partition file is a ``DataError`` naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.datagen import storage
from engine.datagen.frames import check_spacing
from engine.datagen.pages import PageWriter
from engine.datagen.query import SOURCES, Query, Source, floor_time, format_time, timeframe_delta
from engine.datagen.schemas import next_start, schema
from engine.datagen.storage import Range, stamp
from engine.datagen.validate import ValidationReport, check_bars
from engine.errors import ConfigError, DataError

DATA_DIR_ENV = "MLCT_DATA_DIR"
META = "dataset.json"
FORMAT_VERSION = 1


def default_data_dir() -> Path:
    """Return the data directory: ``$MLCT_DATA_DIR``, else the XDG data home's ``mlct`` directory."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "mlct"


def _segment(text: str) -> str:
    """Write a name as one path segment that maps back to one name only: ``BTC/USDT:USDT`` -> ``BTC-USDT%3AUSDT``."""
    out = []
    for char in text:
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in "._"):
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode()))
    return "".join(out) or "_"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What the catalog holds for one data set.

    ``covered`` are the ranges the source has answered for; ``gaps`` (bars only, when asked for) are the
    stretches inside them without a bar: the source had none there, so they are known, not missing.
    """

    query: Query
    path: Path
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    covered: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]
    files: tuple[Path, ...]
    size: int
    gaps: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()

    def missing_bars(self) -> int:
        """Return how many bars the gaps add up to (0 for event kinds)."""
        if not schema(self.query.kind).bars:
            return 0
        step = timeframe_delta(self.query.timeframe)
        return sum(int((b - a) // step) for a, b in self.gaps)


class Catalog:
    """A directory of data sets, filled from sources on demand.

    Parameters
    ----------
    root
        The data directory; ``default_data_dir()`` when None.
    now
        The clock (integer ns UTC). The catalog must know which bars are final: the bar still forming at
        ``now`` is never stored, and coverage never reaches past ``now``, so a later request fetches what
        has happened since. Tests pass a fixed time.
    flush_rows
        Pages are stored when this many rows have arrived or a partition is complete, and always before an
        error is passed on: a killed download loses at most this many rows, a failed one none.
    """

    def __init__(self, root: str | Path | None = None, *, now: Callable[[], int] = time.time_ns,
                 flush_rows: int = 50_000) -> None:
        self.root = Path(root).expanduser() if root is not None else default_data_dir()
        self.now = now
        self.flush_rows = flush_rows

    def __repr__(self) -> str:
        return f"Catalog({str(self.root)!r})"

    # --- paths and metadata ----------------------------------------------------------------------------------

    def path(self, query: Query) -> Path:
        """Return the directory of the data set of ``query``."""
        kind = query.kind + (f"-{query.timeframe}" if query.timeframe else "")
        return self.root / query.source / _segment(query.exchange or "_") / _segment(query.symbol) / kind

    def _unit(self, query: Query) -> str:
        bars = schema(query.kind).bars
        return storage.partition_unit(timeframe_delta(query.timeframe).total_seconds() if bars else None)

    def exists(self, query: Query) -> bool:
        """Tell whether the catalog holds the data set of ``query``."""
        return (self._settled(query) / META).exists()

    def _settled(self, query: Query) -> Path:
        """Return the directory of ``query``'s data set, first undoing a swap a killed writer left half done."""
        directory = self.path(query)
        storage.settle(directory)
        return directory

    def _meta(self, query: Query, directory: Path | None = None) -> dict:
        """Return the record of the data set in ``directory`` (default: its own); a fresh one when there is none.

        ``partitions`` lists the partition files stored; a record written before it existed has none, and is
        given the files present when it is next saved.
        """
        path = (directory or self.path(query)) / META
        if not path.exists():
            return {"format": FORMAT_VERSION, "query": str(query.dataset), "partition": self._unit(query),
                    "covered": [], "partitions": []}
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable catalog metadata ({exc})") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise DataError(f"{path}: catalog format {meta.get('format')!r}, this version reads {FORMAT_VERSION}")
        return meta

    def coverage(self, query: Query) -> list[Range]:
        """Return the ranges (ns) the source has answered for, merged and sorted."""
        return self._coverage(query, self._settled(query))

    def _coverage(self, query: Query, directory: Path) -> list[Range]:
        meta = self._meta(query, directory)
        return [(pd.Timestamp(a).value, pd.Timestamp(b).value) for a, b in meta["covered"]]

    def _store_pages(self, query: Query, frame: pd.DataFrame | None, covered: Range) -> None:
        """Write ``frame`` (if any rows came), then record ``covered`` as fetched: a resume starts after it."""
        stored = self._write_rows(query, frame) if frame is not None else ()
        self._save_coverage(query, [*self.coverage(query), covered], stored=stored)

    def _save_coverage(self, query: Query, ranges: list[Range], directory: Path | None = None, *,
                       stored: Iterable[str] = (), dropped: Iterable[str] = ()) -> None:
        """Record the coverage ``ranges`` and the partitions ``stored`` (written) or ``dropped`` (deleted)."""
        directory = directory or self.path(query)
        meta = self._meta(query, directory)
        meta["covered"] = [[stamp(a).isoformat(), stamp(b).isoformat()] for a, b in storage.merge_ranges(ranges)]
        recorded = meta.get("partitions")
        if recorded is None:  # a record from before partitions were listed: what is there now
            recorded = [path.stem for path in self._partitions(query, directory)]
        meta["partitions"] = sorted((set(recorded) | set(stored)) - set(dropped))
        storage.atomic_write_json(meta, directory / META)

    def files(self, query: Query, start: int | None = None, end: int | None = None) -> list[Path]:
        """Return the partition files of the data set, in time order; those meeting ``[start, end)`` if given.

        A partition the record lists as stored but whose file is gone is a ``DataError`` naming that file: its
        range is covered, so reading on without it would pass the hole off as a stretch without data.
        """
        directory = self._settled(query)
        found = self._partitions(query, directory, start, end)
        lost = self._lost(query, directory, start, end)
        if lost:
            more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
            a, b = storage.label_range(lost[0], self._unit(query))
            raise DataError(f"{directory / lost[0]}.parquet: partition file missing{more}, though {META} records "
                            f"it as stored; delete its range (mlct data delete {query.with_range(stamp(a), stamp(b))})"
                            f" and fetch or import it again")
        return found

    def _partitions(self, query: Query, directory: Path, start: int | None = None, end: int | None = None
                    ) -> list[Path]:
        """Return the partition files present in ``directory`` meeting ``[start, end)``, in time order."""
        if not directory.is_dir():
            return []
        return [path for path in sorted(directory.glob("[0-9]*.parquet"))
                if self._meets(query, path.stem, start, end)]

    def _lost(self, query: Query, directory: Path, start: int | None = None, end: int | None = None) -> list[str]:
        """Return the partitions meeting ``[start, end)`` that the record lists but whose files are gone."""
        return [label for label in self._meta(query, directory).get("partitions") or ()
                if self._meets(query, label, start, end) and not (directory / f"{label}.parquet").exists()]

    def _meets(self, query: Query, label: str, start: int | None, end: int | None) -> bool:
        a, b = storage.label_range(label, self._unit(query))
        return (start is None or b > start) and (end is None or a < end)

    # --- reading ----------------------------------------------------------------------------------------------

    def read(self, query: Query) -> pd.DataFrame:
        """Return the stored rows of ``query``'s range (all of them when it has none), without fetching."""
        start, end = _ns(query.start), _ns(query.end)
        paths = self.files(query, start, end)
        if not paths:
            return schema(query.kind).empty()
        try:
            frame = storage.read_files(paths)  # a damaged file is named there; this is for files that disagree
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise DataError(f"{self.path(query)}: unreadable catalog partitions ({exc})") from exc
        stamps = pd.DatetimeIndex(frame.index).asi8
        lo = 0 if start is None else int(np.searchsorted(stamps, start, side="left"))
        hi = len(stamps) if end is None else int(np.searchsorted(stamps, end, side="left"))
        return frame if (lo, hi) == (0, len(stamps)) else frame.iloc[lo:hi]

    @staticmethod
    def _read_file(path: Path) -> pd.DataFrame:
        table = storage.read_table(path)
        with storage.reading(path):
            return storage.table_to_frame(table)

    def check(self, query: Query) -> ValidationReport:
        """Validate the stored bars of ``query`` (see ``validate.check_bars``); problems name their file and row."""
        if query.kind != "ohlcv":
            raise ConfigError(f"{query.dataset}: validation checks ohlcv bars, this data set holds {query.kind}")
        frame = self.read(query)
        stamps = pd.DatetimeIndex(frame.index).asi8
        unit = self._unit(query)
        # Where each file's rows begin in the frame, so that a problem names its own file.
        starts = [(int(np.searchsorted(stamps, storage.label_range(path.stem, unit)[0])), str(path))
                  for path in self.files(query, _ns(query.start), _ns(query.end))]
        return check_bars(frame, str(self.path(query)), interval=timeframe_delta(query.timeframe), files=starts)

    def missing(self, query: Query) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Return the parts of ``query``'s range (which must be closed) the source has not answered for."""
        if query.start is None or query.end is None:
            raise ConfigError(f"query {query}: a start and an end are needed to tell what is missing")
        gaps = storage.subtract_ranges((query.start.value, query.end.value), self.coverage(query))
        return [(stamp(a), stamp(b)) for a, b in gaps]

    # --- fetching and storing ---------------------------------------------------------------------------------

    def get(self, query: Query, source: Source | None = None, *,
            on_page: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
        """Return the rows of ``query``, first fetching from ``source`` the parts of its range not yet covered.

        Without a source, return what is stored. An open start means the first covered time (a source needs
        a start); an open end means now with a source, else the end of coverage. ``on_page`` is called with
        each page after it is stored (a progress bar's hook). The same query returns the same frame, read
        back from the catalog, whether it was just fetched or not.
        """
        start, end = self._resolve(query, fetching=source is not None)
        if start is None or end is None:
            return self.read(query)
        if end <= start:  # nothing final yet in that range
            return schema(query.kind).empty()
        ranged = query.with_range(start, end)
        if source is not None:
            self.fetch(ranged, source, on_page=on_page)
        return self.read(ranged)

    def _resolve(self, query: Query, *, fetching: bool) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        covered = self.coverage(query)
        start, end = query.start, query.end
        if start is None:
            if covered:
                start = stamp(covered[0][0])
            elif fetching:
                raise ConfigError(f"query {query}: nothing stored yet, so a start is needed (e.g. @2024-01-01..)")
        if end is None:
            if fetching:
                end = stamp(self.horizon(query))
            elif covered:
                end = stamp(covered[-1][1])
        return start, end

    def horizon(self, query: Query) -> int:
        """Return the time (ns) up to which data is final now: the open of the bar still forming, or now."""
        now = int(self.now())
        return floor_time(now, query.timeframe) if schema(query.kind).bars else now

    def fetch(self, query: Query, source: Source, *, on_page: Callable[[pd.DataFrame], None] | None = None
              ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Ask ``source`` for the parts of ``query``'s range not covered yet; store them; return those ranges.

        Each part is one ``source.fetch(query.with_range(a, b), on_page=...)`` call. Nothing past
        ``horizon()`` is asked for. If the source raises, the pages it delivered are stored and covered
        before the error goes on, so asking again resumes after them.
        """
        if query.start is None or query.end is None:
            raise ConfigError(f"query {query}: fetch needs a start and an end")
        end = min(query.end.value, self.horizon(query))
        if end <= query.start.value:
            return []
        directory = self.path(query)
        with storage.locked(directory):
            storage.recover(directory)
            self.files(query)  # a lost partition first: stores around it would hide it
            directory.mkdir(exist_ok=True)
            todo = storage.subtract_ranges((query.start.value, end), self.coverage(query))
            for a, b in todo:
                writer = PageWriter(query, a, b, unit=self._unit(query), flush_rows=self.flush_rows,
                                    store=lambda frame, covered: self._store_pages(query, frame, covered),
                                    on_page=on_page)
                try:
                    result = source.fetch(query.with_range(stamp(a), stamp(b)), on_page=writer.page)
                except BaseException:
                    writer.flush()  # keep what arrived; then let the error through
                    raise
                if not writer.pages:  # a source that answers in one piece, without pages
                    writer.page(result)
                writer.finish()
        return [(stamp(a), stamp(b)) for a, b in todo]

    def put(self, query: Query, frame: pd.DataFrame, *, covered: tuple[object, object] | None = None,
            replace: bool = False) -> int:
        """Store ``frame`` (a standard frame of ``query.kind``, ascending) as the data of its time span.

        The frame replaces the stored rows of the span it covers; with ``replace`` it is the whole new data set.
        Coverage grows by ``covered`` (start, end), else by ``query``'s range when it has both ends, else by the
        span of the rows. Bars must be ``query.timeframe`` apart. The data set changes as a whole: a crash
        leaves it old or new (see the module docstring). Returns the rows stored.
        """
        if covered is not None:
            span = (pd.Timestamp(covered[0]).value, pd.Timestamp(covered[1]).value)  # type: ignore[arg-type]
        elif query.start is not None and query.end is not None:
            span = (query.start.value, query.end.value)
        elif len(frame):
            stamps = pd.DatetimeIndex(frame.index)
            span = (stamps[0].value, next_start(query.kind, query.timeframe, stamps[-1]).value)
        else:
            return 0
        if schema(query.kind).bars:
            frame = storage.with_ns_index(frame)
            storage.check_frame(frame, f"storing {query.dataset}", unique=True)
            check_spacing(frame.index, timeframe_delta(query.timeframe), f"storing {query.dataset}")
        directory = self.path(query)
        with storage.locked(directory):
            storage.recover(directory)
            if not replace:
                self.files(query)  # a lost partition first: a partial rewrite of it would hide it
            staging = storage.stage(directory, keep=not replace)
            try:
                stored = self._write_rows(query, frame, staging)
                self._save_coverage(query, [*self._coverage(query, staging), span], staging, stored=stored)
                storage.swap_in(staging, directory)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return len(frame)

    def _write_rows(self, query: Query, frame: pd.DataFrame, directory: Path | None = None) -> list[str]:
        """Merge ``frame`` into the partition files of ``directory`` (default: the data set's own): within its
        span, its rows replace the stored ones. Return the partitions written."""
        if len(frame) == 0:
            return []
        frame = storage.with_ns_index(frame)
        storage.check_frame(frame, f"storing {query.dataset}", unique=schema(query.kind).unique_index)
        directory = directory or self.path(query)
        unit = self._unit(query)
        written = []
        stamps = pd.DatetimeIndex(frame.index).asi8
        for label, first, stop in storage.split_by_partition(stamps, unit):
            part = frame.iloc[first:stop]
            path = directory / f"{label}.parquet"
            if path.exists():
                old = self._read_file(path)
                at = pd.DatetimeIndex(old.index).asi8
                lo = int(np.searchsorted(at, stamps[first], side="left"))
                hi = int(np.searchsorted(at, stamps[stop - 1], side="right"))
                pieces = [p for p in (old.iloc[:lo], part, old.iloc[hi:]) if len(p)]
                part = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
            storage.atomic_write_table(storage.frame_to_table(part), path)
            written.append(label)
        storage.sync_dir(directory)
        return written

    # --- listing and deleting ---------------------------------------------------------------------------------

    def list(self) -> list[DatasetInfo]:
        """Return every data set of the catalog (rows and range from file metadata: no data is read)."""
        if not self.root.is_dir():
            return []
        for old in self.root.rglob(f"{storage.OLD}*"):  # a data set swapped out by a killed writer comes back
            storage.settle(old.with_name(old.name.removeprefix(storage.OLD)))
        found = []
        for meta in sorted(self.root.rglob(META)):
            if any(part.startswith(".") for part in meta.relative_to(self.root).parts):
                continue  # a data set being built, replaced or deleted (or left so by a crash)
            try:
                query = Query.parse(json.loads(meta.read_text(encoding="utf-8"))["query"])
            except (OSError, ValueError, KeyError, ConfigError) as exc:
                raise DataError(f"{meta}: unreadable catalog metadata ({exc})") from exc
            found.append(self.info(query, gaps=False))
        return found

    def info(self, query: Query, *, gaps: bool = True) -> DatasetInfo:
        """Describe the data set of ``query``: rows, first and last row, coverage, files, bytes, and gaps."""
        dataset = query.dataset
        files = self.files(dataset)
        covered = self.coverage(dataset)
        rows, first, last = 0, None, None
        found: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        if gaps and schema(query.kind).bars:
            parts = [storage.read_stamps(f) for f in files]
            stamps = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
            found = _bar_gaps(stamps, covered, query.timeframe)
            if len(stamps):
                rows, first, last = len(stamps), int(stamps[0]), int(stamps[-1])
        elif files:
            rows, first, last = storage.file_stats(files)
        return DatasetInfo(query=dataset, path=self.path(dataset), rows=rows,
                           first=None if first is None else stamp(first), last=None if last is None else stamp(last),
                           covered=tuple((stamp(a), stamp(b)) for a, b in covered), files=tuple(files),
                           size=sum(f.stat().st_size for f in files), gaps=tuple(found))

    def delete(self, query: Query) -> int:
        """Delete the data set of ``query``, or only its range when it has one; return the rows removed."""
        directory = self.path(query)
        if not self.exists(query):
            raise ConfigError(f"no data set {query.dataset} in {self.root}")
        if query.start is None and query.end is None:
            with storage.locked(directory):
                rows = storage.readable_rows(self._partitions(query, directory))  # damaged, it goes too
                storage.remove_directory(directory)
            return rows
        start = query.start.value if query.start is not None else np.iinfo(np.int64).min
        end = query.end.value if query.end is not None else np.iinfo(np.int64).max
        removed = 0
        with storage.locked(directory):
            storage.recover(directory)
            # Coverage shrinks first: rows without coverage are only fetched again, coverage without rows lies.
            covered = [r for a, b in self.coverage(query) for r in storage.subtract_ranges((a, b), [(start, end)])]
            self._save_coverage(query, covered)
            emptied = []
            for path in self._partitions(query, directory, start, end):
                frame = self._read_file(path)
                stamps = pd.DatetimeIndex(frame.index).asi8
                keep = (stamps < start) | (stamps >= end)
                removed += int((~keep).sum())
                if keep.any():
                    storage.atomic_write_table(storage.frame_to_table(frame[keep]), path)
                else:
                    emptied.append(path)
            # The record lets go of emptied and lost partitions before their files go: it never lists too few.
            self._save_coverage(query, covered, dropped=[*(p.stem for p in emptied),
                                                         *self._lost(query, directory, start, end)])
            for path in emptied:
                path.unlink()
            storage.sync_dir(directory)
        return removed


def _bar_gaps(stamps: np.ndarray, covered: list[Range], timeframe: str
              ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the stretches inside covered ranges where no bar opens: ``[first missing open, next bar open)``.

    The ends of a covered range are moved onto the bar grid, so a range starting at 00:30 expects its first
    hourly bar at 01:00.
    """
    step = timeframe_delta(timeframe).value
    out = []
    for a, b in covered:
        first, stop = floor_time(a + step - 1, timeframe), floor_time(b + step - 1, timeframe)
        lo, hi = np.searchsorted(stamps, a, side="left"), np.searchsorted(stamps, b, side="left")
        edges = np.concatenate(([first - step], stamps[lo:hi], [stop]))
        for k in np.flatnonzero(np.diff(edges) > step):
            out.append((stamp(int(edges[k]) + step), stamp(int(edges[k + 1]))))
    return out


def _ns(value: pd.Timestamp | None) -> int | None:
    return None if value is None else value.value


def read_bars(text: str, catalog: Catalog | None = None) -> tuple[pd.DataFrame, Query]:
    """Return the stored bars of the query ``text`` (``binance:BTC/USDT:1h@2024-01-01..2024-06-01``) and the query.

    For a back-test: nothing is fetched, so a run never depends on the network; a range the catalog does not
    fully hold is a ``ConfigError`` that says which ``mlct data download`` gets it.
    """
    catalog = catalog or Catalog()
    try:
        query = resolve_query(text, catalog)
    except ConfigError as exc:
        raise ConfigError(f"{text!r} is no file, and not a catalog query either: {exc}") from None
    if query.kind != "ohlcv":
        raise ConfigError(f"{query}: a back-test replays ohlcv bars, not {query.kind}")
    covered = catalog.coverage(query)
    if not covered:
        raise ConfigError(f"{query.dataset} is not in the catalog {catalog.root}: {_download_hint(query)}")
    start = query.start or stamp(covered[0][0])
    end = query.end or stamp(covered[-1][1])
    missing = catalog.missing(query.with_range(start, end))
    if missing:
        raise ConfigError(f"{query.dataset}: the catalog {catalog.root} lacks {describe_range(*missing[0])}"
                          f"{f' and {len(missing) - 1} more range(s)' if len(missing) > 1 else ''}: "
                          f"{_download_hint(query.with_range(start, end))}")
    frame = catalog.read(query.with_range(start, end))
    if frame.empty:
        raise DataError(f"{query}: no bars in the catalog for {describe_range(start, end)}")
    return frame, query


def resolve_query(text: str, catalog: Catalog) -> Query:
    """Read the query ``text``, finding its source in ``catalog`` when the text leaves it out.

    ``mlct data list`` prints every data set with its source (``csv:coinbase:BTC/USD:1h:ohlcv``), and that form
    is read as it is. Without a source, a query means the data set of any source the catalog holds under that
    exchange, symbol and timeframe (``coinbase:BTC/USD:1h`` finds the CSV import; ``BTC/USD:1h`` one imported
    without an exchange); two such data sets must be told apart by their source, and none means an exchange's
    data (``ccxt``), which ``mlct data download`` fetches.
    """
    head = text.strip().split(":", 1)[0]
    if head in SOURCES:
        return Query.parse(text)
    held = []
    for source in SOURCES:
        try:
            query = Query.parse(f"{source}:{text.strip()}")
        except ConfigError:
            continue
        if catalog.exists(query):
            held.append(query)
    if len(held) > 1:
        raise ConfigError(f"{text!r} names {len(held)} data sets of {catalog.root}: give one with its source, "
                          f"as mlct data list prints it ({', '.join(str(q.dataset) for q in held)})")
    return held[0] if held else Query.parse(text)


def _download_hint(query: Query) -> str:
    if query.source != "ccxt":
        return "import or generate it with mlct data import / mlct data synth"
    since = f" --since {format_time(query.start)}" if query.start else " --since YYYY-MM-DD"
    until = f" --until {format_time(query.end)}" if query.end else ""
    return (f"mlct data download --exchange {query.exchange} --symbol {query.symbol} --timeframe {query.timeframe}"
            f"{since}{until}")


def looks_like_query(data: object) -> bool:
    """Tell whether ``data`` given as data to back-test is a catalog query rather than a file path."""
    return isinstance(data, str) and ":" in data and "/" in data and not Path(data).exists()


def describe_range(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """Write a range for people: ``2024-01-01 .. 2024-02-01``."""
    return f"{format_time(start) or '-'} .. {format_time(end) or '-'}"
