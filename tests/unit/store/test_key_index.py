"""The key index finds every position a key was added at, across merges and fingerprint collisions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.store import key_index
from engine.store.key_index import KeyIndex


class Colliding:
    """A key whose fingerprint is chosen by the test."""

    def __init__(self, name: str, fingerprint: int) -> None:
        self.name, self.fingerprint = name, fingerprint

    def __hash__(self) -> int:
        return self.fingerprint


@given(st.lists(st.text(max_size=3), max_size=300), st.integers(min_value=1, max_value=64))
def test_every_added_position_is_a_candidate_of_its_key_across_merges(keys: list[str], merge_at: int) -> None:
    original = key_index.MERGE_AT_LEAST
    key_index.MERGE_AT_LEAST = merge_at  # merge often, so keys sit in both the arrays and the recent dict
    try:
        index = KeyIndex()
        stored: list[str] = []
        for position, key in enumerate(keys):
            index.add(key, position)
            stored.append(key)
    finally:
        key_index.MERGE_AT_LEAST = original
    assert len(index) == len(keys)
    for key in [*set(keys), "absent-key"]:
        expected = [p for p, k in enumerate(stored) if k == key]
        assert sorted(p for p in index.candidates(key) if stored[p] == key) == expected
        found = index.find(key, lambda p, key=key: stored[p] == key)
        assert found == (expected[-1] if expected else None)


def test_keys_sharing_a_fingerprint_are_told_apart_by_the_owners_check() -> None:
    original = key_index.MERGE_AT_LEAST
    key_index.MERGE_AT_LEAST = 4
    try:
        index = KeyIndex()
        stored = [Colliding(f"k{i}", fingerprint=i % 3) for i in range(20)]
        for position, key in enumerate(stored):
            index.add(key, position)
    finally:
        key_index.MERGE_AT_LEAST = original
    for position, key in enumerate(stored):
        assert sorted(index.candidates(key)) == list(range(position % 3, 20, 3))
        assert index.find(key, lambda p, key=key: stored[p] is key) == position
    assert index.find(Colliding("new", fingerprint=1), lambda p: False) is None
    assert index.candidates(Colliding("other", fingerprint=5)) == []


def test_the_index_keeps_twelve_bytes_a_merged_key_and_widens_positions_past_32_bits() -> None:
    index = KeyIndex()
    for position in range(100_000):
        index.add(f"order-{position}", position)
    assert index.find("order-54321", lambda p: p == 54321) == 54321
    merged = index._fingerprints.nbytes + index._positions.nbytes
    assert merged == 12 * (len(index) - index._recent_count)
    assert index._recent_count <= 100_000 // 8
    far = 2**40
    for position in range(far, far + 20_000):  # enough to merge again
        index.add(f"far-{position}", position)
    assert index._positions.dtype == np.int64
    assert index.find("far-1099511640000", lambda p: p == far + 12_224) == far + 12_224
    assert index.find("order-54321", lambda p: p == 54321) == 54321
