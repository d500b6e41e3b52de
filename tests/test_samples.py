"""The public samples (older Claude Code formats) load, and their numbers match an
independent naive recount and hand-checked values."""

from __future__ import annotations

from pathlib import Path

import pytest

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
