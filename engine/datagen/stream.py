"""Historical feeds from the catalog: data sets streamed into the bus in time order, a batch at a time.

``CatalogFeed`` replays one data set; ``merged_catalog_feed`` merges several (symbols and kinds) into one stream::

    feed = merged_catalog_feed(catalog, ["binance:BTC/USDT:1h@2024-01-01..2024-07-01",
                                         "binance:BTC/USDT:USDT:8h:funding@2024-01-01..2024-07-01"])
    for event in feed: ...        # Bar, FundingRate, ... in ts order

Memory is bounded by the batch (``batch_rows`` rows of one partition file per data set), not by the history:
files are opened one after the other and read by Parquet record batches. Bars are stamped at their close like
``BarFeed`` (a bar is seen once complete); other kinds at their own ``ts``. Events with equal ``ts`` come in the
order of the data sets in the list, as in ``merge_feeds``.

Kinds and their events: ``ohlcv`` -> ``Bar``; ``mark``/``index`` -> ``Bar`` (volume 0) under the symbol
``"<symbol>@mark"``/``"@index"``, so that they are never taken for traded prices; ``funding`` -> ``FundingRate``;
``vol`` -> ``VolIndex`` (the stored value times ``vol_scale``: Deribit reports percent, ``VolIndex`` holds a
fraction); ``trades`` -> ``Trade``. ``open_interest`` has no event yet.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.datagen import storage
from engine.datagen.bar_feed import ASYNC_BATCH, BarFeed, merge_feeds
from engine.datagen.catalog import Catalog
from engine.datagen.frames import OHLCV_COLUMNS, validate_ohlcv
from engine.datagen.query import Query, timeframe_delta
from engine.datagen.schemas import schema
from engine.errors import ConfigError, DataError
from engine.events import FundingRate, MarketData, Trade, VolIndex

# Rows of a Parquet record batch read at a time, the memory bound of a catalog replay: each batch becomes a frame
# that is checked once, so much smaller batches would cost time in pandas overhead. (BarFeed then converts the
# rows to Python objects in smaller chunks of its own.)
BATCH_ROWS = 65_536


class CatalogFeed:
    """Replay the rows of one catalog query as events, reading one record batch at a time.

    Parameters
    ----------
    catalog
        Where the data set is stored.
    query
        The data set and range (a ``Query`` or its text); rows whose ``ts`` is in ``[start, end)``.
    symbol
        The symbol put on the events; by default the query's (``"<symbol>@<kind>"`` for mark and index prices).
    batch_rows
        Rows read and converted at a time: the memory bound.
    vol_scale
        Factor from the stored volatility to ``VolIndex.value`` (0.01: percent to fraction).
    """

    def __init__(self, catalog: Catalog, query: Query | str, *, symbol: str | None = None,
                 batch_rows: int = BATCH_ROWS, vol_scale: float = 0.01, vol_kind: str = "realized") -> None:
        self.catalog = catalog
        self.query = Query.parse(query) if isinstance(query, str) else query
        kind = self.query.kind
        if kind == "open_interest":
            raise ConfigError(f"{self.query}: no event carries open interest yet; read it with Catalog.read")
        default = f"{self.query.symbol}@{kind}" if kind in ("mark", "index") else self.query.symbol
        self.symbol = symbol or default
        self.bars = schema(kind).bars
        self.interval_ns = timeframe_delta(self.query.timeframe).value if self.bars else 0
        self.batch_rows, self.vol_scale, self.vol_kind = batch_rows, vol_scale, vol_kind

    def __repr__(self) -> str:
        return f"CatalogFeed({str(self.query)!r}, symbol={self.symbol!r})"

    @property
    def interval(self) -> pd.Timedelta:
        return pd.Timedelta(self.interval_ns, unit="ns")

    def batches(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield ``(file, frame)`` for each record batch of the range, in time order, checking the order."""
        start = self.query.start.value if self.query.start is not None else None
        end = self.query.end.value if self.query.end is not None else None
        previous = None
        for path in self.catalog.files(self.query, start, end):
            try:
                batches = pq.ParquetFile(path).iter_batches(batch_size=self.batch_rows)
                for batch in batches:
                    frame = storage.table_to_frame(pa.Table.from_batches([batch]))
                    stamps = pd.DatetimeIndex(frame.index).asi8
                    lo = 0 if start is None else int(np.searchsorted(stamps, start, side="left"))
                    hi = len(stamps) if end is None else int(np.searchsorted(stamps, end, side="left"))
                    if hi <= lo:
                        continue
                    if previous is not None and stamps[lo] < previous:
                        raise DataError(f"{path} row at {frame.index[lo].isoformat()}: ts is before the last row "
                                        f"of the previous batch ({storage.stamp(previous).isoformat()})")
                    previous = int(stamps[hi - 1])
                    yield str(path), frame.iloc[lo:hi]
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"{path}: unreadable catalog partition ({exc})") from exc

    def __iter__(self) -> Iterator[MarketData]:
        kind = self.query.kind
        for path, frame in self.batches():
            if self.bars:
                if "volume" not in frame.columns:
                    frame = frame.assign(volume=0.0)
                bars = frame[list(OHLCV_COLUMNS)]
                validate_ohlcv(bars, path)
                yield from BarFeed(bars, self.symbol, self.interval_ns)
            elif kind == "funding":
                yield from self._funding(frame)
            elif kind == "vol":
                yield from self._vol(frame)
            else:
                yield from self._trades(frame)

    def _funding(self, frame: pd.DataFrame) -> Iterator[FundingRate]:
        symbol = self.symbol
        for ts, rate in zip(_ns(frame), frame["funding_rate"].tolist(), strict=True):
            yield FundingRate(ts=ts, symbol=symbol, rate=rate)

    def _vol(self, frame: pd.DataFrame) -> Iterator[VolIndex]:
        symbol, scale, kind = self.symbol, self.vol_scale, self.vol_kind
        for ts, value in zip(_ns(frame), frame["volatility"].tolist(), strict=True):
            yield VolIndex(ts=ts, symbol=symbol, value=value * scale, kind=kind)

    def _trades(self, frame: pd.DataFrame) -> Iterator[Trade]:
        symbol = self.symbol
        rows = zip(_ns(frame), frame["price"].tolist(), frame["amount"].tolist(), frame["side"].tolist(),
                   frame["id"].tolist(), strict=True)
        for ts, price, amount, side, trade_id in rows:
            yield Trade(ts=ts, symbol=symbol, price=price, quantity=amount,
                        aggressor=0 if math.isnan(side) else int(side),
                        trade_id="" if math.isnan(trade_id) else str(int(trade_id)))

    async def __aiter__(self) -> AsyncIterator[MarketData]:
        for count, event in enumerate(self, 1):
            yield event
            # let other tasks run now and then; the order of events does not depend on it
            if count % ASYNC_BATCH == 0:
                await asyncio.sleep(0)


class MergedCatalogFeed:
    """Several catalog feeds merged into one stream in ``ts`` order, ties in the order of ``feeds``."""

    def __init__(self, feeds: Sequence[CatalogFeed]) -> None:
        if not feeds:
            raise ConfigError("a replay needs at least one data set")
        self.feeds = list(feeds)

    def __repr__(self) -> str:
        return f"MergedCatalogFeed({', '.join(str(f.query) for f in self.feeds)})"

    def __iter__(self) -> Iterator[MarketData]:
        return merge_feeds(self.feeds)

    async def __aiter__(self) -> AsyncIterator[MarketData]:
        for count, event in enumerate(self, 1):
            yield event
            if count % ASYNC_BATCH == 0:
                await asyncio.sleep(0)


def merged_catalog_feed(catalog: Catalog, queries: Sequence[Query | str], *, batch_rows: int = BATCH_ROWS,
                        vol_scale: float = 0.01) -> MergedCatalogFeed:
    """Return one time-ordered stream of the data sets of ``queries`` (see ``CatalogFeed`` for the options)."""
    return MergedCatalogFeed([CatalogFeed(catalog, q, batch_rows=batch_rows, vol_scale=vol_scale) for q in queries])


def _ns(frame: pd.DataFrame) -> list[int]:
    return pd.DatetimeIndex(frame.index).asi8.tolist()

