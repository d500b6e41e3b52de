"""A compact set of 64-bit digests, for "seen before?" memories that must last a whole session.

A Python ``set`` of ints costs 60-100 bytes an entry (the int object plus a hash-table
slot at most 60 % full); a session followed for a day at agent-swarm rates remembers
hundreds of thousands of record and call keys that way. ``DigestSet`` keeps them in a
sorted ``array('Q')`` (8 bytes each) plus a small sorted array of the newest ones, merged
into the big one when it grows past an eighth of it (at most ``MAX_RECENT``): membership
is two bisections, an insertion a short memmove, and a merge copies the big array once.
No digest is ever a Python int that outlives the call: long-lived small objects scattered
among a live session's short-lived ones kept whole allocator pages from going back.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

MIN_MERGE = 1024
MAX_RECENT = 8192
"""The newest digests wait in a sorted array of at most this many (an insertion moves up to
64 KB) before they are merged into the big one (which copies it: amortised over 8,192
insertions however big it grows)."""


def digest64(text: str) -> int:
    """A stable 64-bit digest of a string (``hash`` changes per process; these get pickled)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


class DigestSet:
    """A set of unsigned 64-bit ints in about 8-9 bytes an entry.

    Only what the model and the analyser use of a set: ``add``, ``in``, ``len``, truth and
    iteration. Picklable with plain data (two arrays), for the result cache.
    """

    __slots__ = ("_recent", "_sorted")

    def __init__(self, items: Iterable[int] = ()) -> None:
        self._sorted = array("Q")
        self._recent = array("Q")
        for x in items:
            self.add(x)

    def __contains__(self, d: object) -> bool:
        if type(d) is not int:
            return False
        for a in (self._recent, self._sorted):
            i = bisect_left(a, d)
            if i < len(a) and a[i] == d:
                return True
        return False

    def add(self, d: int) -> None:
        if d in self:
            return
        insort(self._recent, d)
        if len(self._recent) >= max(MIN_MERGE, min(MAX_RECENT, len(self._sorted) >> 3)):
            self._merge()

    def _merge(self) -> None:
        """Fold the newest digests into the sorted array: the runs between them are copied
        as slices (C), one Python step per new digest, never one per old one."""
        old, out, prev = self._sorted, array("Q"), 0
        for d in self._recent:
            i = bisect_left(old, d, prev)
            out += old[prev:i]
            out.append(d)
            prev = i
        out += old[prev:]
        self._sorted = out
        self._recent = array("Q")

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def __bool__(self) -> bool:
        return bool(self._recent) or bool(self._sorted)

    def __iter__(self) -> Iterator[int]:
        yield from self._sorted
        yield from self._recent

    def __getstate__(self) -> tuple[array[int], array[int]]:
        return self._sorted, self._recent

    def __setstate__(self, state: tuple[array[int], Iterable[int]]) -> None:
        self._sorted, recent = state
        # a snapshot written before the newest ones were an array held them as a set
        self._recent = recent if isinstance(recent, array) else array("Q", sorted(recent))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<DigestSet {len(self)}>"
