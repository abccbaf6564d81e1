"""``mlct init``: the starter files are written, documented, and run as they are."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from adapters.sim import SimSettings
from engine.backtest import BacktestConfig
from engine.cli import main
from engine.cli.init import CONFIG

# Keys `mlct backtest --config` reads besides the fields of BacktestConfig and SimSettings.
RUN_KEYS = {"strategy", "data", "symbol", "params", "handlers", "out", "report", "csv"}


def test_init_then_backtest_the_starter_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "bot"
    assert main(["init", str(project)]) == 0
    assert f"mlct backtest --config {project / 'config.toml'}" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # paths in the config are relative to the file, not to the working directory
    assert main(["backtest", "--quiet", "--config", str(project / "config.toml")]) == 0
    out = capsys.readouterr().out
    assert "MyStrategy" in out and "Buy & hold" in out
    result = json.loads((project / "out" / "result.json").read_text())
    assert result["stats"]["n_trades"] > 10
    assert result["config"]["strategies"][0] == {"name": "MyStrategy",
                                                 "params": {"entry": 48, "exit": 24, "size": 0.95}}
    assert result["config"]["slippage_bps"] == 2.0
    assert (project / "out" / "report.html").stat().st_size > 1_000_000
    assert not (tmp_path / "out").exists()


def test_flags_win_over_the_starter_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["backtest", "--quiet", "--config", str(tmp_path / "config.toml"), "--param", "entry=24",
                 "--fee-bps", "5", "--out", str(tmp_path / "elsewhere"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["strategies"][0]["params"]["entry"] == 24 and result["config"]["fee_bps"] == 5.0
    assert (tmp_path / "elsewhere" / "report.html").exists()


def test_every_key_of_the_starter_config_is_one_backtest_reads() -> None:
    written = set(tomllib.loads(CONFIG))
    commented = set(re.findall(r"^# (\w+) = ", CONFIG, flags=re.M))
    known = ({f.name for f in fields(BacktestConfig)} - {"markets"}) | {f.name for f in fields(SimSettings) if f.init}
    known |= RUN_KEYS
    assert written | commented <= known, (written | commented) - known
    assert {"strategy", "cash", "fee_bps", "out", "report", "params"} <= written


def test_init_does_not_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path)]) == 0
    (tmp_path / "config.toml").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exist" in err and "--force" in err
    assert (tmp_path / "config.toml").read_text() == "# mine\n"
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "config.toml").read_text() == CONFIG


def test_bad_values_in_a_config_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    for text, message in (("report = 'yes'\n", "report must be true or false"),
                          ("handlers = 'x:Y'\n", "handlers must be a list"),
                          ("params = 3\n", "params must be a table"),
                          ("speed = 3\n", "unknown setting(s): speed"),
                          ("cash = \n", "config file")):
        config.write_text(text)
        assert main(["backtest", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_the_starter_live_config_is_one_a_live_session_reads(tmp_path: Path) -> None:
    from engine.live_config import load_live_config

    assert main(["init", str(tmp_path)]) == 0
    config = load_live_config(tmp_path / "live.toml")
    assert config.exchange.id == "binance" and config.exchange.api_key_env == "MLCT_API_KEY"
    assert config.run.symbols == ("BTC/USDT",) and config.run.out == tmp_path / "runs" / "live"
