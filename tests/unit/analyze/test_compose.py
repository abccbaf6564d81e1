"""Composition: all, any, vote and weighted over scripted rules, and a rule read backwards."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.analyze.compose import Composite, all_of, any_of, invert, vote, weighted
from engine.analyze.indicators import IndicatorSet
from engine.analyze.rule import Reading, Rule
from engine.analyze.signals import signal_events
from engine.errors import ConfigError
from engine.events import Bar


class Scripted(Rule):
    """Says the directions it was given, one per bar (None: still warming up)."""

    kind = "scripted"

    def __init__(self, script: Sequence[int | None], *, name: str) -> None:
        super().__init__(name=name)
        self.script = list(script)
        self.seen = 0

    def evaluate(self, bar: Bar) -> Reading | None:
        direction = self.script[self.seen]
        self.seen += 1
        return None if direction is None else Reading(direction, 0.5, {"x": float(self.seen)})


def run(rule: Rule, n: int) -> list[tuple[int, float]]:
    rule.bind(IndicatorSet())
    bar = Bar(ts=1, symbol="X", open=1, high=1, low=1, close=1, volume=1, interval=1)
    out = []
    for _ in range(n):
        reading = rule.evaluate(bar)
        out.append((0, -1.0) if reading is None else (reading.direction, reading.strength))
    return out


def scripts(*columns: Sequence[int | None]) -> list[Scripted]:
    return [Scripted(column, name=f"r{i}") for i, column in enumerate(columns)]


A = [1, 1, -1, 0, 1, None]
B = [1, -1, -1, 0, 0, 1]
C = [1, 0, -1, 0, -1, 1]


def test_all_fires_only_when_every_rule_agrees() -> None:
    assert [d for d, _ in run(all_of(*scripts(A, B, C)), 6)] == [1, 0, -1, 0, 0, 0]
    assert run(all_of(*scripts(A, B, C)), 6)[-1] == (0, -1.0)  # silent while one child warms up


def test_any_fires_when_some_rule_says_so_and_none_disagrees() -> None:
    assert [d for d, _ in run(any_of(*scripts(A, B, C)), 6)] == [1, 0, -1, 0, 0, 1]


def test_vote_is_the_plurality() -> None:
    results = run(vote(*scripts(A, B, C)), 6)
    assert [d for d, _ in results] == [1, 0, -1, 0, 0, 1]  # a child warming up (A on bar 6) counts 0
    assert [s for _, s in results] == pytest.approx([1, 0, 1, 0, 0, 2 / 3])
    assert [d for d, _ in run(vote(*scripts(A, B, C), threshold=0.7), 6)] == [1, 0, -1, 0, 0, 0]


def test_weighted_needs_the_threshold() -> None:
    rule = weighted(scripts(A, B, C), [0.5, 0.3, 0.2], threshold=0.4)
    # scores: 1, 0.5-0.3=0.2, -1, 0, 0.5-0.2=0.3, (0+0.3+0.2)=0.5
    assert run(rule, 6) == [(1, pytest.approx(1.0)), (0, pytest.approx(0.2)), (-1, pytest.approx(1.0)),
                            (0, 0.0), (0, pytest.approx(0.3)), (1, pytest.approx(0.5))]


def test_contributions_say_which_rule_said_what() -> None:
    rule = vote(*scripts(A, B))
    rule.bind(IndicatorSet())
    bar = Bar(ts=1, symbol="X", open=1, high=1, low=1, close=1, volume=1, interval=1)
    reading = rule.evaluate(bar)
    assert reading is not None
    assert reading.contributions == {"r0": 1.0, "r0.x": 1.0, "r1": 1.0, "r1.x": 1.0, "score": 1.0}


def test_every_child_sees_every_bar() -> None:
    children = scripts(A, B, C)
    run(all_of(*children), 6)  # "all" is silent on bar 6, yet every child was evaluated on each bar
    assert [c.seen for c in children] == [6, 6, 6]


def test_invert_reads_backwards() -> None:
    assert [d for d, _ in run(invert(Scripted(A, name="a")), 6)] == [-1, -1, 1, 0, -1, 0]
    assert invert(Scripted(A, name="a")).name == "inverse_a"


def test_composites_nest_and_publish_under_their_name() -> None:
    inner = vote(*scripts(A, B), name="inner")
    outer = all_of(inner, Scripted(C, name="c"), name="outer")
    bars = [Bar(ts=i + 1, symbol="X", open=1, high=1, low=1, close=1, volume=1, interval=1) for i in range(6)]
    found = signal_events(outer, bars)
    assert [(s.ts, s.name, s.direction) for s in found] == [(1, "outer", 1), (3, "outer", -1), (6, "outer", 1)]
    assert found[0].contributions is not None and found[0].contributions["inner.r0"] == 1.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Composite([], mode="vote"), "needs at least one rule"),
    (lambda: Composite(scripts(A), mode="majority"), "mode must be one of all, any, vote, weighted"),
    (lambda: Composite(scripts(A, B), mode="weighted", weights=[1.0]), "one non-negative weight per rule"),
    (lambda: Composite(scripts(A, B), mode="vote", weights=[2.0, 1.0]), "weights apply to mode 'weighted'"),
    (lambda: Composite([Scripted(A, name="a"), Scripted(B, name="a")]), "child names must differ"),
    (lambda: weighted(scripts(A, B), [1, 1], threshold=1.5), "threshold must be in"),
])
def test_bad_compositions_are_refused(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        make()
