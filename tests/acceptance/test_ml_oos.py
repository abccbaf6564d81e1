"""The ML signal on the real hourly BTC/USD history: the out-of-sample table the README quotes, from this run.

The settings are the defaults of ``mlct ml run`` (checked below), so the table here is the table the demo
prints. Whatever it shows is what the README shows: the test fails when the two differ, with the new table in
the message. It also writes the table to ``<tmp>/ml_oos_table.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.cli import build_parser
from engine.cli.ml import settings
from engine.ml.evaluate import MIN_INDEPENDENT
from engine.ml.labels import LabelSpec
from engine.ml.pipeline import train
from engine.ml.tables import markdown_table, traded_line
from engine.ml.walkforward import WalkForwardConfig
from engine.testing.data import real_hourly

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START, END = "<!-- ml-oos-table:start -->", "<!-- ml-oos-table:end -->"


def readme_block() -> str:
    text = README.read_text()
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, flags=re.S)
    return match.group(1).strip() if match else ""


def test_the_demo_settings_are_the_library_defaults() -> None:
    args = build_parser().parse_args(["ml", "run"])
    assert settings(args, WalkForwardConfig().nthread) == (LabelSpec(), WalkForwardConfig())
    assert args.features == "composite" and args.bootstrap == 1000


def oos_block(bundle: Any, frame: pd.DataFrame) -> str:
    """Return the README's block: the period, the buy table, the as-traded lines and the thresholds chosen."""
    summary = bundle.metadata["evaluation"]
    return "\n".join([
        f"Out of sample: {summary['out_of_sample_rows']:,} hourly bars from "
        f"{bundle.metadata['training_window']['out_of_sample_from'][:10]} to {str(frame.index[-1])[:10]}, "
        f"{summary['folds']} models (buy signals, returns net of the 0.20% round-trip cost over 24 bars):", "",
        markdown_table(bundle.evaluation, "buy"), "",
        f"- {traded_line(summary['as_traded'], 'buy')}", f"- {traded_line(summary['as_traded'], 'sell')}",
        f"- thresholds chosen by the {summary['folds']} models on their training data: buy "
        + ", ".join(f"{k} ({v})" for k, v in sorted(summary["fold_thresholds"].items())) + "; sell "
        + ", ".join(f"{k} ({v})" for k, v in sorted(summary["fold_sell_thresholds"].items()))])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    frame = real_hourly()
    bundle, _ = train(frame, "BTC/USD")
    block = oos_block(bundle, frame)
    (tmp_path_factory.mktemp("ml") / "ml_oos_table.md").write_text(block + "\n")
    return bundle, block


def test_the_readme_quotes_this_runs_out_of_sample_table(trained: tuple[Any, str]) -> None:
    _, block = trained
    assert readme_block() == block, f"README's ML table differs from this run; the run's table:\n{block}"


def test_in_sample_figures_flatter_and_out_of_sample_ones_are_reported_beside_them(
        trained: tuple[Any, str]) -> None:
    bundle, _ = trained
    table = bundle.evaluation
    buy = table[(table["side"] == "buy") & (table["n_signals"] >= 100) & (table["n_independent"] >= MIN_INDEPENDENT)]
    confident = buy[buy["threshold"] >= 0.6]
    assert len(confident) and (confident["is_precision"] > confident["precision"] + 0.2).all()
    assert (buy["avg_return_lo"] <= buy["avg_return"]).all() and (buy["avg_return"] <= buy["avg_return_hi"]).all()
    assert bundle.metadata["evaluation"]["folds"] == 19
