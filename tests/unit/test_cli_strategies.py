"""``mlct --version`` everywhere and ``mlct strategies``, run as a user runs them."""

from __future__ import annotations

import json

import pytest

from engine.cli import build_parser, main
from engine.cli.backtest import list_strategies
from engine.session_journal import code_version


def every_command() -> list[list[str]]:
    from engine.cli import _subcommands

    parser = build_parser()
    return [sub.prog.split()[1:] for sub in _subcommands(parser)]


def test_version_on_mlct_and_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    commands = every_command()
    assert ["backtest"] in commands and ["data", "download"] in commands and ["strategies"] in commands
    for command in [[], *commands]:
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--version"])
        assert stopped.value.code == 0, command
        assert capsys.readouterr().out == f"mlct {code_version()}\n", command
    assert code_version() != "unknown"  # the package is installed: the version is its own


def test_strategies_lists_every_ready_strategy_with_parameters_and_warmup(capsys: pytest.CaptureFixture[str]
                                                                         ) -> None:
    assert main(["strategies"]) == 0
    text = capsys.readouterr().out
    for name in list_strategies():
        assert f"\n{name} (" in f"\n{text}"
    assert "sma_cross (SmaCross): Long on a golden cross" in text
    assert "warm-up 31 bars" in text  # sma_cross with slow = 30
    assert "fast = 10" in text and "slow = 30" in text and "Window lengths in bars" in text
    assert "ml_signal (MlSignal)" in text and "--param model=DIR" in text  # no model given: said, not a crash


def test_strategies_json_gives_defaults_types_and_warmup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "sma_cross", "ml_signal", "--json"]) == 0
    sma, ml = json.loads(capsys.readouterr().out)
    assert sma["name"] == "sma_cross" and sma["class"] == "SmaCross" and sma["warmup_bars"] == 31
    params = {p["name"]: p for p in sma["params"]}
    assert params["fast"]["default"] == 10 and params["fast"]["type"] == "int"
    assert params["size"]["default"] == pytest.approx(0.95)
    assert "share of equity" in params["size"]["description"].lower()
    assert ml["warmup_bars"] is None and "model" in ml["warmup_note"]
    assert {p["name"] for p in ml["params"]} >= {"model", "threshold", "hold"}


def test_an_unknown_strategy_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown strategy 'nope'" in err and "sma_cross" in err
