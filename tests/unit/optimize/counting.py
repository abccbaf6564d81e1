"""A strategy for the sweep tests: it notes each run's end in a file, can wait on a gate file mid-sweep, and can
raise; run in-process, in a process pool and by ``mlct sweep`` in a subprocess (as ``module:Class``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from engine.events import Bar
from engine.strategy import Strategy


class Counting(Strategy):
    """Buys on bar ``a`` and sells ``a`` bars later; appends ``{"a": a}`` to ``log`` when a run ends.

    While the file ``gate`` exists, the run with ``a == hold`` waits (so a test can kill the sweep there); a run
    with ``a == fail`` raises; one with ``a == die`` ends its process (a worker lost, as to the out-of-memory killer).
    """

    params = {"a": 1, "b": 0, "log": "", "gate": "", "hold": -1, "fail": -1, "die": -1}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._seen = 0

    def on_start(self) -> None:
        if self.p["a"] == self.p["hold"]:
            while self.p["gate"] and Path(self.p["gate"]).exists():
                time.sleep(0.05)  # a test's stand-in for a long job: it kills the sweep while this waits
        if self.p["a"] == self.p["fail"]:
            raise ValueError(f"a={self.p['a']} is the failing point")
        if self.p["a"] == self.p["die"]:
            os._exit(3)

    def on_bar(self, bar: Bar) -> None:
        self._seen += 1
        if self._seen == self.p["a"]:
            self.target_percent(bar.symbol, 0.5)
        elif self._seen == 2 * self.p["a"] + self.p["b"]:
            self.target_position(bar.symbol, 0)

    def on_stop(self) -> None:
        if self.p["log"]:
            with open(self.p["log"], "a", encoding="utf-8") as f:
                f.write(json.dumps({"a": self.p["a"], "b": self.p["b"], "pid": os.getpid()}) + "\n")
