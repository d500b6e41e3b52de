"""A poll's work does not grow with the files a long session made (issue #6).

A long session leaves hundreds of finished sub-agent files. The follower looks at an idle
one only in its once-a-second sweep, and lists the session's folders only when their
mtime says a file came or went (or in that sweep). Counted: file checks and listings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from spendtui.core import follow
from spendtui.core.follow import SessionFollower
from spendtui.core.jsonl import LineReader
from spendtui.core.paths import scan_project
from tests.records import append_jsonl, assistant, ts, usage, user, write_jsonl

SID = "cold-s1"


def _agent(proj: Path, aid: str, i: int) -> Path:
    return write_jsonl(proj / SID / "subagents" / f"agent-{aid}.jsonl",
                       [assistant(f"m{aid}", f"r{aid}", usage(3, 5, cw5=100), session=SID, when=ts(i, 1),
                                  sidechain=True, agent_id=aid)])


def _cold_agents(proj: Path, n: int) -> tuple[SessionFollower, list[Path]]:
    """A session of a prompt and ``n`` finished sub-agents, followed until a sweep has
    found every agent cold (COLD_AFTER_SECONDS patched short by the caller)."""
    write_jsonl(proj / f"{SID}.jsonl", [user("go", session=SID, when=ts(0, 0))])
    agents = [_agent(proj, f"a{i:03d}", i) for i in range(n)]
    f = SessionFollower(scan_project(proj)[SID], None)
    f.load(on_events=lambda _b: None)
    f.poll()
    time.sleep(0.1)
    f.poll()  # the first sweep: every agent is found cold
    assert len(f._cold) == n
    return f, agents


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    n = {"checks": 0, "walks": 0}
    real_check, real_walk = LineReader.changed_identity, os.walk

    def check(self: LineReader) -> Any:
        n["checks"] += 1
        return real_check(self)

    def walk(*a: Any, **k: Any) -> Any:
        n["walks"] += 1
        return real_walk(*a, **k)

    monkeypatch.setattr(LineReader, "changed_identity", check)
    monkeypatch.setattr(follow.os, "walk", walk)
    monkeypatch.setattr(follow, "COLD_AFTER_SECONDS", 0.05)
    return n


def test_idle_subagent_files_wait_for_the_sweep(tmp_path: Path, counted: dict[str, int]) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    main = write_jsonl(proj / f"{SID}.jsonl", [user("go", session=SID, when=ts(0, 0)),
                                              assistant("m0", "r0", usage(3, 5), session=SID, when=ts(1, 0))])
    agents = [_agent(proj, f"a{i:03d}", i) for i in range(40)]
    f = SessionFollower(scan_project(proj)[SID], None)
    f.load(on_events=lambda _b: None)
    assert f.model.counted_calls == 41
    f.poll()  # first sight of every file
    time.sleep(0.1)  # the agents go cold; the folders' mtimes get old enough to vouch for them
    f.poll()  # a sweep: lists the folders, looks at every file
    counted["checks"] = counted["walks"] = 0
    for _ in range(20):
        f.poll()
    # only the main file is looked at, and no folder is listed again
    assert counted == {"checks": 20, "walks": 0}

    # a cold agent writes again: seen at the next sweep, not lost
    append_jsonl(agents[3], [assistant("ma003b", "ra003b", usage(3, 7), session=SID, when=ts(50, 1),
                                       sidechain=True, agent_id="a003")])
    f.poll()
    assert f.model.counted_calls == 41
    f._cold_sweep = 0.0  # as a second later
    events = f.poll()
    assert [e.kind for e in events] == ["api_call"] and f.model.counted_calls == 42

    # a new agent file changes its folder's mtime: found at once, without waiting for a sweep
    time.sleep(0.05)
    f.poll()
    counted["walks"] = 0
    _agent(proj, "a999", 59)
    events = f.poll()
    assert counted["walks"] == 1 and f.model.counted_calls == 43
    assert any(e.kind == "subagent_start" for e in events)
    append_jsonl(main, [assistant("m1", "r1", usage(3, 5), session=SID, when=ts(2, 2))])
    assert [e.kind for e in f.poll()] == ["api_call"]  # the main file never waits


def test_many_files_make_the_sweep_rarer_and_a_named_file_is_read_at_once(
        tmp_path: Path, counted: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A session with thousands of finished sub-agents: the sweep comes every files/200
    seconds (here 10 a second, so every 4.1 s for 41 files), and a cold file that native
    events name is read in the same poll."""
    monkeypatch.setattr(follow, "SWEEP_FILES_PER_SECOND", 10)
    f, agents = _cold_agents(tmp_path / "projects" / "-tmp-proj", 40)
    append_jsonl(agents[7], [assistant("ma007b", "ra007b", usage(3, 7), session=SID, when=ts(50, 1),
                                       sidechain=True, agent_id="a007")])
    f._cold_sweep = time.monotonic() - 2.0  # two seconds on: a sweep a second would look now
    counted["checks"] = 0
    assert f.poll() == [] and counted["checks"] == 1  # only the main file
    events = f.poll(hint={str(agents[7])})
    assert [e.kind for e in events] == ["api_call"] and f.model.counted_calls == 41
    assert agents[7] not in f._cold
    f._cold_sweep = time.monotonic() - 4.2
    counted["checks"] = 0
    f.poll()  # the sweep, 4.1 s after the last
    assert counted["checks"] == 41


def test_a_clear_line_written_after_the_new_file_was_first_seen_is_followed(tmp_path: Path) -> None:
    """Claude Code starts the session after /clear with a mode line, a file-history snapshot
    and a prompt before the /clear command: a poll can see the file before that line. The
    file is read again (for a while), not judged once at first sight."""
    proj = tmp_path / "projects" / "-tmp-proj"
    write_jsonl(proj / "s1.jsonl", [user("a", session="s1"), assistant("msg_1", "req_1", usage(out=5))])
    f = SessionFollower(scan_project(proj)["s1"], None)
    f.load(on_events=lambda _b: None)
    s2 = write_jsonl(proj / "s2.jsonl", [{"type": "mode", "mode": "default", "sessionId": "s2"},
                                         user("earlier prompt", session="s2")])
    assert f.poll() == [] and f.files.session_id == "s1"
    append_jsonl(s2, [user("<command-name>/clear</command-name>\n<command-message>clear</command-message>",
                           session="s2"), assistant("msg_2", "req_2", usage(out=9), session="s2")])
    events = f.poll()
    assert events[0].kind == "clear" and f.files.session_id == "s2"
    assert f.model.counted_calls == 1 and f.model.tokens["output"] == 9


def test_a_parallel_session_is_still_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    write_jsonl(proj / "s1.jsonl", [user("a", session="s1"), assistant("msg_1", "req_1", usage(out=5))])
    f = SessionFollower(scan_project(proj)["s1"], None)
    f.load(on_events=lambda _b: None)
    write_jsonl(proj / "other.jsonl", [user("unrelated", session="other")])
    assert f.poll() == [] and f.files.session_id == "s1"
    monkeypatch.setattr(follow, "CLEAR_RECHECK_SECONDS", 0.0)
    time.sleep(0.01)
    assert f.poll() == [] and not f._young_mains  # let go of after the re-check window


def test_a_folder_dated_in_the_future_is_not_listed_at_every_poll(tmp_path: Path, counted: dict[str, int]) -> None:
    """A tree copied from a machine whose clock runs ahead (or restored from an archive) has
    folder mtimes in the future: they vouch for a listing as well as past ones (any change
    sets the mtime to now). The session's folder was listed at every poll: 130 ms a poll
    with 8,000 sub-agent files."""
    proj = tmp_path / "projects" / "-tmp-proj"
    write_jsonl(proj / f"{SID}.jsonl", [user("go", session=SID, when=ts(0, 0))])
    agents = [_agent(proj, f"a{i:03d}", i) for i in range(3)]
    ahead = time.time() + 30 * 86400
    for d in (proj / SID / "subagents", proj / SID):
        os.utime(d, (ahead, ahead))
    f = SessionFollower(scan_project(proj)[SID], None)
    f.load(on_events=lambda _b: None)
    f.poll()
    f._cold_sweep = time.monotonic()  # no sweep in what follows
    counted["walks"] = 0
    for _ in range(10):
        f.poll()
    assert counted["walks"] == 0
    _agent(proj, "a999", 59)  # a new file: the folder's mtime moves to now
    events = f.poll()
    assert counted["walks"] == 1 and any(e.kind == "subagent_start" for e in events)
    assert f.model.counted_calls == len(agents) + 1


def test_a_named_cold_file_is_found_when_the_session_was_given_by_a_relative_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Native events name absolute paths; a session found under a relative --claude-dir
    has relative ones: the hint still reaches the file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(follow, "COLD_AFTER_SECONDS", 0.05)
    monkeypatch.setattr(follow, "SWEEP_FILES_PER_SECOND", 1)
    f, agents = _cold_agents(Path("projects") / "-tmp-proj", 3)
    assert not agents[1].is_absolute()
    append_jsonl(agents[1], [assistant("ma001b", "ra001b", usage(3, 7), session=SID, when=ts(50, 1),
                                       sidechain=True, agent_id="a001")])
    f._cold_sweep = time.monotonic()
    assert f.poll() == []
    events = f.poll(hint={str((tmp_path / agents[1]).resolve())})
    assert [e.kind for e in events] == ["api_call"] and f.model.counted_calls == 4
