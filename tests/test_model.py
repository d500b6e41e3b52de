"""Session model and loader: dedup, bad input, sub-agents, turns, forks."""

from __future__ import annotations

import json
from pathlib import Path

from spendtui.core.loader import _timestamps_jump_back, head_lines, load_all, load_session, load_with_dedup
from spendtui.core.model import SessionModel
from spendtui.core.paths import SessionFiles, discover, scan_project
from tests.records import (
    assistant,
    tool_result,
    tool_use,
    ts,
    usage,
    user,
    write_jsonl,
)


def files_for(path: Path) -> SessionFiles:
    return SessionFiles(path.stem, path.parent, path)


def test_block_lines_of_one_response_count_once_with_largest_output(tmp_path: Path) -> None:
    u1 = usage(inp=5, out=1, cw5=100, cr=1000)
    u2 = usage(inp=5, out=250, cw5=100, cr=1000)
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("hello"),
        assistant("msg_1", "req_1", u1, content=[{"type": "thinking", "thinking": "x"}]),
        assistant("msg_1", "req_1", u2, content=[tool_use("t1", "Read", file_path="/a.py")]),
        tool_result("t1", "file body"),
        assistant("msg_1", "req_1", u1, content=[{"type": "text", "text": "late copy"}]),
    ])
    m = load_session(files_for(p))
    assert m.counted_calls == 1
    assert dict(m.tokens) == {"input": 5, "output": 250, "cache_write_5m": 100, "cache_write_1h": 0,
                              "cache_read": 1000}
    call = next(iter(m.calls.values()))
    assert call.tools == ["Read"]
    assert m.tools["t1"].paths == ["/a.py"] and m.tools["t1"].result_chars == len("file body")


def test_same_message_id_other_request_is_another_call(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        assistant("msg_1", "req_1", usage(out=10)),
        assistant("msg_1", "req_2", usage(out=20)),
    ])
    assert load_session(files_for(p)).counted_calls == 2


def test_btw_sidechain_replay_keeps_main_copy(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("hi"),
        assistant("msg_1", "req_1", usage(out=40)),
        assistant("msg_1", "req_9", usage(out=40), sidechain=True),
    ])
    m = load_session(files_for(p))
    assert m.counted_calls == 1 and m.counted_main_calls == 1


def test_synthetic_api_errors_and_progress_copies_are_not_calls(tmp_path: Path) -> None:
    progress = {
        "type": "progress", "sessionId": "s1", "timestamp": ts(5), "parentToolUseID": "t1",
        "data": {"type": "agent_progress", "agentId": "abc",
                 "message": {"type": "assistant", "message": {"id": "msg_sub", "model": "claude-haiku-4-5",
                                                               "usage": usage(out=99)}}},
    }
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("hi"),
        assistant("msg_e", None, usage(0, 0), model="<synthetic>", isApiErrorMessage=True),
        assistant("msg_s", None, usage(0, 0), model="<synthetic>"),
        progress,
        assistant("msg_1", "req_1", usage(out=7)),
    ])
    m = load_session(files_for(p))
    assert m.counted_calls == 1 and m.tokens["output"] == 7


def test_corrupt_lines_are_counted_with_file_and_line_and_lose_nothing(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("hi"),
        '{"type":"assistant","message":{"id":"msg_x"',  # cut off mid-write by a crash
        assistant("msg_1", "req_1", usage(out=7)),
        "not json at all",
        "[1,2,3]",
        assistant("msg_2", "req_2", usage(inp=-5, out=3)),  # impossible usage
        assistant("msg_3", "req_3", {"input_tokens": "lots"}),
        assistant("msg_4", "req_4", usage(out=9)),
    ])
    m = load_session(files_for(p))
    assert m.counted_calls == 2 and m.tokens["output"] == 16
    assert m.skipped_lines == 5
    assert [(s.line, s.reason.split(" (")[0]) for s in m.skipped] == [
        (2, "invalid JSON"), (4, "invalid JSON"), (5, "JSON value is not an object"),
        (6, "invalid usage"), (7, "invalid usage")]
    assert all(s.file == p for s in m.skipped)


def test_unknown_record_types_and_fields_are_ignored(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        {"type": "hologram", "payload": {"x": 1}},
        {"type": "file-history-snapshot", "snapshot": {}},
        assistant("msg_1", "req_1", usage(out=7), brandNewField={"a": [1]}),
    ])
    m = load_session(files_for(p))
    assert m.counted_calls == 1 and m.skipped_lines == 0


def test_turns_start_only_at_real_prompts(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("<local-command-caveat>Caveat: ...</local-command-caveat>", isMeta=True),
        user("<command-name>/clear</command-name>\n<command-message>clear</command-message>"),
        user("<local-command-stdout></local-command-stdout>"),
        user("fix the bug"),
        assistant("msg_1", "req_1", usage(), content=[tool_use("t1", "Bash", command="ls")]),
        tool_result("t1", "a b c"),
        assistant("msg_2", "req_2", usage()),
        user("This session is being continued from a previous conversation...", isCompactSummary=True,
             isVisibleInTranscriptOnly=True),
        user([{"type": "text", "text": "now the tests"}]),
        assistant("msg_3", "req_3", usage()),
    ])
    m = load_session(files_for(p))
    assert len(m.turns) == 2
    assert [c.turn for c in m.main_calls] == [1, 1, 2]
    assert [t.calls for t in m.turns] == [2, 1]


def test_model_switch_and_context_of_main_chain(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [
        user("a"),
        assistant("msg_1", "req_1", usage(inp=10, cw5=1000, cr=0), model="claude-opus-4-6"),
        assistant("msg_2", "req_2", usage(inp=10, cw5=50, cr=1000), model="claude-opus-4-6"),
        assistant("msg_3", "req_3", usage(inp=10, cw5=5000, cr=0), model="claude-sonnet-4-5-20250929"),
        assistant("msg_s", "req_s", usage(inp=10, cw5=90000), model="claude-haiku-4-5-20251001",
                  sidechain=True, agent_id="ag1"),
    ])
    m = load_session(files_for(p))
    assert [(s.from_model, s.to_model) for s in m.model_switches] == [
        ("claude-opus-4-6", "claude-sonnet-4-5-20250929")]
    assert m.context_current == 5010 and m.context_peak == 5010  # the sub-agent's 90K is its own
    assert m.agents["ag1"].context_peak == 90010


def test_subagent_file_calls_are_attributed_to_turns_by_time(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    main = write_jsonl(proj / "s1.jsonl", [
        user("first", when=ts(0, 1)),
        assistant("msg_1", "req_1", usage(), content=[tool_use("t1", "Agent", subagent_type="Explore",
                                                                description="look", prompt="go")],
                  when=ts(1, 1)),
        tool_result("t1", "found it", when=ts(30, 1), toolUseResult={"agentId": "a1", "status": "completed"}),
        assistant("msg_2", "req_2", usage(), when=ts(31, 1)),
        user("second", when=ts(0, 5)),
        assistant("msg_3", "req_3", usage(), when=ts(1, 5)),
    ])
    write_jsonl(proj / "s1" / "subagents" / "agent-a1.jsonl", [
        user("go", sidechain=True, isSidechain=True, agentId="a1", when=ts(2, 1)),
        assistant("msg_a", "req_a", usage(out=5), model="claude-haiku-4-5-20251001", sidechain=True,
                  agent_id="a1", when=ts(10, 1)),
    ])
    (files,) = discover([tmp_path])
    assert main == files.main
    m = load_session(files)
    agent = m.agents["a1"]
    assert agent.tool_use_id == "t1" and agent.agent_type == "Explore" and agent.description == "look"
    assert agent.model == "claude-haiku-4-5-20251001"
    sub = m.calls[("msg_a", "req_a")]
    assert sub.turn == 1
    assert [t.calls for t in m.turns] == [3, 1]


def test_resume_appends_to_the_same_file(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "s.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=3))])
    m1 = load_session(files_for(p))
    with open(p, "a") as f:  # `claude --continue` writes on in the same file
        f.write(json.dumps(user("b")) + "\n")
        f.write(json.dumps(assistant("msg_2", "req_2", usage(out=4))) + "\n")
    m2 = load_session(files_for(p))
    assert (m1.counted_calls, m2.counted_calls) == (1, 2)
    assert len(m2.turns) == 2


def _fork_pair(tmp_path: Path) -> tuple[Path, Path]:
    proj = tmp_path / "projects" / "-tmp-proj"
    parent_recs = [
        user("a", session="parent", when=ts(0)),
        assistant("msg_1", "req_1", usage(inp=10, cw5=1000, out=50), session="parent", when=ts(1)),
        user("b", session="parent", when=ts(2)),
        assistant("msg_2", "req_2", usage(inp=10, cr=1000, cw5=200, out=60), session="parent", when=ts(3)),
    ]
    parent = write_jsonl(proj / "parent.jsonl", parent_recs)
    # the fork copies the history with the same message ids and requestIds, new
    # uuids, its own sessionId and a forkedFrom mark (Claude Code 2.1.197's fork code)
    copied = [dict(r, sessionId="fork", uuid=r["uuid"] + "-f",
                   forkedFrom={"sessionId": "parent", "messageUuid": r["uuid"]}) for r in parent_recs]
    fork = write_jsonl(proj / "fork.jsonl", [
        *copied,
        user("c", session="fork", when=ts(0, 1)),
        assistant("msg_3", "req_3", usage(inp=10, cr=1200, cw5=100, out=70), session="fork", when=ts(1, 1)),
    ])
    return parent, fork


def test_fork_counts_only_what_it_added(tmp_path: Path) -> None:
    parent, _fork = _fork_pair(tmp_path)
    sessions = scan_project(parent.parent)
    fm = load_with_dedup(sessions["fork"])
    pm = load_with_dedup(sessions["parent"])
    assert pm.counted_calls == 2 and pm.tokens["output"] == 110
    assert fm.counted_calls == 1 and fm.tokens["output"] == 70
    assert len(fm.calls) == 3  # the copies are known, just not billed here
    assert fm.context_current == 10 + 1200 + 100  # its context includes the copied history
    # listing all sessions counts every call exactly once
    models = {m.session_id: m for m in load_all(list(sessions.values()))}
    assert models["parent"].counted_calls + models["fork"].counted_calls == 3
    assert models["fork"].tokens["output"] == 70


def test_old_style_resume_copy_without_marks(tmp_path: Path) -> None:
    """Claude Code <= 2.0.31 resumed into a new file, copies keeping the old sessionId."""
    proj = tmp_path / "projects" / "-tmp-proj"
    old = [user("a", session="old", when=ts(0)),
           assistant("msg_1", "req_1", usage(out=50), session="old", when=ts(1))]
    write_jsonl(proj / "old.jsonl", old)
    write_jsonl(proj / "new.jsonl", [*old, user("b", session="new", when=ts(0, 2)),
                                     assistant("msg_2", "req_2", usage(out=5), session="new", when=ts(1, 2))])
    sessions = scan_project(proj)
    assert load_with_dedup(sessions["new"]).tokens["output"] == 5
    assert load_with_dedup(sessions["old"]).tokens["output"] == 50
    models = {m.session_id: m for m in load_all(list(sessions.values()))}
    assert (models["old"].tokens["output"], models["new"].tokens["output"]) == (50, 5)


def test_fork_whose_parent_is_gone_counts_its_copies(tmp_path: Path) -> None:
    """Claude Code deletes old transcripts (cleanupPeriodDays); then the fork is all we have."""
    parent, fork = _fork_pair(tmp_path)
    parent.unlink()
    (files,) = scan_project(fork.parent).values()
    assert load_with_dedup(files).counted_calls == 3


def test_fork_written_like_claude_code_2_1_197(tmp_path: Path) -> None:
    """2.1.197's --fork-session: no forkedFrom; copies keep uuid and timestamps and get
    the fork's sessionId; the fork's own first records (mode, queue-operation) carry
    the current time, before the copies (as in tests/fixtures/cc2197/fork). The ids
    are chosen so that a tie broken by name would pick the wrong owner."""
    proj = tmp_path / "projects" / "-tmp-proj"
    parent_recs = [user("a", session="zzz-parent", when=ts(0)),
                   assistant("msg_1", "req_1", usage(out=50), session="zzz-parent", when=ts(1))]
    write_jsonl(proj / "zzz-parent.jsonl", parent_recs)
    write_jsonl(proj / "aaa-fork.jsonl", [
        {"type": "mode", "mode": "default", "sessionId": "aaa-fork"},
        {"type": "queue-operation", "operation": "enqueue", "sessionId": "aaa-fork", "timestamp": ts(0, 9)},
        *[dict(r, sessionId="aaa-fork") for r in parent_recs],
        user("b", session="aaa-fork", when=ts(1, 9)),
        assistant("msg_2", "req_2", usage(out=5), session="aaa-fork", when=ts(2, 9)),
    ])
    assert _timestamps_jump_back(head_lines(proj / "aaa-fork.jsonl"))
    assert not _timestamps_jump_back(head_lines(proj / "zzz-parent.jsonl"))
    sessions = scan_project(proj)
    assert load_with_dedup(sessions["aaa-fork"]).tokens["output"] == 5
    assert load_with_dedup(sessions["zzz-parent"]).tokens["output"] == 50
    models = {m.session_id: m for m in load_all(list(sessions.values()))}
    assert (models["zzz-parent"].counted_calls, models["aaa-fork"].counted_calls) == (1, 1)


def test_retiring_old_calls_keeps_every_total(tmp_path: Path) -> None:
    """A live model with ``retain`` forgets the details of old calls but none of the money."""
    import random

    from spendtui.core.pricing import PriceTable
    from spendtui.core.summary import session_summary

    rng = random.Random(5)
    recs: list = [user("go")]
    for i in range(300):
        u = usage(inp=rng.randint(1, 50), out=rng.randint(1, 3000), cw5=rng.randint(0, 9000),
                  cw1h=rng.choice([0, 0, 4000]), cr=rng.randint(0, 90_000))
        model = rng.choice(["claude-sonnet-4-5-20250929", "claude-opus-4-6"])
        content = [tool_use(f"t{i}", "Read", file_path=f"/f{i % 7}")] if i % 3 == 0 else None
        recs.append(assistant(f"msg_{i}", f"req_{i}", u, model=model, content=content, when=ts(i % 60, i // 60)))
        if i % 3 == 0:
            recs.append(tool_result(f"t{i}", "body", when=ts(i % 60, i // 60)))
        if i % 50 == 0:
            recs.append(user(f"next {i}", when=ts(i % 60, i // 60)))
    recs.append(assistant("msg_5", "req_5", usage(out=1)))  # a late copy of a retired call
    p = write_jsonl(tmp_path / "s.jsonl", recs)
    prices = PriceTable.default()
    full = load_session(files_for(p), prices.cost)
    small = SessionModel("s")
    small.retain = 40
    small = load_session(files_for(p), prices.cost, model=small)
    assert len(small.calls) <= 40 + 40 // 4 + 16 < len(full.calls) == 300
    a, b = session_summary(full, prices, now=0), session_summary(small, prices, now=0)
    assert a == b  # every figure, the costliest calls included


def test_retired_keys_survive_a_cache_round_trip(tmp_path: Path) -> None:
    """Retired calls are remembered by a stable digest, so a late copy is still not
    counted after the model came back from the result cache in another process."""
    import subprocess
    import sys

    from spendtui.core.cache import SessionCache

    recs: list = [user("go")] + [assistant(f"msg_{i}", f"req_{i}", usage(out=10), when=ts(i % 60, i // 60))
                                 for i in range(100)]
    p = write_jsonl(tmp_path / "projects" / "-p" / "s.jsonl", recs)
    files = scan_project(p.parent)["s"]
    SessionCache(tmp_path / "cache").load(files, None, retain=20)
    with open(p, "a") as f:  # a late copy of msg_3 (retired), with more output
        f.write(json.dumps(assistant("msg_3", "req_3", usage(out=500))) + "\n")
    code = (
        "import sys; from pathlib import Path; from spendtui.core.cache import SessionCache;"
        "from spendtui.core.paths import scan_project;"
        f"m = SessionCache(Path({str(tmp_path / 'cache')!r})).load(scan_project(Path({str(p.parent)!r}))['s'], None,"
        " retain=20); print(m.tokens['output'], m.counted_calls)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONHASHSEED": "123"}).stdout.split()
    assert out == ["1000", "100"]


def test_inline_sidechains_link_to_the_newest_open_task_each() -> None:
    """Claude Code <= 2.0.14 wrote sub-agents inline (isSidechain, no agentId): each takes the
    newest Task still open, skipping other tools (here a Read came after the Tasks), and
    only that one, whatever the descriptions say."""
    from spendtui.core.model import Source

    model = SessionModel("s1")
    src = Source(Path("s1.jsonl"))
    recs = [
        user("go"),
        assistant("msg_1", "req_1", usage(), content=[
            tool_use("t1", "Task", subagent_type="Explore", description="first"),
            tool_use("t2", "Task", subagent_type="Plan", description="second")]),
        assistant("msg_2", "req_2", usage(), content=[tool_use("r1", "Read", file_path="/p/a.py")]),
        {**user("look", isSidechain=True), "uuid": "side-1"},
        {**assistant("msg_3", "req_3", usage(out=4), sidechain=True), "parentUuid": "side-1"},
        {**user("plan", isSidechain=True), "uuid": "side-2"},
        {**assistant("msg_4", "req_4", usage(out=5), sidechain=True), "parentUuid": "side-2"},
    ]
    for i, rec in enumerate(recs, 1):
        model.ingest(rec, src, i)
    assert not model.skipped
    by_tool = {a.tool_use_id: a for a in model.agents.values()}
    assert set(by_tool) == {"t2", "t1"}  # one Task each, newest first
    assert (by_tool["t2"].agent_type, by_tool["t2"].description) == ("Plan", "second")
    assert (by_tool["t1"].agent_type, by_tool["t1"].description) == ("Explore", "first")
    assert model.tools["t2"].spawned_agent == by_tool["t2"].agent_id
    assert model.tools["t1"].spawned_agent == by_tool["t1"].agent_id
