"""The live session's configuration: the documented example reads as written, every bad key is one ConfigError
naming the key and the value, and the keys themselves never enter the configuration."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.live_config import load_live_config

GOOD = """
[exchange]
id = "binance"
api_key_env = "MLCT_API_KEY"
secret_env = "MLCT_API_SECRET"
[exchange.options]
defaultType = "spot"
[exchange.urls]
public = "http://127.0.0.1:8080/api/v3"
ws = { spot = "ws://127.0.0.1:8080/stream/ws" }
[run]
symbols = ["BTC/USDT", "ETH/USDT"]
timeframe = "1m"
strategy = "sma_cross"
cash = 10000
out = "runs/paper"
[run.params]
fast = 10
slow = 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text)
    return path


def test_the_documented_example_reads_as_written(tmp_path: Path) -> None:
    config = load_live_config(write(tmp_path, GOOD))
    assert config.exchange.id == "binance" and config.exchange.options == {"defaultType": "spot"}
    assert config.exchange.urls["ws"] == {"spot": "ws://127.0.0.1:8080/stream/ws"}
    assert config.run.symbols == ("BTC/USDT", "ETH/USDT") and config.run.timeframe == "1m"
    assert config.run.cash == Decimal(10_000) and config.run.params == {"fast": 10, "slow": 30}
    assert config.run.out == tmp_path / "runs" / "paper"  # relative to the config file
    assert config.paper == {} and config.run.cancel_on_stop and config.run.streams == ("bars",)


def test_the_documented_example_in_the_module_is_this_format() -> None:
    import engine.live_config as module

    block = re.search(r"```toml\n(.*?)```", module.__doc__ or "", flags=re.S)
    assert block is not None and "[exchange]" in block.group(1) and "[run.params]" in block.group(1)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('id = "binance"', 'id = "nosuchexchange"', "exchange.id must be a ccxt.pro exchange id, got 'nosuchexchange'"),
    ('api_key_env = "MLCT_API_KEY"', 'api_key_env = "not a name"',
     "exchange.api_key_env must name an environment variable, got 'not a name'"),
    ('symbols = ["BTC/USDT", "ETH/USDT"]', 'symbols = ["BTCUSDT"]',
     "run.symbols must be a non-empty list of BASE/QUOTE symbols, got ['BTCUSDT']"),
    ('timeframe = "1m"', 'timeframe = "1 minute"', "run.timeframe must be a bar length such as 1m, 1h or 1d, got "
                                                  "'1 minute'"),
    ("cash = 10000", "cash = -5", "run.cash must be a positive number, got -5"),
    ("cash = 10000", 'cash = "lots"', "run.cash must be a positive number, got 'lots'"),
    ("cash = 10000", "cash = 10000\nleverage = 3", "run: unknown key(s) leverage"),
    ("[run.params]", "[run.params]\n[extra]", "unknown section(s) extra"),
    ("cash = 10000", 'cash = 10000\ncancel_on_stop = "yes"', "run.cancel_on_stop must be true or false, got 'yes'"),
    ("cash = 10000", 'cash = 10000\nstreams = ["trades"]', "run.streams must be a list of bars, trades, quotes"),
    ("cash = 10000", "cash = 10000\nstale_after = 0", "run.stale_after must be a positive number of seconds, got 0"),
])
def test_a_bad_key_is_one_error_naming_the_key_and_the_value(tmp_path: Path, old: str, new: str,
                                                             message: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        load_live_config(write(tmp_path, GOOD.replace(old, new, 1)))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_keys_come_from_the_environment_when_asked_and_never_sit_in_the_config(tmp_path: Path) -> None:
    config = load_live_config(write(tmp_path, GOOD))
    secret = "s3cr3t-value-never-in-a-repr"
    assert config.exchange.credentials({"MLCT_API_KEY": "k", "MLCT_API_SECRET": secret}) == ("k", secret)
    assert secret not in repr(config)
    with pytest.raises(ConfigError, match=r"environment variable MLCT_API_SECRET .* is not set"):
        config.exchange.credentials({"MLCT_API_KEY": "k"})


def test_a_missing_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_live_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"live\.toml"):
        load_live_config(write(tmp_path, "[exchange\nid ="))


def test_the_monitor_is_off_unless_its_table_gives_a_port(tmp_path: Path) -> None:
    assert load_live_config(write(tmp_path, GOOD)).monitor_port is None
    assert load_live_config(write(tmp_path, GOOD + "[monitor]\nport = 8765\n")).monitor_port == 8765
    assert load_live_config(write(tmp_path, GOOD + "[monitor]\nport = 0\n")).monitor_port == 0  # any free port


@pytest.mark.parametrize(("table", "message"), [
    ("[monitor]\nport = -1\n", "monitor.port must be a TCP port from 0 to 65535"),
    ("[monitor]\nport = 65536\n", "monitor.port must be a TCP port from 0 to 65535"),
    ('[monitor]\nport = "8765"\n', "got '8765'"),
    ("[monitor]\nport = true\n", "monitor.port must be a TCP port from 0 to 65535"),
    ("[monitor]\nport = 8765.0\n", "got 8765.0"),
    ("[monitor]\n", "monitor.port must be a TCP port from 0 to 65535 (0: any free one; leave out [monitor] for no "
                    "page), got None"),
    ('[monitor]\nport = 8765\nhost = "0.0.0.0"\n', "monitor: unknown key(s) host (known: port)"),
])
def test_a_bad_monitor_table_is_one_error_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_live_config(write(tmp_path, GOOD + table))
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"\[monitor\] must be a table, got 8765"):
        load_live_config(write(tmp_path, "monitor = 8765\n" + GOOD))
