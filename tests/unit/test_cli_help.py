"""Every command's --help ends with examples, and every example is a command line mlct accepts."""

from __future__ import annotations

import re
import shlex

import pytest

from engine.cli import _subcommands, build_parser, main


def helps() -> dict[str, str]:
    parser = build_parser()
    return {sub.prog: sub.format_help() for sub in [parser, *_subcommands(parser)]}


def test_every_command_and_subcommand_help_shows_examples() -> None:
    missing = [prog for prog, text in helps().items() if "\nexamples:\n" not in text]
    assert not missing
    assert {"mlct data download", "mlct data import", "mlct data synth", "mlct strategies"} <= set(helps())


def test_data_subcommand_help_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["data", "download", "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    assert "examples:\n  mlct data download --exchange binance --symbol BTC/USDT --timeframe 1h --since 2024-" in text


def example_lines() -> list[str]:
    """Return each ``mlct ...`` command of every help's examples (the text after two spaces is its comment)."""
    found = []
    for text in helps().values():
        for line in text.partition("\nexamples:\n")[2].splitlines():
            if line.startswith("  mlct "):
                command = re.split(r"\s{2,}", line.strip())[0].partition(" > ")[0]  # no shell redirection
                found += [part.strip() for part in command.split("&&")]
    return sorted(set(found))


def test_every_example_is_a_command_line_mlct_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = example_lines()
    assert len(commands) > 40
    for command in commands:
        words = shlex.split(command)[1:]
        try:
            parser.parse_args(words)
        except SystemExit as exc:  # --help and --version stop with 0; a bad flag with 2
            assert exc.code == 0, f"example does not parse: {command}: {capsys.readouterr().err}"
