"""The files of a result: Parquet for the per-bar tables, CSV through Arrow with the text pandas wrote, results
saved before equity was Parquet still loading, and what a save tells its progress."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimSettings
from engine.backtest import run_backtest
from engine.datagen.synthetic import synthetic_bars
from engine.errors import DataError
from engine.result import BacktestResult
from engine.result.files import Written, csv_table, write_csv
from strategies.sma_cross import SmaCross


def small_run() -> BacktestResult:
    frame = synthetic_bars(600, interval="1h", seed=3)
    return run_backtest(SmaCross(fast=5, slow=20), frame, venue=SimSettings(), symbol="SYN/USD")


def test_csv_text_is_what_pandas_wrote_for_times_and_reads_back_the_same_floats(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({
        "bar": pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC"),
        "fill": pd.to_datetime(["2024-01-01 00:00:00.123", "NaT", "2024-01-01 00:00:01", "2024-01-02"], utc=True,
                               format="ISO8601"),
        "value": rng.normal(size=4) * 1e4,
        "text": pd.Series(["a", "b, with a comma", "", None]).astype("category"),
        "flag": [True, False, True, False],
    })
    path = tmp_path / "table.csv"
    write_csv(frame, path)
    lines = path.read_text().splitlines()
    assert lines[0] == '"bar","fill","value","text","flag"'
    assert lines[1].startswith('"2024-01-01 00:00:00+00:00","2024-01-01 00:00:00.123+00:00",')
    assert lines[2].startswith('"2024-01-01 01:00:00+00:00",,')  # a missing time stays empty
    assert '"b, with a comma"' in lines[2] and lines[2].endswith(",false")
    back = pd.read_csv(path)
    for column in ("bar", "fill"):
        pd.testing.assert_series_equal(pd.to_datetime(back[column], utc=True, format="ISO8601").dt.as_unit("ns"),
                                       frame[column].dt.as_unit("ns"))
    assert back["value"].tolist() == frame["value"].tolist()  # the shortest text of each float: the same bits
    assert back["flag"].tolist() == frame["flag"].tolist()
    assert back["text"].tolist()[:2] == ["a", "b, with a comma"] and back["text"].isna().tolist()[2:] == [True, True]


def test_times_are_written_in_utc_whatever_their_zone() -> None:
    frame = pd.DataFrame({"ts": pd.date_range("2024-06-01 02:00", periods=2, freq="1D", tz="Europe/Paris")})
    assert csv_table(frame).column("ts").to_pylist() == ["2024-06-01 00:00:00+00:00", "2024-06-02 00:00:00+00:00"]


def test_per_bar_tables_are_parquet_and_csv_on_request(tmp_path: Path) -> None:
    result = small_run()
    result.save(tmp_path / "plain")
    assert {p.name for p in (tmp_path / "plain").iterdir()} == {
        "result.json", "trades.csv", "orders.csv", "fills.csv", "equity.parquet", "prices.parquet"}
    result.save(tmp_path / "csv", csv=True)
    equity = pd.read_parquet(tmp_path / "csv" / "equity.parquet")
    pd.testing.assert_frame_equal(equity.set_index("ts"), result.equity, check_freq=False)
    as_text = pd.read_csv(tmp_path / "csv" / "equity.csv")
    assert as_text["equity"].tolist() == equity["equity"].tolist()
    assert (pd.to_datetime(as_text["ts"], utc=True).dt.as_unit("ns") == equity["ts"]).all()
    prices = pd.read_csv(tmp_path / "csv" / "prices.csv")
    assert list(prices.columns) == ["ts", "symbol", "open", "high", "low", "close", "volume"] and len(prices) == 600
    assert prices["close"].tolist() == result.prices["SYN/USD"]["close"].tolist()
    result.save(tmp_path / "csv")  # the same directory without csv: no CSV of the earlier run stays beside it
    assert not (tmp_path / "csv" / "equity.csv").exists() and not (tmp_path / "csv" / "prices.csv").exists()


def test_a_result_saved_with_equity_csv_still_loads(tmp_path: Path) -> None:
    result = small_run()
    result.save(tmp_path, csv=True)
    (tmp_path / "equity.parquet").unlink()  # as results saved before equity was Parquet
    loaded = BacktestResult.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.equity, result.equity, check_freq=False)


def test_whole_number_quantities_load_back_as_floats(tmp_path: Path) -> None:
    frame = synthetic_bars(600, interval="1h", seed=3)
    result = run_backtest(SmaCross(fast=5, slow=20, quantity=1.0), frame, venue=SimSettings(), symbol="SYN/USD")
    assert (result.fills["quantity"] == 1.0).all()
    assert "1.0" not in (result.save(tmp_path) / "fills.csv").read_text()  # CSV writes 1.0 as 1
    loaded = BacktestResult.load(tmp_path)
    assert loaded.fills["quantity"].dtype == "float64" and loaded.orders["quantity"].dtype == "float64"


def test_save_tells_its_progress_before_and_after_each_table(tmp_path: Path) -> None:
    told: list[tuple[str, ...]] = []

    class Recorder:
        def writing(self, path: Path, index: int, total: int) -> None:
            told.append(("writing", path.name, f"{index}/{total}"))

        def written(self, file: Written) -> None:
            assert file.path.stat().st_size == file.size > 0 and file.seconds >= 0
            told.append(("written", file.path.name, str(file.rows)))

    small_run().save(tmp_path, csv=True, progress=Recorder())
    names = ["trades.csv", "orders.csv", "fills.csv", "equity.parquet", "prices.parquet", "equity.csv", "prices.csv"]
    assert [t[1] for t in told] == [name for name in names for _ in range(2)]
    assert told[0] == ("writing", "trades.csv", "1/7") and ("written", "equity.parquet", "600") in told


def test_an_empty_result_writes_and_loads(tmp_path: Path) -> None:
    frame = synthetic_bars(30, interval="1h", seed=3)
    result = run_backtest(SmaCross(fast=5, slow=50), frame, venue=SimSettings(), symbol="SYN/USD")
    result.prices = {}
    loaded = BacktestResult.load(result.save(tmp_path, csv=True))
    assert loaded.orders.empty and loaded.prices == {} and len(loaded.equity) == 30
    assert io.StringIO((tmp_path / "prices.csv").read_text()).readline().strip() == (
        '"ts","symbol","open","high","low","close","volume"')


@pytest.mark.parametrize("bad", ["equity.parquet", "orders.csv"])
def test_a_damaged_file_is_named(tmp_path: Path, bad: str) -> None:
    small_run().save(tmp_path)
    (tmp_path / bad).write_text("not a table\x00")
    with pytest.raises(DataError, match="cannot read the saved result"):
        BacktestResult.load(tmp_path)
