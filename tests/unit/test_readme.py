"""The README's promises that code can check: the assumptions list and the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.sim import ASSUMPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_every_simulator_assumption_is_listed_in_the_readme() -> None:
    readme = normalized(README.read_text())
    missing = [a for a in ASSUMPTIONS if normalized(a) not in readme]
    assert not missing, f"README's 'Back-test assumptions' lacks: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest" in README.read_text()
    assert "python -m pytest" in ci
