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


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_strategy_and_handler_examples_run() -> None:
    from adapters.sim import SimSettings
    from engine.backtest import run_backtest
    from engine.datagen.sample import load_sample

    namespace: dict[str, object] = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    strategy_cls, handler_cls = namespace["BuyTheDip"], namespace["FillLogger"]
    frame, meta = load_sample()
    logger = handler_cls()  # type: ignore[operator]
    result = run_backtest(strategy_cls(), frame.iloc[:3000], venue=SimSettings(), symbol=meta.symbol,  # type: ignore[operator]
                          handlers=[logger])
    assert len(logger.fills) == len(result.fills) > 0
    assert set(result.fills["side"]) == {"buy", "sell"}


def test_every_engine_assumption_is_listed_in_the_readme() -> None:
    from engine.backtest import ENGINE_ASSUMPTIONS

    readme = normalized(README.read_text())
    missing = [a for a in ENGINE_ASSUMPTIONS if normalized(a) not in readme]
    assert not missing, f"README's 'Back-test assumptions' lacks: {missing}"


def test_the_readme_set_up_command_writes_a_report() -> None:
    assert "mlct backtest --out out/ --report" in README.read_text()
