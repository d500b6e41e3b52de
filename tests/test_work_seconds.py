"""The session's working time, kept up to date by the model as calls come.

The plan advice asks for it on every refresh of the analysis. It used to sort every call time
of the session each time; now the model keeps the stretches of work. Held here to the plain
computation (``plans.active_seconds`` over ``call_times``) for calls arriving out of order
(sub-agent files are read after the main file), at equal times, across breaks, and after calls
are struck off as billed elsewhere.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendtui.core.context.plans import ACTIVE_GAP_S, MIN_STRETCH_S, active_seconds
from spendtui.core.model import SessionModel, Source
from tests.records import assistant, usage

T0 = 1_795_000_000


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def _call(model: SessionModel, i: int, t: float, agent: str | None = None) -> None:
    rec = assistant(f"msg_{i}", f"req_{i}", usage(), when=_iso(t), **({"agentId": agent} if agent else {}))
    model.ingest(rec, Source(Path("s1.jsonl"), agent_id=agent), i)


times = st.lists(st.integers(min_value=0, max_value=4 * 3600), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(times=times, asked_at=st.integers(min_value=0, max_value=60), struck=st.sets(st.integers(0, 59)))
def test_work_seconds_equals_sorting_every_call_time(times: list[int], asked_at: int, struck: set[int]) -> None:
    model = SessionModel("s1")
    for i, dt in enumerate(times):
        if i == asked_at:
            model.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S)  # from here on it is kept up to date
        _call(model, i, T0 + dt, agent="a1" if i % 3 == 2 else None)  # agents' calls out of order
    assert model.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S) == active_seconds(model.call_times())
    assert model.work_seconds(60.0) == active_seconds(model.call_times(), gap=60.0, minimum=0.0)
    keys = {f"msg_{i}" for i in struck}
    model.mark_billed_elsewhere(lambda k: k[0] in keys)  # copies of another session's calls
    assert model.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S) == active_seconds(model.call_times())


def test_a_refresh_does_not_sort_every_call_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = SessionModel("s1")
    for i in range(50):
        _call(model, i, T0 + 30 * i + (400 if i > 25 else 0))
    first = model.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S)
    assert first == active_seconds(model.call_times()) == 25 * 30 + 23 * 30  # two stretches

    def sorted_again(*_a: Any) -> Any:
        raise AssertionError("call_times() read again")

    monkeypatch.setattr(SessionModel, "call_times", sorted_again)
    _call(model, 50, T0 + 30 * 50 + 400)
    assert model.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S) == first + 30
