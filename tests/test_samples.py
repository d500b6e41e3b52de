"""The public samples (older Claude Code formats) load, and their numbers match an
independent naive recount and hand-checked values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from spendtui.cli import main
from spendtui.core.loader import load_session
from spendtui.core.paths import AgentFile, SessionFiles, discover
from tests.conftest import SAMPLES, copy_sample, make_project
from tests.refcount import naive_calls, naive_tokens

MAIN_SAMPLES = [
    "tomjnsn_agentlogs_compact.jsonl",
    "tomjnsn_agentlogs_subagent.jsonl",
    "tomjnsn_agentlogs_crud.jsonl",
    "marot_spotter_short.jsonl",
    "marot_spotter_tool_heavy.jsonl",
    "daaain_claude-code-log_dag_compact_after_rewind.jsonl",
    "daaain_claude-code-log_55550000-0000-4000-8000-000000000001.jsonl",
    "ryoppippi_ccusage_chat.jsonl",
]


def _load(name: str):
    p = SAMPLES / name
    return load_session(SessionFiles(p.stem, p.parent, p))


@pytest.mark.parametrize("name", MAIN_SAMPLES)
def test_sample_tokens_match_naive_recount(name: str) -> None:
    model = _load(name)
    ref = naive_calls(SAMPLES / name)
    assert model.counted_calls == len(ref)
    assert dict(model.tokens) == naive_tokens(ref)
    assert model.skipped_lines == 0


def test_split_response_keeps_final_output_tokens() -> None:
    # crud.jsonl writes streaming placeholders (output 1 or 6) on early block lines,
    # then the real count on the last; only the last may count. (One response,
    # ...WWmETv, never got its final count written: 1 is all the file knows.)
    model = _load("tomjnsn_agentlogs_crud.jsonl")
    outs = sorted(c.usage.output_tokens for c in model.calls.values())
    assert outs == [1, 82, 88, 105, 150, 200, 202, 202, 202, 276]  # read off the file by hand
    assert model.tokens["output"] == 1508


def test_one_hour_cache_writes_are_split() -> None:
    # short.jsonl: one response in 5 lines, usage 3 in / 13 out / 13,835 1h writes / 11,515 read
    model = _load("marot_spotter_short.jsonl")
    assert model.counted_calls == 1
    (call,) = model.calls.values()
    u = call.usage
    assert (u.input_tokens, u.output_tokens, u.ephemeral_1h_input_tokens, u.ephemeral_5m_input_tokens,
            u.cache_read_input_tokens) == (3, 13, 13835, 0, 11515)
    assert model.context_current == 3 + 13835 + 11515


def test_inline_sidechain_is_a_subagent_linked_to_task() -> None:
    model = _load("tomjnsn_agentlogs_subagent.jsonl")
    assert model.counted_main_calls == 2
    assert len(model.agents) == 1
    (agent,) = model.agents.values()
    assert agent.inline and agent.api_calls == 1
    assert agent.tool_use_id is not None
    assert model.tools[agent.tool_use_id].name == "Task"
    assert agent.agent_type == model.tools[agent.tool_use_id].subagent_type
    # context is the main chain's, never the sidechain's
    main_last = model.main_calls[-1].usage.prompt_tokens
    assert model.context_current == main_last


def test_compaction_and_turns_from_clear_session() -> None:
    model = _load("tomjnsn_agentlogs_compact.jsonl")
    assert [(c.trigger, c.pre_tokens) for c in model.main_compactions] == [("manual", 15808)]
    # the /clear wrappers, caveat and compact summary never start a turn
    assert len(model.turns) == 1


def test_rewind_and_auto_compaction() -> None:
    model = _load("daaain_claude-code-log_dag_compact_after_rewind.jsonl")
    assert [c.trigger for c in model.main_compactions] == ["auto"]


def test_agent_tool_spawns_parallel_agents() -> None:
    model = _load("daaain_claude-code-log_55550000-0000-4000-8000-000000000001.jsonl")
    spawns = [t for t in model.tools.values() if t.name == "Agent"]
    assert len(spawns) == 2
    assert all(t.spawned_agent for t in spawns)


def test_typeless_ccusage_lines_and_legacy_cost() -> None:
    model = _load("ryoppippi_ccusage_chat.jsonl")
    assert model.counted_calls == 3
    # costUSD is kept for comparison but never used as our cost
    assert model.legacy_cost_usd > 0
    assert any(c.usage.speed == "fast" for c in model.calls.values())


def test_nested_subagent_and_compaction_agent_files(tmp_path: Path) -> None:
    """The two nested-layout agent files load as sub-agents of their parent session."""
    proj = make_project(tmp_path)
    sid = "4d5611e5-241a-462a-8d15-5122611a9569"
    main = proj / f"{sid}.jsonl"
    main.write_text("")
    copy_sample("marot_spotter_agent-acompact-e1f845.jsonl", proj / sid / "subagents" / "agent-acompact-e1f845.jsonl")
    sessions = {s.session_id: s for s in discover([tmp_path])}
    files = sessions[sid]
    assert [a.agent_id for a in files.agents] == ["acompact-e1f845"]
    model = load_session(files)
    agent = model.agents["acompact-e1f845"]
    assert agent.agent_type == "compaction"
    ref = naive_calls(files.agents[0].path)
    assert agent.api_calls == len(ref) == 1
    assert dict(agent.tokens) == naive_tokens(ref)
    assert model.counted_main_calls == 0 and model.counted_calls == 1


def test_subagent_with_meta_json(tmp_path: Path) -> None:
    proj = make_project(tmp_path)
    sid = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
    (proj / f"{sid}.jsonl").write_text("")
    dest = proj / sid / "subagents" / "agent-aac57f5.jsonl"
    copy_sample("marot_spotter_agent-aac57f5.jsonl", dest)
    dest.with_name("agent-aac57f5.meta.json").write_text(
        '{"agentType":"Explore","description":"look around","toolUseId":"toolu_x"}')
    files = next(s for s in discover([tmp_path]) if s.session_id == sid)
    files.agents[0].load_meta()
    assert files.agents == [AgentFile("aac57f5", dest, {"agentType": "Explore", "description": "look around",
                                                          "toolUseId": "toolu_x"})]
    model = load_session(files)
    agent = model.agents["aac57f5"]
    assert agent.agent_type == "Explore"
    assert agent.model == "claude-sonnet-4-5-20250929"
    assert agent.api_calls == len(naive_calls(dest))


# ------------------------------------------------------------------ cost, independently
# Claude API list prices, USD per million tokens, as the official pricing page prints them
# (input, output, 5-minute cache write, 1-hour cache write, cache read). Written out here, not
# read from spendtui's table, so a wrong table entry fails these tests.
LIST_PRICES = {
    "claude-sonnet-4-5-20250929": ("3", "15", "3.75", "6", "0.30"),
    "claude-sonnet-4-20250514": ("3", "15", "3.75", "6", "0.30"),
    "claude-opus-4-6": ("5", "25", "6.25", "10", "0.50"),
    "claude-opus-4-20250514": ("15", "75", "18.75", "30", "1.50"),
    "claude-haiku-4-5-20251001": ("1", "5", "1.25", "2", "0.10"),
}
ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.jsonl"))


def list_price_usd(calls: dict) -> dict[str, Decimal]:
    """Cost by model of naive_calls' calls at LIST_PRICES. None of the samples needs more: no
    prompt is over 200K, web search counts are 0, no `inference_geo: "us"`, and the one
    `speed: "fast"` response is on Opus 4, which has no fast mode (billed at standard rates)."""
    out: dict[str, Decimal] = {}
    for c in calls.values():
        t = naive_tokens({"k": c})
        assert t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"] <= 200_000
        assert not (c["usage"].get("server_tool_use") or {}).get("web_search_requests")
        assert c["usage"].get("inference_geo") != "us"
        i, o, w5, w1, r = (Decimal(x) for x in LIST_PRICES[c["model"]])
        usd = (t["input"] * i + t["output"] * o + t["cache_write_5m"] * w5 + t["cache_write_1h"] * w1
               + t["cache_read"] * r) / 10**6
        out[c["model"]] = out.get(c["model"], Decimal(0)) + usd
    return out


def _summary_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["summary", "--no-cache", "--no-context", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_sample_cost_equals_list_prices(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    by_model = list_price_usd(naive_calls(SAMPLES / name))
    s = _summary_json(capsys, str(SAMPLES / name))
    assert s["unpriced_models"] == [] and s["family_priced_models"] == []
    assert {m: Decimal(str(v)) for m, v in s["cost_by_model"].items()} == by_model
    assert Decimal(str(s["cost_usd"])) == sum(by_model.values())
    assert s["cost_usd"] > 0


def test_list_prices_cover_every_sample_model() -> None:
    """The parametrized test above prices every call it finds; this pins that it finds them all."""
    assert len(ALL_SAMPLES) == 10
    assert {c["model"] for n in ALL_SAMPLES for c in naive_calls(SAMPLES / n).values()} == set(LIST_PRICES)


def test_flat_agent_file_is_loaded_and_priced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The older layout: the sub-agent's transcript is `agent-<id>.jsonl` next to its session's file
    (no subfolder, no .meta.json), tied to the session by the `sessionId` of its lines."""
    proj = make_project(tmp_path)
    sid = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"  # the sessionId the sample's lines carry
    copy_sample("tomjnsn_agentlogs_compact.jsonl", proj / f"{sid}.jsonl")  # a main chain of its own
    flat = copy_sample("marot_spotter_agent-aac57f5.jsonl", proj / "agent-aac57f5.jsonl")
    copy_sample("tomjnsn_agentlogs_crud.jsonl", proj / "other-session.jsonl")  # not this session's
    files = next(s for s in discover([tmp_path]) if s.session_id == sid)
    assert [(a.agent_id, a.path) for a in files.agents] == [("aac57f5", flat)]

    agent_calls = naive_calls(flat)
    main_calls = naive_calls(SAMPLES / "tomjnsn_agentlogs_compact.jsonl")
    assert len(agent_calls) == 3
    agent_usd = sum(list_price_usd(agent_calls).values())
    main_usd = sum(list_price_usd(main_calls).values())
    s = _summary_json(capsys, "--claude-dir", str(tmp_path), sid)
    (agent,) = s["subagents"]
    assert (agent["agent_id"], agent["model"], agent["api_calls"]) == ("aac57f5", "claude-sonnet-4-5-20250929", 3)
    assert Decimal(str(agent["cost_usd"])) == agent_usd
    assert Decimal(str(s["subagent_cost_usd"])) == agent_usd
    assert Decimal(str(s["cost_usd"])) == agent_usd + main_usd
    assert s["api_calls"] == 3 + len(main_calls) and s["main_api_calls"] == len(main_calls)
    want = naive_tokens(agent_calls)
    assert s["tokens"] == {k: want[k] + v for k, v in naive_tokens(main_calls).items()}
    # the other session in the folder did not take the agent, and the flat file is no session
    rows = {r["session_id"] for r in json.loads(_sessions_json(capsys, tmp_path))}
    assert rows == {sid, "other-session"}


def _sessions_json(capsys: pytest.CaptureFixture[str], root: Path) -> str:
    assert main(["sessions", "--no-cache", "--json", "--claude-dir", str(root)]) == 0
    return capsys.readouterr().out
