"""Time spent working, kept up to date one call time at a time.

Here (not in live.py) because the session model keeps one too: the plan advice asks for the
session's active hours on every refresh of the analysis, and sorting every call time of a
session followed for a day each time cost more the longer it ran.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator

ACTIVE_GAP_SECONDS = 300.0
"""A pause between calls longer than this is a break, not working time."""


class ActivityTracker:
    """``active_seconds`` kept up to date one timestamp at a time, in memory bounded by the
    breaks, not the calls.

    The gaps no longer than ``max_gap`` between sorted times add up, within each stretch of
    work (a maximal run of times whose consecutive gaps are all short), to the stretch's last
    time minus its first. So only the stretches are kept, as (start, end), however many calls
    fall inside them: a day-long session with a break every hour holds a few dozen floats.
    Sub-agent files are read after the main file, so times arrive out of order: a time inside
    a stretch changes nothing, one within ``max_gap`` of a stretch stretches it (and may join
    it with the next one), one farther off starts a stretch of its own.
    """

    def __init__(self, max_gap: float = ACTIVE_GAP_SECONDS) -> None:
        self.max_gap = max_gap
        self._starts = array("d")  # sorted; stretches never overlap
        self._ends = array("d")
        self._n = 0
        self.seconds = 0.0

    def add(self, t: float) -> None:
        self._n += 1
        starts, ends = self._starts, self._ends
        if not ends or t >= ends[-1]:  # the usual case: a new newest call
            if ends and t - ends[-1] <= self.max_gap:
                self.seconds += t - ends[-1]
                ends[-1] = t
            else:
                starts.append(t)
                ends.append(t)
            return
        i = bisect.bisect_right(starts, t)  # stretches [0, i) start at or before t
        left = i - 1
        if left >= 0 and t <= ends[left]:
            return  # inside a stretch: it splits a short gap into two short ones
        join_left = left >= 0 and t - ends[left] <= self.max_gap
        join_right = i < len(starts) and starts[i] - t <= self.max_gap
        if join_left and join_right:  # t bridges a break: two stretches become one
            self.seconds += starts[i] - ends[left]
            ends[left] = ends[i]
            del starts[i]
            del ends[i]
        elif join_left:
            self.seconds += t - ends[left]
            ends[left] = t
        elif join_right:
            self.seconds += starts[i] - t
            starts[i] = t
        else:
            starts.insert(i, t)
            ends.insert(i, t)

    @property
    def stretches(self) -> int:
        """How many stretches of work are kept (what the memory grows with)."""
        return len(self._starts)

    def __len__(self) -> int:
        """How many times were added."""
        return self._n

    def spans(self) -> Iterator[tuple[float, float]]:
        """The stretches of work, oldest first, as (first call time, last call time)."""
        return zip(self._starts, self._ends, strict=True)
