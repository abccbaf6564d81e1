"""Find where a key was stored at about 14 bytes a key, for the ids a long session must keep searchable.

A session keeps every order and fill (``engine.store.packed`` packs them), and must still find one by its id: a
late fill of a finished order, a client order id reused. A dict or a set of the ids costs about 150 bytes a key
with the id's string; this index keeps a 64-bit fingerprint of each key and the position its owner stored it at
(32 bits while positions fit) in sorted arrays, and a bitmap of 2 bytes a key. A lookup returns candidate
positions, which the owner confirms against what it stored there: two keys that share a fingerprint are told
apart by that check, so a lookup is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

__all__ = ["KeyIndex"]

# Keys added since the last merge live in a dict; merging them into the sorted arrays copies the arrays, so
# merges are spaced by at least this many keys, and by an eighth of the index as it grows (each key is then
# copied a bounded number of times however long the session).
MERGE_AT_LEAST = 1024


class KeyIndex:
    """Map hashable keys (ids, tuples of ids) to the positions they were added with; several per key allowed.

    Fingerprints are Python's ``hash``, stable within a process (the index is never saved). Most lookups are
    of keys never added (each new order's id is checked against every earlier one), so
    a bitmap of the merged fingerprints' low bits, 16 bits a key, answers most of them without searching the
    arrays: a searchsorted costs microseconds, a bit test a tenth of one.
    """

    def __init__(self) -> None:
        self._fingerprints = np.empty(0, dtype=np.int64)  # sorted
        self._positions = np.empty(0, dtype=np.uint32)  # position of each fingerprint above (int64 past 2**32)
        self._bitmap = bytearray(8)  # bit (fingerprint & _mask) set for every merged fingerprint
        self._mask = 63
        self._recent: dict[int, int | list[int]] = {}  # a list only where fingerprints repeat
        self._recent_count = 0
        self._merge_at = MERGE_AT_LEAST

    def add(self, key: Hashable, position: int) -> None:
        """Remember that ``key`` was stored at ``position``."""
        fingerprint = hash(key)
        recent = self._recent
        found = recent.get(fingerprint)
        if found is None:
            recent[fingerprint] = position
        elif isinstance(found, list):
            found.append(position)
        else:
            recent[fingerprint] = [found, position]
        self._recent_count += 1
        if self._recent_count >= self._merge_at:
            self._merge()

    def find(self, key: Hashable, holds: Callable[[int], bool]) -> int | None:
        """Return the highest position added under ``key``'s fingerprint at which ``holds(position)`` confirms
        that ``key`` is stored, None if there is none."""
        fingerprint = hash(key)
        bit = fingerprint & self._mask
        if not self._bitmap[bit >> 3] >> (bit & 7) & 1 and fingerprint not in self._recent:
            return None  # the common case, a key never added, answered without building a list
        for position in sorted(self.candidates(key), reverse=True):
            if holds(position):
                return position
        return None

    def candidates(self, key: Hashable) -> list[int]:
        """Return the positions added under ``key``'s fingerprint: ``key``'s own and any other key's sharing it."""
        fingerprint = hash(key)
        bit = fingerprint & self._mask
        found: list[int] = []
        if self._bitmap[bit >> 3] >> (bit & 7) & 1:
            fingerprints = self._fingerprints
            start = end = int(fingerprints.searchsorted(fingerprint))
            while end < len(fingerprints) and fingerprints[end] == fingerprint:
                end += 1
            found = self._positions[start:end].tolist()
        recent = self._recent.get(fingerprint)
        if isinstance(recent, list):
            found.extend(recent)
        elif recent is not None:
            found.append(recent)
        return found

    def __len__(self) -> int:
        return len(self._fingerprints) + self._recent_count

    def _merge(self) -> None:
        recent = self._recent
        kept = list(recent.values())
        if len(kept) == self._recent_count:  # no fingerprint repeated: one position each
            added = np.fromiter(recent, dtype=np.int64, count=len(kept))
            positions = np.fromiter(kept, dtype=np.int64, count=len(kept))
        else:
            pairs = [(f, p) for f, k in recent.items() for p in (k if isinstance(k, list) else (k,))]
            added = np.fromiter((f for f, _ in pairs), dtype=np.int64, count=len(pairs))
            positions = np.fromiter((p for _, p in pairs), dtype=np.int64, count=len(pairs))
        order = np.lexsort((positions, added))  # by fingerprint, then position
        added, positions = added[order], positions[order]
        at = np.searchsorted(self._fingerprints, added, side="right")
        self._fingerprints = np.insert(self._fingerprints, at, added)
        if self._positions.dtype == np.uint32 and (positions.min() < 0 or positions.max() >= 2**32):
            self._positions = self._positions.astype(np.int64)
        self._positions = np.insert(self._positions, at, positions.astype(self._positions.dtype))
        self._recent = {}
        self._recent_count = 0
        self._merge_at = max(MERGE_AT_LEAST, len(self._fingerprints) >> 3)
        # At 16 bits a key, a key never added finds its bit set about 6% of the time. The bitmap doubles as
        # the index grows (rebuilt from every fingerprint), else only the merged ones are set.
        bits = 1 << max(6, (16 * len(self._fingerprints)).bit_length())
        if bits != self._mask + 1:
            self._mask = bits - 1
            self._bitmap = bytearray(bits >> 3)
            added = self._fingerprints
        low = added & self._mask  # two's complement, as Python's & on a negative fingerprint
        bitmap = np.frombuffer(self._bitmap, dtype=np.uint8)  # a view: sets the bytearray's bits in place
        np.bitwise_or.at(bitmap, low >> 3, np.left_shift(1, low & 7).astype(np.uint8))
