"""A long live session keeps a bounded number of things per call once past the detail limit.

The live app follows a session with a ``SessionFollower`` (whose model keeps the newest
``retain`` calls' details), a ``LiveStats`` and the context analyser. Here a session of
twenty times the (lowered) detail limit is followed in batches, as the app does, and the
objects each part keeps are counted: they must not grow with the calls beyond the limit.
The totals stay exact: the same session read in one go, without a limit, has the same
summary, context analysis included.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.context import ContextAnalyzer
from spendtui.core.context.analyzer import KEEP_PARTS
from spendtui.core.context.calllog import CallFacts
from spendtui.core.context.composition import CallComposition
from spendtui.core.digests import DigestSet
from spendtui.core.follow import SessionFollower
from spendtui.core.live import LiveStats
from spendtui.core.loader import load_session
from spendtui.core.model import ApiCall, SessionModel, parse_ts
from spendtui.core.paths import SessionFiles, scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from tests import records as R
from tests.context.chat import Chat, read, read_result

SID = "bounded-s1"
RETAIN = 40
OPUS = "claude-opus-4-6"


class Writer:
    """Turns of a working session: prompts, reads, edits, sub-agents in their own files,
    compactions and coffee breaks, appended to a project folder in batches. Every rule of the
    advisor fires on it, so the one-shot comparison covers them on calls let go of: long
    read-only runs (routing), fan-outs of five Opus sub-agents that only search (fan-out and
    Opus explorers), the same Read/Edit on eleven files (batch), compactions (pruning)."""

    def __init__(self, root: Path) -> None:
        self.proj = root / "projects" / "-tmp-proj"
        self.proj.mkdir(parents=True, exist_ok=True)
        self.main = self.proj / f"{SID}.jsonl"
        self.chat = Chat(sessionId=SID)
        self.turns = 0
        self.calls = 0
        self.read_ctx = 2_000
        self._written = 0

    def turn(self) -> None:
        c = self.chat
        t = self.turns = self.turns + 1
        if t % 9 == 0:
            c.tick(400)  # a break: activity comes in stretches
        c.prompt(f"task {t}")
        model = OPUS if t % 3 == 0 else None
        if t == 2:
            self.batch()
        for k in range(6 if t % 4 == 1 else 3):
            tid = f"t{t}_{k}"
            self.read_ctx += 3_000
            c.call([read(tid, f"/p/f{(t + k) % 11}.py")], w5=600, read=self.read_ctx, model=model)
            read_result(c, tid, f"/p/f{(t + k) % 11}.py", "line\n" * 40)
            self.calls += 1
        c.call([R.tool_use(f"e{t}", "Edit", file_path=f"/p/f{t % 11}.py", old_string="a", new_string="b")],
               w5=300, read=self.read_ctx, model=model)
        c.result(f"e{t}", "ok")
        c.call(w5=100, read=self.read_ctx + 300, model=model)
        self.calls += 2
        if t % 10 == 0:
            self.subagent(t, 5, 3, OPUS)
        elif t % 5 == 0:
            self.subagent(t)
        if t % 20 == 0:
            c.compact(self.read_ctx)
            self.read_ctx = 2_000

    def batch(self) -> None:
        """The same Read, then Edit, on twelve files (never touched again)."""
        c = self.chat
        for i in range(12):
            path = f"/p/batch{i}.py"
            c.call([read(f"br{i}", path)], w5=300, read=self.read_ctx)
            read_result(c, f"br{i}", path, "x = 1\n" * 20)
            c.call([R.tool_use(f"be{i}", "Edit", file_path=path, old_string="1", new_string="2")],
                   w5=200, read=self.read_ctx)
            c.result(f"be{i}", "ok")
            self.calls += 2

    def subagent(self, t: int, agents: int = 1, calls: int = 2, model: str = "claude-sonnet-4-5-20250929") -> None:
        """One call that starts ``agents`` sub-agents in parallel, each making ``calls`` calls."""
        ids = [(f"a{t:05d}x{j}", f"sp{t}x{j}") for j in range(agents)]
        self.chat.call([R.tool_use(spawn, "Agent", subagent_type="Explore", description=f"look {t}", prompt="look")
                        for _, spawn in ids], w5=200, read=self.read_ctx)
        sub = self.proj / SID / "subagents"
        sub.mkdir(parents=True, exist_ok=True)
        for aid, _ in ids:
            recs = [R.assistant(f"m{aid}_{i}", f"r{aid}_{i}", R.usage(5, 40, cw5=3_000, cr=1_000 * i), session=SID,
                                model=model, when=self.chat.records[-1]["timestamp"], sidechain=True, agent_id=aid,
                                content=[R.tool_use(f"{aid}_g{i}", "Grep", pattern="x")])
                    for i in range(calls)]
            meta = {"agentType": "Explore", "description": f"look {t}"}
            (sub / f"agent-{aid}.meta.json").write_text(json.dumps(meta))
            R.write_jsonl(sub / f"agent-{aid}.jsonl", recs)
        for aid, spawn in ids:
            self.chat.result(spawn, "found it", toolUseResult={"agentId": aid, "status": "completed"})
        self.calls += 1 + agents * calls

    def flush(self) -> None:
        """Append what was written since the last flush to the main transcript."""
        with open(self.main, "a", encoding="utf-8") as f:
            for rec in self.chat.records[self._written:]:
                f.write(json.dumps(rec) + "\n")
        self._written = len(self.chat.records)


def _alive(cls: type, pred: Any = None) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is cls and (pred is None or pred(o)))


def follow_writer(root: Path, prices: PriceTable, **analysis: Any
                  ) -> tuple[Writer, SessionFiles, SessionFollower, list[ContextAnalyzer]]:
    """The writer's first turn, followed with the lowered detail limit and an analyser per
    model (``analysis``: more ContextAnalyzer options, e.g. its window)."""
    w = Writer(root)
    w.turn()
    w.flush()
    files = scan_project(w.proj)[SID]
    follower = SessionFollower(files, prices.cost)
    follower.retain = RETAIN
    analyzers: list[ContextAnalyzer] = []
    follower.on_model = lambda m: analyzers.append(ContextAnalyzer(m, prices, read_memory=False, **analysis))
    follower.load(on_events=lambda _b: None)
    return w, files, follower, analyzers


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A session of ~20x the detail limit, followed live in batches like the app does."""
    root = tmp_path_factory.mktemp("claude")
    prices = PriceTable.default()
    w, files, follower, analyzers = follow_writer(root, prices)
    stats = LiveStats(prices, max_chains=8)
    stats.rebuild(follower.model)
    marks: list[dict[str, int]] = []
    while w.calls < 20 * RETAIN:
        for _ in range(3):
            w.turn()
        w.flush()
        stats.apply(follower.model, follower.poll())
        if w.calls >= 5 * RETAIN and len(marks) < 1:
            marks.append(counts(follower.model, stats, analyzers[-1]))
    marks.append(counts(follower.model, stats, analyzers[-1]))
    return {"writer": w, "files": files, "follower": follower, "stats": stats, "analyzer": analyzers[-1],
            "prices": prices, "marks": marks}


def counts(model: SessionModel, stats: LiveStats, a: ContextAnalyzer) -> dict[str, int]:
    """What each part keeps, counted (entries, live objects), not measured in bytes."""
    return {
        "calls": model.counted_calls,
        "model.calls": len(model.calls),
        "ApiCall alive": _alive(ApiCall, lambda c: c.session_id == SID),
        "Turn alive": sum(1 for t in model.turns if t.index),
        "stats.stretches": stats.activity.stretches,
        "stats.chains": len(stats._last_in_chain),
        "analyzer.fat": a.calls.full,
        "analyzer.rows": len(a.calls),
        "analyzer.full compositions": sum(1 for c in a.main if c.cats),
        "CallFacts alive": _alive(CallFacts),
        "CallComposition alive": _alive(CallComposition),
        "analyzer._read_partial": len(a._read_partial),
        "gc objects": len(gc.get_objects()),
    }


def test_state_kept_per_call_stops_growing_past_the_detail_limit(followed: dict[str, Any]) -> None:
    early, late = followed["marks"]
    assert late["calls"] >= 20 * RETAIN and early["calls"] >= 5 * RETAIN
    # the model keeps the newest calls' details (plus the 20 costliest, for the summary)
    assert late["model.calls"] <= RETAIN + RETAIN // 4 + 16
    # no ApiCall outlives its retirement: the model's window, its costliest 20, the analyser's
    # not-yet-let-go-of (16), the compactions' previous calls and LiveStats' none
    compactions = len(followed["analyzer"].compactions)
    bound = (RETAIN + RETAIN // 4 + 16) + 20 + 16 + compactions
    assert late["ApiCall alive"] <= bound, late
    # (both windows fill up and are cut back in steps, so two counts differ by up to their steps)
    assert late["ApiCall alive"] <= early["ApiCall alive"] + compactions + (RETAIN // 4 + 16)
    # turns hold their calls' details only while the model does
    assert late["Turn alive"] <= early["Turn alive"] + 3
    # LiveStats: one stretch per break (every 9th turn), one tip per recent chain
    assert late["stats.stretches"] <= followed["writer"].turns // 9 + 2
    assert late["stats.chains"] <= 8
    # the analyser keeps compact facts for what the model let go of, full parts only for the newest
    assert late["analyzer.fat"] <= late["model.calls"] + 16 + 1
    assert late["analyzer.full compositions"] <= KEEP_PARTS
    assert late["analyzer._read_partial"] <= 3
    # the "seen before?" memories are digests, 8-12 bytes each (test_digest_set_is_a_set)
    m, a = followed["follower"].model, followed["analyzer"]
    assert all(isinstance(d, DigestSet) for d in (m._seen_uuids, m._retired, a._seen, a._started))
    # what it keeps of the calls the model let go of are rows of columns, not objects
    assert a.calls.base >= late["calls"] - 2 * RETAIN - 40
    assert late["CallFacts alive"] == 0
    assert late["CallComposition alive"] <= KEEP_PARTS


def test_totals_and_analysis_equal_a_one_shot_read(followed: dict[str, Any]) -> None:
    """Every figure of the summary, the context analysis included, as if read in one go."""
    files: SessionFiles = followed["files"]
    prices: PriceTable = followed["prices"]
    follower: SessionFollower = followed["follower"]
    live = session_summary(follower.model, prices, now=0)
    followed["analyzer"].merge_into(live, now=0)
    model = SessionModel(SID)
    analyzer = ContextAnalyzer(model, prices, read_memory=False)
    model = load_session(files, prices.cost, model=model)
    assert len(model.calls) == model.counted_calls > 10 * len(follower.model.calls)
    one_shot = session_summary(model, prices, now=0)
    analyzer.merge_into(one_shot, now=0)
    assert json.loads(json.dumps(live, default=str)) == json.loads(json.dumps(one_shot, default=str))
    # not vacuous: every rule gave advice, and the oldest calls (let go of live) took part
    kinds = {x["key"].split(":")[0] + (":" + x["key"].split(":")[1] if x["kind"] == "subagents" else "")
             for x in one_shot["advice"]}
    assert {"model_routing", "context_pruning", "batch", "subagents:fanout", "subagents:opus_explore"} <= kinds, kinds
    assert {k for k, v in one_shot["avoidable"]["by_category"].items() if v > 0} >= {
        "stale context", "model routing", "sub-agents", "batch"}
    a: ContextAnalyzer = followed["analyzer"]
    assert a.calls.base > len(a.calls) // 2
    let_go = a.calls[a.calls.base - 1].timestamp
    assert any(x["first_seen"] and parse_ts(x["first_seen"]) < let_go
               for x in live["advice"] if x["kind"] in ("model_routing", "subagents"))
    # a day budget counts every call of the day, not only those whose details are kept
    from datetime import timezone

    from spendtui.core.budget import Budgets, BudgetTracker

    tracker = BudgetTracker(Budgets(day_pico=10**15, month_pico=10**15), tz=timezone.utc)
    tracker.track(follower.model)
    end = follower.model.ended.timestamp() if follower.model.ended else 0.0
    day = next(s for s in tracker.states(end) if s.scope == "day")
    assert day.spent_pico == model.cost_pico == follower.model.cost_pico
    assert len(follower.model.cost_by_minute) <= (end - follower.model.started.timestamp()) / 60 + 1
    stats: LiveStats = followed["stats"]
    whole = LiveStats(prices)
    whole.rebuild(model)
    assert stats.activity.seconds == pytest.approx(whole.activity.seconds)
    assert stats.snapshot().cost_pico == whole.snapshot().cost_pico


def test_digest_set_is_a_set() -> None:
    import random

    rng = random.Random(3)
    values = [rng.getrandbits(64) for _ in range(5000)]
    d = DigestSet()
    plain: set[int] = set()
    for v in values + values[:100]:
        d.add(v)
        plain.add(v)
    assert len(d) == len(plain) == 5000 and set(d) == plain and bool(d)
    assert all(v in d for v in values) and not any(rng.getrandbits(64) in d for _ in range(1000))
    assert "x" not in d and not DigestSet()
    assert len(d._recent) < 1024 + 5000 // 8  # the rest in the sorted array('Q'): 8 bytes each
    import pickle

    back = pickle.loads(pickle.dumps(d))
    assert set(back) == plain and values[7] in back


def test_digest_set_past_many_merges() -> None:
    """Past MAX_RECENT (merges every 8,192 new digests, however big the set): still exactly a
    set, the big array sorted, the newest ones few, the ends of the range kept, no int object
    left alive per digest; a snapshot from before (newest ones in a set) still loads."""
    import pickle
    import random

    from spendtui.core.digests import MAX_RECENT

    rng = random.Random(11)
    values = [0, 2**64 - 1, 1] + [rng.getrandbits(64) for _ in range(60_000)]
    d = DigestSet()
    plain: set[int] = set()
    for i, v in enumerate(values):
        d.add(v)
        plain.add(v)
        if i % 7 == 0:
            d.add(values[rng.randrange(i + 1)])  # seen before: nothing changes
    assert len(d) == len(plain) and set(d) == plain
    assert list(d._sorted) == sorted(d._sorted) and list(d._recent) == sorted(d._recent)
    assert len(d._recent) < MAX_RECENT and len(d._sorted) > 6 * MAX_RECENT
    assert all(v in d for v in values[::97]) and 2**64 - 1 in d and 0 in d
    assert sum(1 for _ in range(2000) if rng.getrandbits(64) in d) == 0
    assert type(d._recent).__name__ == "array"
    old = DigestSet.__new__(DigestSet)
    old.__setstate__((d._sorted, set(d._recent)))  # the state as an older version pickled it
    assert set(old) == plain and values[-1] in old
    assert set(pickle.loads(pickle.dumps(d))) == plain
