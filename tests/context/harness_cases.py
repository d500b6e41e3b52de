"""The issue's "Done when" sessions, produced by the real ``claude`` 2.1.197 against the fake API.

Each builder runs Claude Code in a fresh project through ``tests/e2e/scenarios._Scenario`` and
returns a :class:`Case` (config dir, project dir, session id, ground truth). The fake API's
scripted plans are extended here (registered into ``tests.harness.fake_api.PLANS`` under names
of our own) with the tool sequences these cases need: a long read-only exploration, a
read-edit-read of large files, a fan-out of six sub-agents, thirty files read and edited.

The idle case uses the fake's injectable clock: the API's prompt cache really expires between
the two runs, and the second run's transcript timestamps are shifted by the same ten minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.scenarios import _Scenario
from tests.harness import fake_api
from tests.harness.fake_api import PlanContext, _text, _tool

OPUS = "claude-opus-4-1"
SONNET = "claude-sonnet-4-5"


def file_text(name: str, tokens: int) -> str:
    """A text file the fake API weighs at about ``tokens`` tokens (4 characters each)."""
    line = f"{name}: the quick brown fox jumps over the lazy dog, again and again. "
    line = (line * 2)[:79] + "\n"
    n = max(1, tokens * 4 // 80)
    return "".join(f"{i:05d} {line[6:]}" for i in range(n))


# ---------------------------------------------------------------------------- plans
def _plan_explore(c: PlanContext) -> list[list[dict]]:
    n = int(c.args.get("n", "10"))
    steps = [[_text(f"Looking at part {i + 1}."), _tool("Read", {"file_path": c.path(f"src/mod{i}.py")})]
             for i in range(n)]
    steps.append([_tool("Bash", {"command": "ls src | wc -l", "description": "Count modules"})])
    steps.append([_tool("Bash", {"command": "grep -n quick src/mod0.py | head -3", "description": "Search"})])
    return steps


def _plan_rer(c: PlanContext) -> list[list[dict]]:
    """Read two big files, edit both, read both again, then some cheap follow-up calls."""
    files = ["big_a.txt", "big_b.txt"]
    steps = [[_tool("Read", {"file_path": c.path(f)})] for f in files]
    steps += [[_tool("Edit", {"file_path": c.path(f), "old_string": "00000 ", "new_string": "XXXXX "})]
              for f in files]
    steps += [[_tool("Read", {"file_path": c.path(f)})] for f in files]
    steps += [[_tool("Bash", {"command": f"echo step {i}", "description": "Check"})]
              for i in range(int(c.args.get("tail", "10")))]
    return steps


def _plan_fanout(c: PlanContext) -> list[list[dict]]:
    n = int(c.args.get("n", "6"))
    return [[_text(f"Splitting the work over {n} sub-agents.")] + [
        _tool(c.agent_tool, {"description": f"Summarise part {i}",
                             "prompt": f"[[agent:read_answer file=part{i}.txt]] Summarise part{i}.txt.",
                             "subagent_type": "general-purpose", "model": "sonnet"})
        for i in range(n)]]


def _plan_bigreads(c: PlanContext) -> list[list[dict]]:
    n = int(c.args.get("n", "7"))
    steps = [[_tool("Read", {"file_path": c.path(f"data/chunk{i}.txt")})] for i in range(n)]
    steps += [[_tool("Bash", {"command": "pwd", "description": "Where am I"})] for _ in range(2)]
    return steps


def _plan_batch(c: PlanContext) -> list[list[dict]]:
    n = int(c.args.get("n", "30"))
    steps = []
    for i in range(n):
        f = c.path(f"pages/page{i:02d}.md")
        steps.append([_tool("Read", {"file_path": f})])
        steps.append([_tool("Edit", {"file_path": f, "old_string": "TODO", "new_string": "DONE"})])
    return steps


def _plan_readfile(c: PlanContext) -> list[list[dict]]:
    return [[_tool("Read", {"file_path": c.path()})]]


PLANS: dict[str, Callable[[PlanContext], list[list[dict]]]] = {
    "ctx_explore": _plan_explore,
    "ctx_rer": _plan_rer,
    "ctx_fanout": _plan_fanout,
    "ctx_bigreads": _plan_bigreads,
    "ctx_batch": _plan_batch,
    "ctx_readfile": _plan_readfile,
}


def register_plans() -> None:
    fake_api.PLANS.update(PLANS)


# ---------------------------------------------------------------------------- cases
@dataclass
class Case:
    name: str
    config_dir: Path
    home: Path
    project: Path
    session_id: str
    truth: list[dict]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        from tests.harness.claude import encode_project_dir

        return self.config_dir / "projects" / encode_project_dir(self.project)

    @property
    def transcript(self) -> Path:
        return self.project_dir / f"{self.session_id}.jsonl"

    def records(self) -> list[dict]:
        return [json.loads(x) for x in self.transcript.read_text().splitlines() if x.strip()]

    def agent_records(self) -> dict[str, list[dict]]:
        out = {}
        for p in sorted((self.project_dir / self.session_id / "subagents").glob("agent-*.jsonl")):
            out[p.stem[len("agent-"):]] = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
        return out


def _case(s: _Scenario, sid: str, **info: Any) -> Case:
    return Case(s.name, s.config, s.config.parent / f"{s.config.name}-home", s.project, sid,
                s.api.records(), dict(info))


class _Clock:
    """Monotonic time plus a jump we control, for the fake API's cache TTLs."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def explore(base: Path) -> Case:
    with _Scenario("ctx_explore", base) as s:
        (s.project / "src").mkdir()
        for i in range(10):
            (s.project / "src" / f"mod{i}.py").write_text(file_text(f"mod{i}", 1500))
        sid = s.p("[[plan:ctx_explore n=10]] Find where the quick fox is handled.", model=OPUS)
        return _case(s, sid)


def read_edit_read(base: Path) -> Case:
    with _Scenario("ctx_rer", base) as s:
        for f in ("big_a.txt", "big_b.txt"):
            (s.project / f).write_text(file_text(f, 22000))
        sid = s.p("[[plan:ctx_rer tail=10]] Fix both files and check them.")
        return _case(s, sid)


def idle_gap(base: Path, gap_s: float = 600.0) -> Case:
    clock = _Clock()
    with _Scenario("ctx_idle", base, clock=clock) as s:
        (s.project / "spec.txt").write_text(file_text("spec", 12000))
        sid = s.p("[[plan:ctx_readfile file=spec.txt]] Read the spec.", model=OPUS)
        split = time.time()
        clock.offset += gap_s  # the user went for coffee: the API's cache expires
        s.p("[[plan:bash cmd=ls]] Now list the files.", "--continue", model=OPUS)
        case = _case(s, sid, gap_s=gap_s)
    shift_after(case.transcript, split, gap_s)
    return case


def shift_after(path: Path, split: float, seconds: float) -> None:
    """Move every record written after ``split`` (epoch seconds) ``seconds`` later."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        ts = rec.get("timestamp")
        if isinstance(ts, str):
            dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if dt.timestamp() >= split:
                rec["timestamp"] = (dt + timedelta(seconds=seconds)).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z")
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n")


def claude_md_edit(base: Path) -> Case:
    with _Scenario("ctx_claudemd", base) as s:
        md = s.project / "CLAUDE.md"
        md.write_text("# Project rules\n\nSee @docs/style.md\n\n" + file_text("rule", 2500))
        (s.project / "docs").mkdir()
        (s.project / "docs" / "style.md").write_text(file_text("style", 1000))
        (s.project / "notes_big.txt").write_text(file_text("notes", 10000))
        sid = s.p("[[plan:ctx_readfile file=notes_big.txt]] Read the notes.")
        md.write_text("# Project rules (v2)\n\nSee @docs/style.md\n\n" + file_text("rule2", 2500))
        s.p("[[plan:bash cmd=ls]] List the files.", "--continue")
        md.write_text("# Project rules (v3)\n\nSee @docs/style.md\n\n" + file_text("rule3", 2500))
        s.p("[[plan:bash cmd=pwd]] Where are we?", "--continue")
        return _case(s, sid)


def fanout(base: Path) -> Case:
    with _Scenario("ctx_fanout", base) as s:
        for i in range(6):
            (s.project / f"part{i}.txt").write_text(file_text(f"part{i}", 300 + 100 * i))
        sid = s.p("[[plan:ctx_fanout n=6]] Summarise the six parts in parallel.")
        return _case(s, sid)


def big_context(base: Path) -> Case:
    with _Scenario("ctx_big", base) as s:
        (s.project / "data").mkdir()
        for i in range(7):
            (s.project / "data" / f"chunk{i}.txt").write_text(file_text(f"chunk{i}", 18000))
        sid = s.p("[[plan:ctx_bigreads n=7]] Load all the data chunks.")
        return _case(s, sid)


def batch(base: Path) -> Case:
    with _Scenario("ctx_batch", base) as s:
        (s.project / "pages").mkdir()
        for i in range(30):
            (s.project / "pages" / f"page{i:02d}.md").write_text(f"# Page {i}\n\nTODO: fill in.\n" + "x" * 200)
        sid = s.p("[[plan:ctx_batch n=30]] Mark every page as done.")
        return _case(s, sid)


def lean(base: Path) -> Case:
    with _Scenario("ctx_lean", base) as s:
        (s.project / "CLAUDE.md").write_text("# Rules\n\nKeep it short.\n")
        sid = s.p("[[plan:read_edit]] Read notes.txt, change hello to goodbye, list the files.")
        return _case(s, sid)


def _main_calls(case: Case) -> int:
    return sum(1 for r in case.truth if r["kind"] == "main")


# What a complete run of each case looks like (a run killed half-way, e.g. on a loaded machine,
# is built again rather than tested).
CHECKS: dict[str, Callable[[Case], bool]] = {
    "explore": lambda c: _main_calls(c) == 13,
    "read_edit_read": lambda c: _main_calls(c) == 17,
    "idle_gap": lambda c: _main_calls(c) == 4,
    "claude_md_edit": lambda c: _main_calls(c) == 6,
    "fanout": lambda c: _main_calls(c) == 2 and len(c.agent_records()) == 6 and all(
        any(r.get("type") == "assistant" for r in recs) for recs in c.agent_records().values()),
    "big_context": lambda c: _main_calls(c) == 10,
    "batch": lambda c: _main_calls(c) == 61,
    "lean": lambda c: _main_calls(c) == 5,
}


def build(name: str, base: Path, attempts: int = 3) -> Case:
    """Build case ``name`` under ``base``, again if a run came out incomplete."""
    case = BUILDERS[name](base)
    for _ in range(attempts - 1):
        if CHECKS[name](case):
            break
        case = BUILDERS[name](base)
    assert CHECKS[name](case), f"harness case {name} incomplete after {attempts} runs"
    return case


BUILDERS: dict[str, Callable[[Path], Case]] = {
    "explore": explore,
    "read_edit_read": read_edit_read,
    "idle_gap": idle_gap,
    "claude_md_edit": claude_md_edit,
    "fanout": fanout,
    "big_context": big_context,
    "batch": batch,
    "lean": lean,
}
