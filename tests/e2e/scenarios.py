"""Scenarios: each drives the real ``claude`` (2.1.197) against the fake API and leaves a Claude
config dir with genuine transcripts plus the ground-truth log of every request served.

Every scenario function takes a base directory and returns a :class:`ScenarioResult`::

    from tests.e2e.scenarios import run_scenario
    res = run_scenario("subagent", Path("/tmp/spendtui-e2e"))
    res.config_dir        # <base>/subagent/config   – use as CLAUDE_CONFIG_DIR / ccusage input
    res.project_cwd       # <base>/subagent/project  – the cwd claude ran in
    res.session_ids       # main session ids, in creation order
    res.truth             # ground-truth records (see tests/harness/fake_api.py), in request order
    res.truth_path        # <base>/subagent/truth.jsonl
    res.info              # scenario-specific facts (e.g. fork parent/child ids)

Layout of ``<base>/<name>/``: ``project/`` (cwd, holds ``notes.txt``), ``config/``
(``CLAUDE_CONFIG_DIR``: ``projects/<encoded project path>/<session>.jsonl`` and
``<session>/subagents/agent-<id>.jsonl|.meta.json``), ``config-home/`` (``HOME`` for the run),
``truth.jsonl``. A scenario wipes its directory first, so it is idempotent; message/request ids
are deterministic per scenario (the fake's seed is the scenario name), timestamps and session
ids are not.

Scenarios (``SCENARIOS``):

========================  =====================================================================
``tool_use``              ``-p``: Read, Edit, Bash, then two parallel tool calls in one response
                          (thinking + text + tool_use blocks), final answer.
``subagent``              ``-p``: an ``Agent`` tool call with ``subagent_type: general-purpose``
                          and ``model: haiku``; the sub-agent Reads and answers.
``continue``              two ``-p`` runs, the second with ``--continue`` (same session file).
``fork``                  ``-p``, then ``--resume <id> --fork-session`` (a new session file).
``cache_1h``              ``ENABLE_PROMPT_CACHING_1H=1`` (Claude Code then sends ``ttl: "1h"``
                          on every breakpoint, sub-agent included); then ``--continue``
                          without it (5m writes on top of the 1h prefix): one session, both TTLs.
``long_context_1m``       ``--model claude-sonnet-4-5[1m]`` and a prompt padded to ~280K
                          tokens (``[[pad:250000]]``), then ``--continue``: calls over 200K.
``interactive``           tmux: prompt (sonnet) → ``/compact`` → ``/model claude-haiku-4-5`` →
                          prompt (haiku) → ``/clear`` → prompt: two session files.
``auto_compact``          ``CLAUDE_CODE_AUTO_COMPACT_WINDOW=100000`` and a ~150K-token prompt:
                          Claude Code auto-compacts between tool rounds, the plan continues.
========================  =====================================================================
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.claude import (
    InteractiveSession,
    encode_project_dir,
    prepare_config,
    run_print,
)
from tests.harness.fake_api import FakeAnthropic

SONNET = "claude-sonnet-4-5"
HAIKU = "claude-haiku-4-5"
NOTES = "hello world\nsecond line\n"


class ScenarioError(AssertionError):
    """A scenario did not produce what it is meant to produce."""


@dataclass
class ScenarioResult:
    """What a scenario leaves behind (all paths absolute)."""

    config_dir: Path
    project_cwd: Path
    session_ids: list[str]
    truth: list[dict]
    name: str = ""
    truth_path: Path | None = None
    info: dict = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        """``<config>/projects/<encoded cwd>``."""
        return self.config_dir / "projects" / encode_project_dir(self.project_cwd)

    def transcript(self, session_id: str) -> Path:
        return self.project_dir / f"{session_id}.jsonl"

    def subagent_files(self, session_id: str) -> list[Path]:
        return sorted((self.project_dir / session_id / "subagents").glob("agent-*.jsonl"))

    def transcripts(self) -> list[Path]:
        """Every ``*.jsonl`` under ``<config>/projects`` (main and sub-agent files)."""
        return sorted((self.config_dir / "projects").rglob("*.jsonl"))

    def lines(self, path: Path) -> list[dict]:
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


class _Scenario:
    """Shared set-up: fresh directories, a fake API, a helper to run ``claude -p``."""

    def __init__(self, name: str, base: Path, **fake_kw: object) -> None:
        self.name = name
        self.root = Path(base).resolve() / name
        shutil.rmtree(self.root, ignore_errors=True)
        self.project = self.root / "project"
        self.config = self.root / "config"
        self.project.mkdir(parents=True)
        (self.project / "notes.txt").write_text(NOTES)
        prepare_config(self.config, [self.project])
        self.truth_path = self.root / "truth.jsonl"
        self.api = FakeAnthropic(self.truth_path, seed=f"spendtui-e2e-{name}", **fake_kw)

    def __enter__(self) -> _Scenario:
        self.api.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.stop()

    def p(self, prompt: str, *args: str, model: str | None = SONNET,
          env: dict[str, str] | None = None) -> str:
        res = run_print(prompt, self.project, self.config, env, list(args),
                        base_url=self.api.url, model=model)
        if not res.session_id:
            raise ScenarioError(f"{self.name}: no session id in claude output: {res.stdout!r}")
        return res.session_id

    def result(self, session_ids: list[str], **info: object) -> ScenarioResult:
        res = ScenarioResult(self.config, self.project, session_ids, self.api.records(),
                             self.name, self.truth_path, dict(info))
        for sid in session_ids:
            if not res.transcript(sid).exists():
                raise ScenarioError(f"{self.name}: transcript {res.transcript(sid)} missing")
        return res


def tool_use(base: Path) -> ScenarioResult:
    """(a) ``-p`` multi-turn tool use: Read, Edit, Bash, two parallel tool calls."""
    with _Scenario("tool_use", base) as s:
        sid = s.p("[[plan:read_edit]] Read notes.txt, change hello to goodbye, list the files.")
        return s.result([sid])


def subagent(base: Path) -> ScenarioResult:
    """(b) a sub-agent on Haiku spawned through the ``Agent`` tool."""
    with _Scenario("subagent", base) as s:
        sid = s.p("[[plan:subagent model=haiku]] Have a sub-agent summarise notes.txt.")
        res = s.result([sid])
        if not res.subagent_files(sid):
            raise ScenarioError("subagent: no subagents/agent-*.jsonl written")
        return res


def continue_(base: Path) -> ScenarioResult:
    """(c) a second ``-p --continue`` run appends to the same session file."""
    with _Scenario("continue", base) as s:
        sid = s.p("[[plan:read]] Read notes.txt.")
        sid2 = s.p("[[plan:bash cmd=ls]] Now list the files.", "--continue")
        if sid2 != sid:
            raise ScenarioError(f"continue: --continue started a new session {sid2} != {sid}")
        return s.result([sid])


def fork(base: Path) -> ScenarioResult:
    """(d) ``--resume <id> --fork-session``: a new session file that copies the parent's lines."""
    with _Scenario("fork", base) as s:
        parent = s.p("[[plan:read]] Read notes.txt.")
        child = s.p("[[plan:bash cmd=pwd]] In the fork: print the directory.",
                    "--resume", parent, "--fork-session")
        if child == parent:
            raise ScenarioError("fork: --fork-session kept the parent session id")
        return s.result([parent, child], parent_session_id=parent, fork_session_id=child)


def cache_1h(base: Path) -> ScenarioResult:
    """(e) 1-hour cache writes (``ENABLE_PROMPT_CACHING_1H=1``), then 5-minute ones."""
    with _Scenario("cache_1h", base) as s:
        sid = s.p("[[plan:subagent model=haiku]] Delegate a summary of notes.txt.",
                  env={"ENABLE_PROMPT_CACHING_1H": "1"})
        s.p("[[plan:read]] Read notes.txt again.", "--continue")
        res = s.result([sid], env_1h="ENABLE_PROMPT_CACHING_1H=1", forced_1h=False,
                       requests_1h=[r["request_id"] for r in s.api.records()
                                    if "1h" in r["cache_ttls"]])
        if not res.info["requests_1h"]:
            raise ScenarioError("cache_1h: claude never sent ttl=1h")
        return res


def long_context_1m(base: Path) -> ScenarioResult:
    """(f) ``claude-sonnet-4-5[1m]`` with a prompt over 200K tokens."""
    with _Scenario("long_context_1m", base) as s:
        model = "claude-sonnet-4-5[1m]"
        sid = s.p("[[plan:read]] [[pad:250000]] A very long prompt: read notes.txt.", model=model)
        s.p("[[plan:text]] And one more short question.", "--continue", model=model)
        res = s.result([sid], model_arg=model, pad_tokens=250_000)
        big = [r for r in res.truth if _context(r["usage"]) > 200_000]
        if not big:
            raise ScenarioError("long_context_1m: no call over 200K")
        return res


def interactive(base: Path) -> ScenarioResult:
    """(g) tmux session: prompt → /compact → /model haiku → prompt → /clear → prompt."""
    with _Scenario("interactive", base) as s:
        sess = InteractiveSession(s.project, s.config, base_url=s.api.url, model=SONNET)
        try:
            sess.start()
            sess.wait_for(sess.PROMPT_READY, timeout=30)
            sess.submit("[[plan:read]] Read notes.txt please.")
            sess.wait_for("plan read finished", timeout=30)
            sess.wait_stable(1.0)
            sess.submit("/compact")
            sess.wait_for("Compacted", timeout=30)
            sess.wait_stable(1.0)
            sess.submit(f"/model {HAIKU}")
            sess.wait_for("Set model to", timeout=30)
            sess.wait_stable(1.0)
            sess.submit("[[plan:bash cmd=ls]] List the files.")
            sess.wait_for("plan bash finished", timeout=30)
            sess.wait_stable(1.0)
            sess.submit("/clear")
            sess.wait_gone("plan bash finished", timeout=30)
            sess.wait_stable(1.0)
            sess.submit("[[plan:read]] Read notes.txt once more.")
            sess.wait_for("plan read finished", timeout=30)
            sess.wait_stable(1.5)
        finally:
            sess.close()
        sids = _session_ids_in_order(s.api.records())
        if len(sids) != 2:
            raise ScenarioError(f"interactive: expected 2 sessions (before/after /clear): {sids}")
        return s.result(sids, before_clear=sids[0], after_clear=sids[1],
                        models=[SONNET, HAIKU], keys=sess.log)


def auto_compact(base: Path) -> ScenarioResult:
    """(h) automatic compaction: a 100K auto-compact window and a ~150K-token context."""
    with _Scenario("auto_compact", base) as s:
        sid = s.p("[[plan:reads n=3]] [[pad:120000]] Read notes.txt three times.",
                  env={"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "100000"})
        res = s.result([sid], auto_compact_window=100_000, pad_tokens=120_000)
        if not any(r["kind"] == "compact" for r in res.truth):
            raise ScenarioError("auto_compact: claude did not compact")
        return res


def _context(usage: dict) -> int:
    return (usage.get("input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
            + usage.get("cache_read_input_tokens", 0))


def _session_ids_in_order(truth: list[dict]) -> list[str]:
    out: list[str] = []
    for r in truth:
        sid = r.get("session_id")
        if sid and sid not in out and r["kind"] in ("main", "subagent", "compact"):
            out.append(sid)
    return out


SCENARIOS: dict[str, Callable[[Path], ScenarioResult]] = {
    "tool_use": tool_use,
    "subagent": subagent,
    "continue": continue_,
    "fork": fork,
    "cache_1h": cache_1h,
    "long_context_1m": long_context_1m,
    "interactive": interactive,
    "auto_compact": auto_compact,
}

#: scenarios that need tmux on top of the claude binary
NEEDS_TMUX = {"interactive"}


def run_scenario(name: str, base: Path) -> ScenarioResult:
    """Run scenario ``name`` under ``base/<name>/`` (wiped first)."""
    return SCENARIOS[name](Path(base))
