"""The dashboard's derived numbers, each pinned to a hand computation.

Rates used below (USD per million tokens, from the published price list):
claude-sonnet-4-5: input 3, output 15, cache write 5m 3.75, 1h 6, cache read 0.30; window 200K.
claude-opus-4-6:   input 5, output 25, cache write 5m 6.25, 1h 10, cache read 0.50; window 1M.
A cost of X "USD-per-MTok token units" is X * 10**6 pico-dollars.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from spendtui.core import live
from spendtui.core.follow import SessionFollower
from spendtui.core.live import (
    ActivityTracker,
    CallRow,
    LiveStats,
    active_seconds,
    burn_rate_per_hour,
    cache_hit_ratio,
    cache_ttl_seconds,
    call_flags,
)
from spendtui.core.loader import load_session
from spendtui.core.model import ApiCall
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.usage import Usage
from tests.records import append_jsonl, assistant, tool_use, ts, usage, user, write_jsonl

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-6"
M = 10**6  # pico-dollars per (USD/MTok x token)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.embedded()


def compact_boundary(when: str, pre: int = 2000, post: int = 500) -> dict[str, object]:
    return {
        "parentUuid": None, "isSidechain": False, "type": "system", "subtype": "compact_boundary",
        "content": "Conversation compacted", "sessionId": "s1", "cwd": "/tmp/proj",
        "compactMetadata": {"trigger": "auto", "preTokens": pre, "postTokens": post},
        "timestamp": when, "uuid": f"cb-{when}",
    }


# c1..c4 on the main chain, one sub-agent call; costs by hand:
# c1 sonnet 10 in, 100 out, 1000 w5m:          10*3 + 100*15 + 1000*3.75          =  5280
# c2 sonnet 5 in, 50 out, 200 w5m, 1000 read:  15 + 750 + 200*3.75 + 1000*0.3      =  1815
# agent sonnet 3 in, 5 out, 100 w5m:           9 + 75 + 375                        =   459
# c3 sonnet 5 in, 20 out, 800 w1h, 1200 read:  15 + 300 + 800*6 + 1200*0.3         =  5475
# c4 opus 5 in, 10 out, 3000 w5m, 0 read:      25 + 250 + 3000*6.25                = 19025
C1, C2, CA, C3, C4 = 5280 * M, 1815 * M, 459 * M, 5475 * M, 19025 * M
HEAD = [
    user("build it", when=ts(0, 0)),
    assistant("m1", "r1", usage(10, 100, cw5=1000), model=SONNET, when=ts(0, 0),
              content=[tool_use("t1", "Read", file_path="/a"), tool_use("t2", "Task", subagent_type="Explore")]),
    assistant("m2", "r2", usage(5, 50, cw5=200, cr=1000), model=SONNET, when=ts(0, 1)),
]
TAIL = [
    compact_boundary(ts(0, 19)),
    assistant("m3", "r3", usage(5, 20, cw1h=800, cr=1200), model=SONNET, when=ts(0, 20)),
    assistant("m4", "r4", usage(5, 10, cw5=3000, cr=0), model=OPUS, when=ts(0, 22)),
]
AGENT = [assistant("ma", "ra", usage(3, 5, cw5=100), model=SONNET, when=ts(30, 1), sidechain=True, agent_id="x1")]


def make_session(root: Path, head: list, tail: list | None = None, agent: list | None = None) -> Path:
    proj = root / "projects" / "-tmp-proj"
    main = write_jsonl(proj / "s1.jsonl", [*head, *(tail or [])])
    if agent is not None:
        sub = proj / "s1" / "subagents"
        write_jsonl(sub / "agent-x1.jsonl", agent)
        (sub / "agent-x1.meta.json").write_text(json.dumps({"agentType": "Explore", "description": "look"}))
    return main


def loaded_stats(root: Path, prices: PriceTable) -> LiveStats:
    files = scan_project(root / "projects" / "-tmp-proj")["s1"]
    model = load_session(files, prices.cost)
    stats = LiveStats(prices)
    stats.rebuild(model)
    return stats


# ------------------------------------------------------------------ burn rate


def test_active_seconds_leaves_out_breaks_over_five_minutes() -> None:
    assert active_seconds([0, 60, 1000, 1100]) == 60 + 100
    assert active_seconds([1100, 0, 1000, 60]) == 160  # order does not matter
    assert active_seconds([5]) == 0
    assert active_seconds([0, 300]) == 300  # exactly five minutes still counts
    assert active_seconds([0, 301]) == 0


def test_burn_rate_is_cost_over_active_hours() -> None:
    assert burn_rate_per_hour(2 * 10**12, 1800) == pytest.approx(4.0)  # $2 in 30 min
    assert burn_rate_per_hour(10**12, 0) is None


def test_activity_tracker_matches_the_batch_formula_for_any_arrival_order() -> None:
    rng = random.Random(7)
    for _ in range(50):
        stamps = [rng.uniform(0, 5000) for _ in range(rng.randint(0, 30))] + [100.0, 100.0]
        tracker = ActivityTracker()
        for t in rng.sample(stamps, len(stamps)):
            tracker.add(t)
        assert tracker.seconds == pytest.approx(active_seconds(stamps))


# ------------------------------------------------------------------ cache


def test_cache_hit_ratio_per_call() -> None:
    assert cache_hit_ratio(Usage(input_tokens=5, cache_creation_input_tokens=200,
                                 cache_read_input_tokens=1000)) == pytest.approx(1000 / 1205)
    assert cache_hit_ratio(Usage()) is None


def test_ttl_comes_from_the_newest_cache_write(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL)
    m = loaded_stats(tmp_path, prices).model
    assert m is not None
    assert cache_ttl_seconds(m.main_calls) == 300  # c4 wrote 5-minute entries
    assert cache_ttl_seconds(m.main_calls[:3]) == 3600  # c3 wrote 1-hour entries
    read_only = assistant("m5", "r5", usage(5, 10, cr=3005), model=OPUS, when=ts(0, 23))
    make_session(tmp_path, HEAD, [*TAIL[:2], read_only])
    m = loaded_stats(tmp_path, prices).model
    assert m is not None
    assert cache_ttl_seconds(m.main_calls) == 3600  # a read-only call keeps c3's 1h TTL
    assert cache_ttl_seconds([]) == 300


def test_cache_info_prices_the_next_call_warm_and_cold(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL)
    info = loaded_stats(tmp_path, prices).snapshot().cache
    assert info is not None
    assert info.model == OPUS and info.ttl == 300 and info.prompt_tokens == 3005
    assert info.last_call_at == datetime(2026, 11, 20, 12, 22, tzinfo=timezone.utc).timestamp()
    assert info.warm_pico == 3005 * 0.5 * M  # the whole prompt read at $0.50/MTok
    assert info.cold_pico == 3005 * 6.25 * M  # written again at the 5m rate
    assert info.penalty_pico == 3005 * 5.75 * M
    t0 = info.last_call_at
    assert info.remaining(t0 + 90) == 210
    assert not info.expired(t0 + 299.5)
    assert info.expired(t0 + 300) and info.remaining(t0 + 4000) == 0
    assert info.remaining(t0 - 3 * 86400) == 300  # a clock behind the transcript's: a full TTL, not days


def test_cache_info_cold_cost_uses_the_1h_rate(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL[:2])
    info = loaded_stats(tmp_path, prices).snapshot().cache
    assert info is not None and info.ttl == 3600 and info.prompt_tokens == 2005
    assert info.warm_pico == 2005 * 0.3 * M
    assert info.cold_pico == 2005 * 6 * M


def test_no_cache_info_without_prices_or_calls(tmp_path: Path) -> None:
    make_session(tmp_path, HEAD[:1])
    files = scan_project(tmp_path / "projects" / "-tmp-proj")["s1"]
    stats = LiveStats(None)
    stats.rebuild(load_session(files, None))
    snap = stats.snapshot()
    assert snap.cache is None and snap.last_call is None and snap.burn_usd_per_hour is None
    assert snap.gauge.window == 200_000


# ------------------------------------------------------------------ the whole snapshot


def test_snapshot_numbers(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL, AGENT)
    snap = loaded_stats(tmp_path, prices).snapshot()
    total = C1 + C2 + CA + C3 + C4
    assert snap.cost_pico == total
    assert snap.subagent_cost_pico == CA
    assert snap.calls == 5 and snap.main_calls == 4 and snap.turns == 1
    assert snap.compactions == 1 and snap.model_switches == 1
    # active: 12:00:00 -> 12:01:00 (60) -> 12:01:30 (30) | 18.5 min break | 12:20 -> 12:22 (120)
    assert snap.active_seconds == 210
    assert snap.burn_usd_per_hour == pytest.approx(total / 10**12 / 210 * 3600)
    assert snap.last_call is not None and snap.last_call.cost_pico == C4
    # session hit ratio: reads 1000 + 1200 over prompts 1010 + 1205 + 103 + 2005 + 3005
    assert snap.cache_hit_session == pytest.approx(2200 / 7328)
    assert snap.cache_hit_last == 0.0
    assert snap.context_series == (1010, 1205, 2005, 3005)
    assert snap.cost_series == pytest.approx([c / 10**12 for c in (C1, C2, CA, C3, C4)])
    assert [r.key[0] for r in snap.rows] == ["m4", "m3", "ma", "m2", "m1"]


def test_call_rows_and_flags(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL, AGENT)
    rows = {r.key[0]: r for r in loaded_stats(tmp_path, prices).snapshot().rows}
    r1 = rows["m1"]
    assert (r1.model, r1.tools, r1.input, r1.cache_write, r1.cache_read, r1.output, r1.context) == (
        SONNET, ("Read", "Task"), 10, 1000, 0, 100, 1010)
    assert r1.flags == frozenset() and r1.cost_pico == C1
    assert rows["m2"].flags == frozenset() and rows["m2"].hit_ratio == pytest.approx(1000 / 1205)
    assert rows["m3"].flags == {live.FLAG_COMPACTION}  # first main call after the boundary
    assert rows["m3"].cache_write_1h == 800
    # prompt grew 2005 -> 3005 while reading 0 < 2005 / 2 from cache, on another model
    assert rows["m4"].flags == {live.FLAG_CACHE_MISS, live.FLAG_MODEL_SWITCH}
    assert rows["ma"].flags == {live.FLAG_SUBAGENT} and rows["ma"].agent_type == "Explore"


def test_cache_miss_needs_a_growing_prompt_read_well_below_the_previous_one() -> None:
    def call(inp: int, cw: int, cr: int, model: str = SONNET) -> ApiCall:
        return ApiCall(("m", "r"), model, Usage(inp, 1, cw, cr, cw, 0), None, None, "s", Path("f"), 1, None)

    prev = call(0, 0, 1000)
    assert call_flags(call(5, 600, 499), prev) == {live.FLAG_CACHE_MISS}
    assert call_flags(call(5, 100, 500), prev) == frozenset()  # read half: not "well below"
    assert call_flags(call(5, 10, 0), call(0, 0, 20_000)) == frozenset()  # prompt shrank: compaction
    assert call_flags(call(5, 600, 499), None) == frozenset()


def test_context_gauge(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL[:2])  # sonnet 4.5 only: the table's 200K window
    g = loaded_stats(tmp_path, prices).snapshot().gauge
    assert (g.current, g.peak, g.window, g.compact_at) == (2005, 2005, 200_000, 167_000)
    assert g.until_compact == 167_000 - 2005 and g.fraction == pytest.approx(2005 / 200_000)
    big = assistant("m9", "r9", usage(5, 10, cr=210_000), model=SONNET, when=ts(0, 30))
    small = assistant("m10", "r10", usage(5, 10, cr=50_000), model=SONNET, when=ts(0, 31))
    make_session(tmp_path, HEAD, [*TAIL[:2], big, small])
    g = loaded_stats(tmp_path, prices).snapshot().gauge
    # one call over 200K proves a 1M window, even once the context is small again
    assert (g.current, g.peak, g.window, g.compact_at) == (50_005, 210_005, 1_000_000, 967_000)


def test_agent_rows(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL, AGENT)
    (a,) = loaded_stats(tmp_path, prices).snapshot().agents
    assert (a.agent_id, a.agent_type, a.model, a.calls, a.cost_pico) == ("x1", "Explore", SONNET, 1, CA)


@pytest.mark.parametrize("seed", range(5))
def test_agent_rows_of_a_swarm_come_from_the_newest_agents_kept(seed: int, prices: PriceTable) -> None:
    """LiveStats picks the snapshot's agent rows among the newest sub-agents it saw start, not
    every sub-agent of the session: the same rows as looking at them all, for agents that
    start out of order (files read late), at equal times, without a time, and that are struck
    off as another session's copies."""
    from spendtui.core.follow import Event
    from spendtui.core.live import agent_rows
    from spendtui.core.model import SessionModel, Source

    rng = random.Random(seed)
    model = SessionModel("s1", pricer=prices.cost)
    stats = LiveStats(prices, max_agents=4)
    stats.rebuild(model)
    events: list[Event] = []
    model.listeners.append(lambda kind, payload: events.append(Event(kind, payload, "s1")))
    for i in range(120):
        aid = f"a{rng.randrange(40)}"  # agents come back: later calls of one already started
        when = None if rng.random() < 0.05 else ts(rng.randrange(60), rng.randrange(60), 12 + rng.randrange(3))
        rec = assistant(f"msg_{i}", f"req_{i}", usage(), sidechain=True, agent_id=aid, **({"timestamp": when}))
        if when is None:
            del rec["timestamp"]
        model.ingest(rec, Source(Path(f"agent-{aid}.jsonl"), agent_id=aid), i)
        if i == 90:
            model.mark_billed_elsewhere(lambda k: k[0] in {f"msg_{j}" for j in range(60, 90, 2)})
        stats.apply(model, events)
        events.clear()
        assert stats.snapshot().agents == tuple(agent_rows(model, 4)), i
    assert len(stats._agent_ids) <= 8 < len(model.agents)


def test_agent_rows_kept_through_untimed_starts_and_struck_copies(prices: PriceTable) -> None:
    """The two ways the newest agents kept could miss one: an agent noted first without a
    time and then with the newest one, and the newest agents' calls all struck off as another
    session's copies (the older agents, not kept, are the rows then)."""
    from spendtui.core.follow import Event
    from spendtui.core.live import agent_rows
    from spendtui.core.model import SessionModel, Source

    model = SessionModel("s1", pricer=prices.cost)
    stats = LiveStats(prices, max_agents=4)
    stats.rebuild(model)
    events: list[Event] = []
    model.listeners.append(lambda kind, payload: events.append(Event(kind, payload, "s1")))
    n = iter(range(1000))

    def call(aid: str, when: str | None) -> None:
        i = next(n)
        rec = assistant(f"msg_{i}", f"req_{i}", usage(), sidechain=True, agent_id=aid)
        if when is None:
            del rec["timestamp"]
        else:
            rec["timestamp"] = when
        model.ingest(rec, Source(Path(f"agent-{aid}.jsonl"), agent_id=aid), i)
        stats.apply(model, events)
        events.clear()
        assert stats.snapshot().agents == tuple(agent_rows(model, 4)), (aid, when)

    for k in range(6):  # old agents, outside what is kept in the end
        call(f"old{k}", ts(k, 0, 9))
    call("x", None)  # no time: ordered before every other
    call("x", ts(0, 0, 18))  # now the newest of all
    for k in range(9):  # later-noted agents, but earlier than x: the untimed entry of x goes
        call(f"mid{k}", ts(k, 0, 15))
    assert stats.snapshot().agents[0].agent_id == "x"
    newest = {f"msg_{i}" for i in range(6, 17)}  # every call of x and of the mid agents
    model.mark_billed_elsewhere(lambda key: key[0] in newest)
    rows = stats.snapshot().agents
    assert rows == tuple(agent_rows(model, 4)) and {r.agent_id for r in rows} <= {f"old{k}" for k in range(6)}


# ------------------------------------------------------------------ incremental == rebuild


def test_following_gives_the_same_snapshot_as_a_fresh_load(tmp_path: Path, prices: PriceTable) -> None:
    main = make_session(tmp_path, HEAD)
    files = scan_project(tmp_path / "projects" / "-tmp-proj")["s1"]
    follower = SessionFollower(files, prices.cost, follow_clear=False)
    follower.load()
    stats = LiveStats(prices)
    stats.rebuild(follower.model)
    assert stats.apply(follower.model, follower.poll()) == []

    append_jsonl(main, TAIL)
    sub = main.parent / "s1" / "subagents"
    write_jsonl(sub / "agent-x1.jsonl", AGENT)
    (sub / "agent-x1.meta.json").write_text(json.dumps({"agentType": "Explore", "description": "look"}))
    notices = stats.apply(follower.model, follower.poll())
    assert [n.kind for n in notices] == ["compaction", "model_switch"]
    assert notices[1].message == f"{SONNET} → {OPUS}"

    fresh = loaded_stats(tmp_path, prices)
    assert stats.snapshot() == fresh.snapshot()


def test_a_split_response_updates_its_row(tmp_path: Path, prices: PriceTable) -> None:
    main = make_session(tmp_path, HEAD)
    files = scan_project(tmp_path / "projects" / "-tmp-proj")["s1"]
    follower = SessionFollower(files, prices.cost, follow_clear=False)
    follower.load()
    stats = LiveStats(prices)
    stats.rebuild(follower.model)
    append_jsonl(main, [assistant("m5", "r5", usage(5, 1, cr=1205), model=SONNET, when=ts(0, 2))])
    stats.apply(follower.model, follower.poll())
    append_jsonl(main, [assistant("m5", "r5", usage(5, 40, cr=1205), model=SONNET, when=ts(0, 2))])
    stats.apply(follower.model, follower.poll())
    row = stats.snapshot().rows[0]
    assert row.key[0] == "m5" and row.output == 40
    assert row.cost_pico == (5 * 3 + 40 * 15 + 1205 * 0.3) * M


def test_rows_are_bounded_and_keep_the_newest(tmp_path: Path, prices: PriceTable) -> None:
    make_session(tmp_path, HEAD, TAIL, AGENT)
    files = scan_project(tmp_path / "projects" / "-tmp-proj")["s1"]
    stats = LiveStats(prices, max_rows=3, spark_len=2)
    stats.rebuild(load_session(files, prices.cost))
    snap = stats.snapshot()
    assert [r.key[0] for r in snap.rows] == ["m4", "m3", "ma"]
    assert snap.cost_series == pytest.approx([C3 / 10**12, C4 / 10**12])
    assert snap.context_series == (2005, 3005)


def test_reset_rebuilds_and_only_the_reset_is_announced(tmp_path: Path, prices: PriceTable) -> None:
    main = make_session(tmp_path, HEAD, TAIL)
    files = scan_project(tmp_path / "projects" / "-tmp-proj")["s1"]
    follower = SessionFollower(files, prices.cost, follow_clear=False)
    follower.load()
    stats = LiveStats(prices)
    stats.rebuild(follower.model)
    write_jsonl(main, HEAD)  # truncated and rewritten shorter
    events = follower.poll()  # replaces follower.model: read it after polling
    notices = stats.apply(follower.model, events)
    assert [n.kind for n in notices] == ["reset"]
    assert stats.model is follower.model
    assert [r.key[0] for r in stats.snapshot().rows] == ["m2", "m1"]


def test_row_sort_key_puts_untimed_calls_last() -> None:
    def row(seq: int, when: datetime | None) -> CallRow:
        return CallRow(("m", str(seq)), seq, when, SONNET, None, None, (), 0, 0, 0, 0, 0, 0, 0)

    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    keys = sorted([row(1, t), row(2, None), row(3, t)], key=lambda r: r.sort_key)
    assert [r.seq for r in keys] == [2, 1, 3]


def test_live_module_never_imports_textual() -> None:
    import subprocess
    import sys

    code = "import sys, spendtui.core.live; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("n", [0, 1, 5])
def test_activity_tracker_len(n: int) -> None:
    tr = ActivityTracker()
    for t in itertools.islice(itertools.count(0, 10), n):
        tr.add(float(t))
    assert len(tr) == n and tr.seconds == 10 * max(0, n - 1)


def test_notices_name_what_happened() -> None:
    from spendtui.core.follow import Event
    from spendtui.core.model import Compaction

    ev = Event("compaction", Compaction("manual", 15_808, None, None, None), "s1")
    assert live.notice_for(ev) == live.Notice("compaction", "Context compacted", "manual: 15.8K tokens summarised")
    ev = Event("compaction", Compaction("auto", 170_251, 9_000, None, None), "s1")
    assert live.notice_for(ev).message == "auto: 170.3K → 9.0K tokens"  # type: ignore[union-attr]
    assert live.notice_for(Event("compaction", Compaction("auto", 5, None, None, None, micro=True), "s1")) is None
    ev = Event("reset", {"file": "/x/s1.jsonl", "why": "truncated"}, "s1")
    assert live.notice_for(ev) == live.Notice("reset", "Transcript re-read", "s1.jsonl was truncated", "warning")
    assert live.notice_for(Event("turn", None, "s1")) is None


def test_burn_rate_counts_calls_a_long_session_let_go_of(tmp_path: Path) -> None:
    """With ``retain`` the model forgets old calls' details, not their time or money."""
    from spendtui.core.model import SessionModel

    recs = [user("go")] + [assistant(f"m{i}", f"r{i}", usage(out=100), when=ts(0, i)) for i in range(50)]
    p = write_jsonl(tmp_path / "projects" / "-p" / "s.jsonl", recs)
    prices = PriceTable.default()
    files = scan_project(p.parent)["s"]
    small = SessionModel("s")
    small.retain = 5
    small = load_session(files, prices.cost, model=small)
    assert len(small.calls) < 50
    stats = live.LiveStats(prices)
    stats.rebuild(small)
    snap = stats.snapshot()
    # 50 calls a minute apart: 49 minutes active; each call 3 input x $3 + 100 output x $15 per MTok
    assert snap.active_seconds == 49 * 60
    assert snap.burn_usd_per_hour == pytest.approx(50 * (3 * 3 + 100 * 15) / 1e6 / (49 / 60))
