"""Compactions, model switches, /clear and sub-agents on genuine Claude Code 2.1.197 transcripts
(tests/fixtures/cc2197), as `summary --json` reports them and as the real `spendtui watch --json`
process emits them while the transcripts are written again line by line.

Every expected value is read from the transcripts (or the fake API's truth.jsonl) here, with
plain json.loads: the compact_boundary records, the models of the main chain's responses, the
sub-agent's .meta.json.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from spendtui.cli import main
from tests.e2e.test_accounting import SCENARIOS, TOKEN_KINDS, tokens_of

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cc2197"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main_files(name: str) -> dict[str, Path]:
    meta = json.loads((FIXTURES / name / "scenario.json").read_text())
    return {sid: next((FIXTURES / name / "projects").glob(f"*/{sid}.jsonl")) for sid in meta["session_ids"]}


def boundaries(path: Path) -> list[dict[str, Any]]:
    """compact_boundary records as the transcript has them."""
    out = []
    for r in records(path):
        if r.get("type") == "system" and r.get("subtype") == "compact_boundary":
            m = r["compactMetadata"]
            out.append({"trigger": m["trigger"], "pre_tokens": m["preTokens"], "post_tokens": m.get("postTokens"),
                        "timestamp": when(r["timestamp"])})
    return out


def main_chain_switches(path: Path) -> list[dict[str, Any]]:
    """Model changes between consecutive main-chain responses (each response once, at its first line)."""
    seen: set[str] = set()
    calls: list[tuple[str, str]] = []
    for r in records(path):
        if r.get("type") != "assistant" or r.get("isSidechain"):
            continue
        m = r["message"]
        if m["id"] not in seen and m["model"] != "<synthetic>":
            seen.add(m["id"])
            calls.append((m["model"], r["timestamp"]))
    return [{"from": a[0], "to": b[0], "timestamp": when(b[1])} for a, b in pairwise(calls) if a[0] != b[0]]


def summary(capsys: pytest.CaptureFixture[str], config_dir: Path, sid: str) -> dict[str, Any]:
    assert main(["summary", "--no-cache", "--json", "--claude-dir", str(config_dir), sid]) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ summary --json
@pytest.mark.parametrize("name", SCENARIOS)
def test_summary_compactions_and_model_switches_equal_the_records(name: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for sid, path in main_files(name).items():
        s = summary(capsys, FIXTURES / name, sid)
        got = [{**c, "timestamp": when(c["timestamp"])} for c in s["compactions"]]
        assert got == boundaries(path), sid
        got = [{**w, "timestamp": when(w["timestamp"])} for w in s["model_switches"]]
        assert got == main_chain_switches(path), sid


def test_the_fixtures_hold_what_the_checks_above_need() -> None:
    """Else the parametrized test compares empty lists: a manual /compact, an automatic one with
    post tokens, and one switch from Sonnet to Haiku (the /model command)."""
    inter = main_files("interactive")
    before, after = inter.values()
    assert [(b["trigger"], b["pre_tokens"], b["post_tokens"]) for b in boundaries(before)] == [("manual", 31856, 929)]
    assert [(w["from"], w["to"]) for w in main_chain_switches(before)] == [
        ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001")]
    assert boundaries(after) == [] and main_chain_switches(after) == []
    (auto,) = main_files("auto_compact").values()
    assert [(b["trigger"], b["pre_tokens"], b["post_tokens"]) for b in boundaries(auto)] == [("auto", 148840, 819)]


# ------------------------------------------------------------------ watch --json, live
class Watch:
    """The real `spendtui watch --json` process; its lines read on a thread."""

    def __init__(self, config_dir: Path, sid: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spendtui", "watch", "--json", "--no-cache", "--claude-dir", str(config_dir), sid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def until(self, done: Any, what: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Lines up to the one ``done`` accepts (all lines so far are kept in ``seen``)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {what} within {timeout} s; got {got}") from None
            got.append(obj)
            self.seen.append(obj)
            if done(obj):
                return got

    def calls(self, sid: str, n: int) -> list[dict[str, Any]]:
        """Wait for the n-th api_call of ``sid`` (counting all seen so far)."""
        def enough(_obj: dict[str, Any]) -> bool:
            return sum(1 for o in self.seen if o["event"] == "api_call" and o["session_id"] == sid) >= n

        if not enough({}):
            self.until(enough, f"{n} api_call lines of {sid}")
        return [o for o in self.seen if o["event"] == "api_call" and o["session_id"] == sid]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def write_lines(path: Path, lines: list[str], pause: float = 0.0) -> None:
    """Append lines as Claude Code does, one write per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
            f.flush()
            if pause:
                time.sleep(pause)


def truth_calls(name: str, sid: str) -> dict[str, dict[str, int]]:
    """message id -> tokens, of the requests Claude Code logs for ``sid``, from the fake API's log."""
    return {e["message_id"]: tokens_of(e["usage"]) for e in records(FIXTURES / name / "truth.jsonl")
            if e["kind"] in ("main", "subagent") and e["session_id"] == sid}


def check_calls(got: list[dict[str, Any]], want: dict[str, dict[str, int]]) -> None:
    assert sorted(o["message_id"] for o in got) == sorted(want)
    for o in got:
        assert set(o["tokens"]) == set(TOKEN_KINDS)
        assert o["tokens"] == want[o["message_id"]], o["message_id"]


def test_watch_json_compaction_model_switch_and_clear_as_claude_code_writes_them(tmp_path: Path) -> None:
    before, after = main_files("interactive").items()
    (sid1, src1), (sid2, src2) = before, after
    lines1, lines2 = src1.read_text().splitlines(), src2.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines1) if '"compact_boundary"' in line)
    proj = tmp_path / "claude" / "projects" / src1.parent.name
    dest1, dest2 = proj / src1.name, proj / src2.name
    write_lines(dest1, lines1[:cut])  # the first turn, before /compact
    w = Watch(tmp_path / "claude", sid1)
    try:
        w.calls(sid1, 2)
        write_lines(dest1, lines1[cut:], pause=0.005)  # /compact, /model haiku, a turn on Haiku
        w.until(lambda o: o["event"] == "model_switch", "the model_switch line")
        check_calls(w.calls(sid1, 4), truth_calls("interactive", sid1))
        write_lines(dest2, lines2, pause=0.005)  # /clear: Claude Code starts a new file
        w.until(lambda o: o["event"] == "clear", "the clear line")
        check_calls(w.calls(sid2, 2), truth_calls("interactive", sid2))
    finally:
        w.close()

    (b,) = boundaries(src1)
    (comp,) = [o for o in w.seen if o["event"] == "compaction"]
    assert {k: comp[k] for k in ("event", "session_id", "trigger", "pre_tokens", "post_tokens", "micro")} == {
        "event": "compaction", "session_id": sid1, "trigger": b["trigger"], "pre_tokens": b["pre_tokens"],
        "post_tokens": b["post_tokens"], "micro": False}
    assert when(comp["timestamp"]) == b["timestamp"]
    (sw,) = main_chain_switches(src1)
    (got,) = [o for o in w.seen if o["event"] == "model_switch"]
    assert (got["session_id"], got["from"], got["to"], when(got["timestamp"])) == (sid1, sw["from"], sw["to"],
                                                                                  sw["timestamp"])
    (clear,) = [o for o in w.seen if o["event"] == "clear"]
    assert {k: clear[k] for k in ("session_id", "from", "to")} == {"session_id": sid2, "from": sid1, "to": sid2}
    assert Path(clear["transcript"]) == dest2
    # in the order it happened: compaction before the Haiku calls, the switch at the first of them,
    # the clear before any call of the new session
    kinds = [(o["event"], o.get("message_id")) for o in w.seen if o["event"] != "call_updated"]
    first_haiku = next(i for i, o in enumerate(w.seen) if o.get("model", "").startswith("claude-haiku"))
    assert kinds.index(("compaction", None)) < first_haiku
    assert [o["event"] for o in w.seen].index("clear") < next(i for i, o in enumerate(w.seen)
                                                             if o["session_id"] == sid2 and o["event"] == "api_call")
    assert all(isinstance(o["observed"], float) for o in w.seen)


def test_watch_json_subagent_start_as_claude_code_writes_it(tmp_path: Path) -> None:
    ((sid, src),) = main_files("subagent").items()
    agent_src = next((src.parent / sid / "subagents").glob("agent-*.jsonl"))
    meta_src = agent_src.with_name(agent_src.name[: -len(".jsonl")] + ".meta.json")
    meta = json.loads(meta_src.read_text())
    agent_id = agent_src.name[len("agent-"): -len(".jsonl")]
    agent_model = next(r["message"]["model"] for r in records(agent_src) if r.get("type") == "assistant")
    # a sub-agent starts (and is reported) with its first API call: the moment it begins to cost
    first_ts = min(when(r["timestamp"]) for r in records(agent_src) if r.get("type") == "assistant")
    lines = src.read_text().splitlines()
    spawn = next(i for i, line in enumerate(lines) if '"name":"Agent"' in line)
    proj = tmp_path / "claude" / "projects" / src.parent.name
    write_lines(proj / src.name, lines[:spawn])  # the prompt and the first text block
    w = Watch(tmp_path / "claude", sid)
    try:
        w.calls(sid, 1)
        write_lines(proj / src.name, [lines[spawn]])  # the Agent tool_use
        agent_dir = proj / sid / "subagents"
        agent_dir.mkdir(parents=True)
        shutil.copyfile(meta_src, agent_dir / meta_src.name)
        write_lines(agent_dir / agent_src.name, agent_src.read_text().splitlines(), pause=0.005)
        w.until(lambda o: o["event"] == "subagent_start", "the subagent_start line")
        write_lines(proj / src.name, lines[spawn + 1:], pause=0.005)  # the result and the final answer
        check_calls(w.calls(sid, 4), truth_calls("subagent", sid))
    finally:
        w.close()
    (start,) = [o for o in w.seen if o["event"] == "subagent_start"]
    assert {k: start[k] for k in ("session_id", "agent_id", "agent_type", "model", "description")} == {
        "session_id": sid, "agent_id": agent_id, "agent_type": meta["agentType"], "model": agent_model,
        "description": meta["description"]}
    assert when(start["timestamp"]) == first_ts
    agent_calls = [o for o in w.seen if o["event"] == "api_call" and o["agent_id"] == agent_id]
    assert len(agent_calls) == 2 and all(o["model"] == agent_model for o in agent_calls)
