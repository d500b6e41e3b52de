"""The analysis window: a long session's context analysis covers its newest main calls.

The same working session as tests/test_bounded.py (every advice rule fires on it) is
followed live with a small window and read in one go with the same window: the two must
agree on every figure, the window must have slid (several times), what the analysis keeps
must stop growing with the session, and the window's figures are pinned against the raw
transcript: the spend the avoidable replay counts and the per-call hit ratios are those of
exactly the calls made since the window's start.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.context import ContextAnalyzer
from spendtui.core.context.avoidable import replay
from spendtui.core.follow import SessionFollower
from spendtui.core.loader import load_session
from spendtui.core.model import SessionModel, parse_ts
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from spendtui.core.usage import Usage
from tests.test_bounded import RETAIN, SID, follow_writer

WINDOW = 120  # main calls; the writer compacts every ~250 main calls


def _kept(a: ContextAnalyzer) -> dict[str, int]:
    """What the analysis holds that would grow with the session without the window."""
    adv = a.advisor
    return {
        "main": len(a.main) - a.main.gone,
        "rows": len(a.calls) - a.calls.gone,
        "growth": len(a._growth) - a._growth.gone,
        "main_rows": len(a.main_rows),
        "per_call": len(a.cache.per_call),
        "agents": len(a.agents),
        "turn_tools": len(a.turn_tools),
        "file rows": sum(len(r) for r in adv._path_calls.values()),
        "fan-outs": len(adv._agents_in_call),
        "episodes": len(adv.episodes),
        "misses": len(a.cache.misses),
        "compactions": len(a.compactions),
    }


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("claude")
    prices = PriceTable.default()
    w, files, follower, analyzers = follow_writer(root, prices, window=WINDOW)
    marks: list[dict[str, int]] = []
    slides: set[int] = set()
    while w.calls < 40 * RETAIN:
        for _ in range(3):
            w.turn()
        w.flush()
        follower.poll()
        a = analyzers[-1]
        a.advice(now=0)  # queries between batches, as the app makes them
        slides.add(a.main.gone)
        if w.calls >= 10 * RETAIN:
            marks.append(_kept(a))
    return {"writer": w, "files": files, "follower": follower, "analyzer": analyzers[-1], "prices": prices,
            "marks": marks, "slides": slides, "root": root}


def _one_shot(d: dict[str, Any], window: int | None) -> tuple[SessionModel, ContextAnalyzer]:
    model = SessionModel(SID)
    a = ContextAnalyzer(model, d["prices"], read_memory=False, window=window)
    load_session(d["files"], d["prices"].cost, model=model)
    return model, a


def test_live_and_one_shot_end_with_the_same_window_and_figures(windowed: dict[str, Any]) -> None:
    follower: SessionFollower = windowed["follower"]
    prices: PriceTable = windowed["prices"]
    live = session_summary(follower.model, prices, now=0)
    windowed["analyzer"].merge_into(live, now=0)
    model, a = _one_shot(windowed, WINDOW)
    one_shot = session_summary(model, prices, now=0)
    a.merge_into(one_shot, now=0)
    assert json.loads(json.dumps(live, default=str)) == json.loads(json.dumps(one_shot, default=str))
    win = one_shot["analysis_window"]
    assert win["main_calls"] == WINDOW and win["from"] is not None
    assert win["main_calls_before"] > 3 * WINDOW  # the window slid past most of the session
    assert len(windowed["slides"]) >= 4  # and it slid live in steps, not once at the end
    # the rules still work inside it
    assert {x["kind"] for x in one_shot["advice"]} >= {"model_routing", "context_pruning", "subagents"}
    assert "since" in one_shot["avoidable"]["headline"]
    # the accounting is never windowed
    assert one_shot["cost_usd"] == pytest.approx(model.cost_pico / 10**12)


def test_what_the_analysis_keeps_stops_growing(windowed: dict[str, Any]) -> None:
    marks = windowed["marks"]
    first = marks[0]
    peak = {k: max(m[k] for m in marks) for k in first}
    # kept main calls: the window, its batching slack (an eighth) and one context segment at most
    assert peak["main"] <= WINDOW + WINDOW // 8 + 300, peak
    assert peak["growth"] == peak["main"] == peak["main_rows"] == peak["per_call"]
    # the session went on for 4x as long after the first mark: nothing kept grew with it
    assert windowed["writer"].calls >= 40 * RETAIN
    early = {k: max(m[k] for m in marks[: len(marks) // 4]) for k in first}
    for k in ("main", "rows", "agents", "turn_tools", "file rows", "fan-outs", "episodes", "misses", "compactions"):
        assert peak[k] <= 2 * early[k] + 2, (k, early[k], peak[k])
    # and the window is far smaller than the session
    a: ContextAnalyzer = windowed["analyzer"]
    assert len(a.calls) > 4 * (len(a.calls) - a.calls.gone)


def _raw_calls(root: Path) -> list[tuple[datetime, bool, str, Usage]]:
    """Every distinct API call written, straight from the files: (time, sub-agent?, model, usage)."""
    out: dict[tuple[str, str], tuple[datetime, bool, str, Usage]] = {}
    for path in sorted(root.rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            msg = rec.get("message")
            if rec.get("type") != "assistant" or not isinstance(msg, dict) or "usage" not in msg:
                continue
            key = (msg["id"], rec.get("requestId") or "")
            ts = parse_ts(rec["timestamp"])
            assert ts is not None
            out.setdefault(key, (ts, bool(rec.get("isSidechain")), msg["model"], Usage.from_json(msg["usage"])))
    return list(out.values())


def test_the_window_covers_exactly_the_calls_since_its_start(windowed: dict[str, Any]) -> None:
    """Independent of the analysis: price the raw calls made since ``window_from``."""
    prices: PriceTable = windowed["prices"]
    _model, a = _one_shot(windowed, WINDOW)
    start = a.window_from
    assert start is not None
    raw = _raw_calls(windowed["root"])
    inside = [c for c in raw if c[0] >= start]
    assert 0 < len(inside) < len(raw) // 3
    spent = sum(prices.cost(m, u, ts).total_pico for ts, _side, m, u in inside)
    assert replay(a).spent_pico == spent
    # main calls: one hit ratio each, read / prompt, in order
    main = sorted((ts, u) for ts, side, _m, u in inside if not side)
    assert len(main) == len(a.main) - a.main.gone
    assert list(a.cache.per_call) == [u.cache_read_input_tokens / u.prompt_tokens for _ts, u in main]


def test_no_window_covers_the_whole_session(windowed: dict[str, Any]) -> None:
    """``window=None`` (and any session under the window) analyses every call, as before."""
    prices: PriceTable = windowed["prices"]
    model, a = _one_shot(windowed, None)
    assert a.window_from is None and a.main.gone == 0 and a.calls.gone == 0
    raw = _raw_calls(windowed["root"])
    assert replay(a).spent_pico == model.cost_pico == sum(prices.cost(m, u, ts).total_pico for ts, _s, m, u in raw)
    assert "since" not in replay(a).headline()
