"""``mlct check lookahead``: every ready strategy passes, a peeking one is caught with its bar, bad input exits 2,
and the report is the same under any hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.cli.backtest import list_strategies
from engine.datagen.sample import load_sample

ROOT = Path(__file__).resolve().parents[3]
PEEKING = Path(__file__).with_name("peeking.py")
NEEDS_A_MODEL = {"ml_signal"}  # checked on a trained model in tests/unit/ml/test_check_lookahead.py


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "lookahead", "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample's first 4,500 bars (6 months): every ready strategy trades in them, ma_blended after
    its 200-bar EMA's 3,415 bars of warm-up."""
    path = tmp_path_factory.mktemp("data") / "btc_4500.csv"
    load_sample()[0].iloc[:4500].to_csv(path)
    return path


@pytest.fixture(scope="module")
def short_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "btc_1500.csv"
    load_sample()[0].iloc[:1500].to_csv(path)
    return path


@pytest.mark.parametrize("name", sorted(set(list_strategies()) - NEEDS_A_MODEL))
def test_every_ready_strategy_passes(name: str, sample_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--strategy", name, "--data", str(sample_csv), "--symbol", "BTC/USD", "--cuts", "3",
                         "--no-warmup", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    look = report["lookahead"]
    assert look["clean"] and look["first"] is None and look["nondeterministic"] is None
    assert len(look["cuts"]) == 3 and all(set(c["moved"].values()) == {None} for c in look["cuts"])
    # the cuts fall on decisions after the warm-up, so each run compared the strategy's orders up to them
    assert look["cuts"][0]["compared"] > 0 and look["cuts"][-1]["compared"] > look["cuts"][0]["compared"]
    assert report["data"]["bars"] == 4500 and report["warmup"] is None


def test_a_signal_made_from_the_next_bar_is_caught_with_its_bar(short_csv: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--strategy", f"{PEEKING}:LateSignal", "--data", str(short_csv), "--symbol", "BTC/USD", "--cuts", "3"]
    code, out, err = run(capsys, *args)
    assert (code, err) == (1, "")
    line = " ".join(out.split())
    # the first cut is the first bar that published (row 0): the signal stamped there needs row 1
    assert "LOOK-AHEAD: with the bars after 2017-07-01 11:00 perturbed" in line
    assert "on bar 2017-07-01 11:00 (row 0) signal 'late' BTC/USD: direction " in line
    code, out, _ = run(capsys, *args, "--json")
    report = json.loads(out)
    first = report["lookahead"]["first"]
    assert code == 1 and first["bar"] == first["cut"] == 0 and first["what"] == "signal 'late' BTC/USD"
    for cut in report["lookahead"]["cuts"]:
        removed = cut["moved"]["removed"]
        assert removed["bar"] == cut["bar"] and removed["got"] is None and removed["expected"]["direction"] in (1, -1)
        assert removed["time"] == pd.Timestamp(load_sample()[0].index[cut["bar"]]).isoformat()


def test_a_warm_up_shorter_than_the_signals_need_warns_and_fails_only_if_asked(
        short_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--strategy", "tests/unit/check/peeking.py:Ema", "--data", str(short_csv), "--symbol", "BTC/USD", "--cuts",
            "2", "--max-history", "600"]
    code, out, _ = run(capsys, *args)
    line = " ".join(out.split())
    assert code == 0 and "No look-ahead" in line
    assert "WARNING: Declared warm-up (warmup_bars): 5 bars, too short: signal 'ema' BTC/USD needs 129-192 bars." \
        in line
    code, out, _ = run(capsys, *args, "--fail-on-warmup")
    assert code == 1
    code, out, _ = run(capsys, *args, "--fail-on-warmup", "--json")
    warm = json.loads(out)["warmup"]
    assert code == 1 and warm["sufficient"] is False and warm["declared"] == 5
    assert warm["needed"]["settled_at"] == 192 and warm["needed"]["unsettled_at"] == 128
    rsi = ["--strategy", "rsi", *args[2:]]  # a signal strategy declares its indicators' warm-up: enough
    code, out, _ = run(capsys, *rsi, "--fail-on-warmup")
    assert code == 0 and "Declared warm-up (warmup_bars): 464 bars: enough" in " ".join(out.split())


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "no_such_strategy"], "error: unknown strategy 'no_such_strategy'"),
    (["--strategy", "rsi", "--param", "period=abc"], "error: Rsi: parameter 'period' must be a int, got 'abc'"),
    (["--strategy", "rsi", "--param", "nope=1"], "error: Rsi: unknown parameter 'nope'"),
    (["--data", "/nonexistent/bars.csv"], "error: "),
    (["--cuts", "0"], "error: the number of cut points must be at least 1, got 0"),
    (["--tolerance", "-1"], "error: the tolerance must be a number >= 0"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, short_csv: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = [] if "--data" in args else ["--data", str(short_csv), "--symbol", "BTC/USD"]
    code, out, err = run(capsys, *data, *args)
    assert code == 2 and out == "" and err.startswith(message) and err.count("\n") == 1


def test_the_report_is_the_same_under_any_hash_seed(short_csv: Path) -> None:
    data = ["--data", str(short_csv), "--symbol", "BTC/USD", "--cuts", "2", "--max-history", "64"]
    commands = [["check", "lookahead", "--strategy", "rsi", *data, "--json"],
                ["check", "lookahead", "--strategy", f"{PEEKING}:LateSignal", *data]]
    script = ("import sys; from engine.cli import main\n"
              f"for argv in {commands!r}:\n"
              "    print('exit', main(argv), flush=True)\n")
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert "exit 0" in outputs[0] and "exit 1" in outputs[0] and "LOOK-AHEAD" in outputs[0]
