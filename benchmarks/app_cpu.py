"""The live app's CPU per update and memory per call, headless (``App.run_test``).

    python benchmarks/app_cpu.py [--rate 5] [--seconds 60] [--no-analysis] [--profile N]
                                 [--prefill N] [--retain N] [--samples] [--trace FRAMES]

Writes the soak test's session (scripts/soak.py's writer: real 2.1.197 records re-id'd,
sub-agents, compactions) at ``--rate`` API calls per second while the real app follows
it in-process (its follower thread and watchfiles), and reports the process' CPU (user +
system, all threads) over the run and the RSS at the start and the end. The writer runs
in its own thread of the same process; its share (measured alone beforehand at the same
rate) is subtracted. ``--profile N`` prints the N costliest functions of the UI thread
(cProfile sees only the thread it runs in; the follower thread is benchmarks/memprofile.py's).
``--retain`` lowers the follower's detail limit, so a short run is past it (and past the
windows of full objects it keeps); ``--samples`` prints the RSS (and, with ``--trace``, the
traced heap) every 10 s: a flat RSS over a growing heap, or the other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import ctypes
import os
import pstats
import random
import re
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

from memprofile import FastWriter  # noqa: E402
from soak import Templates  # noqa: E402

from spendtui.core.paths import scan_project  # noqa: E402
from spendtui.core.pricing import PriceTable  # noqa: E402
from spendtui.views.app import SpendApp  # noqa: E402
from spendtui.views.app.widgets import CallsTable  # noqa: E402


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Paced(threading.Thread):
    """The soak writer at ``rate`` calls/s in a thread, until ``stop`` is set."""

    def __init__(self, w: FastWriter, rate: float, stop: threading.Event) -> None:
        super().__init__(daemon=True, name="writer")
        self.w, self.rate, self.stop = w, rate, stop
        self.turns = 0

    def run(self) -> None:
        w = self.w
        t0 = time.monotonic()
        start = w.calls_written
        while not self.stop.is_set():
            self.turns += 1
            w.turn()
            if self.turns % 7 == 0:
                w.subagent()
            if self.turns % 40 == 0:
                w.compaction()
            due = t0 + (w.calls_written - start) / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)


def writer_alone(rate: float, seconds: float) -> float:
    """CPU seconds per second the writer itself costs at this rate."""
    tmp = Path(tempfile.mkdtemp(prefix="spendtui-cpu-w-"))
    w = FastWriter(tmp / "claude", Templates.load(), 1e9, PriceTable.default(), random.Random(7))
    stop = threading.Event()
    t = Paced(w, rate, stop)
    c0, t0 = cpu_s(), time.monotonic()
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return (cpu_s() - c0) / (time.monotonic() - t0)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_split() -> str:
    """Where the memory sits: Python's small-object arenas (their size, the blocks in use in them)
    and glibc's heap (in use, free), so a growing RSS can be told apart from a growing heap."""
    fd, path = tempfile.mkstemp(prefix="spendtui-mstats-")
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    text = Path(path).read_text()
    os.unlink(path)

    def grab(label: str) -> float:
        m = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(m.group(1).replace(",", "")) / 2**20 if m else float("nan")

    arenas = grab("# arenas allocated current") * 2**20  # a count
    out = (f"pyarenas {arenas:.0f} MiB  pyblocks {grab('# bytes in allocated blocks'):6.1f}"
           f"  pyfree {grab('# bytes in available blocks') + grab('unused pools * 16384 bytes'):5.1f}")
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        mi = libc.mallinfo2()
        out += (f"  glibc used {mi.uordblks / 2**20:6.1f} free {mi.fordblks / 2**20:5.1f}"
                f" mmapped {mi.hblkhd / 2**20:5.1f}")
    except (OSError, AttributeError):
        pass
    return out


def _only(snap: Any, ui_only: bool) -> Any:
    """With ``ui_only``: leave out what spendtui's core allocated (its model, follower and
    analysis, measured by memprofile.py), to see what the UI process adds."""
    if not ui_only:
        return snap
    import tracemalloc

    return snap.filter_traces([tracemalloc.Filter(False, "*/spendtui/core/*", all_frames=True)])


async def run(rate: float, seconds: float, analyse: bool, profile: int, prefill: int,
              trace: int = 0, samples: bool = False, top: int = 25, ui_only: bool = False,
              malloc: bool = False, by_count: bool = False) -> dict[str, float]:
    prices = PriceTable.default()
    tmp = Path(tempfile.mkdtemp(prefix="spendtui-cpu-"))
    w = FastWriter(tmp / "claude", Templates.load(), 1e9, prices, random.Random(6))
    w.turn()
    while w.calls_written < prefill:  # a long session already (past the detail limit, if asked)
        w.turn()
    files = scan_project(w.proj)[w.sid]
    os.environ.setdefault("SPENDTUI_DATA_DIR", str(tmp / "data"))
    os.environ.setdefault("SPENDTUI_CONFIG", str(tmp / "none.toml"))
    app = SpendApp(files, [tmp / "claude"], prices, analyse=analyse)
    stop = threading.Event()
    async with app.run_test(size=(160, 50)) as pilot:
        while app.updates == 0:
            await pilot.pause(0.05)
        if analyse:
            t_end = time.monotonic() + 120
            while app.analyzer is None and time.monotonic() < t_end:
                await pilot.pause(0.1)
        await pilot.pause(1.0)
        writer = Paced(w, rate, stop)
        first = None
        if trace:
            import gc
            import tracemalloc

            tracemalloc.start(trace)
        prof = cProfile.Profile() if profile else None
        c0, t0, r0, u0, n0 = cpu_s(), time.monotonic(), rss_mb(), app.updates, w.calls_written
        writer.start()
        if prof is not None:
            prof.enable()
        next_sample = t0 + 10
        while time.monotonic() - t0 < seconds:
            await pilot.pause(0.25)
            if samples and time.monotonic() >= next_sample:
                next_sample += 10
                import tracemalloc as tm

                cur, peak = tm.get_traced_memory() if tm.is_tracing() else (0, 0)
                print(f"  {time.monotonic() - t0:5.0f} s {w.calls_written - n0:6d} calls  RSS {rss_mb():6.1f} MB"
                      f"  traced {cur / 2**20:6.1f} MB (peak {peak / 2**20:6.1f})"
                      f"  blocks {sys.getallocatedblocks()}"
                      f"  refreshes {app.analysis_refreshes}"
                      + (f"  {malloc_split()}" if malloc else ""), flush=True)
            if trace and first is None and time.monotonic() - t0 > seconds / 3:
                gc.collect()
                first = (w.calls_written, _only(tracemalloc.take_snapshot(), ui_only))
        if prof is not None:
            prof.disable()
        stop.set()
        writer.join()
        c1, t1, r1 = cpu_s(), time.monotonic(), rss_mb()
        if trace and first is not None:
            gc.collect()
            n = w.calls_written - first[0]
            diff = _only(tracemalloc.take_snapshot(), ui_only).compare_to(
                first[1], "traceback" if trace > 1 else "lineno")
            if by_count:  # long-lived small objects pin allocator pages: which sites keep them
                diff.sort(key=lambda d: -abs(d.count_diff))
            print(f"traced growth over the last {n} calls: {sum(d.size_diff for d in diff) / max(1, n):.0f} B/call,"
                  f" {sum(d.count_diff for d in diff) / max(1, n):.2f} objects/call")
            for d in diff[:top]:
                where = " <- ".join(str(f) for f in reversed(d.traceback)) if trace > 1 else str(d.traceback[0])
                print(f"  {d.size_diff / max(1, n):8.1f} B/call {d.count_diff / max(1, n):+6.2f} objects/call  {where}")
        calls = w.calls_written - n0
        rows = app.dashboard.query_one(CallsTable).row_count
        paints = app.updates - u0
        await pilot.press("q")
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(profile)
    return {"cpu": (c1 - c0) / (t1 - t0), "rss0": r0, "rss1": r1, "calls": calls, "paints": paints, "rows": rows,
            "seconds": t1 - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-analysis", action="store_true")
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--prefill", type=int, default=0, help="calls written before the app starts")
    ap.add_argument("--trace", type=int, default=0, help="tracemalloc frames: where the memory grows")
    ap.add_argument("--samples", action="store_true", help="RSS and traced memory every 10 s")
    ap.add_argument("--top", type=int, default=25, help="allocation sites listed with --trace")
    ap.add_argument("--ui-only", action="store_true",
                    help="with --trace: leave out allocations made under spendtui/core (model, follower, analysis)")
    ap.add_argument("--malloc", action="store_true",
                    help="with --samples: Python's arenas and glibc's heap, in use and free")
    ap.add_argument("--by-count", action="store_true",
                    help="with --trace: list the sites by objects kept, not bytes")
    ap.add_argument("--retain", type=int, default=0,
                    help="the follower's detail limit (lower it to see past its window in a short run)")
    a = ap.parse_args()
    if a.retain:
        from spendtui.core import follow

        follow.RETAIN_CALLS = a.retain
    alone = writer_alone(a.rate, min(20.0, a.seconds))
    r = asyncio.run(run(a.rate, a.seconds, not a.no_analysis, a.profile, a.prefill, a.trace, a.samples, a.top,
                        a.ui_only, a.malloc, a.by_count))
    print(f"rate {a.rate:g}/s for {r['seconds']:.0f} s, analysis {'off' if a.no_analysis else 'on'}, "
          f"prefill {a.prefill}: {r['calls']} calls, {r['paints']} paints, {r['rows']} rows shown")
    print(f"CPU: {100 * r['cpu']:.1f} % of a core in all, writer alone {100 * alone:.1f} %, "
          f"app ~{100 * (r['cpu'] - alone):.1f} %")
    print(f"RSS: {r['rss0']:.1f} -> {r['rss1']:.1f} MB "
          f"({(r['rss1'] - r['rss0']) * 1024 * 1024 / max(1, r['calls']):.0f} B/call)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
