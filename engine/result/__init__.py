"""What a run leaves behind, one module a job: ``recorder`` (the equity curve a run records), ``trades`` (round
trips from fills), ``tables`` (the orders, fills and trades frames), ``stats`` (the statistics), ``files`` (the
tables as files: which format, how fast).

``BacktestResult``, here, holds them with the statistics, the prices of the traded symbols, the configuration, a
data fingerprint and the assumptions of the run; ``save`` writes all of it to a directory and ``load`` reads it
back, so that ``mlct report RESULT_DIR`` can rebuild the report without re-running the back-test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.errors import DataError
from engine.result.files import TableFile, WriteProgress, write_csv, write_files, write_parquet
from engine.result.tables import TRADE_COLUMNS, as_categories

if TYPE_CHECKING:
    from engine.ledger import Ledger

__all__ = ["BacktestResult"]

PRICE_COLUMNS = ["ts", "symbol", "open", "high", "low", "close", "volume"]  # the report draws candles
# Read back as floats: CSV writes 1.0 as 1, which a column of whole numbers would read back as integers.
ORDER_FLOATS = ("quantity", "price", "stop_price", "filled_quantity", "average_price", "fees")
FILL_FLOATS = ("price", "quantity", "fee")


@dataclass
class BacktestResult:
    """Everything a back-test produced.

    Attributes
    ----------
    stats
        ``engine.result.stats.compute_stats``: strict-JSON figures, with buy-and-hold under ``"buy_and_hold"``.
    equity
        ``equity`` (and ``buy_and_hold`` when prices are known) at each bar close, indexed by close time.
    orders, fills, trades
        One row per order, fill and round trip (``TRADE_COLUMNS``).
    config
        The settings of the run and its strategies with their parameters.
    prices
        ``{symbol: frame}`` of ``open``, ``high``, ``low``, ``close`` and ``volume`` by bar close time, for the
        report's price and candle charts (results saved before these had ``open`` and ``close`` only).
    data
        ``engine.datagen.fingerprint.data_fingerprint``: symbols, interval, first open, last close, bar count and
        sha256.
    assumptions
        ``{"engine": [...], "venue": [...]}``: the rules the back-test filled and booked by.
    extras
        Sections that components add to the result. ``extras["ml"]`` (issue 5: ML signals) is a dict of
        DataFrames the report renders: ``"thresholds"`` (columns ``threshold``, ``n_signals``, ``precision``,
        ``avg_return``, any more shown as they are) and ``"contributions"`` (one row per trade: ``entry_time``,
        optionally ``symbol``, then one numeric column per feature with its contribution to the signal that
        opened the trade). Any handler or strategy with a ``result_extras()`` method returning such a dict
        contributes it at the end of the run. Dicts of DataFrames are saved as ``extras/<name>/<key>.csv``.
    balances
        ``{asset: amount}`` held at the end, each amount the exact text of the ledger's ``Decimal``.
    no_trades
        Why the run made no round trip (``engine.result.diagnosis.explain_no_trades``: ``cause``, ``message``
        and the figures behind it), None when it made one.
    ledger
        The ledger of the run (not saved).
    """

    stats: dict[str, Any]
    equity: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger | None = None
    prices: dict[str, pd.DataFrame] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    assumptions: dict[str, list[str]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    balances: dict[str, str] = field(default_factory=dict)
    no_trades: dict[str, Any] | None = None

    def to_json(self) -> str:
        """Return ``result.json``: stats, why no trade was made (null when one was), final balances,
        configuration, data fingerprint and assumptions."""
        return json.dumps({"stats": self.stats, "no_trades": self.no_trades, "balances": self.balances,
                           "config": self.config, "data": self.data, "assumptions": self.assumptions},
                          indent=2, default=str)

    def save(self, out_dir: str | Path, *, csv: bool = False, progress: WriteProgress | None = None) -> Path:
        """Write the result to ``out_dir``; ``BacktestResult.load`` reads it back.

        Files: ``result.json``; ``trades.csv``, ``orders.csv`` and ``fills.csv`` (a row per round trip, order or
        fill, for a spreadsheet); ``equity.parquet`` (ts, equity, buy_and_hold) and ``prices.parquet`` (ts,
        symbol, open, high, low, close, volume), a row per bar, and with ``csv`` also as ``equity.csv`` and
        ``prices.csv``; ``extras/<name>/<key>.csv``. ``engine.result.files`` says why each format and how the CSV
        text looks. ``progress`` is told about each table file before and after it is written.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(self.to_json() + "\n")
        trades = self.trades[["entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl",
                              "fees", "symbol", "return"]]
        equity = self.equity.reset_index()
        long = [frame.assign(symbol=symbol).reset_index() for symbol, frame in self.prices.items()]
        prices = pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=PRICE_COLUMNS)
        prices = prices[[c for c in PRICE_COLUMNS if c in prices]]
        files = [TableFile(out / "trades.csv", len(trades), partial(write_csv, trades)),
                 TableFile(out / "orders.csv", len(self.orders), partial(write_csv, self.orders)),
                 TableFile(out / "fills.csv", len(self.fills), partial(write_csv, self.fills)),
                 TableFile(out / "equity.parquet", len(equity), partial(write_parquet, equity)),
                 TableFile(out / "prices.parquet", len(prices), partial(write_parquet, prices))]
        if csv:
            files += [TableFile(out / "equity.csv", len(equity), partial(write_csv, equity)),
                      TableFile(out / "prices.csv", len(prices), partial(write_csv, prices))]
        else:  # the CSVs of an earlier save into this directory describe another run
            for name in ("equity.csv", "prices.csv"):
                (out / name).unlink(missing_ok=True)
        write_files(files, progress)
        for name, section in self.extras.items():
            if isinstance(section, Mapping):
                for key, frame in section.items():
                    if isinstance(frame, pd.DataFrame):  # a component's own table: pandas writes any column
                        (out / "extras" / name).mkdir(parents=True, exist_ok=True)
                        frame.to_csv(out / "extras" / name / f"{key}.csv", index=False)
        return out

    @classmethod
    def load(cls, out_dir: str | Path, files: Collection[str] | None = None) -> BacktestResult:
        """Read a directory written by ``save`` (``mlct backtest --out``); DataError if it is not one.

        ``files``: the relative paths the run's manifest lists; any other file in the directory (another run's,
        a user's) is not read. None reads every result file there, as before manifests.
        """
        out = Path(out_dir)
        listed = None if files is None else {Path(name).as_posix() for name in files}

        def has(name: str) -> bool:
            return (out / name).is_file() and (listed is None or name in listed)

        if not has("result.json"):
            where = "here" if listed is None else "among the files its manifest.json lists"
            raise DataError(f"{out}: no result.json {where} (give the --out directory of mlct backtest)")
        try:
            for name in ("trades.csv", "orders.csv", "fills.csv"):
                if not has(name):
                    raise OSError(f"{name} is missing" + ("" if listed is None else " or not listed in manifest.json"))
            meta = json.loads((out / "result.json").read_text())
            equity = _read_equity(out, has)
            trades = as_categories(_read_csv(out / "trades.csv", ("entry_time", "exit_time"))[TRADE_COLUMNS].astype(
                dict.fromkeys(("quantity", "entry_price", "exit_price", "pnl", "fees", "return"), "float64")))
            orders = as_categories(_read_csv(out / "orders.csv", ("ts", "updated_ts")).astype(
                dict.fromkeys(ORDER_FLOATS, "float64")))
            fills = as_categories(_read_csv(out / "fills.csv", ("ts",)).astype(dict.fromkeys(FILL_FLOATS, "float64")))
            prices = {}
            if has("prices.parquet"):
                long = pd.read_parquet(out / "prices.parquet")
                for symbol, frame in long.groupby("symbol", sort=False):
                    prices[str(symbol)] = frame.set_index(pd.DatetimeIndex(_times(frame["ts"]), name="ts"))[
                        [c for c in PRICE_COLUMNS[2:] if c in frame]]  # results saved before OHLCV: open, close
            extras: dict[str, Any] = {}
            for path in sorted((out / "extras").glob("*/*.csv")):
                if not has(path.relative_to(out).as_posix()):
                    continue  # not this run's: a later run into the same folder made no such section
                frame = pd.read_csv(path)
                for column in frame.columns:
                    if column.endswith("_time") or column == "ts":
                        frame[column] = _times(frame[column])
                extras.setdefault(path.parent.name, {})[path.stem] = frame
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{out}: cannot read the saved result: {exc}") from None
        return cls(stats=meta.get("stats", {}), equity=equity, orders=orders, fills=fills, trades=trades,
                   config=meta.get("config", {}), prices=prices, data=meta.get("data", {}),
                   assumptions=meta.get("assumptions", {}), extras=extras, balances=meta.get("balances", {}),
                   no_trades=meta.get("no_trades"))


def _read_equity(out: Path, has: Callable[[str], bool]) -> pd.DataFrame:
    """Read ``equity.parquet``, or the ``equity.csv`` that results saved before it was Parquet hold."""
    if has("equity.parquet"):
        equity = pd.read_parquet(out / "equity.parquet").set_index("ts")
    elif has("equity.csv"):
        equity = pd.read_csv(out / "equity.csv", index_col="ts")
    else:
        raise OSError("equity.parquet is missing")
    equity.index = pd.DatetimeIndex(_times(equity.index), name="ts")
    return equity


def _times(values: pd.Series | pd.Index) -> pd.DatetimeIndex | pd.Series:
    converted = pd.to_datetime(values, utc=True)
    if isinstance(converted, pd.Series):
        return converted.dt.as_unit("ns")
    return pd.DatetimeIndex(converted).as_unit("ns")


def _read_csv(path: Path, time_columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.read_csv(path)
    for column in time_columns:
        frame[column] = _times(frame[column])
    return frame
