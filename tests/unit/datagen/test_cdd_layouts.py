"""Every CryptoDataDownload layout told from its header; the exchange never guessed from a file name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from engine.datagen.cryptodatadownload import load_cryptodatadownload, split_pair, unified_symbol
from engine.datagen.files import load_bars
from engine.datagen.importing import ReadOptions, parse_columns, read_file
from engine.errors import ConfigError, DataError

URL = "https://www.CryptoDataDownload.com"
START = pd.Timestamp("2024-03-01", tz="UTC")
N = 6


Bar = tuple[pd.Timestamp, float, float, float, float, float, float, int]


def bars() -> list[Bar]:
    """Hourly (time, open, high, low, close, base volume, quote volume, trades), oldest first."""
    out = []
    for i in range(N):
        close = 100.0 + i
        out.append((START + pd.Timedelta(hours=i), close - 0.5, close + 1, close - 1, close, 2.0 + i,
                    (2.0 + i) * close, 10 + i))
    return out


Row = Callable[[Bar], str]


def unix_s(b: Bar) -> str:
    return f"{int(b[0].timestamp())},{b[0]:%Y-%m-%d %H:%M:%S}"


def unix_ms(b: Bar) -> str:
    return f"{int(b[0].timestamp()) * 1000},{b[0]:%Y-%m-%d %H:%M:%S}"


def prices(b: Bar) -> str:
    return ",".join(f"{v:g}" for v in b[1:5])


# name -> (header, symbol cell, row writer, has quote volume, has trades); each as CryptoDataDownload publishes it.
LAYOUTS: dict[str, tuple[str, str, Row, bool, bool]] = {
    "unix s, Volume BTC/USD, tradecount": (
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USD,tradecount", "BTC/USD",
        lambda b: f"{unix_s(b)},BTC/USD,{prices(b)},{b[5]:g},{b[6]:g},{b[7]}", True, True),
    "Unix ms, Volume BTC/USDT (Binance)": (
        "Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount", "BTCUSDT",
        lambda b: f"{unix_ms(b)},BTCUSDT,{prices(b)},{b[5]:g},{b[6]:g},{b[7]}", True, True),
    "date 12-hour clock, volume_btc + volume": (
        "date,symbol,open,high,low,close,volume_btc,volume", "BTCUSD",
        lambda b: f"{b[0]:%Y-%m-%d %I-%p},BTCUSD,{prices(b)},{b[5]:g},{b[6]:g}", True, False),
    "VolumeFrom/VolumeTo": (
        "Date,Symbol,Open,High,Low,Close,VolumeFrom,VolumeTo", "BTC-USD",
        lambda b: f"{b[0]:%Y-%m-%d %H:%M:%S},BTC-USD,{prices(b)},{b[5]:g},{b[6]:g}", True, False),
    "Volume From/Volume To": (
        "Date,Symbol,Open,High,Low,Close,Volume From,Volume To", "BTCUSD",
        lambda b: f"{b[0]:%Y-%m-%d %H:%M},BTCUSD,{prices(b)},{b[5]:g},{b[6]:g}", True, False),
    "Unix Timestamp ms, one Volume (Gemini)": (
        "Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume", "BTCUSD",
        lambda b: f"{unix_ms(b)},BTCUSD,{prices(b)},{b[5]:g}", False, False),
}


def write_layout(directory: Path, layout: str, *, name: str = "layout.csv", newest_first: bool = True,
                 url: bool = True) -> Path:
    header, _, row, _, _ = LAYOUTS[layout]
    rows = [row(b) for b in bars()]
    if newest_first:
        rows.reverse()
    path = directory / name
    path.write_text("\n".join([*([URL] if url else []), header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("newest_first", [True, False])
def test_every_layout_loads_the_same_bars(tmp_path: Path, layout: str, newest_first: bool) -> None:
    path = write_layout(tmp_path, layout, newest_first=newest_first)
    frame, meta = load_bars(path)  # detected from the header: no --format
    _, symbol_cell, _, has_quote, has_trades = LAYOUTS[layout]
    expected = bars()
    assert meta.format == "cryptodatadownload" and meta.exchange is None  # layout.csv names no exchange
    assert meta.symbol == unified_symbol(symbol_cell) and meta.interval == pd.Timedelta("1h")
    assert list(frame.index) == [b[0] for b in expected]
    assert frame["close"].tolist() == pytest.approx([b[4] for b in expected])
    assert frame["volume"].tolist() == pytest.approx([b[5] for b in expected])  # always the base volume
    assert ("quote_volume" in frame) == has_quote and ("trades" in frame) == has_trades
    if has_quote:
        assert frame["quote_volume"].tolist() == pytest.approx([b[6] for b in expected])
    if has_trades:
        assert frame["trades"].tolist() == [float(b[7]) for b in expected]


@pytest.mark.parametrize("text, pair", [("BTC/USD", ("BTC", "USD")), ("BTCUSD", ("BTC", "USD")),
                                        ("btc-usd", ("BTC", "USD")), ("ETHUSDT", ("ETH", "USDT")),
                                        ("BTC_EUR", ("BTC", "EUR")), ("XYZ", ("XYZ", ""))])
def test_symbols_as_files_write_them(text: str, pair: tuple[str, str]) -> None:
    assert split_pair(text) == pair


@pytest.mark.parametrize("name, exchange", [
    ("Coinbase_BTCUSD_1h.csv", "coinbase"),  # their convention with an exchange ccxt knows
    ("Bitstamp_BTCUSD_d.csv.gz", "bitstamp"),
    ("out_of_order.csv", None),  # underscores, but "out" is no exchange and "order" no timeframe
    ("my_bars_1h.csv", None),  # "my" is no exchange ccxt knows
    ("Coinbase_BTCUSD_1h_copy.csv", None),  # the whole name must fit
    ("Coinbase_BTCUSD.csv", None),
    ("layout.csv", None),
])
def test_exchange_only_from_the_full_naming_convention(tmp_path: Path, name: str, exchange: str | None) -> None:
    path = write_layout(tmp_path, "VolumeFrom/VolumeTo", name=name)
    if name.endswith(".gz"):
        import gzip

        path.write_bytes(gzip.compress(path.read_bytes()))
    _, meta = load_cryptodatadownload(path)
    assert meta.exchange == exchange
    _, meta = load_cryptodatadownload(path, exchange="Kraken")  # --exchange wins over any name
    assert meta.exchange == "kraken"


def test_time_unit_is_required_when_given(tmp_path: Path) -> None:
    path = write_layout(tmp_path, "Unix ms, Volume BTC/USDT (Binance)")
    frame, _ = load_cryptodatadownload(path, time_unit="ms")
    assert frame.index[0] == START
    with pytest.raises(DataError, match=r"layout\.csv line 3: unix = 1709269200000 is not a time between 2009-01-01 "
                                        r"and 2100-01-01 in s: is --time-unit s right\?"):
        load_cryptodatadownload(path, time_unit="s")


def test_generic_csv_with_columns_skips_a_line_above_its_header(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    lines = [f"{int(b[0].timestamp())};{b[1]:g};{b[2]:g};{b[3]:g};{b[4]:g};{b[5]:g}" for b in bars()]
    path.write_text("exported by my tool\nWhen,O,H,L,C,Vol\n" + "\n".join(x.replace(";", ",") for x in lines) + "\n")
    options = ReadOptions(columns=parse_columns("time=When,open=O,high=H,low=L,close=C,volume=Vol"), time_unit="s",
                          symbol="eth/eur", exchange="Kraken", timeframe="1h")
    frame, meta, query = read_file(path, options)
    assert str(query) == "csv:kraken:ETH/EUR:1h:ohlcv" and meta.exchange == "kraken"
    assert frame["close"].tolist() == pytest.approx([b[4] for b in bars()])
    with pytest.raises(DataError, match=r"bars are 1h apart"):
        read_file(path, ReadOptions(columns=options.columns, symbol="ETH/EUR", timeframe="1d"))


def test_generic_csv_errors_name_line_column_value_and_the_cli_option(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("When,O,H,L,C,Vol\n1709251200,1,2,0.5,1.5,3\n1709254800,1,2,0.5,abc,3\n")
    columns = parse_columns("time=When,open=O,high=H,low=L,close=C,volume=Vol")
    with pytest.raises(DataError, match=r"export\.csv line 3: C = 'abc' is not a number"):
        read_file(path, ReadOptions(columns=columns, symbol="BTC/USD"))
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) open, high, low, close, volume .*"
                                        r"name them with --columns open=NAME,high=NAME"):
        read_file(path, ReadOptions(columns={"When": "ts"}, symbol="BTC/USD"))
    with pytest.raises(DataError, match=r"line 1: no time column .* --columns time=NAME"):
        read_file(path, ReadOptions(columns={"O": "open"}, symbol="BTC/USD"))
    with pytest.raises(DataError, match=r"line 2: When = 'x' is not an epoch number in ms \(--time-unit ms\)"):
        path.write_text("When,O,H,L,C,Vol\nx,1,2,0.5,1.5,3\n")
        read_file(path, ReadOptions(columns=columns, symbol="BTC/USD", time_unit="ms"))


@pytest.mark.parametrize("text, message", [
    ("time=Date,price", r"'price' is not NAME=COLUMN"),
    ("when=Date", r"'when' is not one of time, open"),
    ("close=C,close=D", r"close is given twice"),
])
def test_columns_option_is_checked(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"--columns: {message}"):
        parse_columns(text)


def test_read_options_refuse_bad_values_before_reading() -> None:
    with pytest.raises(ConfigError, match="--time-unit must be one of s, ms, us, ns, iso"):
        ReadOptions(time_unit="minutes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeframe must look like"):
        ReadOptions(timeframe="hourly")
    assert not ReadOptions(symbol="BTC/USD").given and ReadOptions(order="sort").given


def test_an_asset_of_the_wide_daily_file_gets_its_quote_from_the_name(tmp_path: Path) -> None:
    path = tmp_path / "bitstamp_BTC_ETH_USD_d.csv"
    path.write_text(f"{URL}\ndate,BTC:open,BTC:high,BTC:low,BTC:close,BTC:volume,ETH:open,ETH:high,ETH:low,ETH:close,"
                    "ETH:volume\n2024-03-02,10,12,9,11,1,2,3,1,2,5\n2024-03-01,9,11,8,10,1,1,3,1,2,5\n")
    frame, meta, query = read_file(path, ReadOptions(symbol="eth"))
    assert str(query) == "csv:bitstamp:ETH/USD:1d:ohlcv" and meta.exchange == "bitstamp"
    assert frame["close"].tolist() == [2.0, 2.0] and frame.index[0] == pd.Timestamp("2024-03-01", tz="UTC")
