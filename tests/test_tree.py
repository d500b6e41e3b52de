"""The kept answer of `sessions` and `report` (core/tree.py): used only while nothing
it was computed from changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.tree import Memo
from tests import records as R
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
OLD = 1_700_000_000


def _run(root: Path, home: Path, *args: str) -> Any:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root), "SPENDTUI_CACHE_DIR": str(home / "cache"),
           "SPENDTUI_CONFIG": str(home / "config.toml"), "TZ": "UTC"}
    out = subprocess.run([sys.executable, "-m", "spendtui", *args], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout)


def _memos(home: Path) -> list[Path]:
    return sorted((home / "cache" / "sessions").glob("memo-*.json"))


@pytest.fixture()
def claude(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    for scenario in ("subagent", "tool_use"):
        shutil.copytree(FIXTURES / "cc2197" / scenario / "projects", root / "projects", dirs_exist_ok=True)
    for p in root.rglob("*"):
        os.utime(p, (OLD, OLD))
    return root


def _age(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        os.utime(p, (OLD, OLD))


def test_kept_answers_equal_computed_ones_until_something_changes(claude: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run(claude, home, "sessions", "--json")
    assert len(_memos(home)) == 1
    kept = _memos(home)[0].read_bytes()
    assert _run(claude, home, "sessions", "--json") == first == _run(claude, home, "--no-cache", "sessions", "--json")
    assert _memos(home)[0].read_bytes() == kept  # served from it, not computed and written again

    # a new call appended to one session: the answer changes
    main = next(p for p in claude.rglob("*.jsonl") if "subagents" not in p.parts)
    with open(main, "a") as f:
        f.write(json.dumps(R.assistant("m-new", "r-new", R.usage(out=1000), when=R.ts(1)),
                           separators=(",", ":")) + "\n")
    _age(claude)
    grown = _run(claude, home, "sessions", "--json")
    assert grown == _run(claude, home, "--no-cache", "sessions", "--json")
    assert sum(r["api_calls"] for r in grown) == sum(r["api_calls"] for r in first) + 1

    # a new session in a project that exists: its folder's mtime tells
    proj = main.parent
    shutil.copyfile(main, proj / "0a0a0a0a-new-session.jsonl")
    os.utime(proj / "0a0a0a0a-new-session.jsonl", (OLD, OLD))
    os.utime(proj, (OLD + 10, OLD + 10))
    assert len(_run(claude, home, "sessions", "--json")) == len(grown) + 1

    # a removed sub-agent file
    agent = next(p for p in claude.rglob("agent-*.jsonl"))
    agent.unlink()
    os.utime(agent.parent, (OLD + 20, OLD + 20))
    assert _run(claude, home, "sessions", "--json") == _run(claude, home, "--no-cache", "sessions", "--json")


def test_a_price_change_is_a_change(claude: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    before = _run(claude, home, "sessions", "--json")
    (home).mkdir(exist_ok=True)
    (home / "config.toml").write_text('[prices."claude-sonnet-4-5-20250929"]\ninput = 300\noutput = 1500\n')
    after = _run(claude, home, "sessions", "--json")
    assert sum(r["cost_usd"] for r in after) > sum(r["cost_usd"] for r in before)


def test_report_kept_per_arguments(claude: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    by_day = _run(claude, home, "report", "--json", "--utc")
    by_model = _run(claude, home, "report", "--json", "--utc", "--by", "model")
    assert len(_memos(home)) == 2
    assert _run(claude, home, "report", "--json", "--utc") == by_day
    assert _run(claude, home, "report", "--json", "--utc", "--by", "model") == by_model
    assert by_day == _run(claude, home, "--no-cache", "report", "--json", "--utc")


def test_active_is_worked_out_again_on_a_kept_answer(tmp_path: Path) -> None:
    from spendtui.core.batch import refresh_active

    ended = "2026-11-20T12:00:00Z"
    t = time.mktime(time.strptime("2026-11-20 12:00:00", "%Y-%m-%d %H:%M:%S")) - time.timezone
    rows = [{"session_id": "a", "ended": ended, "active": False, "_mtime": t}]
    assert refresh_active(rows, now=t + 60)[0]["active"] is True
    assert refresh_active(rows, now=t + 600)[0] == {"session_id": "a", "ended": ended, "active": False}


def _write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)


def _found(memo: Memo, sources: list[Any]) -> tuple[Any, Any, set[str], Any]:
    got = memo.get(sources)
    return got.value, got.sessions, got.grown, got.previous


NOTHING: tuple[Any, Any, set[str], Any] = (None, None, set(), None)


def test_nothing_is_kept_when_a_file_was_written_during_the_run(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    f = tree / "t.jsonl"
    f.write_text("{}\n")
    memo = Memo(tmp_path / "cache", ["k"])
    started = time.time_ns()
    os.utime(f, ns=(started + 1_000_000, started + 1_000_000))  # written after the run began
    assert not memo.put([1], [str(tree)], [f], "answer", started, _write)
    assert _found(memo, [1]) == NOTHING
    os.utime(f, (OLD, OLD))
    os.utime(tree, (OLD, OLD))
    assert memo.put([1], [str(tree)], [f], "answer", time.time_ns(), _write)
    assert _found(memo, [1]) == ("answer", None, set(), None)
    assert _found(memo, [2]) == NOTHING  # other price sources
    with open(f, "a") as out:
        out.write("{}\n")
    assert _found(memo, [1]) == NOTHING  # grown, but no sessions were kept with it
    memo.put([1], [str(tree)], [f], "answer", time.time_ns() + 10**9, _write, sessions=[["s"]])
    with open(f, "a") as out:
        out.write("{}\n")
    assert _found(memo, [1]) == (None, [["s"]], {str(f)}, "answer")  # grown: the same sessions
    f.write_text("{}\n")
    assert _found(memo, [1]) == NOTHING  # shorter: rewritten, look again


def test_a_corrupt_memo_is_ignored(tmp_path: Path) -> None:
    memo = Memo(tmp_path, ["k"])
    for blob in (b"", b"not json", b"[1,2]", b'{"format":3,"sources":[1],"dirs":5,"files":[],"paths":[],"value":1}'):
        memo.path.write_bytes(blob)
        assert _found(memo, [1]) == NOTHING


def test_a_grown_run_keeps_what_it_found_unchanged_and_the_next_run_sees_later_writes(tmp_path: Path) -> None:
    """After a run where only some transcripts grew, the kept signatures of the others are
    the ones that run found (no second stat of every file); a file written meanwhile is then
    seen as changed by the next run, never taken as unchanged."""
    tree = tmp_path / "tree"
    tree.mkdir()
    a, b = tree / "a.jsonl", tree / "b.jsonl"
    for f in (a, b):
        f.write_text("{}\n")
        os.utime(f, (OLD, OLD))
    os.utime(tree, (OLD, OLD))
    memo = Memo(tmp_path / "cache", ["k"])
    assert memo.put([1], [str(tree)], [a, b], "v1", time.time_ns(), _write, sessions=[["s"]])
    with open(a, "a") as out:
        out.write("{}\n")
    os.utime(a, (OLD + 10, OLD + 10))
    memo = Memo(tmp_path / "cache", ["k"])
    assert _found(memo, [1]) == (None, [["s"]], {str(a)}, "v1")
    with open(b, "a") as out:  # written after the lookup, while the run computes
        out.write("{}\n")
    os.utime(b, (OLD + 20, OLD + 20))
    assert memo.put([1], [str(tree)], [a, b], "v2", time.time_ns(), _write, sessions=[["s"]])
    assert _found(Memo(tmp_path / "cache", ["k"]), [1]) == (None, [["s"]], {str(b)}, "v2")
