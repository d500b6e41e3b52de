"""The seven rules on hand-built sessions, with their savings written out."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest

from spendtui.core.context.composition import MemoryFile
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import RATES, feed, hand_cost
from tests.records import tool_use

OPUS = "claude-opus-4-5-20251101"  # same list prices as Opus 4.8: $5 / $25 / $6.25 / $10 / $0.50


def edit(tid: str, path: str) -> dict[str, Any]:
    return tool_use(tid, "Edit", file_path=path, old_string="a", new_string="b")


def exploration(n: int, model: str = OPUS, edits: int = 0) -> tuple[Chat, list[tuple[int, int, int]]]:
    """n calls that each Read one file (then ``edits`` Edit calls), then a final answer; returns
    the chat and each call's (uncached input, 5m write, read) as stated."""
    chat = Chat(model=model)
    chat.prompt("where is the bug?")
    usage = []
    prev = 0
    for i in range(n + edits):
        w5 = 10_000 if i == 0 else 600
        read_tok = prev
        if i < n:
            chat.call([read(f"r{i}", f"/p/m{i}.py")], w5=w5, read=read_tok, out=40)
            read_result(chat, f"r{i}", f"/p/m{i}.py", "code\n" * 400)
        else:
            chat.call([edit(f"e{i}", f"/p/m{i - n}.py")], w5=w5, read=read_tok, out=40)
            chat.result(f"e{i}", "updated")
        usage.append((3, w5, read_tok))
        prev = read_tok + w5
    chat.call([{"type": "text", "text": "Found it."}], w5=300, read=prev, out=40)
    return chat, usage


def only(advice: list[Any], kind: str) -> Any:
    found = [a for a in advice if a.kind == kind]
    assert len(found) == 1, [a.key for a in advice]
    return found[0]


# ------------------------------------------------------------------ model routing
def test_routing_read_only_run_on_opus() -> None:
    chat, usage = exploration(6)
    _, a = feed(chat.records)
    adv = only(a.advice(), "model_routing")
    opus = sum(hand_cost(RATES["opus48"], inp, 40, w5, 0, rd) for inp, w5, rd in usage)
    haiku = sum(hand_cost(RATES["haiku"], inp, 40, w5, 0, rd) for inp, w5, rd in usage)
    assert adv.saving_usd == pytest.approx(opus - haiku, abs=1e-9)
    assert adv.evidence["calls"] == 6 and adv.evidence["tools"] == {"Read": 6}
    assert adv.first_seen == a.main_calls[4].timestamp  # given once the 5th read-only call was done
    # replay: only the 6th call comes after the advice
    inp, w5, rd = usage[5]
    expect = hand_cost(RATES["opus48"], inp, 40, w5, 0, rd) - hand_cost(RATES["haiku"], inp, 40, w5, 0, rd)
    assert a.summary_fields()["avoidable"]["by_category"]["model routing"] == pytest.approx(expect, abs=1e-9)


def test_routing_read_only_run_on_sonnet() -> None:
    """Sonnet is routed too ($3 / $15 / $3.75 / $0.30 against Haiku's $1 / $5 / $1.25 / $0.10):
    the same run, the saving written out at Sonnet's prices, and its message names the model."""
    sonnet = "claude-sonnet-4-5-20250929"
    chat, usage = exploration(7, model=sonnet)
    _, a = feed(chat.records)
    adv = only(a.advice(), "model_routing")
    cost = sum(hand_cost(RATES["sonnet"], inp, 40, w5, 0, rd) for inp, w5, rd in usage)
    haiku = sum(hand_cost(RATES["haiku"], inp, 40, w5, 0, rd) for inp, w5, rd in usage)
    assert adv.saving_usd == pytest.approx(cost - haiku, abs=1e-9)
    assert adv.evidence["calls"] == 7 and adv.evidence["models"] == [sonnet]
    assert sonnet in adv.message
    assert adv.first_seen == a.main_calls[4].timestamp
    # replay: the 6th and 7th calls come after the advice was first given
    after = usage[5:]
    expect = sum(hand_cost(RATES["sonnet"], i, 40, w, 0, r) - hand_cost(RATES["haiku"], i, 40, w, 0, r)
                 for i, w, r in after)
    assert a.summary_fields()["avoidable"]["by_category"]["model routing"] == pytest.approx(expect, abs=1e-9)


def test_routing_needs_five_calls_and_a_big_model() -> None:
    chat, _ = exploration(4)
    assert not [x for x in feed(chat.records)[1].advice() if x.kind == "model_routing"]
    chat, _ = exploration(8, model="claude-haiku-4-5-20251001")
    assert not [x for x in feed(chat.records)[1].advice() if x.kind == "model_routing"]


def test_routing_never_for_edit_heavy_turns() -> None:
    chat, _ = exploration(5, edits=2)  # 2 of 7 tool calls edit: 29 % >= 25 %
    _, a = feed(chat.records)
    assert not [x for x in a.advice() if x.kind == "model_routing"]
    assert a.summary_fields()["avoidable"]["by_category"]["model routing"] == 0


def test_read_only_bash_counts_and_writing_bash_breaks_the_run() -> None:
    chat = Chat(model=OPUS)
    chat.prompt("look around")
    prev = 0
    cmds = ["ls -la", "git log --oneline | head", "grep -rn foo src", "cat a.txt | wc -l", "find . -name '*.py'",
            "rm -rf build", "ls"]
    for i, cmd in enumerate(cmds):
        w5 = 10_000 if i == 0 else 500
        chat.call([tool_use(f"b{i}", "Bash", command=cmd, description="x")], w5=w5, read=prev)
        chat.result(f"b{i}", "out " * 100)
        prev += w5
    chat.call(w5=100, read=prev)
    _, a = feed(chat.records)
    adv = only(a.advice(), "model_routing")
    assert adv.evidence["calls"] == 5  # the five before `rm -rf build`


# ------------------------------------------------------------------ context pruning
def stale_session(big: int, tail: int) -> Chat:
    """Read a file of ~``big`` tokens, edit it (the read goes stale), then ``tail`` short calls."""
    chat = Chat()
    chat.prompt("fix the big file")
    chat.call([read("r1", "/p/big.txt")], w5=20_000)
    read_result(chat, "r1", "/p/big.txt", "z" * (4 * big))
    chat.call([edit("e1", "/p/big.txt")], w5=big + 50, read=20_000)
    chat.result("e1", "updated")
    prev = 20_000 + big + 50
    for i in range(tail):
        chat.call([tool_use(f"t{i}", "Bash", command="echo hi", description="x")], w5=60, read=prev)
        chat.result(f"t{i}", "hi")
        prev += 60
    return chat


def test_pruning_when_a_compaction_pays_off() -> None:
    chat = stale_session(60_000, tail=12)
    _, a = feed(chat.records)
    adv = only(a.advice(), "context_pruning")
    ep = adv.evidence["episodes"][0]
    s_tok = ep["tokens_removable"]
    assert s_tok == pytest.approx(60_000, rel=0.02)  # the stale read, calibrated on exact growth
    i, o, w5, _w1, rd = RATES["sonnet"]
    ctx = ep["context_tokens"]
    one_time = (ctx * rd + 1500 * i + 4000 * o + 4000 * w5) / 1e6
    per_call = s_tok * rd / 1e6
    assert ep["compaction_cost_usd"] == pytest.approx(one_time, abs=1e-6)
    assert ep["saving_per_call_usd"] == pytest.approx(per_call, abs=1e-6)
    assert ep["breakeven_calls"] == math.ceil(one_time / per_call)
    # the trigger is the first call that carries the stale read (right after the edit); the 11
    # calls after it each read the stale part from the cache
    assert adv.saving_usd == pytest.approx(11 * per_call - one_time, rel=1e-3)
    assert a.summary_fields()["avoidable"]["by_category"]["stale context"] == pytest.approx(
        11 * per_call - one_time, rel=1e-3)
    assert f"pays for itself after {ep['breakeven_calls']} calls" in adv.message


def test_no_pruning_when_it_would_not_pay_within_ten_calls() -> None:
    _, a = feed(stale_session(12_000, tail=12).records)
    assert not [x for x in a.advice() if x.kind == "context_pruning"]


# ------------------------------------------------------------------ lean memory
def test_lean_memory_over_five_thousand_tokens() -> None:
    md = MemoryFile("/p/CLAUDE.md", "Always do the thing.\n" * 1700, "project")  # ~9K tokens
    chat = Chat()
    chat.prompt("hi")
    chat.call(w5=40_000)
    chat.call(w5=100, read=40_000)
    chat.call(w5=100, read=40_100)
    _, a = feed(chat.records, memory=[md])
    adv = only(a.advice(), "lean_memory")
    m = adv.evidence["tokens"]
    assert m > 5000
    b = a.baseline()
    assert 40_000 - b >= m  # memory sits inside what calls 2 and 3 read back
    _i, _o, w5, _w1, rd = RATES["sonnet"]
    cost = (m * w5 + m * rd + m * rd) / 1e6  # written on call 1, read on calls 2 and 3
    assert adv.evidence["cost_usd"] == pytest.approx(cost, rel=1e-3)
    assert adv.evidence["cost_per_1k_usd"] == pytest.approx(cost * 1000 / m, rel=1e-3)
    assert adv.saving_usd == pytest.approx(cost * (m - 5000) / m, rel=1e-3)
    assert adv.evidence["files"] == [{"path": "/p/CLAUDE.md", "tokens": pytest.approx(m, abs=2)}]


def test_small_memory_is_fine() -> None:
    md = MemoryFile("/p/CLAUDE.md", "Be brief.\n" * 50, "project")
    chat = Chat()
    chat.prompt("hi")
    chat.call(w5=20_000)
    _, a = feed(chat.records, memory=[md])
    assert a.advice() == []


# ------------------------------------------------------------------ sub-agents
def fan_out(n: int, model: str = "claude-sonnet-4-5-20250929") -> tuple[Chat, dict[str, list], list[float]]:
    chat = Chat()
    chat.prompt("split the work")
    chat.call([tool_use(f"ag{i}", "Agent", description=f"part {i}", prompt="do it", subagent_type="general-purpose")
               for i in range(n)], w5=20_000)
    agents: dict[str, list] = {}
    firsts = []
    for i in range(n):
        chat.result(f"ag{i}", "done", toolUseResult={"agentId": f"a{i}", "status": "completed"})
        sub = Chat(model=model, start=chat.now)
        sub.prompt(f"part {i}")
        w5 = 14_000 + 100 * i
        sub.call(w5=w5, out=20, agent_id=f"a{i}", sidechain=True)
        sub.call(w5=50, read=w5, out=20, agent_id=f"a{i}", sidechain=True)
        agents[f"a{i}"] = sub.records
        firsts.append(hand_cost(RATES["sonnet"], 3, 20, w5, 0, 0))
    chat.call(w5=500, read=20_000)
    return chat, agents, firsts


def test_fan_out_of_more_than_four() -> None:
    chat, agents, firsts = fan_out(6)
    model, a = feed(chat.records, agents=agents)
    adv = only(a.advice(), "subagents")
    assert adv.evidence["parallel_agents"] == 6
    assert adv.saving_usd == pytest.approx(firsts[0] + firsts[1], abs=1e-9)  # the two cheapest start-ups
    assert adv.evidence["subagent_share"] == pytest.approx(model.subagent_cost_pico / model.cost_pico, abs=1e-4)
    chat, agents, _ = fan_out(4)
    assert not [x for x in feed(chat.records, agents=agents)[1].advice() if x.kind == "subagents"]


def test_opus_sub_agent_that_only_explores() -> None:
    chat = Chat()
    chat.prompt("investigate")
    chat.call([tool_use("ag", "Agent", description="explore", prompt="find it", subagent_type="general-purpose",
                        model="opus")], w5=20_000)
    chat.result("ag", "found", toolUseResult={"agentId": "x1", "status": "completed"})
    chat.call(w5=100, read=20_000)
    sub = Chat(model=OPUS, start=chat.now)
    sub.prompt("find it")
    rows = [(15_000, 0), (900, 15_000), (900, 15_900), (300, 16_800)]
    for k, (w5, rd) in enumerate(rows):
        content = [read(f"x{k}", f"/p/f{k}")] if k < 3 else [{"type": "text", "text": "here"}]
        sub.call(content, w5=w5, read=rd, out=30, agent_id="x1", sidechain=True)
        if k < 3:
            read_result(sub, f"x{k}", f"/p/f{k}", "q\n" * 100)
    _, a = feed(chat.records, agents={"x1": sub.records})
    adv = next(x for x in a.advice() if x.key == "subagents:opus_explore")
    opus = sum(hand_cost(RATES["opus48"], 3, 30, w5, 0, rd) for w5, rd in rows)
    haiku = sum(hand_cost(RATES["haiku"], 3, 30, w5, 0, rd) for w5, rd in rows)
    assert adv.saving_usd == pytest.approx(opus - haiku, abs=1e-9)
    # replay: from the agent's third call on, Haiku
    after = sum(hand_cost(RATES["opus48"], 3, 30, w5, 0, rd) - hand_cost(RATES["haiku"], 3, 30, w5, 0, rd)
                for w5, rd in rows[3:])
    assert a.summary_fields()["avoidable"]["by_category"]["model routing"] == pytest.approx(after, abs=1e-9)


# ------------------------------------------------------------------ batch
def batch_session(files: int, edit_too: bool = True) -> tuple[Chat, list[tuple[int, int]]]:
    chat = Chat()
    chat.prompt("mark them done")
    prev = 0
    rows = []
    for i in range(files):
        for kind in (("Read", "Edit") if edit_too else ("Read",)):
            w5 = 20_000 if prev == 0 else 150
            tid = f"{kind}{i}"
            blk = read(tid, f"/p/page{i}.md") if kind == "Read" else edit(tid, f"/p/page{i}.md")
            chat.call([blk], w5=w5, read=prev, out=30)
            chat.result(tid, "page text" if kind == "Read" else "updated")
            rows.append((w5, prev))
            prev += w5
    chat.call(w5=50, read=prev)
    return chat, rows


def test_batch_from_ten_files() -> None:
    chat, rows = batch_session(10)
    _, a = feed(chat.records)
    adv = only(a.advice(), "batch")
    cost = sum(hand_cost(RATES["sonnet"], 3, 30, w5, 0, rd) for w5, rd in rows)
    assert adv.saving_usd == pytest.approx(cost / 2, abs=1e-9)
    assert adv.evidence["pattern"] == ["Read", "Edit"] and adv.evidence["files"] == 10
    assert adv.first_seen == a.main_calls[19].timestamp  # the 10th file's Edit
    assert not [x for x in feed(batch_session(9)[0].records)[1].advice() if x.kind == "batch"]
    assert not [x for x in feed(batch_session(12, edit_too=False)[0].records)[1].advice() if x.kind == "batch"]


# ------------------------------------------------------------------ plan
def test_plan_needs_history_and_compares_prices() -> None:
    chat, _ = exploration(2)
    _, a = feed(chat.records)
    assert not [x for x in a.advice() if x.kind == "plan"]
    end = a.main_calls[-1].timestamp.date()
    history = [(end - timedelta(days=d), 15.0) for d in range(20)]  # $15 a day for 20 days
    _, a = feed(chat.records, history=history)
    adv = only(a.advice(), "plan")
    assert adv.evidence["projection"]["projected_30d_usd"] == pytest.approx(15.0 * 30)
    assert adv.evidence["comparison"]["switch_to"] == "max20x"
    assert adv.saving_usd == pytest.approx(450 - 200)
    assert "Max 20x ($200/month)" in adv.message
    assert adv.evidence["usd_per_active_hour"] > 0
    # on Max 20x already and spending little: go smaller
    _, a = feed(chat.records, history=[(end, 1.0)] * 1, current_plan="max20x")
    rep = a.summary_fields()["plan"]
    assert rep["comparison"]["best"] == "pro" and rep["recommendation"]["saving_usd"] == 180.0


# ------------------------------------------------------------------ cool-down
def test_cool_down() -> None:
    chat, _ = exploration(6)
    _, a = feed(chat.records)
    t0 = a.main_calls[-1].timestamp.timestamp()
    first = a.new_advice(now=t0)
    assert [x.kind for x in first] == ["model_routing"]
    again = a.new_advice(now=t0 + 60)
    assert [x.key for x in again] == ["cache:ttl_warning"]  # a minute idle: the countdown is new
    assert a.new_advice(now=t0 + 70) == []  # both shown already
    chat2, _ = exploration(12)
    _, b = feed(chat2.records)
    b.advisor._shown = dict(a.advisor._shown)  # same advice, now twice the saving
    assert b.new_advice(now=t0 + 600) == []  # grown, but within the 15-minute cool-down
    assert [x.kind for x in b.new_advice(now=t0 + 1000)] == ["model_routing"]


def test_advice_dict_shape() -> None:
    chat, _ = exploration(6)
    _, a = feed(chat.records)
    (d,) = a.summary_fields()["advice"]
    assert set(d) == {"kind", "key", "message", "saving_usd", "evidence", "first_seen"}
    assert d["first_seen"].endswith("Z")


def test_plan_projection_helpers() -> None:
    from spendtui.core.context.plans import active_seconds, compare_plans, project_30_days

    # stretches: 0-120 s (calls under 5 min apart), then a lone call at 1000 s counted as 60 s
    assert active_seconds([0, 60, 120, 1000]) == 180
    assert active_seconds([]) == 0
    today = date(2026, 11, 30)
    p = project_30_days([(today, 10.0), (today - timedelta(days=9), 10.0), (date(2026, 1, 1), 99.0)], today)
    assert p == {"days_observed": 10, "spend_usd": 20.0, "daily_usd": 2.0, "projected_30d_usd": 60.0}
    assert compare_plans(130)["best"] == "max5x" and compare_plans(130)["saving_usd"] == 30
    assert compare_plans(20)["best"] == "api" and "switch_to" not in compare_plans(20)
    assert compare_plans(30)["best"] == "pro"


def test_rules_see_the_last_call_too() -> None:
    """A session that ends on the spawning call or mid-run still gets its advice."""
    chat, agents, firsts = fan_out(5)
    assert chat.records[-1]["type"] == "assistant"
    chat.records = chat.records[:-1]  # the parent's answer after the agents never came
    _, a = feed(chat.records, agents=agents)
    assert only(a.advice(), "subagents").saving_usd == pytest.approx(firsts[0], abs=1e-9)
    chat, _ = exploration(5)
    chat.records = chat.records[:-1]  # no final answer: the 5th read-only call is the last
    _, a = feed(chat.records)
    assert only(a.advice(), "model_routing").evidence["calls"] == 5
