"""Shared pieces of the app tests: a real transcript in tmp_path, a fake clock, polling waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from spendtui.core.paths import SessionFiles, scan_project
from spendtui.core.pricing import PriceTable
from tests.records import write_jsonl

PROJECT = "-tmp-proj"
T0 = 1_795_176_000.0  # 2026-11-20T12:00:00Z, the records builders' day


class FakeClock:
    """Wall clock the tests move by hand (the app only reads it)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(autouse=True)
def _utc(utc: None) -> None:
    """Call times are shown in local time; pin it so snapshots match anywhere."""


@pytest.fixture(scope="session")
def prices() -> PriceTable:
    return PriceTable.embedded()


@pytest.fixture
def claude_root(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    (root / "projects" / PROJECT).mkdir(parents=True)
    return root


def project_dir(root: Path) -> Path:
    return root / "projects" / PROJECT


def make_session(root: Path, records: list[Any], sid: str = "s1") -> SessionFiles:
    write_jsonl(project_dir(root) / f"{sid}.jsonl", records)
    return scan_project(project_dir(root))[sid]


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], what: str, timeout: float = 10.0,
                   detail: Callable[[], str] | None = None) -> None:
    """Poll ``cond`` while letting the app run; fail with ``what`` after ``timeout`` seconds
    (and ``detail()``, the state that tells a rare timeout's cause, when given)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" ({detail()})" if detail is not None else ""))
        await pilot.pause(0.02)


def compact_boundary(when: str, pre: int, post: int, session: str = "s1") -> dict[str, Any]:
    return {"type": "system", "subtype": "compact_boundary", "sessionId": session, "cwd": "/tmp/proj",
            "isSidechain": False, "parentUuid": None, "uuid": f"cb-{when}", "timestamp": when,
            "content": "Conversation compacted",
            "compactMetadata": {"trigger": "auto", "preTokens": pre, "postTokens": post}}


def rich_session(root: Path, sid: str = "s1") -> SessionFiles:
    """A session with every kind of row: tools, 1h cache writes, a sub-agent, a compaction,
    a model switch and a cache miss (records in Claude Code 2.1's shape)."""
    from tests.records import assistant, tool_use, ts, usage, user

    sonnet, opus = "claude-sonnet-4-5-20250929", "claude-opus-4-6"
    main = [
        user("Add a --json flag to the report command", when=ts(0, 0), session=sid),
        assistant("m1", "r1", usage(12, 420, cw1h=14_000), model=sonnet, when=ts(4, 0), session=sid,
                  content=[tool_use("t1", "Read", file_path="/tmp/proj/cli.py"),
                           tool_use("t2", "Grep", pattern="report")]),
        assistant("m2", "r2", usage(3, 910, cw1h=6_200, cr=14_012), model=sonnet, when=ts(31, 0), session=sid,
                  content=[tool_use("t3", "Task", subagent_type="Explore", description="Find report callers")]),
        assistant("m3", "r3", usage(5, 1_340, cw1h=3_900, cr=20_215), model=sonnet, when=ts(10, 2), session=sid,
                  content=[tool_use("t4", "Edit", file_path="/tmp/proj/cli.py")]),
        assistant("m4", "r4", usage(2, 260, cw1h=1_100, cr=24_120), model=sonnet, when=ts(40, 2), session=sid,
                  content=[tool_use("t5", "Bash", command="pytest -q")]),
        compact_boundary(ts(0, 4), pre=25_222, post=6_300, session=sid),
        assistant("m5", "r5", usage(4, 380, cw5=6_900, cr=0), model=sonnet, when=ts(20, 4), session=sid),
        assistant("m6", "r6", usage(6, 1_820, cw5=15_400, cr=0), model=opus, when=ts(5, 5), session=sid,
                  content=[tool_use("t6", "Write", file_path="/tmp/proj/README.md")]),
        assistant("m7", "r7", usage(3, 540, cw5=2_300, cr=15_406), model=opus, when=ts(45, 5), session=sid),
    ]
    write_jsonl(project_dir(root) / f"{sid}.jsonl", main)
    sub = project_dir(root) / sid / "subagents"
    write_jsonl(sub / "agent-a1.jsonl", [
        assistant("a1", "ra1", usage(8, 300, cw5=9_800), model="claude-haiku-4-5-20251001", when=ts(40, 0),
                  session=sid, sidechain=True, agent_id="a1",
                  content=[tool_use("ta1", "Glob", pattern="**/*.py")]),
        assistant("a2", "ra2", usage(5, 650, cw5=2_100, cr=9_808), model="claude-haiku-4-5-20251001",
                  when=ts(55, 0), session=sid, sidechain=True, agent_id="a1"),
    ])
    (sub / "agent-a1.meta.json").write_text(
        '{"agentType": "Explore", "description": "Find report callers", "toolUseId": "t3"}')
    return scan_project(project_dir(root))[sid]


RICH_LAST_CALL = T0 + 5 * 60 + 45  # m7 at 12:05:45
