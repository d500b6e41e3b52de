"""Where the live app's memory goes per API call, without Textual.

    python benchmarks/memprofile.py [--turns 4000] [--no-analysis] [--budget] [--top 25]

Plays the soak test's writer (scripts/soak.py: real 2.1.197 records re-id'd, sub-agents,
compactions) as fast as it can into a temp dir, and after each turn does what the app's
follower thread does: ``SessionFollower.poll`` → ``LiveStats.apply`` → budget
``track``/``check`` → the snapshot with the context analysis' advice, breakdown and
summary fields. tracemalloc snapshots are taken once the session is past the follower's
detail limit (``RETAIN_CALLS``) and at the end; the growth in between, per allocating
line, is what a long session keeps per call. Also prints the entry counts of the
containers that grow (the same ones tests/test_bounded.py pins).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from soak import Templates, Writer  # noqa: E402

from spendtui.core import follow  # noqa: E402
from spendtui.core.budget import Budgets, BudgetTracker  # noqa: E402
from spendtui.core.follow import SessionFollower  # noqa: E402
from spendtui.core.live import LiveStats  # noqa: E402
from spendtui.core.paths import scan_project  # noqa: E402
from spendtui.core.pricing import PriceTable  # noqa: E402


class FastWriter(Writer):
    """The soak writer without its pacing and half-line pauses."""

    def _pace(self) -> None:
        return

    def _response(self, path: Path, recs: list[dict[str, Any]], agent: str | None) -> None:
        """As the soak's, minus the truth it keeps per call (not the followers' memory)."""
        u = self._usage(recs[0]["message"]["usage"])
        for r in recs:
            r["message"]["usage"] = u
        self._append(path, recs)
        self.calls_written += 1

    def _append(self, path: Path, recs: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            for rec in recs:
                raw = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                f.write(raw)
                self.truth.lines += 1
                self.truth.bytes += len(raw)


class Driver:
    """The app's follower thread, minus the thread and the UI."""

    def __init__(self, w: Writer, prices: PriceTable, analysis: bool, budget: bool,
                 window: int | None = None) -> None:
        files = scan_project(w.proj)[w.sid]
        self.prices = prices
        self.follower = SessionFollower(files, prices.cost, follow_clear=True)
        self.analyzers: list[Any] = []
        if analysis:
            from spendtui.core.context import ContextAnalyzer

            kw = {} if window is None else {"window": window}
            self.follower.on_model = lambda m: self.analyzers.append(ContextAnalyzer(m, prices, **kw))
        self.follower.load(on_events=lambda _b: None)
        self.stats = LiveStats(prices)
        self.stats.rebuild(self.follower.model)
        self.budget = BudgetTracker(Budgets(10**18, 10**18, 10**18)) if budget else None
        if self.budget is not None:
            self.budget.track(self.follower.model)

    @property
    def analyzer(self) -> Any:
        a = self.analyzers[-1] if self.analyzers else None
        return a if a is not None and a.model is self.follower.model else None

    def step(self, query: bool = True) -> Any:
        events = self.follower.poll()
        self.stats.apply(self.follower.model, events)
        snap = self.stats.snapshot(self.follower.previous)
        if not query:
            return snap
        if self.budget is not None:
            self.budget.track(self.follower.model)
            self.budget.check()
            self.budget.states()
        a = self.analyzer
        if a is not None:
            now = time.time()
            a.new_advice(now=now)
            a.advice(now=now)
            m = self.follower.model
            if m.main_calls:
                a.breakdown_for_call(m.main_calls[-1])
            a.summary_fields(now=now)
        return snap


def counts(d: Driver) -> dict[str, int]:
    """Entries kept per container (what grows with the call count if anything does)."""
    m = d.follower.model
    s = d.stats
    out = {
        "model.calls": len(m.calls), "model.main_calls": len(m.main_calls), "model.tools": len(m.tools),
        "model._seen_uuids": len(m._seen_uuids), "model._retired": len(m._retired),
        "model._call_times": len(m._call_times), "model.turns": len(m.turns), "model._turn_ts": len(m._turn_ts),
        "model.agents": len(m.agents), "model.compactions": len(m.compactions),
        "model._by_message_id": len(m._by_message_id), "model._sidechain_agent": len(m._sidechain_agent),
        "model.model_switches": len(m.model_switches),
        "stats.activity": len(s.activity), "stats._last_in_chain": len(s._last_in_chain),
        "stats._compaction_ts": len(s._compaction_ts), "stats._rows": len(s._rows),
    }
    a = d.analyzer
    if a is not None:
        out["analyzer.kept rows"] = len(a.calls) - a.calls.gone
        out["analyzer.kept main"] = len(a.main) - a.main.gone
        for name in ("calls", "main", "main_rows", "agents", "compactions", "_growth", "_seen", "_nodes",
                     "_children", "_started", "_agent_seen_calls",
                     "turn_tools", "model_probes", "memory_edits"):
            v = getattr(a, name, None)
            if v is not None:
                out[f"analyzer.{name}"] = len(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retain", type=int, default=follow.RETAIN_CALLS, help="the follower's detail limit")
    ap.add_argument("--calls", type=int, default=0,
                    help="API calls to write (default 4.25x the detail limit; snapshots at 1.5x, half way "
                         "and the end, the last two diffed)")
    ap.add_argument("--no-analysis", action="store_true")
    ap.add_argument("--window", type=int, default=None,
                    help="the analysis window in main calls (default: the app's, WINDOW_MAIN_CALLS)")
    ap.add_argument("--budget", action="store_true", help="a session/day/month budget tracker too")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--query-every", type=int, default=1,
                    help="budget/analysis queries every N turns (they cost time, not memory)")
    ap.add_argument("--frames", type=int, default=1, help="traceback depth grouped on")
    ap.add_argument("--no-trace", action="store_true", help="counts and timings only (fast)")
    a = ap.parse_args()
    follow.RETAIN_CALLS = a.retain
    a.calls = a.calls or a.retain * 17 // 4

    prices = PriceTable.default()
    tmp = Path(tempfile.mkdtemp(prefix="spendtui-mem-"))
    w = FastWriter(tmp / "claude", Templates.load(), 1e9, prices, random.Random(6))
    w.turn()
    d = Driver(w, prices, analysis=not a.no_analysis, budget=a.budget, window=a.window)
    # tracemalloc is slow: it starts once the session is past the detail limit. Objects freed
    # later but allocated before the start are not seen leaving, so the growth is measured
    # between two later snapshots (the retained window at the first was allocated after the start).
    marks = [int(a.retain * 1.5), int(a.retain * 1.5 + (a.calls - a.retain * 1.5) / 2), a.calls]
    snaps: list[tuple[int, tracemalloc.Snapshot]] = []
    t0 = time.perf_counter()
    step_s = 0.0
    turn = 0
    while w.calls_written < a.calls:
        turn += 1
        w.turn()
        if turn % 7 == 0:
            w.subagent()
        if turn % 40 == 0:
            w.compaction()
        t = time.perf_counter()
        d.step(turn % a.query_every == 0)
        step_s += time.perf_counter() - t
        if not a.no_trace and len(snaps) < 2 and w.calls_written >= marks[len(snaps)]:
            if not snaps:
                tracemalloc.start(a.frames)
            gc.collect()
            snaps.append((w.calls_written, tracemalloc.take_snapshot()))
            print(f"snapshot at {w.calls_written} calls; {counts(d)}", flush=True)
        if turn % 500 == 0:
            print(f"  turn {turn}: {w.calls_written} calls, {time.perf_counter() - t0:.0f} s, "
                  f"step {step_s / turn * 1000:.1f} ms avg", flush=True)
    print(f"end: {w.calls_written} calls; {counts(d)}")
    print(f"mean step (poll + stats + budget + analysis + snapshot): {step_s / turn * 1000:.2f} ms/turn")
    if len(snaps) == 2:
        gc.collect()
        last = tracemalloc.take_snapshot()
        first_calls, first = snaps[1]
        n = w.calls_written - first_calls
        diff = last.compare_to(first, "traceback" if a.frames > 1 else "lineno")
        total = sum(s.size_diff for s in diff)
        objs = sum(s.count_diff for s in diff)
        print(f"\ngrowth over the last {n} calls: {total / 1024:.0f} KiB = {total / max(1, n):.0f} B/call,"
              f" {objs / max(1, n):.2f} objects/call")
        for s in diff[: a.top]:
            where = "\n      ".join(str(f) for f in s.traceback.format()[-2 * a.frames:]) if a.frames > 1 \
                else str(s.traceback[0])
            print(f"  {s.size_diff / max(1, n):8.1f} B/call {s.count_diff:+8d} blocks  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
