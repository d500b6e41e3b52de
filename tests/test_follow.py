"""The live follower on real files: appends, half lines, new agents, truncation, /clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from spendtui.core.follow import Event, SessionFollower, watch_loop
from spendtui.core.paths import scan_project
from tests.records import append_jsonl, assistant, tool_result, tool_use, ts, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path) -> Path:
    return tmp_path / "projects" / "-tmp-proj"


def _follower(proj: Path, sid: str = "s1") -> SessionFollower:
    f = SessionFollower(scan_project(proj)[sid])
    f.load()
    return f


def test_poll_reads_only_appended_lines(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=5))])
    f = _follower(proj)
    assert f.model.counted_calls == 1
    lines_before = f.model.lines_read
    assert f.poll() == []
    append_jsonl(p, [assistant("msg_2", "req_2", usage(out=7))])
    events = f.poll()
    assert [e.kind for e in events] == ["api_call"]
    assert f.model.lines_read == lines_before + 1  # one new line, one line of work
    assert f.model.tokens["output"] == 12


def test_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a")])
    f = _follower(proj)
    line = json.dumps(assistant("msg_1", "req_1", usage(out=5)))
    with open(p, "a") as fh:
        fh.write(line[:40])
    assert f.poll() == [] and f.model.skipped_lines == 0
    with open(p, "a") as fh:
        fh.write(line[40:] + "\n")
    assert [e.kind for e in f.poll()] == ["api_call"]
    assert f.model.counted_calls == 1 and f.model.skipped_lines == 0


def test_block_lines_update_the_call(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=1))])
    f = _follower(proj)
    append_jsonl(p, [assistant("msg_1", "req_1", usage(out=300))])
    assert [e.kind for e in f.poll()] == ["call_updated"]
    assert f.model.counted_calls == 1 and f.model.tokens["output"] == 300


def test_new_subagent_file_and_late_meta(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [
        user("a"), assistant("msg_1", "req_1", usage(), content=[tool_use("t1", "Agent", subagent_type="Explore")])])
    f = _follower(proj)
    agent_file = write_jsonl(proj / "s1" / "subagents" / "agent-a9.jsonl", [
        assistant("msg_a", "req_a", usage(out=4), model="claude-haiku-4-5-20251001", sidechain=True,
                  agent_id="a9")])
    kinds = [e.kind for e in f.poll()]
    assert kinds == ["subagent_start", "api_call"]
    assert f.model.agents["a9"].api_calls == 1
    agent_file.with_name("agent-a9.meta.json").write_text(
        json.dumps({"agentType": "Explore", "description": "scan", "toolUseId": "t1"}))
    append_jsonl(agent_file, [assistant("msg_b", "req_b", usage(out=4), model="claude-haiku-4-5-20251001",
                                        sidechain=True, agent_id="a9")])
    f.poll()
    a = f.model.agents["a9"]
    assert (a.agent_type, a.description, a.tool_use_id, a.api_calls) == ("Explore", "scan", "t1", 2)
    append_jsonl(p, [tool_result("t1", "done", toolUseResult={"agentId": "a9"})])
    f.poll()
    assert f.model.tools["t1"].spawned_agent == "a9"


def test_truncated_or_replaced_file_is_reloaded(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=5)),
                                        assistant("msg_2", "req_2", usage(out=6))])
    f = _follower(proj)
    tmp = proj / "s1.tmp"
    write_jsonl(tmp, [user("a"), assistant("msg_1", "req_1", usage(out=5))])
    os.replace(tmp, p)  # an editor or a rewrite: new inode
    kinds = [e.kind for e in f.poll()]
    assert kinds[0] == "reset"
    assert f.model.counted_calls == 1 and f.model.tokens["output"] == 5


def test_clear_moves_to_the_new_session(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    write_jsonl(proj / "s1.jsonl", [user("a", session="s1"), assistant("msg_1", "req_1", usage(out=5))])
    f = _follower(proj)
    write_jsonl(proj / "s2.jsonl", [
        user("<command-name>/clear</command-name>\n<command-message>clear</command-message>", session="s2"),
        user("next task", session="s2"),
        assistant("msg_2", "req_2", usage(out=9), session="s2"),
    ])
    events = f.poll()
    assert events[0].kind == "clear" and events[0].payload["from"] == "s1"
    assert f.files.session_id == "s2" and f.previous == ["s1"]
    assert f.model.counted_calls == 1 and f.model.tokens["output"] == 9


def test_parallel_session_in_same_project_is_not_followed_while_active(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    write_jsonl(proj / "s1.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=5))])
    f = _follower(proj)
    write_jsonl(proj / "other.jsonl", [user("unrelated", session="other")])
    assert f.poll() == [] and f.files.session_id == "s1"


@pytest.mark.parametrize("force_polling", [False, True])
def test_watch_loop_delivers_appends(tmp_path: Path, force_polling: bool) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a")])
    f = _follower(proj)
    got: list[Event] = []
    arrived = threading.Event()

    def on_events(batch: list[Event]) -> None:
        got.extend(batch)
        if any(e.kind == "api_call" for e in batch):
            arrived.set()

    stop = threading.Event()
    t = threading.Thread(target=watch_loop, args=(f, on_events, stop), kwargs={"force_polling": force_polling},
                         daemon=True)
    t.start()
    time.sleep(0.3)  # let the watcher arm before writing
    append_jsonl(p, [assistant("msg_1", "req_1", usage(out=5))])
    assert arrived.wait(10), "no api_call event within 10 s"
    stop.set()
    t.join(10)
    assert not t.is_alive()
    assert [e.kind for e in got if e.kind == "api_call"] == ["api_call"]


def test_watch_json_cli_reports_history_then_new_calls(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a", when=ts(0)), assistant("msg_1", "req_1", usage(out=5), when=ts(1))])
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendtui", "watch", "--json", "--claude-dir", str(tmp_path), "s1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "api_call" and first["message_id"] == "msg_1"
        assert first["tokens"]["output"] == 5 and first["session_id"] == "s1"
        append_jsonl(p, [assistant("msg_2", "req_2", usage(inp=7, cw5=100, cr=900, out=8),
                                   content=[tool_use("t9", "Read", file_path="/x")])])
        second = json.loads(proc.stdout.readline())
        assert second["event"] == "api_call" and second["message_id"] == "msg_2"
        assert second["tools"] == ["Read"] and second["context"] == 7 + 100 + 900
    finally:
        proc.terminate()
        proc.wait(10)


def test_follower_starts_from_the_cache_and_goes_on(tmp_path: Path) -> None:
    from spendtui.core.cache import SessionCache

    proj = _project(tmp_path)
    # explicit times: the records' default ones come from a counter shared by all tests (mod 60)
    p = write_jsonl(proj / "s1.jsonl", [user("a", when=ts(0)), assistant("msg_1", "req_1", usage(out=5), when=ts(1)),
                                        assistant("msg_2", "req_2", usage(out=6), when=ts(2))])
    first = SessionFollower(scan_project(proj)["s1"], cache=SessionCache(tmp_path / "cache"))
    assert [e.kind for e in first.load()] == ["api_call", "api_call"]
    append_jsonl(p, [assistant("msg_3", "req_3", usage(out=7), when=ts(3))])
    cache = SessionCache(tmp_path / "cache")
    second = SessionFollower(scan_project(proj)["s1"], cache=cache)
    history = second.load()
    assert cache.grown == 1 and second.model.lines_read == 4  # 3 lines from the snapshot, 1 read now
    assert [e.payload.key[0] for e in history if e.kind == "api_call"] == ["msg_1", "msg_2", "msg_3"]
    append_jsonl(p, [assistant("msg_4", "req_4", usage(out=8)), assistant("msg_4", "req_4", usage(out=9))])
    assert [e.kind for e in second.poll()] == ["api_call", "call_updated"]
    assert second.model.tokens["output"] == 5 + 6 + 7 + 9


def test_watch_json_history_has_every_call_of_a_long_session(tmp_path: Path) -> None:
    """`watch --json` on a session past the live detail limit (5 000 calls), first with a cold
    result cache, then a warm one: an api_call line for every call already written. (Events
    were made up from the cached model, which keeps the newest 5 000 calls' details: a soak
    with 8 000 calls of history found the stream 2 534 calls short.)"""
    from spendtui.core.follow import RETAIN_CALLS

    proj = _project(tmp_path)
    n = RETAIN_CALLS + 40
    write_jsonl(proj / "s1.jsonl", [user("a", when=ts(0)), *(
        assistant(f"msg_{i}", f"req_{i}", usage(out=1 + i % 7), when=ts(i % 60, 1 + (i // 60) % 60))
        for i in range(n))])
    env = {**os.environ, "SPENDTUI_CACHE_DIR": str(tmp_path / "cache")}
    for run in ("cold cache", "warm cache"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "spendtui", "watch", "--json", "--claude-dir", str(tmp_path), "s1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        watchdog = threading.Timer(120, proc.kill)  # a short stream must fail, not hang
        watchdog.start()
        seen: set[str] = set()
        output = 0
        try:
            assert proc.stdout is not None
            while len(seen) < n:
                line = proc.stdout.readline()
                if not line:
                    break
                ev = json.loads(line)
                if ev["event"] == "api_call":
                    seen.add(ev["message_id"])
                    output += ev["tokens"]["output"]
        finally:
            watchdog.cancel()
            proc.terminate()
            proc.wait(10)
        assert len(seen) == n, (run, n - len(seen))
        assert output == sum(1 + i % 7 for i in range(n)), run
    assert any((tmp_path / "cache").rglob("*")), "the watch wrote its snapshot: the second run was warm"


def test_history_from_the_cache_has_every_call_past_the_detail_limit(tmp_path: Path) -> None:
    """A session longer than the follower's detail limit: its cached model let go of the oldest
    calls, so their events cannot be made up from it; with the history wanted (``watch --json``)
    every call still gets its event, streamed or returned, from a cold cache and a warm one, and
    after a reset. Without it (the app), the cache's model is used as it is."""
    from spendtui.core.cache import SessionCache

    proj = _project(tmp_path)
    n = 60
    p = write_jsonl(proj / "s1.jsonl", [user("a", when=ts(0)), *(
        assistant(f"msg_{i}", f"req_{i}", usage(out=i + 1), when=ts(i % 60, 1 + i // 60)) for i in range(n))])
    want = {f"msg_{i}" for i in range(n)}

    def follower(history: bool = True) -> SessionFollower:
        f = SessionFollower(scan_project(proj)["s1"], cache=SessionCache(tmp_path / "cache"), history=history)
        f.retain = 10
        return f

    for _round in ("cold cache", "warm cache"):
        streamed: list[Event] = []
        f = follower()
        rest = f.load(on_events=streamed.extend)
        got = [e.payload.key[0] for e in [*streamed, *rest] if e.kind == "api_call"]
        assert sorted(got) == sorted(want), _round  # each once
        assert f.model.let_go_of_calls and f.model.counted_calls == n
        assert f.model.tokens["output"] == n * (n + 1) // 2
    returned = follower().load()
    assert {e.payload.key[0] for e in returned if e.kind == "api_call"} == want
    # the app's follower: the cached model as it is (its totals whole, its events the kept calls')
    app = follower(history=False)
    events = app.load()
    assert app.model.counted_calls == n and app.model.tokens["output"] == n * (n + 1) // 2
    assert len([e for e in events if e.kind == "api_call"]) < n
    # a file replaced under the follower: the events after the reset cover every call again
    f = follower()
    f.load()
    tmp = p.with_suffix(".tmp")
    tmp.write_bytes(p.read_bytes())
    os.replace(tmp, p)  # the same bytes under a new inode: read again from the start
    after = f.poll()
    kinds = [e.kind for e in after]
    assert "reset" in kinds
    since = after[kinds.index("reset") + 1:]
    assert {e.payload.key[0] for e in since if e.kind == "api_call"} == want


def test_clear_in_a_real_claude_code_session(tmp_path: Path) -> None:
    """Claude Code 2.1.197's own /clear (tests/fixtures/cc2197/interactive): the new
    session file appears next to the old one and the follower moves to it."""
    import shutil

    from tests.conftest import FIXTURES

    src = FIXTURES / "cc2197" / "interactive"
    meta = json.loads((src / "scenario.json").read_text())
    before, after = meta["info"]["before_clear"], meta["info"]["after_clear"]
    (proj_src,) = (src / "projects").iterdir()
    proj = tmp_path / "projects" / proj_src.name
    proj.mkdir(parents=True)
    shutil.copyfile(proj_src / f"{before}.jsonl", proj / f"{before}.jsonl")
    f = SessionFollower(scan_project(proj)[before])
    f.load()
    assert f.model.counted_calls > 0
    shutil.copyfile(proj_src / f"{after}.jsonl", proj / f"{after}.jsonl")
    events = f.poll()
    assert events[0].kind == "clear" and events[0].payload == {
        "from": before, "to": after, "transcript": str(proj / f"{after}.jsonl")}
    assert f.files.session_id == after and f.previous == [before]


def test_rebuild_with_an_analyser_swaps_models_without_loss_or_double_count(tmp_path: Path) -> None:
    import threading

    proj = _project(tmp_path)
    p = write_jsonl(proj / "s1.jsonl", [user("a"), assistant("msg_1", "req_1", usage(out=5))])
    f = _follower(proj)
    append_jsonl(p, [assistant("msg_2", "req_2", usage(out=6))])
    f.poll()  # the live model has read msg_2
    seen: list[str] = []

    def on_model(m) -> None:  # an observer that must see every record; a line lands meanwhile
        m.record_observers.append(lambda rec, src, line: seen.append(str(rec.get("type"))))
        append_jsonl(p, [assistant("msg_3", "req_3", usage(out=7))])

    model, events = f.rebuild_with(on_model, threading.Lock())
    assert f.model is model and model.tokens["output"] == 5 + 6 + 7
    # msg_3 was written during the rebuild: the live model read it in the swap's poll, so
    # it is reported as news, exactly once
    assert [(e.kind, e.payload.key[0]) for e in events] == [("api_call", "msg_3")]
    assert seen.count("assistant") == 3
    append_jsonl(p, [assistant("msg_4", "req_4", usage(out=8))])
    assert [e.kind for e in f.poll()] == ["api_call"]
    assert f.model.tokens["output"] == 5 + 6 + 7 + 8 and seen.count("assistant") == 4
