"""Freed memory goes back to the system (glibc's malloc_trim), at most every so often."""

from __future__ import annotations

import json
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_the_split_tells_live_objects_from_free_memory() -> None:
    """What SPENDTUI_MEMSTATS logs: Python's blocks in use grow with small objects kept and fall
    when they go; glibc's in use grows with big blocks kept; the resident size is the kernel's."""
    from spendtui.core.memory import malloc_split

    base = malloc_split()
    if "py_used" not in base or "glibc_used" not in base:
        pytest.skip("not CPython's small-object allocator on glibc 2.33+")
    assert base["rss"] == _rss_kb() * 1024 or abs(base["rss"] - _rss_kb() * 1024) < 4 << 20
    small = [(i, str(i)) for i in range(200_000)]  # ~120 bytes each in Python's arenas
    grown = malloc_split()
    assert grown["py_used"] - base["py_used"] > 15 << 20, (base, grown)
    assert grown["py_arenas"] >= grown["py_used"] + grown["py_free"] - (1 << 20)
    del small
    gone = malloc_split()
    assert gone["py_used"] - base["py_used"] < 2 << 20, (base, gone)
    assert gone["py_free"] > base["py_free"] or gone["py_arenas"] < grown["py_arenas"]
    big = [bytearray(4_000) for _ in range(5_000)]  # over Python's 512-byte limit: glibc's
    more = malloc_split()
    assert more["glibc_used"] - gone["glibc_used"] > 18 << 20, (gone, more)
    assert len(big) == 5_000


def test_memstats_are_logged_every_ten_seconds(tmp_path: Path) -> None:
    from spendtui.core.memory import MEMSTATS_SECONDS, Trimmer

    clock = Clock()
    log = tmp_path / "mem.jsonl"
    calls = iter(range(100, 1000, 100))
    t = Trimmer(every=30, clock=clock, calls=lambda: next(calls), log=str(log))
    t.maybe()
    assert not log.exists()  # the first line after ten seconds
    clock.t += MEMSTATS_SECONDS
    t.maybe()
    clock.t += MEMSTATS_SECONDS / 2
    t.maybe()
    clock.t += MEMSTATS_SECONDS / 2
    t.maybe()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["t"], x["calls"]) for x in lines] == [(10.0, 100), (20.0, 200)] and t.logged == 2
    assert all(isinstance(x["rss"], int) for x in lines)


def test_memstats_off_unless_asked_and_never_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spendtui.core.memory import MEMSTATS_ENV, Trimmer

    monkeypatch.delenv(MEMSTATS_ENV, raising=False)
    assert Trimmer().log is None
    monkeypatch.setenv(MEMSTATS_ENV, str(tmp_path / "m.jsonl"))
    assert Trimmer().log == str(tmp_path / "m.jsonl")
    clock = Clock()
    t = Trimmer(clock=clock, log=str(tmp_path / "no-such-dir" / "m.jsonl"))
    clock.t += 60
    t.maybe()  # cannot write there: it stops trying, and says nothing on the terminal
    assert t.log is None and t.logged == 0


def test_soak_reads_the_slopes_of_each_part() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from soak import memstats_slopes

    lines = [{"t": 10.0 * i, "rss": 50_000_000 + 2_000 * 10 * i, "py_used": 20_000_000 + 1_000 * 10 * i,
              "py_free": 1_000_000, "glibc_used": 5_000_000 - 100 * 10 * i, "glibc_free": None} for i in range(30)]
    got = memstats_slopes(lines, since=60, rate=10)
    assert got["rss"] == pytest.approx(200) and got["py_used"] == pytest.approx(100)
    assert got["py_free"] == pytest.approx(0) and got["glibc_used"] == pytest.approx(-10)
    assert "glibc_free" not in got


def test_with_tracemalloc_on_snapshots_are_dumped_beside_the_log(tmp_path: Path) -> None:
    import tracemalloc

    from spendtui.core.memory import MEMSTATS_SECONDS, SNAPSHOT_EVERY, Trimmer

    clock = Clock()
    log = tmp_path / "mem.jsonl"
    t = Trimmer(clock=clock, log=str(log))
    for _ in range(SNAPSHOT_EVERY):
        clock.t += MEMSTATS_SECONDS
        t.maybe()
    assert not list(tmp_path.glob("*.snapshot"))  # tracing off: no snapshots
    tracemalloc.start(2)
    try:
        kept = [str(i) * 3 for i in range(1000)]
        for _ in range(SNAPSHOT_EVERY):
            clock.t += MEMSTATS_SECONDS
            t.maybe()
    finally:
        tracemalloc.stop()
    snaps = list(tmp_path.glob("*.snapshot"))
    assert [p.name for p in snaps] == [f"mem.jsonl.{2 * SNAPSHOT_EVERY}.snapshot"]
    stats = tracemalloc.Snapshot.load(str(snaps[0])).statistics("filename")
    assert any(s.traceback[0].filename == __file__ for s in stats) and len(kept) == 1000
    census = json.loads((tmp_path / f"mem.jsonl.{2 * SNAPSHOT_EVERY}.types.json").read_text())
    assert census["spendtui.core.memory.Trimmer"] >= 1 and census["builtins.dict"] > 100
