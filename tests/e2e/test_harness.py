"""Tests of the harness itself.

The first part checks the fake API over HTTP with the standard library only (always runs).
The second part runs the scenarios against the real ``claude`` and checks that the transcripts
it wrote agree with the ground-truth log (skips loudly when the clients are missing).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.scenarios import SCENARIOS, ScenarioResult
from tests.harness.fake_api import FakeAnthropic, PromptCache, prompt_units, resolve_model
from tests.harness.tools import CLAUDE_VERSION

# ------------------------------------------------------------------------------------------
# the fake API alone


def _post(url: str, body: dict, path: str = "/v1/messages") -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json",
                                          "anthropic-beta": "context-1m-2025-08-07"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _sse(data: bytes) -> list[tuple[str, dict]]:
    out = []
    for chunk in data.decode().split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


SYSTEM = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1.abc;"},
          {"type": "text", "text": "You are a test agent. " * 400 +
           "\nPrimary working directory: /tmp/proj\n", "cache_control": {"type": "ephemeral"}}]
TOOLS = [{"name": n, "description": "d", "input_schema": {"type": "object"}}
         for n in ("Read", "Edit", "Bash", "Agent")]


def _body(messages: list[dict], **kw: object) -> dict:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1000, "system": SYSTEM, "tools": TOOLS,
            "messages": messages, "stream": True, "thinking": {"type": "enabled",
                                                                  "budget_tokens": 100}}
    body.update(kw)
    return body


def test_model_resolution() -> None:
    assert resolve_model("claude-sonnet-4-5") == "claude-sonnet-4-5-20250929"
    assert resolve_model("claude-opus-4-1") == "claude-opus-4-1-20250805"
    assert resolve_model("claude-haiku-4-5") == "claude-haiku-4-5-20251001"
    assert resolve_model("claude-sonnet-4-5[1m]") == "claude-sonnet-4-5-20250929"
    assert resolve_model("claude-haiku-4-5-20251001") == "claude-haiku-4-5-20251001"
    assert resolve_model("claude-future-9") == "claude-future-9"


def test_streaming_plan_and_truth(tmp_path: Path) -> None:
    log = tmp_path / "truth.jsonl"
    with FakeAnthropic(log, seed="unit") as api:
        msgs = [{"role": "user", "content": [
            {"type": "text", "text": "[[plan:read_edit]] go", "cache_control": {"type": "ephemeral"}}
        ]}]
        status, headers, data = _post(api.url, _body(msgs))
        assert status == 200
        assert headers["request-id"].startswith("req_")
        events = _sse(data)
        names = [e for e, _ in events]
        assert names[0] == "message_start" and names[-1] == "message_stop"
        assert "message_delta" in names
        start = events[0][1]["message"]
        assert start["id"].startswith("msg_")
        assert start["model"] == "claude-sonnet-4-5-20250929"
        blocks = [d["content_block"]["type"] for e, d in events if e == "content_block_start"]
        assert blocks == ["thinking", "text", "tool_use"]
        deltas = {d["delta"]["type"] for e, d in events if e == "content_block_delta"}
        assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= deltas
        delta = next(d for e, d in events if e == "message_delta")
        assert delta["delta"]["stop_reason"] == "tool_use"
        rec = api.records()[0]
        assert rec["request_id"] == headers["request-id"]
        assert rec["message_id"] == start["id"]
        assert rec["kind"] == "main" and rec["plan"] == "read_edit" and rec["step"] == 0
        assert rec["context_1m"] is True
        u = rec["usage"]
        assert delta["usage"]["output_tokens"] == u["output_tokens"]
        assert start["usage"]["cache_creation_input_tokens"] == u["cache_creation_input_tokens"]
        assert u["cache_read_input_tokens"] == 0 and u["cache_creation_input_tokens"] > 1000
        tool = next(d["content_block"] for e, d in events if e == "content_block_start"
                    and d["content_block"]["type"] == "tool_use")
        # second request: the tool round-trip → next step, prefix read from the cache
        msgs2 = [
            {"role": "user", "content": [{"type": "text", "text": "[[plan:read_edit]] go"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool["id"],
                                               "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool["id"],
                                          "content": "x", "cache_control": {"type": "ephemeral",
                                                                            "ttl": "1h"}}]},
        ]
        status, _, data = _post(api.url, _body(msgs2, stream=False))
        assert status == 200
        msg = json.loads(data)
        assert msg["content"][-1]["name"] == "Edit"
        assert msg["content"][-1]["input"]["file_path"] == "/tmp/proj/notes.txt"
        rec2 = api.records()[1]
        assert rec2["step"] == 1 and rec2["stream"] is False
        assert rec2["usage"]["cache_read_input_tokens"] == u["cache_creation_input_tokens"]
        assert rec2["usage"]["cache_creation"]["ephemeral_1h_input_tokens"] > 0
        assert rec2["usage"]["cache_creation"]["ephemeral_5m_input_tokens"] == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 2


def test_side_requests_compact_and_errors(tmp_path: Path) -> None:
    with FakeAnthropic(seed="unit2") as api:
        # title generation: no tools, JSON schema output
        body = {"model": "claude-haiku-4-5", "max_tokens": 100, "stream": True,
                "system": [{"type": "text", "text": "Generate a concise title"}],
                "messages": [{"role": "user", "content": "hi"}],
                "output_config": {"format": {"type": "json_schema", "schema": {
                    "type": "object", "properties": {"title": {"type": "string"}}}}}}
        _, _, data = _post(api.url, body)
        text = "".join(d["delta"].get("text", "") for e, d in _sse(data)
                       if e == "content_block_delta")
        assert json.loads(text) == {"title": "Scripted test session"}
        # quota probe
        status, _, data = _post(api.url, {"model": "claude-haiku-4-5", "max_tokens": 1,
                                          "messages": [{"role": "user", "content": "quota"}]})
        assert status == 200 and json.loads(data)["usage"]["output_tokens"] == 1
        # compaction carries the plan state
        msgs = [{"role": "user", "content": "[[plan:reads n=3]] go"},
                {"role": "assistant", "content": [{"type": "text", "text": "r1"}]},
                {"role": "user", "content": "Your task is to create a detailed summary of it"}]
        _, _, data = _post(api.url, _body(msgs, stream=False))
        summary = json.loads(data)["content"][0]["text"]
        assert "[[plan:reads n=3 _done=1]]" in summary
        _, _, data = _post(api.url, _body([{"role": "user", "content": summary}],
                                          stream=False))
        assert json.loads(data)["content"][-1]["type"] == "tool_use"  # step 1 of 3
        # unknown conversation: short text, never a hang
        _, _, data = _post(api.url, _body([{"role": "user", "content": "hello"}],
                                          stream=False))
        assert json.loads(data)["stop_reason"] == "end_turn"
        # count_tokens and 404
        status, _, data = _post(api.url, _body([{"role": "user", "content": "x"}]),
                                "/v1/messages/count_tokens")
        assert status == 200 and json.loads(data)["input_tokens"] > 0
        status, _, data = _post(api.url, {}, "/v1/other")
        assert status == 404 and json.loads(data)["error"]["type"] == "not_found_error"
        kinds = [r["kind"] for r in api.records()]
        assert kinds == ["title", "quota", "compact", "main", "other"]


def test_usage_hook_and_force_1h(tmp_path: Path) -> None:
    def hook(ctx, usage):  # type: ignore[no-untyped-def]
        usage["cache_read_input_tokens"] += 1_000_000
        return usage

    with FakeAnthropic(seed="unit3", usage_hook=hook, force_1h=True) as api:
        msgs = [{"role": "user", "content": [{"type": "text", "text": "[[plan:text]]",
                                              "cache_control": {"type": "ephemeral"}}]}]
        _, _, data = _post(api.url, _body(msgs, stream=False))
        u = json.loads(data)["usage"]
        assert u["cache_read_input_tokens"] >= 1_000_000
        assert u["cache_creation"]["ephemeral_1h_input_tokens"] > 0
        assert u == api.records()[0]["usage"]


def test_cache_simulation_ttl_expiry() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    body = _body([{"role": "user", "content": [{"type": "text", "text": "[[pad:5000]]",
                                                "cache_control": {"type": "ephemeral"}}]}])
    first = cache.usage_for("m", prompt_units(body))
    assert first["cache_creation_input_tokens"] > 5000
    again = cache.usage_for("m", prompt_units(body))
    assert again["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    now[0] += 301  # 5 minutes later: only… nothing is left
    late = cache.usage_for("m", prompt_units(body))
    assert late["cache_read_input_tokens"] == 0
    other_model = cache.usage_for("other", prompt_units(body))
    assert other_model["cache_read_input_tokens"] == 0


# ------------------------------------------------------------------------------------------
# the real claude against the fake: transcripts vs ground truth

ALL = list(SCENARIOS)
USAGE_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
              "output_tokens")
#: request kinds whose calls Claude Code 2.1.197 writes into transcripts
TRANSCRIBED = {"main", "subagent"}


def _assistant_lines(res: ScenarioResult) -> list[tuple[Path, dict]]:
    out = []
    for f in res.transcripts():
        for rec in res.lines(f):
            if rec.get("type") == "assistant" and isinstance(rec.get("message"), dict):
                out.append((f, rec))
    return out


def _usage_view(u: dict) -> dict:
    cc = u.get("cache_creation") or {}
    return {**{k: u.get(k) for k in USAGE_KEYS},
            "5m": cc.get("ephemeral_5m_input_tokens"), "1h": cc.get("ephemeral_1h_input_tokens")}


def _boundaries(res: ScenarioResult, sid: str) -> list[dict]:
    return [r for r in res.lines(res.transcript(sid))
            if r.get("type") == "system" and r.get("subtype") == "compact_boundary"]


@pytest.mark.e2e
@pytest.mark.parametrize("name", ALL)
def test_transcripts_where_expected(e2e_scenario, name: str) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario(name)
    assert res.project_dir.is_dir()
    for sid in res.session_ids:
        lines = res.lines(res.transcript(sid))
        assert lines, f"{sid} is empty"
        versions = {r["version"] for r in lines if "version" in r}
        assert versions == {CLAUDE_VERSION}
        # every line with a sessionId in a main file carries that file's id
        assert {r["sessionId"] for r in lines if "sessionId" in r} == {sid}
    assert res.truth_path is not None and res.truth_path.exists()


@pytest.mark.e2e
@pytest.mark.parametrize("name", ALL)
def test_transcript_usage_equals_truth(e2e_scenario, name: str) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario(name)
    truth = {r["request_id"]: r for r in res.truth}
    lines = _assistant_lines(res)
    assert lines
    for path, rec in lines:
        msg = rec["message"]
        if msg.get("model") == "<synthetic>":
            continue
        rid = rec.get("requestId")
        assert rid in truth, f"{path.name}: requestId {rid} not in the ground truth"
        t = truth[rid]
        assert msg["id"] == t["message_id"]
        assert msg["model"] == t["model"]
        assert _usage_view(msg["usage"]) == _usage_view(t["usage"]), (path.name, rid)
    # conversely: every scripted call is in a transcript; side calls (title generation,
    # quota probe, compaction summary) are not written anywhere by 2.1.197
    seen = {rec.get("requestId") for _, rec in lines}
    for r in res.truth:
        if r["kind"] in TRANSCRIBED:
            assert r["request_id"] in seen, f"{r['kind']} call {r['request_id']} not transcribed"
        else:
            assert r["request_id"] not in seen, f"{r['kind']} call unexpectedly transcribed"


@pytest.mark.e2e
def test_tool_use_blocks(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("tool_use")
    lines = [rec for _, rec in _assistant_lines(res)]
    tools = [b["name"] for r in lines for b in r["message"]["content"] if b["type"] == "tool_use"]
    assert tools == ["Read", "Edit", "Bash", "Read", "Bash"]
    # one line per content block, all sharing message.id / requestId / usage
    by_id: dict[str, list[dict]] = {}
    for r in lines:
        assert len(r["message"]["content"]) == 1
        by_id.setdefault(r["message"]["id"], []).append(r)
    parallel = next(v for v in by_id.values() if len(v) == 4)
    assert [r["message"]["content"][0]["type"] for r in parallel] == [
        "thinking", "text", "tool_use", "tool_use"]
    assert len({r["requestId"] for r in parallel}) == 1
    assert len({json.dumps(r["message"]["usage"], sort_keys=True) for r in parallel}) == 1
    assert (res.project_cwd / "notes.txt").read_text().startswith("goodbye")


@pytest.mark.e2e
def test_subagent_layout(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("subagent")
    sid = res.session_ids[0]
    files = res.subagent_files(sid)
    assert len(files) == 1
    agent_file = files[0]
    agent_id = agent_file.stem.removeprefix("agent-")
    meta = json.loads(agent_file.with_suffix(".meta.json").read_text())
    assert meta["agentType"] == "general-purpose"
    main_lines = res.lines(res.transcript(sid))
    spawn = [b for r in main_lines if r.get("type") == "assistant"
             for b in r["message"]["content"] if b["type"] == "tool_use"]
    assert [b["name"] for b in spawn] == ["Agent"]
    assert spawn[0]["input"]["model"] == "haiku"
    assert meta["toolUseId"] == spawn[0]["id"]
    sub = res.lines(agent_file)
    assert all(r["isSidechain"] is True and r["agentId"] == agent_id and r["sessionId"] == sid
               for r in sub if "uuid" in r)
    models = {r["message"]["model"] for r in sub if r.get("type") == "assistant"}
    assert models == {"claude-haiku-4-5-20251001"}
    truth_sub = [r for r in res.truth if r["kind"] == "subagent"]
    assert len(truth_sub) == 2 and all(r["session_id"] == sid for r in truth_sub)
    # the Agent tool_result carries toolUseResult.agentId and the sub-agent's last usage
    results = [r for r in main_lines if isinstance(r.get("toolUseResult"), dict)
               and "agentId" in r["toolUseResult"]]
    assert results and results[0]["toolUseResult"]["agentId"] == agent_id


@pytest.mark.e2e
def test_continue_appends(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("continue")
    sid = res.session_ids[0]
    assert [p.name for p in res.transcripts()] == [f"{sid}.jsonl"]
    prompts = [r["message"]["content"] for r in res.lines(res.transcript(sid))
               if r.get("type") == "user" and isinstance(r["message"]["content"], str)]
    assert len(prompts) == 2
    assert {r["session_id"] for r in res.truth} == {sid}


@pytest.mark.e2e
def test_fork_shares_message_ids(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("fork")
    parent, child = res.session_ids
    p_lines = res.lines(res.transcript(parent))
    c_lines = res.lines(res.transcript(child))

    def ids(lines: list[dict]) -> set[tuple[str, str]]:
        return {(r["message"]["id"], r["requestId"]) for r in lines if r.get("type") == "assistant"}

    shared = ids(p_lines) & ids(c_lines)
    assert shared == ids(p_lines), "the fork copies every parent response"
    assert ids(c_lines) - shared, "the fork has responses of its own"
    # copied lines keep uuid/message ids but carry the fork's sessionId; no forkedFrom
    p_uuids = {r["uuid"] for r in p_lines if "uuid" in r}
    copied = [r for r in c_lines if r.get("uuid") in p_uuids]
    assert copied and all(r["sessionId"] == child for r in copied)
    assert not any("forkedFrom" in r or "session_id" in r for r in c_lines)
    # the fork's own requests are sent with the fork's session id
    assert {r["session_id"] for r in res.truth} == {parent, child}


@pytest.mark.e2e
def test_cache_1h_in_transcript(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("cache_1h")
    views = [_usage_view(rec["message"]["usage"]) for _, rec in _assistant_lines(res)]
    assert any(v["1h"] for v in views) and any(v["5m"] for v in views)
    sub = res.subagent_files(res.session_ids[0])
    assert sub and any(_usage_view(r["message"]["usage"])["1h"] for r in res.lines(sub[0])
                       if r.get("type") == "assistant")


@pytest.mark.e2e
def test_long_context_over_200k(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("long_context_1m")
    views = [_usage_view(rec["message"]["usage"]) for _, rec in _assistant_lines(res)]
    assert all(v["input_tokens"] + v["cache_creation_input_tokens"]
               + v["cache_read_input_tokens"] > 200_000 for v in views)
    assert {rec["message"]["model"] for _, rec in _assistant_lines(res)} == {
        "claude-sonnet-4-5-20250929"}
    # the [1m] variant is only visible on the wire (beta header), not in the transcript
    assert all(r["context_1m"] and r["request_model"] == "claude-sonnet-4-5" for r in res.truth)


@pytest.mark.e2e
@pytest.mark.tmux
def test_interactive_compact_model_clear(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("interactive")
    first, second = res.session_ids
    b = _boundaries(res, first)
    assert len(b) == 1 and b[0]["compactMetadata"]["trigger"] == "manual"
    assert b[0]["parentUuid"] is None and b[0]["logicalParentUuid"]
    lines = res.lines(res.transcript(first))
    assert any(r.get("isCompactSummary") for r in lines)
    models = [r["message"]["model"] for r in lines if r.get("type") == "assistant"]
    assert models[0].startswith("claude-sonnet-4-5") and models[-1].startswith("claude-haiku-4-5")
    texts = [r["message"]["content"] for r in lines
             if r.get("type") == "user" and isinstance(r["message"]["content"], str)]
    assert any("<command-name>/model</command-name>" in t for t in texts)
    second_lines = res.lines(res.transcript(second))
    assert any("<command-name>/clear</command-name>" in str(r.get("message", {}).get("content"))
               for r in second_lines)
    assert not _boundaries(res, second)
    assert [r["kind"] for r in res.truth].count("compact") == 1


@pytest.mark.e2e
def test_auto_compact_boundary(e2e_scenario) -> None:  # type: ignore[no-untyped-def]
    res = e2e_scenario("auto_compact")
    sid = res.session_ids[0]
    b = _boundaries(res, sid)
    assert len(b) == 1 and b[0]["compactMetadata"]["trigger"] == "auto"
    assert b[0]["compactMetadata"]["preTokens"] > 100_000
    # the plan went on after the compaction, with a much smaller context
    steps = [r["step"] for r in res.truth if r["kind"] == "main"]
    assert steps == [0, 1, 2, 3]
    last = [r for r in res.truth if r["kind"] == "main"][-1]["usage"]
    assert last["cache_read_input_tokens"] + last["cache_creation_input_tokens"] < 100_000


# ------------------------------------------------------------------------------------------
# the committed fixtures (tests/fixtures/cc2197) stay consistent with their truth logs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cc2197"


def _fixture_result(name: str) -> ScenarioResult:
    d = FIXTURES / name
    meta = json.loads((d / "scenario.json").read_text())
    truth = [json.loads(x) for x in (d / "truth.jsonl").read_text().splitlines() if x.strip()]
    # a config-dir-shaped tree: the fixture dir itself is the config dir
    res = ScenarioResult(d, Path(meta["project_cwd"]), meta["session_ids"], truth, name,
                         d / "truth.jsonl", meta["info"])
    return res


@pytest.mark.parametrize("name", ALL)
def test_fixture_matches_truth(name: str) -> None:
    if not (FIXTURES / name / "scenario.json").exists():
        pytest.skip(f"no fixture for {name}: run scripts/make_fixtures.py")
    res = _fixture_result(name)
    for sid in res.session_ids:
        assert res.transcript(sid).exists()
    truth = {r["request_id"]: r for r in res.truth}
    lines = _assistant_lines(res)
    seen = set()
    for _, rec in lines:
        rid = rec["requestId"]
        seen.add(rid)
        assert _usage_view(rec["message"]["usage"]) == _usage_view(truth[rid]["usage"])
    assert {r["request_id"] for r in res.truth if r["kind"] in TRANSCRIBED} == seen
