"""The back-test's composition: the caller hands in the venue its adapter configured; the engine names none."""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.sim import ASSUMPTIONS, SimSettings
from engine.backtest import BacktestConfig, run_backtest
from engine.datagen.synthetic import synthetic_bars
from strategies.sma_cross import SmaCross

ENGINE = Path(__file__).resolve().parents[2] / "engine"
SPEC = re.compile(r"adapters(\.\w+)*([:.]\w+)?")


def adapter_mentions(path: Path) -> list[str]:
    """Return each import of, or string naming, the ``adapters`` package in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("adapters"):
            found.append(f"{path.name}:{node.lineno}: from {node.module}")
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("adapters")]
            found += [f"{path.name}:{node.lineno}: import {name}" for name in names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SPEC.fullmatch(node.value):
            found.append(f"{path.name}:{node.lineno}: {node.value!r}")  # a name to import, as a config default
    return found


def test_the_engine_never_imports_or_names_an_adapter() -> None:
    """Only the command line, a composition root of its own, picks the venue."""
    modules = [p for p in ENGINE.rglob("*.py") if "cli" not in p.relative_to(ENGINE).parts]
    assert modules
    assert [m for p in modules for m in adapter_mentions(p)] == []


def test_the_venue_settings_are_the_adapters_not_the_accounts() -> None:
    with pytest.raises(TypeError, match="fee_bps"):
        BacktestConfig(fee_bps=5)  # type: ignore[call-arg]


def test_the_ledger_reserves_the_fee_rate_the_venue_gives_and_the_result_records_its_settings() -> None:
    frame = synthetic_bars(200, interval="1h", seed=3)
    venue = SimSettings(fee_bps=10, maker_fee_bps=25, slippage="none")
    result = run_backtest(SmaCross(fast=5, slow=20), frame, BacktestConfig(cash=Decimal(5000)), venue=venue,
                          symbol="SYN/USD")
    assert result.ledger.reserve_fee_rate == Decimal("0.0025") == venue.reserve_fee_rate()
    assert {k: result.config[k] for k in venue.to_dict()} == venue.to_dict()
    assert result.config["cash"] == "5000" and "venue" not in result.config
    assert result.assumptions["venue"] == ASSUMPTIONS
