"""Discovery: config roots, the three sub-agent layouts, session lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spendtui.core.paths import (
    NoClaudeDataError,
    default_root_candidates,
    discover,
    find_session,
    pick_default,
    projects_dirs,
    session_cwd,
)
from tests.records import assistant, usage, user, write_jsonl


def _session(proj: Path, sid: str, cwd: str = "/tmp/proj", mtime: float | None = None) -> Path:
    p = write_jsonl(proj / f"{sid}.jsonl", [user("hi", session=sid, cwd=cwd),
                                            assistant(f"msg_{sid}", f"req_{sid}", usage(), session=sid)])
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


def test_default_roots_and_env_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path.home()
    assert default_root_candidates() == [home / ".claude", home / ".config" / "claude"]
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path}/a, {tmp_path}/b")
    assert default_root_candidates() == [tmp_path / "a", tmp_path / "b"]


def test_both_default_roots_are_read(tmp_path: Path) -> None:
    home = Path.home()
    _session(home / ".claude" / "projects" / "-p1", "s-one")
    _session(home / ".config" / "claude" / "projects" / "-p2", "s-two")
    assert sorted(s.session_id for s in discover()) == ["s-one", "s-two"]


def test_missing_data_explains_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(NoClaudeDataError) as e:
        projects_dirs([tmp_path / "nope"])
    assert str(tmp_path / "nope") in str(e.value) and "--claude-dir" in str(e.value)


def test_symlinked_root_is_read_once(tmp_path: Path) -> None:
    _session(tmp_path / "real" / "projects" / "-p", "s1")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert len(projects_dirs([tmp_path / "real", tmp_path / "link"])) == 1
    # a projects/ dir itself is accepted too
    assert projects_dirs([tmp_path / "real" / "projects"]) == [tmp_path / "real" / "projects"]


def test_three_layouts_and_non_transcripts(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    _session(proj, "nested")
    write_jsonl(proj / "nested" / "subagents" / "agent-a1.jsonl", [user("x", session="nested")])
    (proj / "nested" / "subagents" / "agent-a1.meta.json").write_text('{"agentType":"Explore"}')
    (proj / "nested" / "tool-results").mkdir(parents=True)
    (proj / "nested" / "tool-results" / "toolu_1.txt").write_text("big output")
    _session(proj, "flatparent")
    write_jsonl(proj / "agent-f1.jsonl", [user("x", session="flatparent")])
    write_jsonl(proj / "agent-empty.jsonl", [])
    (proj / "notes.txt").write_text("not a transcript")
    by_id = {s.session_id: s for s in discover([tmp_path])}
    assert set(by_id) == {"nested", "flatparent"}
    assert [(a.agent_id, a.load_meta()) for a in by_id["nested"].agents] == [("a1", {"agentType": "Explore"})]
    assert [a.agent_id for a in by_id["flatparent"].agents] == ["f1"]
    assert all(f.suffix == ".jsonl" for s in by_id.values() for f in s.files)


def test_project_path_comes_from_cwd_not_folder_name(tmp_path: Path) -> None:
    # "-home-me-my-app" could be /home/me/my-app or /home/me/my/app: the records know
    proj = tmp_path / "projects" / "-home-me-my-app"
    _session(proj, "s1", cwd="/home/me/my-app")
    (s,) = discover([tmp_path])
    assert session_cwd(s) == "/home/me/my-app"


def test_find_session_by_id_prefix_and_path(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    p1 = _session(proj, "abc111")
    _session(proj, "abc222")
    sessions = discover([tmp_path])
    assert find_session("abc111", sessions).session_id == "abc111"
    assert find_session("abc2", sessions).session_id == "abc222"
    assert find_session(str(p1), sessions).session_id == "abc111"
    assert find_session("zzz", sessions) is None
    with pytest.raises(LookupError, match="ambiguous"):
        find_session("abc", sessions)
    outside = _session(tmp_path / "elsewhere", "loose")
    assert find_session(str(outside), sessions).main == outside


def test_pick_default_prefers_this_folders_project(tmp_path: Path) -> None:
    proj_a = tmp_path / "projects" / "-a"
    proj_b = tmp_path / "projects" / "-b"
    work = tmp_path / "work" / "app"
    (work / "src").mkdir(parents=True)
    _session(proj_a, "mine-old", cwd=str(work), mtime=1000)
    _session(proj_a, "mine-new", cwd=str(work), mtime=2000)
    _session(proj_b, "other-newest", cwd="/somewhere/else", mtime=3000)
    sessions = discover([tmp_path])
    assert pick_default(sessions, cwd=str(work / "src")).session_id == "mine-new"
    assert pick_default(sessions, cwd="/unrelated").session_id == "other-newest"
    assert pick_default([], cwd="/x") is None
