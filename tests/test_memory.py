"""Freed memory goes back to the system (glibc's malloc_trim), at most every so often."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spendtui.core.memory import Trimmer


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_trims_at_most_every_so_often() -> None:
    clock = Clock()
    t = Trimmer(every=30, clock=clock)
    if not t.available:
        pytest.skip("no glibc malloc_trim here")
    assert not t.maybe()  # just made: the last 30 s count from now
    clock.t += 29.9
    assert not t.maybe()
    clock.t += 0.1
    assert t.maybe() and t.trims == 1
    clock.t += 10
    assert not t.maybe() and t.trims == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_trim_hands_freed_pages_back() -> None:
    clock = Clock()
    t = Trimmer(every=0, clock=clock)
    if not t.available:
        pytest.skip("no glibc malloc_trim here")
    # what a refresh leaves behind: blocks too big for Python's small-object allocator (parsed
    # lines, tool results, key tables) freed between ones still alive; glibc keeps the pages
    keep = []
    junk = []
    for i in range(16_000):
        (keep if i % 64 == 0 else junk).append(bytearray(4_000))
    del junk
    before = _rss_kb()
    assert t.maybe()
    after = _rss_kb()
    assert before - after > 10_000, (before, after)  # more than 10 MB given back
    assert len(keep) == 250
