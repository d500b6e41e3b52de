"""The CLI end to end on real files: JSON keys, hand-computed costs, errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from spendtui.cli import main
from tests.conftest import copy_sample
from tests.records import assistant, usage, user, write_jsonl

M = Decimal(10**6)

SUMMARY_KEYS = {
    "session_id", "project", "transcript", "started", "ended", "api_calls", "main_api_calls", "tokens",
    "cost_usd", "cost_by_model", "subagents", "subagent_cost_usd", "context", "compactions",
    "unpriced_models", "skipped_lines",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def claude_dir(tmp_path: Path) -> Path:
    proj = tmp_path / "claude" / "projects" / "-tmp-proj"
    copy_sample("tomjnsn_agentlogs_subagent.jsonl", proj / "sub-session.jsonl")
    copy_sample("marot_spotter_short.jsonl", proj / "short-session.jsonl")
    return tmp_path / "claude"


def test_summary_json_keys_and_hand_computed_cost(claude_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--claude-dir", str(claude_dir), "summary", "sub-sess", "--json")
    assert code == 0
    s = json.loads(out)
    assert set(s) >= SUMMARY_KEYS
    assert set(s["tokens"]) == {"input", "output", "cache_write_5m", "cache_write_1h", "cache_read"}
    assert set(s["context"]) == {"current", "peak", "window", "breakdown"}
    # Sonnet 4.5 list prices per MTok: input 3, output 15, 5m write 3.75, read 0.30
    main1 = 10 * 3 + 8 * 15 + 10348 * Decimal("3.75") + 5302 * Decimal("0.30")
    main2 = 10 * 3 + 151 * 15 + 369 * Decimal("3.75") + 15650 * Decimal("0.30")
    sub = 4 * 3 + 117 * 15 + 12405 * Decimal("3.75")
    assert Decimal(str(s["cost_usd"])) == (main1 + main2 + sub) / M
    assert Decimal(str(s["subagent_cost_usd"])) == sub / M
    assert s["api_calls"] == 3 and s["main_api_calls"] == 2
    (agent,) = s["subagents"]
    assert set(agent) >= {"agent_id", "agent_type", "model", "api_calls", "cost_usd"}
    assert (agent["model"], agent["api_calls"]) == ("claude-sonnet-4-5-20250929", 1)
    assert s["cost_by_model"] == {"claude-sonnet-4-5-20250929": s["cost_usd"]}
    ctx = {k: v for k, v in s["context"].items() if k != "breakdown"}
    assert ctx == {"current": 10 + 369 + 15650, "peak": max(10 + 369 + 15650, 10 + 10348 + 5302), "window": 200_000}
    assert s["context"]["breakdown"]["measured_tokens"] == s["context"]["current"]
    assert sum(s["context"]["breakdown"]["parts"].values()) == s["context"]["current"]
    assert s["unpriced_models"] == [] and s["skipped_lines"] == 0
    assert s["project"] == "/Users/philipp/dev/studio"


def test_summary_one_hour_writes_priced_at_twice_input(claude_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(claude_dir), "short-session", "--json")
    s = json.loads(out)
    # Opus 4.6: input 5, output 25, 1h write 10 (2x input), read 0.50
    expected = (3 * 5 + 13 * 25 + 13835 * 10 + 11515 * Decimal("0.5")) / M
    assert Decimal(str(s["cost_usd"])) == expected
    assert s["tokens"]["cache_write_1h"] == 13835 and s["tokens"]["cache_write_5m"] == 0


def test_sessions_json(claude_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "sessions", "--json", "--claude-dir", str(claude_dir))
    assert code == 0
    rows = {r["session_id"]: r for r in json.loads(out)}
    assert set(rows) == {"sub-session", "short-session"}
    assert rows["sub-session"]["api_calls"] == 3
    assert {"project", "started", "last_activity", "cost_usd", "active"} <= set(rows["sub-session"])
    code, out, _ = _run(capsys, "sessions", "--json", "--claude-dir", str(claude_dir),
                        "--project", "/home/marco/projects/spotter")
    assert [r["session_id"] for r in json.loads(out)] == ["short-session"]


def test_unknown_model_is_listed_never_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "projects" / "-p"
    write_jsonl(proj / "s.jsonl", [
        user("a"),
        assistant("msg_1", "req_1", usage(inp=1000, out=1000), model="gpt-9-turbo"),
        assistant("msg_2", "req_2", usage(inp=1000, out=0), model="claude-haiku-4-5-20251001"),
    ])
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(tmp_path), "s", "--json")
    s = json.loads(out)
    assert s["unpriced_models"] == ["gpt-9-turbo"]
    assert s["cost_complete"] is False
    assert Decimal(str(s["cost_usd"])) == Decimal(1000) / M  # haiku 4.5: $1/MTok input; the unknown adds nothing
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(tmp_path), "s")
    assert "unknown" in out and "gpt-9-turbo" in out


def test_corrupt_lines_are_reported_by_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "projects" / "-p"
    write_jsonl(proj / "s.jsonl", [user("a"), "{broken", assistant("msg_1", "req_1", usage(out=5))])
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(tmp_path), "s", "--json")
    s = json.loads(out)
    assert s["skipped_lines"] == 1 and s["api_calls"] == 1
    assert s["skipped"] == [{"file": str(proj / "s.jsonl"), "line": 2, "reason": "invalid JSON"}]
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(tmp_path), "s")
    assert "s.jsonl:2 invalid JSON" in out


def test_no_data_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "summary", "--claude-dir", str(tmp_path / "missing"))
    assert code == 3 and str(tmp_path / "missing") in err and "CLAUDE_CONFIG_DIR" in err


def test_ambiguous_prefix_is_a_usage_error(claude_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = claude_dir / "projects" / "-tmp-proj"
    copy_sample("marot_spotter_short.jsonl", proj / "short-other.jsonl")
    code, _, err = _run(capsys, "summary", "--claude-dir", str(claude_dir), "short")
    assert code == 2 and "ambiguous" in err


def test_human_summary_reads_well(claude_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "summary", "--claude-dir", str(claude_dir), "sub-session")
    assert code == 0
    for text in ("Cost by model", "Tokens by kind", "Sub-agents", "claude-sonnet-4-5-20250929", "$0.0972"):
        assert text in out


def test_pricing_json_and_update_from_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "pricing", "--json")
    assert code == 0
    table = json.loads(out)
    sonnet = next(m for m in table["models"] if m["key"] == "claude-sonnet-4-5")
    assert (sonnet["input"], sonnet["output"], sonnet["cache_read"]) == ("3", "15", "0.3")
    litellm = tmp_path / "prices.json"
    litellm.write_text(json.dumps({"claude-zeta-1": {
        "litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 2e-06,
        "output_cost_per_token": 8e-06, "max_input_tokens": 300000}}))
    code, out, _ = _run(capsys, "pricing", "--update", "--from", str(litellm))
    assert code == 0 and "Imported" in out
    proj = tmp_path / "claude" / "projects" / "-p"
    write_jsonl(proj / "z.jsonl", [user("a"), assistant("msg_1", "req_1", usage(inp=1000, out=500),
                                                         model="claude-zeta-1")])
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(tmp_path / "claude"), "z", "--json")
    s = json.loads(out)
    assert s["unpriced_models"] == []
    assert Decimal(str(s["cost_usd"])) == (1000 * 2 + 500 * 8) / M
    code, _, err = _run(capsys, "pricing", "--update", "--from", str(tmp_path / "nope.json"))
    assert code == 1 and "price update failed" in err


def test_context_analysis_is_skipped_above_the_size_limit(claude_dir: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from spendtui.core import summary as summary_mod

    monkeypatch.setattr(summary_mod, "ANALYSE_MAX_BYTES", 1000)
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(claude_dir), "sub-session", "--json")
    s = json.loads(out)
    assert s["context_analysis"].startswith("skipped: session of 0 MB is over 0 MB")
    assert "advice" not in s and s["api_calls"] == 3
    _, out, _ = _run(capsys, "summary", "--claude-dir", str(claude_dir), "sub-session", "--json", "--context")
    assert "advice" in json.loads(out)
