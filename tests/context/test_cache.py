"""Cache hits and misses: each reason, its extra cost written out, the SDK's vocabulary."""

from __future__ import annotations

import typing
from datetime import timedelta

import pytest

from spendtui.core.context.cache import API_REASONS, REASONS, warm_usage
from spendtui.core.usage import Usage
from tests.context.chat import T0, Chat, read, read_result
from tests.context.conftest import RATES, feed
from tests.records import tool_use


def warm_session(model: str = "claude-sonnet-4-5-20250929", **kw: object) -> Chat:
    """Two warm calls: 10,003 then 20,503 tokens (a 10K-token tool result in between), the
    second reading what the first wrote; 20,500 tokens are cached after it."""
    chat = Chat(model=model, **kw)
    chat.prompt("start")
    chat.call([tool_use("b1", "Bash", command="ls", description="l")], w5=10_000)
    chat.result("b1", "x " * 20_000)
    chat.call(w5=10_500, read=10_000)
    return chat


def only_miss(chat: Chat) -> dict:
    _, a = feed(chat.records)
    s = a.summary_fields()
    (m,) = s["cache"]["misses"]
    return m


def test_no_miss_when_warm_and_hit_ratios() -> None:
    chat = warm_session()
    _, a = feed(chat.records)
    s = a.summary_fields()["cache"]
    assert s["misses"] == []
    # per call: reads / prompt; session: all reads over all prompts
    assert s["per_call"] == [0.0, pytest.approx(10_000 / 20_503, abs=1e-4)]
    assert s["hit_ratio"] == pytest.approx(10_000 / (10_003 + 20_503), abs=1e-4)


def test_ttl_expired_after_six_idle_minutes() -> None:
    chat = warm_session()
    chat.tick(360)
    chat.prompt("back again")
    chat.call(w5=20_600, read=0)
    m = only_miss(chat)
    assert m["reason"] == "ttl_expired" and m["api_reason"] is None
    assert m["tokens_rewritten"] == 20_500  # what the previous call left: 20,000 read + 500 written
    _i, _o, w5, _w1, rd = RATES["sonnet"]
    assert m["extra_cost_usd"] == pytest.approx(20_500 * (w5 - rd) / 1e6, abs=1e-9)
    assert m["evidence"]["idle_seconds"] >= 360


def test_one_hour_writes_survive_ten_minutes() -> None:
    chat = Chat()
    chat.prompt("start")
    chat.call(w1=20_000)
    chat.call(w1=500, read=20_000)
    chat.tick(600)
    chat.prompt("back")
    chat.call(w1=100, read=20_500)
    _, a = feed(chat.records)
    assert a.cache.misses == [] and a.cache.ttl == 3600
    chat.tick(3700)
    chat.prompt("much later")
    chat.call(w1=20_700)
    m = only_miss(chat)
    assert m["reason"] == "ttl_expired" and m["evidence"]["ttl_seconds"] == 3600
    _i, _o, _w5, w1, rd = RATES["sonnet"]
    assert m["extra_cost_usd"] == pytest.approx(20_600 * (w1 - rd) / 1e6, abs=1e-9)


def test_model_changed() -> None:
    chat = warm_session()
    chat.prompt("now on opus")
    chat.call(w5=20_600, model="claude-opus-4-5-20251101")
    m = only_miss(chat)
    assert (m["reason"], m["api_reason"]) == ("model_changed", "model_changed")
    assert m["evidence"]["from"] == "claude-sonnet-4-5-20250929"
    # priced at the new model: Opus 4.5 writes at $6.25, reads at $0.50
    assert m["extra_cost_usd"] == pytest.approx(20_500 * (6.25 - 0.50) / 1e6, abs=1e-9)


def test_tools_changed_when_nothing_is_read() -> None:
    chat = warm_session()
    chat.attachment({"type": "deferred_tools_delta", "added": ["mcp__x__y"]})
    chat.prompt("go on")
    chat.call(w5=20_700)
    m = only_miss(chat)
    assert (m["reason"], m["api_reason"]) == ("tools_changed", "tools_changed")
    assert "tool list" in m["evidence"]["cause"]


def test_memory_edit_rewrites_from_the_first_message() -> None:
    chat = warm_session()
    _, a = feed(chat.records)
    base = round(a.baseline())
    chat.prompt("update the rules")
    chat.call([tool_use("e1", "Edit", file_path="/p/CLAUDE.md", old_string="a", new_string="b")],
              w5=100, read=20_500)
    chat.result("e1", "The file /p/CLAUDE.md has been updated successfully.")
    chat.call(w5=20_700 - base, read=base)
    m = only_miss(chat)
    assert m["reason"] == "system_or_memory_changed" and m["api_reason"] == "messages_changed"
    assert m["evidence"]["files"] == ["/p/CLAUDE.md"]
    assert m["tokens_rewritten"] == 20_600 - base


def test_date_change_is_a_memory_reminder_change() -> None:
    chat = warm_session(start=T0.replace(hour=23, minute=59))
    _, a = feed(chat.records)
    base = round(a.baseline())
    chat.tick(120)  # past midnight, within the 5-minute TTL
    chat.prompt("good morning")
    chat.call(w5=20_600 - base, read=base)
    m = only_miss(chat)
    assert m["reason"] == "system_or_memory_changed"
    assert m["evidence"]["cause"].startswith("date changed")


def test_rewind_is_messages_changed() -> None:
    chat = Chat()
    p1 = chat.prompt("one")
    chat.call([read("r1", "/p/a")], w5=20_000)
    read_result(chat, "r1", "/p/a", "q" * 4000)
    chat.call(w5=1_100, read=20_000)
    chat.prompt("two", parent=p1["uuid"])
    chat.call(w5=5_000, read=16_000)
    m = only_miss(chat)
    assert (m["reason"], m["evidence"]["cause"]) == ("messages_changed", "rewind")


def test_api_diagnostics_are_taken_at_their_word() -> None:
    chat = warm_session()
    chat.prompt("next")
    rec = chat.call(w5=20_600)
    rec["message"]["diagnostics"] = {"cache_miss_reason": {"type": "tools_changed", "cache_missed_input_tokens": 9}}
    m = only_miss(chat)
    assert (m["reason"], m["api_reason"], m["evidence"]["source"]) == ("tools_changed", "tools_changed",
                                                                        "api diagnostics")


def test_small_drops_and_compactions_are_not_misses() -> None:
    chat = warm_session()
    chat.prompt("x")
    chat.call(w5=1_200, read=19_500)  # 1,000 short of 20,500: below the 1,024-token floor
    chat.compact(pre=21_000)
    chat.prompt("after compaction")
    chat.call(w5=3_000, read=15_000)
    _, a = feed(chat.records)
    assert a.cache.misses == []


def test_warm_usage_moves_missed_tokens_to_reads() -> None:
    u = Usage(input_tokens=50, cache_creation_input_tokens=1000, cache_read_input_tokens=10,
              ephemeral_5m_input_tokens=600, ephemeral_1h_input_tokens=400)
    w = warm_usage(u, 1030)
    assert (w.ephemeral_5m_input_tokens, w.ephemeral_1h_input_tokens, w.input_tokens,
            w.cache_read_input_tokens) == (0, 0, 20, 1040)
    assert w.prompt_tokens == u.prompt_tokens


def test_reason_names_follow_the_sdk() -> None:
    from anthropic.types import CacheMissReason

    union = typing.get_args(typing.get_args(CacheMissReason)[0])
    literals = {typing.get_args(t.model_fields["type"].annotation)[0] for t in union}
    assert literals == set(API_REASONS)
    # ours: the SDK's names where it has one, plus the two it cannot see from one request
    assert {"model_changed", "tools_changed", "messages_changed"} <= set(REASONS) & literals
    assert set(REASONS) - literals == {"ttl_expired", "system_or_memory_changed"}


def test_gap_is_measured_between_main_calls() -> None:
    chat = warm_session()
    agent = Chat(start=chat.now + timedelta(seconds=100))
    agent.prompt("sub")
    agent.call(w5=15_000, agent_id="a1", sidechain=True)
    chat.tick(200)
    chat.prompt("again")
    chat.call(w5=100, read=20_500)
    _, a = feed(chat.records, agents={"a1": agent.records})
    assert a.cache.misses == []
