"""requirements.lock: it pins what pyproject.toml asks for, hash-checked, and CI installs from it as the README does."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
INSTALL_STEPS = ("pip install --require-hashes -r requirements.lock", "pip install --no-deps -e .")


def locked() -> dict[str, list[tuple[str, str]]]:
    """Return each locked package's (version, marker) pins, read from requirements.lock's ``name==version`` lines."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, list[tuple[str, str]]] = {}
    for name, version, marker in re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)(?: ; ([^\\\n]+?))? \\$", text, re.M):
        pins.setdefault(canonicalize_name(name), []).append((version, marker))
    return pins


def declared() -> list[Requirement]:
    """Return the runtime requirements and the locked extras' (dev, ray), as pyproject.toml declares them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(text) for text in project["dependencies"] + extras["dev"] + extras["ray"]]


def test_the_lock_pins_every_declared_requirement_within_its_range() -> None:
    pins = locked()
    assert len(pins) > len(declared())  # the transitive dependencies too
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.lock lacks {name}: refresh it (README, 'Set-up')"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {name}=={version}, outside pyproject's {requirement}: refresh it")


def test_ci_installs_as_the_readme_set_up_command_does() -> None:
    readme = (ROOT / "README.md").read_text()
    first = next(line for line in readme.splitlines() if line.startswith("python3 -m venv .venv"))
    ci = (ROOT / ".ci" / "run").read_text()
    for step in INSTALL_STEPS:
        assert step in first and step in ci
    assert "uv pip compile pyproject.toml" in readme and "-o requirements.lock" in readme
    header = (ROOT / "requirements.lock").read_text().splitlines()[1]
    assert header.strip("# ") in readme  # the command that made the lock is the one the README gives
