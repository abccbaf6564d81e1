"""The README's examples of ``mlct check lookahead`` are what the command prints today."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[3]


def examples() -> list[tuple[list[str], str]]:
    """Return each example of the README's check section: the command's arguments and the output shown."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"<!-- check-lookahead:start -->(.*?)<!-- check-lookahead:end -->", text, flags=re.S)
    assert section is not None
    found = []
    for block in re.findall(r"```\n(.*?)```", section.group(1), flags=re.S):
        command, _, output = block.partition("\n")
        assert command.startswith("$ mlct ")
        found.append((shlex.split(command)[2:], output))
    return found


def test_the_readme_shows_what_the_command_prints(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the second example names a file of the repository
    shown = examples()
    assert len(shown) == 2
    for argv, output in shown:
        code = main([*argv, "--quiet"])
        assert capsys.readouterr().out == output
        assert code == (1 if "LOOK-AHEAD" in output else 0)
