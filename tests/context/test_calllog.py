"""The analysis' call log: a call let go of reads back as it was, rows never move.

The rules read a call the model let go of from columns (``CallLog``), a composition from
``CompLog``; what they read must be what the full object said, field by field, whatever the
values (hypothesis), and what keeps a call for good (its row) must keep meaning that call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from spendtui.core.context.calllog import CallFacts, CallLog, CompLog
from spendtui.core.context.composition import CallComposition
from spendtui.core.model import ApiCall
from spendtui.core.usage import Usage

MAX = 10**12
counts = st.integers(0, MAX)
strs = st.one_of(st.none(), st.sampled_from(["standard", "fast", "priority", "us", "global"]))
times = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                 timezones=st.sampled_from([timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])),
)
usages = st.builds(Usage, counts, counts, counts, counts, counts, counts, counts, counts, strs, strs, strs)


class Price:
    def __init__(self, pico: int) -> None:
        self.total_pico = pico


@st.composite
def api_calls(draw: st.DrawFn, i: int = 0) -> ApiCall:
    call = ApiCall(key=(f"msg_{i}", f"req_{i}"), model=draw(st.sampled_from(["claude-opus-4-6", "claude-haiku-4-5"])),
                   usage=draw(usages), timestamp=draw(times),
                   agent_id=draw(st.one_of(st.none(), st.sampled_from(["a1", "a2"]))), session_id="s",
                   file=Path("/x.jsonl"), line=1,
                   tools=draw(st.lists(st.sampled_from(["Read", "Grep", "Edit"]), max_size=3)))
    call.cost = Price(draw(st.integers(0, 10**17)))
    call.billed_elsewhere = draw(st.booleans())
    return call


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(api_calls(), st.booleans()), min_size=1, max_size=12))
def test_a_call_let_go_of_reads_back_as_it_was(drawn: list[tuple[ApiCall, bool]]) -> None:
    log = CallLog()
    calls = []
    read_only = {}
    for i, (call, ro) in enumerate(drawn):
        call.key = (f"msg_{i}", f"req_{i}")
        read_only[call.key] = ro
        assert log.add(call) == i
        calls.append(call)
    forgotten: list[ApiCall] = []
    assert log.let_go(set(), lambda c: read_only[c.key], forgotten.append) == len(calls)
    assert forgotten == calls and log.base == len(calls) and log.full == 0
    for i, call in enumerate(calls):
        f = log[i]
        assert isinstance(f, CallFacts) and f.row == i
        assert (f.model, f.usage, f.agent_id, f.billed_elsewhere, f.tools, f.cost_pico, f.read_only) == (
            call.model, call.usage, call.agent_id, call.billed_elsewhere, tuple(call.tools), call.cost_pico,
            read_only[call.key])
        assert f.timestamp == call.timestamp
        if call.timestamp is not None:
            assert f.timestamp.isoformat() == call.timestamp.isoformat()  # prints as written
        assert log.row_of(f) == i
    assert [c.row for c in log] == list(range(len(calls)))  # type: ignore[union-attr]


def _call(i: int) -> ApiCall:
    return ApiCall(key=(f"m{i}", f"r{i}"), model="claude-opus-4-6", usage=Usage(i, 1), timestamp=None,
                   agent_id=None, session_id="s", file=Path("/x"), line=i)


def test_rows_are_kept_and_let_go_of_oldest_first() -> None:
    log = CallLog()
    calls = [_call(i) for i in range(6)]
    for c in calls:
        log.add(c)
    again = _call(2)
    assert log.add(again) == 2 and len(log) == 6 and log[2] is again  # same key: same row, newer object
    held = {calls[1].key, calls[4].key}
    # the model still holds row 1: nothing after it goes either (the columns stay a prefix)
    assert log.let_go(held, lambda c: False, lambda c: None) == 1
    assert log.base == 1 and log.row_of(calls[0]) is None and log.row_of(calls[3].key) == 3
    held = {calls[4].key}
    assert log.let_go(held, lambda c: False, lambda c: None) == 3
    assert log.base == 4 and log[3].usage == Usage(3, 1) and log[-1] is calls[5]
    assert log[log.row_of(calls[4].key)] is calls[4]  # type: ignore[index]
    assert log.row_of(calls[2].key) is None
    log.set_main(5, 0)
    assert log.main_index(5) == 0 and log.main_index(4) == -1


def test_compositions_keep_all_but_their_parts() -> None:
    comps = CompLog()
    ts = datetime(2026, 11, 25, 3, 4, 5, 678901, tzinfo=timezone.utc)
    made = [CallComposition(("m", str(i)), i, i // 3, 1000 + i, "claude-opus-4-6", ts + timedelta(seconds=i), i,
                            0.5 + i, 7 * i, {"tools": (1.5, 2)}, {"Read": (1.5, 2)}, 0.25 * i, i, 0.125 * i, 2 * i,
                            3.0 * i, 4 * i) for i in range(10)]
    for c in made:
        comps.append(c)
    comps.keep(4)
    assert comps.base == 6 and comps.full == 4 and len(comps) == 10
    assert comps[7] is made[7] and comps[-1] is made[9]
    for i in range(6):
        s, m = comps[i], made[i]
        assert (s.index, s.segment, s.prompt, s.model, s.ts, s.turn, s.est, s.exact, s.stale_est, s.stale_exact,
                s.cold_est, s.cold_exact, s.memory_est, s.memory_exact) == (
            m.index, m.segment, m.prompt, m.model, m.ts, m.turn, m.est, m.exact, m.stale_est, m.stale_exact,
            m.cold_est, m.cold_exact, m.memory_est, m.memory_exact)
        assert s.cats == {} and s.tools == {} and s.stale_tokens(1.1) == m.stale_tokens(1.1)
    assert [c.index for c in comps] == list(range(10))
