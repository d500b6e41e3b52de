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

from tests.harness.fake_api import FakeAnthropic, PromptCache, prompt_units, resolve_model

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
