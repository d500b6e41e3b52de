"""The issue's "Done when", on real Claude Code 2.1.197 sessions made with the fake-API harness.

For each case the matching advice must appear with a saving that the arithmetic written out
here confirms (list prices copied by hand, usage read straight from the transcript or the
fake API's ground truth), the lean control session must get no advice at all, and the
breakdown's parts must add up to the measured context within 2 %.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any

import pytest

from tests.context.conftest import RATES, analyze_case, hand_cost, hand_cost_usage

pytestmark = pytest.mark.e2e


def calls_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Main-chain API calls in order: {id, usage, tools, inputs, ts, model} (one per message.id)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("type") != "assistant" or r.get("isSidechain"):
            continue
        m = r["message"]
        c = out.setdefault(m["id"], {"id": m["id"], "usage": m["usage"], "tools": [], "inputs": [],
                                     "ts": r["timestamp"], "model": m["model"]})
        for b in m["content"]:
            if b.get("type") == "tool_use":
                c["tools"].append(b["name"])
                c["inputs"].append(b["input"])
    return list(out.values())


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def prompt(u: dict[str, Any]) -> int:
    return u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]


def advice_of(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in summary["advice"] if a["kind"] == kind]


def check_breakdown(analyzer: Any, summary: dict[str, Any]) -> None:
    b = summary["context"]["breakdown"]
    assert sum(b["parts"].values()) == b["measured_tokens"] == summary["context"]["current"]
    for err in analyzer.estimate_errors():
        assert abs(err) <= 0.02
    for call in analyzer.main_calls:
        bd = analyzer.breakdown_for_call(call)
        assert sum(bd["parts"].values()) == call.usage.prompt_tokens


# ------------------------------------------------------------------------------------------
def test_long_read_only_exploration_on_opus(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["explore"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    assert {c["model"] for c in calls} == {"claude-opus-4-8"}  # claude 2.1.197 maps opus-4-1 here
    run = [c for c in calls if c["tools"]]  # 10 Reads, then `ls | wc` and `grep | head`
    assert len(run) == 12 and all(t in ("Read", "Bash") for c in run for t in c["tools"])
    opus = sum(hand_cost_usage(RATES["opus48"], c["usage"]) for c in run)
    haiku = sum(hand_cost_usage(RATES["haiku"], c["usage"]) for c in run)
    assert haiku == pytest.approx(opus / 5)  # every Haiku 4.5 rate is a fifth of Opus 4.8's
    (adv,) = advice_of(s, "model_routing")
    assert adv["saving_usd"] == pytest.approx(opus - haiku, abs=1e-6)
    assert adv["evidence"]["calls"] == 12
    assert "Haiku" in adv["message"] and "Explore" in adv["message"]
    # followed from when it was first given (after the 5th read-only call): calls 6..12 on Haiku
    after = run[5:]
    expect = sum(hand_cost_usage(RATES["opus48"], c["usage"]) * 4 / 5 for c in after)
    assert s["avoidable"]["by_category"]["model routing"] == pytest.approx(expect, abs=1e-6)


def test_read_edit_read(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["read_edit_read"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    # sizes measured exactly by the API: the prompt growth when each first read came in
    grow = [prompt(calls[i + 1]["usage"]) - prompt(calls[i]["usage"]) for i in range(len(calls) - 1)]
    size_a, size_b = grow[0], grow[1]  # call 2 carries read A, call 3 read B
    assert calls[2]["tools"] == ["Edit"] and calls[3]["tools"] == ["Edit"]
    # both first reads are superseded by the edits; the re-reads are current
    assert s["stale"]["tokens"] == pytest.approx(size_a + size_b, rel=0.01)
    assert {i["why"] for i in s["stale"]["items"]} == {"edited"}
    # the rule, written out: after the edit of B (call 5 sees it) S = A + B tokens of dead weight
    i, o, w5, _, rd = RATES["sonnet"]
    trigger = None
    for k, c in enumerate(calls):
        stale = (size_a if k >= 3 else 0) + (size_b if k >= 4 else 0)
        if stale < 10_000:
            continue
        ctx = prompt(c["usage"])
        one_time = (ctx * rd + 1500 * i + 4000 * o + 4000 * w5) / 1e6  # no memory files here
        per_call = stale * rd / 1e6
        if math.ceil(one_time / per_call) <= 10:
            trigger = (k, stale, one_time, per_call, math.ceil(one_time / per_call))
            break
    assert trigger is not None
    k, stale, one_time, per_call, breakeven = trigger
    realised = sum(stale * rd / 1e6 for c in calls[k + 1:])  # every later call read the stale part
    n_after = len(calls) - k - 1
    expect = realised + per_call * max(0, 10 - n_after) - one_time
    (adv,) = advice_of(s, "context_pruning")
    assert adv["saving_usd"] == pytest.approx(expect, rel=0.03)
    assert adv["evidence"]["breakeven_calls"] == breakeven
    assert f"after {breakeven} calls" in adv["message"]


def test_idle_gap_over_five_minutes(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["idle_gap"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    before, after = calls[1], calls[2]  # last call of run 1, first call of run 2 (10 min later)
    gap = (datetime.fromisoformat(after["ts"].replace("Z", "+00:00"))
           - datetime.fromisoformat(before["ts"].replace("Z", "+00:00"))).total_seconds()
    assert gap > 300
    expected_read = before["usage"]["cache_read_input_tokens"] + before["usage"]["cache_creation_input_tokens"]
    missed = expected_read - after["usage"]["cache_read_input_tokens"]
    _i, _o, w5, _, rd = RATES["opus48"]
    extra = missed * (w5 - rd) / 1e6  # those tokens were written (5m) instead of read
    (miss,) = s["cache"]["misses"]
    assert miss["reason"] == "ttl_expired" and miss["api_reason"] is None
    assert miss["tokens_rewritten"] == missed
    assert miss["extra_cost_usd"] == pytest.approx(extra, abs=1e-9)
    (adv,) = [x for x in s["advice"] if x["key"] == "cache:ttl_expired"]
    assert adv["saving_usd"] == pytest.approx(extra, abs=1e-6)
    assert s["avoidable"]["by_category"]["cache misses"] == pytest.approx(extra, abs=1e-6)
    # live, two minutes into the pause: the countdown, with the two prices written out
    last = calls[-1]["usage"]
    last_ts = datetime.fromisoformat(calls[-1]["ts"].replace("Z", "+00:00")).timestamp()
    cached = last["cache_read_input_tokens"] + last["cache_creation_input_tokens"]
    grown = last["input_tokens"] + last["output_tokens"]
    warm = (cached * rd + grown * w5) / 1e6
    cold = (cached + grown) * w5 / 1e6
    live = [x for x in a.advice(now=last_ts + 120) if x.key == "cache:ttl_warning"]
    assert live and live[0].message.startswith("Reply within 3:00")
    assert live[0].evidence["warm_usd"] == pytest.approx(warm, abs=1e-6)
    assert live[0].evidence["cold_usd"] == pytest.approx(cold, abs=1e-6)
    assert not [x for x in a.advice(now=last_ts + 400) if x.key == "cache:ttl_warning"]  # already gone


def test_claude_md_edited_mid_session(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["claude_md_edit"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    _i, _o, w5, _, rd = RATES["sonnet"]
    extras = []
    for prev, cur in itertools.pairwise(calls):
        expected = prev["usage"]["cache_read_input_tokens"] + prev["usage"]["cache_creation_input_tokens"]
        missed = expected - cur["usage"]["cache_read_input_tokens"]
        if missed > 1024:
            extras.append((missed, missed * (w5 - rd) / 1e6))
    assert len(extras) == 2  # one per edit of CLAUDE.md
    misses = s["cache"]["misses"]
    assert [m["reason"] for m in misses] == ["system_or_memory_changed"] * 2
    assert [m["tokens_rewritten"] for m in misses] == [m for m, _ in extras]
    assert all(str(case.project / "CLAUDE.md") in m["evidence"]["files"] for m in misses)
    (adv,) = [x for x in s["advice"] if x["key"] == "cache:system_or_memory_changed"]
    assert adv["saving_usd"] == pytest.approx(sum(e for _, e in extras), abs=1e-6)
    assert "CLAUDE.md" in adv["message"]
    # the first change is how the advice is learnt; following it avoids the second
    assert s["avoidable"]["by_category"]["cache misses"] == pytest.approx(extras[1][1], abs=1e-6)
    # the memory part: CLAUDE.md (~2.5K tokens of rules) + its @import docs/style.md (~1K)
    mem = s["context"]["breakdown"]["parts"]["memory"]
    assert mem == pytest.approx(2500 + 1000 + 60, rel=0.05)
    assert {m["path"] for m in s["context"]["breakdown"]["memory_files"]} == {
        str(case.project / "CLAUDE.md"), str(case.project / "docs" / "style.md")}
    assert not advice_of(s, "lean_memory")  # 3.6K tokens is under the 5K line


def test_fan_out_of_six_sub_agents(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["fanout"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    agents = case.agent_records()
    assert len(agents) == 6
    firsts = []
    for recs in agents.values():
        first = next(r for r in recs if r.get("type") == "assistant")
        firsts.append(hand_cost_usage(RATES["sonnet"], first["message"]["usage"]))
    firsts.sort()
    expect = firsts[0] + firsts[1]  # six in parallel, four would do: two start-ups too many
    (adv,) = advice_of(s, "subagents")
    assert adv["evidence"]["parallel_agents"] == 6
    assert adv["saving_usd"] == pytest.approx(expect, abs=1e-6)
    assert s["avoidable"]["by_category"]["sub-agents"] == pytest.approx(expect, abs=1e-6)
    share = s["subagent_cost_usd"] / s["cost_usd"]
    assert adv["evidence"]["subagent_share"] == pytest.approx(share, abs=1e-3)


def test_context_past_150k(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["big_context"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    k = next(n for n, c in enumerate(calls) if prompt(c["usage"]) >= 150_000)
    ctx = prompt(calls[k]["usage"])
    # the system + tools prefix of this project, measured independently: every call after
    # the first reads it back, and the first call's first cache write ends right after it
    first = calls[0]["usage"]
    baseline = a.baseline()
    assert baseline == pytest.approx(prompt(first) - 1750, rel=0.01)  # first message ~1.7K tokens
    removable = ctx - (baseline + 0 + 4000)  # no memory files; a 4K-token summary stays
    i, o, w5, _, rd = RATES["sonnet"]
    one_time = (ctx * rd + 1500 * i + 4000 * o + 4000 * w5) / 1e6
    per_call = removable * rd / 1e6
    realised = sum(removable * rd / 1e6 for _ in calls[k + 1:])
    expect = realised + per_call * max(0, 10 - len(calls[k + 1:])) - one_time
    (adv,) = advice_of(s, "context_pruning")
    assert adv["evidence"]["episodes"][0]["mode"] == "large"
    assert adv["evidence"]["episodes"][0]["context_tokens"] == ctx
    assert adv["saving_usd"] == pytest.approx(expect, rel=0.02)
    assert adv["evidence"]["breakeven_calls"] == math.ceil(one_time / per_call)


def test_thirty_files_same_treatment(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["batch"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    calls = calls_of(case.records())
    work = [c for c in calls if c["tools"] and all("/pages/page" in x.get("file_path", "") for x in c["inputs"])]
    assert len(work) == 60
    cost = sum(hand_cost_usage(RATES["sonnet"], c["usage"]) for c in work)
    (adv,) = advice_of(s, "batch")
    assert adv["evidence"]["files"] == 30 and adv["evidence"]["pattern"] == ["Read", "Edit"]
    assert adv["saving_usd"] == pytest.approx(cost / 2, abs=1e-6)
    # followed from the 10th file on: the calls after that one's Edit cost half
    first_seen = _dt(adv["first_seen"])
    later = [c for c in work if _dt(c["ts"]) > first_seen]
    assert len(later) == 40
    assert s["avoidable"]["by_category"]["batch"] == pytest.approx(
        sum(hand_cost_usage(RATES["sonnet"], c["usage"]) for c in later) / 2, abs=1e-6)
    assert not advice_of(s, "model_routing")  # an edit-heavy turn: never a cheaper model


def test_lean_control_session_gets_no_advice(harness_cases: Any, prices: Any) -> None:
    case = harness_cases["lean"]
    _, a, s = analyze_case(case, prices)
    check_breakdown(a, s)
    assert s["advice"] == []
    assert s["avoidable_usd"] == 0
    assert s["avoidable"]["headline"].endswith("nothing clearly avoidable")
    assert s["cache"]["misses"] == []
    assert a.advice(now=None) == []
    # the control has a small CLAUDE.md: it is counted, and costs next to nothing
    assert 0 < s["context"]["breakdown"]["parts"]["memory"] < 200


def test_hand_cost_helper() -> None:
    assert hand_cost(RATES["sonnet"], inp=1_000_000) == 3.0
    assert hand_cost(RATES["haiku"], read=1_000_000, out=1_000_000) == pytest.approx(5.1)
