"""The mlct command line: the sample back-test, outputs, plug-ins by module:Class, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import COMMANDS, main
from engine.datagen.sample import load_sample
from engine.errors import ConfigError

TRADE_HEADER = ["entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl", "fees"]


def test_backtest_on_the_sample_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--out", str(tmp_path), "--param", "fast=12", "--param", "slow=48"]) == 0
    table = capsys.readouterr().out
    assert "SmaCross" in table and "Total return" in table and "Max drawdown" in table
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["config"]["strategies"][0]["params"]["fast"] == 12
    trades = pd.read_csv(tmp_path / "trades.csv")
    assert list(trades.columns[:8]) == TRADE_HEADER
    assert len(trades) == result["stats"]["n_trades"] > 0
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    assert list(equity.columns) == ["ts", "equity", "buy_and_hold"] and len(equity) == 20_111
    assert equity["equity"].iloc[-1] == pytest.approx(result["stats"]["final_equity"])
    orders = pd.read_csv(tmp_path / "orders.csv")
    assert set(orders["status"]) <= {"filled", "accepted", "rejected"}
    assert (tmp_path / "fills.csv").exists() and (tmp_path / "prices.parquet").exists()
    assert not (tmp_path / "report.html").exists()  # only with --report
    assert not (tmp_path / "equity.csv").exists() and not (tmp_path / "prices.csv").exists()  # only with --csv


def test_json_flag_prints_result_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--json", "--fee-bps", "0", "--cash", "5000"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stats"]["initial_equity"] == 5000.0
    assert printed["stats"]["fees_paid"] == 0.0


def test_user_strategy_and_handler_by_module_and_class(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    frame, _ = load_sample()
    last_close_ts = frame.index[-1].value + 3600 * 10**9
    counts = tmp_path / "counts.json"
    monkeypatch.setenv("MLCT_TEST_OUT", str(counts))
    monkeypatch.setenv("MLCT_TEST_LAST_TS", str(last_close_ts))
    code = main(["backtest", "--strategy", "tests.unit.fixtures.plugins:BuyOnce", "--param", "quantity=0.05",
                 "--handler", "tests.unit.fixtures.plugins:FillCounter", "--json"])
    assert code == 0
    assert json.loads(counts.read_text()) == {"bars": 20_111, "fills": 1}
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats["exposure"] > 0.99


def test_config_file_with_params_and_handlers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    frame, _ = load_sample()
    monkeypatch.setenv("MLCT_TEST_OUT", str(tmp_path / "counts.json"))
    monkeypatch.setenv("MLCT_TEST_LAST_TS", str(frame.index[-1].value + 3600 * 10**9))
    config = tmp_path / "run.toml"
    config.write_text('strategy = "sma_cross"\ncash = 20000\nfee_bps = 5\n'
                      'handlers = ["tests.unit.fixtures.plugins:FillCounter"]\n[params]\nfast = 5\nslow = 20\n')
    assert main(["backtest", "--config", str(config), "--json", "--param", "slow=25"]) == 0
    result = json.loads(capsys.readouterr().out)
    params = result["config"]["strategies"][0]["params"]
    assert params == {"fast": 5, "slow": 25, "size": 0.95, "quantity": 0.0, "symbol": ""}
    assert result["config"]["fee_bps"] == 5.0 and result["stats"]["initial_equity"] == 20000.0
    fills = json.loads((tmp_path / "counts.json").read_text())["fills"]
    assert fills in (2 * result["stats"]["n_trades"], 2 * result["stats"]["n_trades"] + 1)  # + an open entry


def test_a_config_file_may_not_name_the_venue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text('fee_bps = 5\nvenue = "adapters.sim:build_venue"\n')
    assert main(["backtest", "--config", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown setting(s): venue (known: cash, currency, fee_bps, latency_ms, limit_fill, maker_fee_bps" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["backtest", "--data", "/nonexistent/bars.csv"], "/nonexistent/bars.csv"),
    (["backtest", "--strategy", "no_such_strategy"], "unknown strategy 'no_such_strategy'"),
    (["backtest", "--strategy", "nowhere.module:Thing"], "cannot import strategy 'nowhere.module:Thing'"),
    (["backtest", "--param", "fast=ten"], "parameter 'fast' must be a int, got 'ten'"),
    (["backtest", "--param", "speed=3"], "unknown parameter 'speed'"),
    (["backtest", "--param", "fast"], "--param must look like KEY=VALUE"),
    (["backtest", "--param", "fast=40"], "need 0 < fast < slow"),
    (["backtest", "--cash", "-5"], "cash must be positive"),
    (["backtest", "--fee-bps", "-5"], "taker_fee must be a Decimal rate in [0, 1), got Decimal('-0.0005'), "
                                      "made from SimSettings(fee_bps=-5.0,"),
    (["backtest", "--latency-ms", "nan"], "latency_ms must be a finite number, got nan"),
    (["backtest", "--handler", "tests.unit.fixtures.plugins:Missing"], "has no 'Missing'"),
])
def test_errors_are_one_clear_line_with_exit_code_2(argv: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_data_file_names_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
                   "2024-01-01T01:00:00Z,1,2,0.5,nan,10\n")
    assert main(["backtest", "--data", str(bad), "--symbol", "BTC/USD"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 3" in err and "close" in err


def test_console_script_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "backtest", "--help"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and "examples:" in proc.stdout


def test_summary_table_puts_the_strategy_beside_buy_and_hold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("SmaCross {") and "BTC/USD  1h bars  2017-07-01 11:00" in lines[1]
    header = next(line for line in lines if "Strategy" in line)
    assert "Buy & hold" in header
    total = next(line for line in lines if line.startswith("| Total return"))
    assert total.count("%") == 2  # both columns
    trades = next(line for line in lines if line.startswith("| Trades"))
    assert trades.rstrip(" |").endswith(tuple("0123456789"))  # nothing for buy-and-hold


@pytest.mark.parametrize("command", [c.__name__.rpartition(".")[2] for c in COMMANDS])
def test_every_command_has_help_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"mlct {command}" in out and "--log-level" in out


def test_top_level_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("backtest", "report", "init")) and "exit codes" in out


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["backtest", "--slippage", "sometimes"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_debug_after_the_command_shows_the_traceback() -> None:
    with pytest.raises(ConfigError, match="unknown parameter"):
        main(["backtest", "--param", "speed=3", "--debug"])
    with pytest.raises(ConfigError, match="unknown parameter"):
        main(["--debug", "backtest", "--param", "speed=3"])


def test_a_failure_while_running_is_one_line_with_exit_code_1(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.py").write_text(
        "from engine.strategy import Strategy\n\n"
        "class Broken(Strategy):\n"
        "    def on_bar(self, bar):\n"
        "        raise RuntimeError('boom at ' + str(bar.ts))\n")
    assert main(["backtest", "--strategy", f"{tmp_path / 'broken.py'}:Broken"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("error:")]) == 1
    assert "Broken.on_bar" in err[-1] and "boom at" in err[-1] and "Traceback" not in "".join(err)


def test_strategy_from_a_file_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.py").write_text("from strategies.sma_cross import SmaCross\n\n"
                                      "class Mine(SmaCross):\n    params = {**SmaCross.params, 'fast': 7}\n")
    assert main(["backtest", "--strategy", str(tmp_path / "mine.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["strategies"][0]["params"]["fast"] == 7
    assert main(["backtest", "--strategy", str(tmp_path / "missing.py")]) == 2
    assert "strategy file" in capsys.readouterr().err
    (tmp_path / "bad.py").write_text("import no_such_module_here\n")
    assert main(["backtest", "--strategy", f"{tmp_path / 'bad.py'}:X"]) == 2
    assert "ModuleNotFoundError" in capsys.readouterr().err


def test_log_level_and_json_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--quiet", "--log-level", "info", "--log-format", "json", "--json"]) == 0
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    done = next(line for line in lines if line["message"] == "back-test done")
    assert done["level"] == "INFO" and done["bars"] == 20_111 and done["bars_per_s"] > 0
    assert any(line["message"] == "back-test starting" and line["symbols"] == "BTC/USD" for line in lines)


def test_progress_bar_is_drawn_on_a_terminal_and_not_with_quiet(capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.backtest

    monkeypatch.setattr(engine.backtest, "progress_enabled", lambda: True)  # as if stderr were a terminal
    assert main(["backtest", "--json"]) == 0
    assert "back-test" in capsys.readouterr().err
    assert main(["backtest", "--json", "--quiet"]) == 0
    assert "back-test:" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [["backtest"], ["signals", "--signal", "rsi"], ["data", "import"]])
def test_rows_out_of_order_are_refused_unless_sort_is_asked(command: list[str], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    frame = load_sample()[0].iloc[:300].reset_index()
    frame.iloc[[100, 101]] = frame.iloc[[101, 100]].to_numpy()  # two rows swapped
    shuffled = tmp_path / "shuffled.csv"
    frame.to_csv(shuffled, index=False)
    data = [str(shuffled)] if command[0] == "data" else ["--data", str(shuffled)]
    extra = ["--data-dir", str(tmp_path / "catalog")] if command[0] == "data" else []
    argv = [*command, *data, "--symbol", "BTC/USD", *extra]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {shuffled} line 103: ts = ") and "out of order" in error and "--sort" in error
    assert main([*argv, "--sort"]) == 0


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """``mlct journal export ... | head -1``: the pipe closes under the writer; no error line, no traceback."""
    import subprocess
    import sys

    journal = tmp_path / "run.journal"
    assert main(["backtest", "--journal", str(journal), "--quiet"]) == 0  # the sample: tens of thousands of events
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "journal", "export", str(journal)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"{")
    proc.stdout.close()  # as head does after its lines
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and stderr == b""
