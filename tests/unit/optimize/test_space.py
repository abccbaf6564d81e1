"""The parameter space and the objective: parsed as a user writes them, walked in one order, drawn by seed."""

from __future__ import annotations

import math

import pytest

from engine.errors import ConfigError
from engine.optimize import Objective, ParamSpace, parse_axis


def test_ranges_include_their_stop_and_lists_keep_their_order() -> None:
    assert parse_axis("fast=5:50:5").values == tuple(range(5, 55, 5))
    assert parse_axis("slow=20:200:10").values[-1] == 200
    assert parse_axis("x=0.1:0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_axis("mode=b,a,b").values == ("b", "a")
    assert parse_axis("size=0.5").values == (0.5,)


@pytest.mark.parametrize("spec", ["fast", "fast=", "fast=5:1:1", "fast=1:5:0", "fast=1:5", "a=1,,2"])
def test_bad_axes_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_axis(spec)


def test_grid_lists_every_point_last_axis_fastest_and_point_agrees() -> None:
    space = ParamSpace.parse(["a=1,2", "b=10:30:10"])
    grid = space.grid()
    assert len(space) == 6 == len(grid)
    assert grid[:4] == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30}, {"a": 2, "b": 10}]
    assert [space.point(i) for i in range(6)] == grid


def test_random_search_is_seeded_distinct_and_within_the_grid() -> None:
    space = ParamSpace.parse(["fast=5:50:5", "slow=20:200:10"])
    first, again, other = space.sample(30, seed=7), space.sample(30, seed=7), space.sample(30, seed=8)
    assert first == again != other
    assert len({tuple(p.values()) for p in first}) == 30
    assert all(p in space.grid() for p in first)
    assert len(space.sample(10_000, seed=1)) == len(space)


def test_objectives_read_the_results_statistics() -> None:
    stats = {"sharpe": 1.5, "sortino": None, "total_return": 0.4, "max_drawdown": -0.3}
    assert Objective.parse("sharpe").score(stats) == 1.5
    assert math.isnan(Objective.parse("sortino").score(stats))
    assert Objective.parse("return_dd:0.35").score(stats) == 0.4
    assert math.isnan(Objective.parse("return_dd:0.25").score(stats))
    for bad in ("profit", "return_dd", "return_dd:2", "sharpe:1"):
        with pytest.raises(ConfigError):
            Objective.parse(bad)
