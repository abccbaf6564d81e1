"""The README's ML promises: the main command, and the code example, run here on small settings."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .conftest import SMALL_CONFIG, SMALL_LABEL, SYMBOL

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_main_command_is_the_ml_workflow() -> None:
    text = README.read_text()
    assert "pip install --no-deps -e . && mlct ml run --out out/" in text


def test_the_ml_example_runs(head: pd.DataFrame, tmp_path: Path) -> None:
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "ml_workflow" in b)
    namespace: dict[str, object] = {}
    exec(compile(block, str(README), "exec"), namespace)
    result, view = namespace["ml_workflow"](head, SYMBOL, tmp_path / "model", features="core",  # type: ignore[operator]
                                            label=SMALL_LABEL, config=SMALL_CONFIG, n_boot=50, n_random=50)
    assert "thresholds" in result.extras["ml"] and view["action"] in ("BUY", "SELL", "HOLD")
    assert (tmp_path / "model" / "metadata.json").is_file()
