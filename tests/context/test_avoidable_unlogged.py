"""Avoidable spend (no saving counted twice, the headline) and the calls Claude Code never logs."""

from __future__ import annotations

from typing import Any

import pytest

from spendtui.core.context.avoidable import Avoidable
from spendtui.core.context.unlogged import COMPACT_PROMPT_TOKENS
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import RATES, feed, hand_cost

OPUS = "claude-opus-4-5-20251101"


def test_headline_format() -> None:
    p = 10**12
    av = Avoidable(int(4.12 * p), {"pruning": int(1.20 * p), "routing": int(0.71 * p), "cache": int(0.40 * p),
                                   "memory": 0, "subagents": 0, "batch": 0})
    assert av.headline() == ("$4.12 spent; about $2.31 of it avoidable (56 %): "
                             "1.20 stale context, 0.71 model routing, 0.40 cache misses")
    assert Avoidable(p, dict.fromkeys(("cache", "batch"), 0)).headline() == "$1.00 spent; nothing clearly avoidable"


def test_one_call_two_savings_counted_once() -> None:
    """A read-only Opus call that also missed the cache: warm first, then on Haiku."""
    chat = Chat(model=OPUS)
    chat.prompt("explore")
    prev = 0
    for i in range(6):
        w5 = 10_000 if i == 0 else 500
        chat.call([read(f"r{i}", f"/p/f{i}")], w5=w5, read=prev, out=50)
        read_result(chat, f"r{i}", f"/p/f{i}", "c\n" * 250)
        prev += w5
    chat.tick(400)  # the cache expires before the 7th read-only call
    chat.call([read("r6", "/p/f6")], w5=prev + 500, read=0, out=50)
    read_result(chat, "r6", "/p/f6", "c\n" * 250)
    chat.call(w5=200, read=prev + 500, out=50)
    model, a = feed(chat.records)
    s = a.summary_fields()
    (miss,) = s["cache"]["misses"]
    assert miss["reason"] == "ttl_expired" and miss["tokens_rewritten"] == prev
    by = s["avoidable"]["by_category"]
    # 7th call as it was, warm on Opus, warm on Haiku (written out)
    actual = hand_cost(RATES["opus48"], 3, 50, prev + 500, 0, 0)
    warm = hand_cost(RATES["opus48"], 3, 50, 500, 0, prev)
    warm_haiku = hand_cost(RATES["haiku"], 3, 50, 500, 0, prev)
    assert by["cache misses"] == pytest.approx(actual - warm, abs=1e-9)
    # routing from the 5th call on: call 6 (as it was) and call 7 (already warm) on Haiku
    c6 = hand_cost(RATES["opus48"], 3, 50, 500, 0, prev - 500)
    assert by["model routing"] == pytest.approx(c6 * 4 / 5 + (warm - warm_haiku), abs=1e-9)
    assert s["avoidable_usd"] == pytest.approx(sum(by.values()), abs=1e-9)
    assert s["avoidable"]["spent_usd"] == pytest.approx(model.cost_pico / 1e12, abs=1e-9)


# ------------------------------------------------------------------ unlogged calls
def compacted(agent_file: bool = False, entrypoint: str = "sdk-cli") -> tuple[Chat, dict[str, list], str]:
    chat = Chat(entrypoint=entrypoint)
    chat.prompt("work")
    chat.call(w5=30_000, out=200)
    chat.call(w5=1_000, read=30_000, out=400)
    body = "1. The user asked for X.\n2. We did Y.\n" * 20
    chat.compact(pre=31_400, summary="This session is being continued from a previous conversation that ran "
                 "out of context. The summary below covers the earlier portion.\n\n" + body +
                 "\n\nPlease continue the conversation from where we left it off.")
    chat.prompt("go on")
    chat.call(w5=2_000, read=25_000)
    agents: dict[str, list] = {}
    if agent_file:
        sub = Chat(start=chat.now)
        sub.prompt("Your task is to create a detailed summary of the conversation so far")
        sub.call(inp=1500, w5=0, read=31_000, out=800, agent_id="acompact-1", sidechain=True)
        agents["acompact-1"] = sub.records
    return chat, agents, body


def test_compaction_call_estimated_when_not_logged() -> None:
    chat, agents, body = compacted()
    _, a = feed(chat.records, agents=agents)
    s = a.summary_fields()
    (u,) = s["unlogged_calls"]
    assert u["kind"] == "compaction"
    out = round(a.ratio * ((len(body.encode()) + 3) // 4))  # the summary body, calibrated
    assert u["tokens"] == {"input": COMPACT_PROMPT_TOKENS + 3 + 400, "cache_read": 31_000, "output": out}
    expect = hand_cost(RATES["sonnet"], COMPACT_PROMPT_TOKENS + 403, out, 0, 0, 31_000)
    assert u["estimated_usd"] == pytest.approx(expect, abs=1e-9)
    assert s["unlogged_calls_estimate_usd"] == pytest.approx(expect, abs=1e-9)


def test_logged_compaction_is_not_estimated() -> None:
    chat, agents, _ = compacted(agent_file=True)
    _, a = feed(chat.records, agents=agents)
    assert a.summary_fields()["unlogged_calls"] == []


def test_title_and_model_probe_in_interactive_sessions() -> None:
    chat = Chat(entrypoint="cli")
    chat.prompt("a prompt of some length " * 4)
    chat.call(w5=20_000)
    chat.prompt("<local-command-stdout>Set model to \x1b[1mHaiku 4.5\x1b[22m</local-command-stdout>")
    chat.prompt("next")
    chat.call(w5=20_100, model="claude-haiku-4-5-20251001")
    _, a = feed(chat.records)
    kinds = {u["kind"]: u for u in a.summary_fields()["unlogged_calls"]}
    assert set(kinds) == {"title", "model_probe"}
    prompt_tokens = round(a.ratio * a.first_prompt_est)
    assert kinds["title"]["tokens"]["input"] == 380 + prompt_tokens and kinds["title"]["tokens"]["output"] == 16
    assert kinds["model_probe"]["model"] == "claude-haiku-4-5-20251001"
    assert kinds["model_probe"]["estimated_usd"] == pytest.approx(hand_cost(RATES["haiku"], 39, 1), abs=1e-12)
    # `-p` sessions do not generate titles
    chat2 = Chat(entrypoint="sdk-cli")
    chat2.prompt("x")
    chat2.call(w5=20_000)
    assert feed(chat2.records)[1].summary_fields()["unlogged_calls"] == []


@pytest.mark.e2e
def test_compaction_estimate_against_the_fake_apis_ground_truth(tmp_path: Any, prices: Any) -> None:
    """Real claude 2.1.197 auto-compacts and logs no summarising call; the fake API saw it."""
    from tests.e2e.scenarios import run_scenario
    from tests.harness.tools import require_clients

    require_clients("claude")
    res = run_scenario("auto_compact", tmp_path)
    (truth,) = [r for r in res.truth if r["kind"] == "compact"]
    from spendtui.core.context import ContextAnalyzer
    from spendtui.core.loader import load_session
    from spendtui.core.model import SessionModel
    from spendtui.core.paths import scan_project

    sid = res.session_ids[0]
    model = SessionModel(sid)
    a = ContextAnalyzer(model, prices, read_memory=False)
    load_session(scan_project(res.project_dir)[sid], prices.cost, model=model)
    (est,) = a.summary_fields()["unlogged_calls"]
    tu = truth["usage"]
    assert est["tokens"]["cache_read"] == tu["cache_read_input_tokens"]
    assert est["tokens"]["input"] == pytest.approx(tu["input_tokens"], rel=0.05)
    assert est["estimated_usd"] == pytest.approx(hand_cost(RATES["sonnet"], tu["input_tokens"], tu["output_tokens"],
                                                           0, 0, tu["cache_read_input_tokens"]), rel=0.05)
