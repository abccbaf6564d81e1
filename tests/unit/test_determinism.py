"""A back-test gives the same orders, fills, trades and equity in every process, whatever its string hash seed.

Two runs in one process share one hash seed, so they cannot see an order that comes from iterating a set or a
hash of strings; separate interpreters, each with its own PYTHONHASHSEED, can.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from engine.datagen.files import save_parquet
from engine.datagen.sample import load_sample

OUTPUTS = ("orders.csv", "fills.csv", "trades.csv", "equity.parquet")


def start(data: Path, out: Path, hash_seed: int) -> subprocess.Popen[bytes]:
    """Start a back-test of a ready strategy through the CLI in a new interpreter with ``hash_seed``."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "--quiet", "backtest", "--strategy", "bear_bull",
                             "--data", str(data), "--symbol", "BTC/USD", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def written(process: subprocess.Popen[bytes], out: Path) -> dict[str, object]:
    """Wait for ``process``; return the files it wrote and the statistics and data fingerprint of its result."""
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    files: dict[str, object] = {name: (out / name).read_bytes() for name in OUTPUTS}
    result = json.loads((out / "result.json").read_text())
    return {**files, "stats": result["stats"], "data": result["data"]}


def test_a_backtest_is_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    frame, meta = load_sample()
    data = save_parquet(frame.iloc[:6000], tmp_path / "bars.parquet", symbol=meta.symbol)
    seeds = [0, 1, 12345, secrets.randbelow(2**32)]
    started = {seed: start(data, tmp_path / f"seed{seed}", seed) for seed in seeds}  # side by side: 2 cores
    runs = {seed: written(process, tmp_path / f"seed{seed}") for seed, process in started.items()}
    first = runs[seeds[0]]
    assert first["stats"]["n_trades"] > 5  # type: ignore[index]
    for seed in seeds[1:]:
        for name, value in runs[seed].items():
            assert value == first[name], f"{name} differs between PYTHONHASHSEED=0 and PYTHONHASHSEED={seed}"
