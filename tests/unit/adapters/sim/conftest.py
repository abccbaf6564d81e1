"""Fixtures of the simulated exchange's tests; the harness itself is ``adapters.sim.testing``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from adapters.sim.testing import Venue, default_config
from engine.markets import Market


@pytest.fixture
def venue() -> Venue:
    return Venue()


@pytest.fixture
def make_venue() -> Callable[..., Venue]:
    def make(balances: Mapping[str, str] | None = None, markets: Sequence[Market] | None = None,
             **config: Any) -> Venue:
        return Venue(default_config(**config), balances, markets)

    return make
