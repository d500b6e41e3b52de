"""A compact set of 64-bit digests, for "seen before?" memories that must last a whole session.

A Python ``set`` of ints costs 60-100 bytes an entry (the int object plus a hash-table
slot at most 60 % full); a session followed for a day at agent-swarm rates remembers
hundreds of thousands of record and call keys that way. ``DigestSet`` keeps them in a
sorted ``array('Q')`` (8 bytes each) plus a small set of the newest ones, merged into
the array when it grows past an eighth of it: membership is a bisection, an insertion
is amortised O(1) (each digest is moved by a merge a bounded number of times).
"""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

MIN_MERGE = 1024


def digest64(text: str) -> int:
    """A stable 64-bit digest of a string (``hash`` changes per process; these get pickled)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


class DigestSet:
    """A set of unsigned 64-bit ints in about 8-12 bytes an entry.

    Only what the model and the analyser use of a set: ``add``, ``in``, ``len``, truth and
    iteration. Picklable with plain data (an array and a set), for the result cache.
    """

    __slots__ = ("_recent", "_sorted")

    def __init__(self, items: Iterable[int] = ()) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()
        for x in items:
            self.add(x)

    def __contains__(self, d: object) -> bool:
        if d in self._recent:
            return True
        a = self._sorted
        if type(d) is not int or not a:
            return False
        i = bisect_left(a, d)
        return i < len(a) and a[i] == d

    def add(self, d: int) -> None:
        if d in self:
            return
        self._recent.add(d)
        if len(self._recent) >= max(MIN_MERGE, len(self._sorted) >> 3):
            self._merge()

    def _merge(self) -> None:
        """Fold the newest digests into the sorted array (streamed: no list of all of them)."""
        self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def __bool__(self) -> bool:
        return bool(self._recent) or bool(self._sorted)

    def __iter__(self) -> Iterator[int]:
        yield from self._sorted
        yield from self._recent

    def __getstate__(self) -> tuple[array[int], set[int]]:
        return self._sorted, self._recent

    def __setstate__(self, state: tuple[array[int], set[int]]) -> None:
        self._sorted, self._recent = state

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<DigestSet {len(self)}>"
