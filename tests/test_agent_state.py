"""What a live session keeps for each sub-agent once it has finished.

A swarm makes thousands of sub-agents in a day, and the follower keeps a reader, a file
entry and an agent record for each for as long as it runs (a finished agent's file can
still be written again). Here sub-agents are spawned, run and finished one after another
in a followed session, and what each one leaves behind is checked: no ``.meta.json`` dict
(its facts are in the agent), no key strings of a call the model let go of, and, measured
with tracemalloc on spendtui's own allocations, a bounded number of bytes.
"""

from __future__ import annotations

import gc
import json
import threading
import tracemalloc
from pathlib import Path

from spendtui.core.follow import SessionFollower
from spendtui.core.model import RETIRED_KEY
from spendtui.core.paths import read_meta, scan_project
from spendtui.core.pricing import PriceTable
from tests.records import append_jsonl, assistant, tool_result, tool_use, usage, user, write_jsonl

HAIKU = "claude-haiku-4-5-20251001"


class Swarm:
    """A main session that spawns one sub-agent per step: the spawning call, the agent's
    own file (its prompt line first, its .meta.json, two calls), then the tool result."""

    def __init__(self, root: Path) -> None:
        self.proj = root / "projects" / "-home-someone-work-a-project"
        self.main = write_jsonl(self.proj / "s1.jsonl", [user("go"), assistant("msg_0", "req_0", usage())])
        self.n = 0

    def files(self, i: int) -> tuple[str, str, Path]:
        aid = f"a{i:016x}"
        return f"toolu_{i:020d}", aid, self.proj / "s1" / "subagents" / f"agent-{aid}.jsonl"

    def spawn(self, f: SessionFollower, meta_late: bool = False) -> str:
        i = self.n = self.n + 1
        tid, aid, path = self.files(i)
        append_jsonl(self.main, [assistant(f"msg_s{i:020d}", f"req_s{i:020d}", usage(), content=[
            tool_use(tid, "Agent", subagent_type="Explore", description=f"look {i}", prompt="x" * 200)])])
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"agentType": "Explore", "description": f"look {i}", "toolUseId": tid, "spawnDepth": 1,
                "prompt": "y" * 300}
        if not meta_late:
            path.with_name(f"agent-{aid}.meta.json").write_text(json.dumps(meta))
        # the agent's prompt is written before its first response: the follower sees the file
        # before the model has an agent for it
        write_jsonl(path, [user("look around", isSidechain=True, agentId=aid)])
        f.poll()
        for k in "ab":
            append_jsonl(path, [assistant(f"msg_{k}{i:020d}", f"req_{k}{i:020d}", usage(out=4), model=HAIKU,
                                          sidechain=True, agent_id=aid)])
            f.poll()
        if meta_late:
            path.with_name(f"agent-{aid}.meta.json").write_text(json.dumps(meta))
            f._sweeping = True  # the next sweep lists the folder again
            f._cold_sweep = 0.0
            f.poll()
        append_jsonl(self.main, [tool_result(tid, "done", toolUseResult={"agentId": aid})])
        f.poll()
        return aid


def _follower(swarm: Swarm, retain: int = 20) -> SessionFollower:
    f = SessionFollower(scan_project(swarm.proj)["s1"], PriceTable.default().cost)
    f.retain = retain
    f.load()
    return f


def test_read_meta_keeps_only_the_facts_the_model_uses(tmp_path: Path) -> None:
    p = tmp_path / "agent-a1.jsonl"
    p.with_name("agent-a1.meta.json").write_text(json.dumps(
        {"agentType": "Explore", "description": "scan", "toolUseId": "t1", "spawnDepth": 1, "prompt": "p" * 5000,
         "extra": {"nested": [1, 2]}}))
    assert read_meta(p) == {"agentType": "Explore", "description": "scan", "toolUseId": "t1"}
    p.with_name("agent-a1.meta.json").write_text(json.dumps({"agentType": 7, "description": None}))
    assert read_meta(p) == {}  # a meta file, with nothing usable in it
    p.with_name("agent-a1.meta.json").write_text("[1]")
    assert read_meta(p) is None


def test_a_finished_sub_agent_leaves_its_facts_not_its_meta_or_call_keys(tmp_path: Path) -> None:
    swarm = Swarm(tmp_path)
    f = _follower(swarm)
    aids = [swarm.spawn(f) for _ in range(30)] + [swarm.spawn(f, meta_late=True)]
    m = f.model
    assert m.counted_calls == 1 + 31 * 3 and len(m.agents) == 31
    retired = 0
    for i, aid in enumerate(aids, 1):
        tid, _aid, _path = swarm.files(i)
        a = m.agents[aid]
        assert (a.agent_type, a.description, a.tool_use_id, a.api_calls) == ("Explore", f"look {i}", tid, 2), a
        af = next(x for x in f.files.agents if x.agent_id == aid)
        _reader, src = f.readers.readers[af.path]
        assert af.meta is None and src.meta is None, (i, af, src)  # the facts are in the agent
        tu = m.tools[tid]
        assert tu.spawned_agent is a.agent_id and tu.description is a.description  # one copy each
        if (f"msg_s{i:020d}", f"req_s{i:020d}") not in m.calls:  # its spawning call was let go of
            retired += 1
            assert tu.call_key == RETIRED_KEY and tu.timestamp is None and tu.result_timestamp is None
    assert retired >= 10
    # a rebuild, and a reload, read the meta files again: the new model has every agent's facts,
    # and the dicts are let go of again
    rebuilt, _events = f.rebuild_with(lambda _m: None, threading.Lock())
    assert rebuilt is f.model
    for reload in (False, True):
        if reload:
            f.load()
        model = f.model
        assert all(model.agents[aid].agent_type == "Explore" for aid in aids)
        assert [model.agents[aid].description for aid in aids] == [f"look {i}" for i in range(1, 32)]
        assert all(af.meta is None for af in f.files.agents)
        assert all(src.meta is None for _r, src in f.readers.readers.values())


def test_bytes_kept_per_finished_sub_agent_are_bounded(tmp_path: Path) -> None:
    """What spendtui's own code keeps alive per sub-agent (file entry, reader, agent record,
    spawning tool use, its calls' and lines' digests), measured by tracemalloc. It was 4.1 KB
    with the whole .meta.json dict, the retired call's key strings and duplicate strings, and
    2.8 KB with the agent's tokens and models in Counters and its reader's file identity an
    object of four ints; it is 2.55 KB now. The bound leaves a little room, not enough for
    either of those to come back."""
    swarm = Swarm(tmp_path)
    f = _follower(swarm)
    for _ in range(60):  # past the detail limit and the first resizes
        swarm.spawn(f)
    gc.collect()
    tracemalloc.start(8)
    try:
        only_ours = [tracemalloc.Filter(True, "*/spendtui/*", all_frames=True)]
        before = tracemalloc.take_snapshot().filter_traces(only_ours)
        n = 150
        for _ in range(n):
            swarm.spawn(f)
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(only_ours)
    finally:
        tracemalloc.stop()
    per_agent = sum(d.size_diff for d in after.compare_to(before, "filename")) / n
    assert len(f.model.agents) == 210
    assert 500 < per_agent < 2_700, per_agent


def test_cold_file_index_uses_the_paths_own_string() -> None:
    """Native events name absolute paths; the index of cold files maps them back to Paths. For a
    clean absolute Path (under ~/.claude, say) its key is the Path's own cached string, not a
    second copy of every cold file's name; otherwise it is what abspath gives."""
    import os

    from spendtui.core.follow import _abs

    home = Path("/home/someone/.claude/projects/-w/s1/subagents/agent-a1.jsonl")
    assert _abs(home) == os.path.abspath(str(home)) and _abs(home) is str(home)
    for p in (Path("/a/../b/agent-a2.jsonl"), Path("rel/agent-a3.jsonl"), Path("/a//b/./agent-a4.jsonl")):
        assert _abs(p) == os.path.abspath(str(p))


def test_an_agents_compact_counts_are_a_counters() -> None:
    """An agent keeps its tokens in one array and its model as a string and a count (a Counter
    only with two models or more); added and taken away in any order, what it shows is what
    Counters kept in the old way show, and it stays in its compact form while one model is
    left."""
    from collections import Counter

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from spendtui.core.model import TOKEN_KINDS, Agent

    step = st.tuples(st.sampled_from(["opus", "haiku", "sonnet"]), st.sampled_from([1, -1]),
                     st.lists(st.integers(0, 10**9), min_size=5, max_size=5))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(step, max_size=30))
    def check(steps: list[tuple[str, int, list[int]]]) -> None:
        agent, models, tokens = Agent("a1"), Counter[str](), Counter[str]()
        for model, sign, toks in steps:
            if sign < 0 and models[model] <= 0:
                continue  # the model takes away only a call it counted
            agent.count_model(model, sign)
            agent.api_calls += sign
            models[model] += sign
            if models[model] <= 0:
                del models[model]
            t = dict(zip(TOKEN_KINDS, toks, strict=True))
            agent.add_tokens(t, sign)
            for k, v in t.items():
                tokens[k] += sign * v
            assert agent.models == models
            assert (agent.model_counts is None) == (len(models) <= 1)
            assert agent.model in models if models else agent.model is None
            if len(models) > 1:
                assert models[agent.model] == max(models.values())
            assert agent.tokens == (tokens if agent.api_calls or any(tokens.values()) else Counter())

    check()
