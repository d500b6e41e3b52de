"""Followed live (appended in pieces, half lines included) the analysis ends where a one-shot load does."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.context import ContextAnalyzer
from spendtui.core.context.tokens import ByteEstimator
from spendtui.core.jsonl import LineReader
from spendtui.core.loader import feed_file, load_session
from spendtui.core.model import SessionModel, Source
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import analyze_case
from tests.records import tool_use


def _stable(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("context", "stale", "cache", "unlogged_calls_estimate_usd", "avoidable_usd", "advice")
    return json.loads(json.dumps({k: summary[k] for k in keys}, default=str))


def follow(files: list[tuple[Path, str | None]], prices: PriceTable, chunks: int = 7, **kw: Any) -> ContextAnalyzer:
    """Copy each file to ``<name>.live`` in ``chunks`` pieces (cut mid-line), reading after each."""
    model = SessionModel("live")
    analyzer = ContextAnalyzer(model, prices, **kw)
    model.pricer = prices.cost
    readers = []
    for path, aid in files:
        dest = path.with_name(path.name + ".live")
        dest.write_bytes(b"")
        readers.append((path.read_bytes(), dest, LineReader(dest), Source(dest, agent_id=aid)))
    for step in range(1, chunks + 1):
        for data, dest, reader, src in readers:
            cut = len(data) * step // chunks
            with open(dest, "r+b") as fh:
                fh.seek(0, 2)
                start = fh.tell()
                fh.write(data[start:cut])
            feed_file(model, reader, src, final=step == chunks)
    return analyzer


def test_live_equals_one_shot_on_built_records(tmp_path: Path) -> None:
    prices = PriceTable.embedded()
    chat = Chat()
    chat.prompt("fix it")
    chat.call([read("r1", "/p/a.py")], w5=20_000)
    read_result(chat, "r1", "/p/a.py", "x = 1\n" * 800)
    chat.call([tool_use("e1", "Edit", file_path="/p/a.py", old_string="1", new_string="2")], w5=1_700, read=20_000)
    chat.result("e1", "updated")
    chat.tick(400)
    chat.call(w5=21_800, read=0)
    main = tmp_path / "s.jsonl"
    main.write_text("".join(json.dumps(r) + "\n" for r in chat.records))
    one = SessionModel("one", pricer=prices.cost)
    a1 = ContextAnalyzer(one, prices, estimator=ByteEstimator(), read_memory=False)
    src = Source(main)
    feed_file(one, LineReader(main), src)
    a2 = follow([(main, None)], prices, chunks=5, estimator=ByteEstimator(), read_memory=False)
    assert _stable(a1.summary_fields()) == _stable(a2.summary_fields())
    assert a2.summary_fields()["cache"]["misses"][0]["reason"] == "ttl_expired"


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["claude_md_edit", "fanout", "read_edit_read"])
def test_live_equals_one_shot_on_real_sessions(harness_cases: Any, prices: PriceTable, name: str) -> None:
    case = harness_cases[name]
    _, _a, once = analyze_case(case, prices)
    files = scan_project(case.project_dir)[case.session_id]
    # live, the main file and the sub-agent files grow side by side
    live = follow([(files.main, None)] + [(af.path, af.agent_id) for af in files.agents], prices,
                  home=case.home, config_dir=case.config_dir)
    s = live.summary_fields()
    a, b = _stable(once), _stable(s)
    assert a["advice"] == b["advice"]
    assert a["context"]["breakdown"]["parts"] == b["context"]["breakdown"]["parts"]
    assert a["cache"] == b["cache"] and a["stale"] == b["stale"]
    assert a["avoidable_usd"] == b["avoidable_usd"]


def test_per_record_work_stays_flat() -> None:
    """Twice the records take about twice the time (no work that grows with the session)."""
    def build(n: int) -> list[dict]:
        chat = Chat()
        prev = 0
        for t in range(n // 20):
            chat.prompt(f"turn {t}")
            for i in range(20):
                k = t * 20 + i
                w5 = 10_000 if prev == 0 else 300
                if i % 3 == 0:
                    chat.call([tool_use(f"e{k}", "Edit", file_path=f"/p/f{k % 50}.py", old_string="a",
                                        new_string="b")], w5=w5, read=prev)
                    chat.result(f"e{k}", "ok")
                else:
                    chat.call([read(f"r{k}", f"/p/f{k % 50}.py")], w5=w5, read=prev)
                    read_result(chat, f"r{k}", f"/p/f{k % 50}.py", "code line\n" * 30)
                prev += w5
        return chat.records

    prices = PriceTable.embedded()

    def run(recs: list[dict]) -> float:
        model = SessionModel("p", pricer=prices.cost)
        ContextAnalyzer(model, prices, estimator=ByteEstimator(), read_memory=False)
        src = Source(Path("/x.jsonl"))
        t = time.perf_counter()
        for i, r in enumerate(recs):
            model.ingest(r, src, i)
        return time.perf_counter() - t

    small, big = build(1000), build(4000)
    run(small)  # warm up
    t_small = min(run(small) for _ in range(3))
    t_big = min(run(big) for _ in range(3))
    assert t_big < 11 * t_small, (t_small, t_big)  # 4x the records: linear is ~4x, quadratic 16x


def test_load_session_with_analyzer_attached_first(tmp_path: Path) -> None:
    """The documented integration: attach, then load; summary gains the new keys."""
    from spendtui.core.summary import session_summary

    prices = PriceTable.embedded()
    proj = tmp_path / "projects" / "-p"
    proj.mkdir(parents=True)
    chat = Chat(sessionId="s9")
    chat.prompt("hi")
    chat.call(w5=20_000)
    (proj / "s9.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat.records))
    files = scan_project(proj)["s9"]
    model = SessionModel("s9")
    analyzer = ContextAnalyzer(model, prices, read_memory=False)
    load_session(files, prices.cost, model=model)
    summary = session_summary(model, prices)
    analyzer.merge_into(summary)
    assert {"current", "peak", "window", "breakdown"} <= set(summary["context"])
    for key in ("stale", "cache", "unlogged_calls_estimate_usd", "avoidable_usd", "advice"):
        assert key in summary
    assert set(summary["stale"]) >= {"tokens", "share", "cost_per_call_usd"}
    assert set(summary["cache"]) >= {"hit_ratio", "misses"}
    json.dumps(summary)  # plain data
