"""Metric names, labels and values of the exporters, on real files in a temp Claude dir.

Values are checked two ways: against prices worked out by hand from the published table
(Sonnet 4.5: $3 in, $15 out, $3.75 5-minute cache write, $0.30 cache read per MTok;
Haiku 4.5: $1 in, $5 out), and against ``summary --json`` for the same sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spendtui.core.pricing import PriceTable
from spendtui.export.metrics import (
    BASE_LABELS,
    METRICS,
    ContextFacts,
    default_context_provider,
    default_user,
)
from spendtui.export.prometheus import exposition, make_registry, parse_listen, serve
from spendtui.export.runner import ExportRunner
from tests.records import append_jsonl, assistant, tool_use, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"


def now_iso(offset: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset, timezone.utc).isoformat().replace("+00:00", "Z")


def make_claude(tmp_path: Path) -> Path:
    """Two projects: 'alpha' with a session and a sub-agent, 'beta' with one session."""
    root = tmp_path / "claude"
    a = root / "projects" / "-work-alpha"
    write_jsonl(a / "sa.jsonl", [
        user("hi", session="sa", cwd="/work/alpha"),
        # $0.003 + $0.0075 + $0.01125 + $0.006 = $0.02775; written as two block lines
        assistant("m1", "r1", usage(inp=1000, out=1, cw5=3000, cr=20000), session="sa", cwd="/work/alpha",
                  when=now_iso(-60)),
        assistant("m1", "r1", usage(inp=1000, out=500, cw5=3000, cr=20000), session="sa", cwd="/work/alpha",
                  when=now_iso(-60), content=[tool_use("t1", "Agent", subagent_type="Explore")]),
    ])
    # sub-agent on Haiku: 10 in + 50 out = $0.00001 + $0.00025 = $0.00026
    write_jsonl(a / "sa" / "subagents" / "agent-x1.jsonl", [
        assistant("m2", "r2", usage(inp=10, out=50), model=HAIKU, session="sa", sidechain=True, agent_id="x1",
                  cwd="/work/alpha", when=now_iso(-50)),
    ])
    b = root / "projects" / "-work-beta"
    # 2000 in + 100 out = $0.006 + $0.0015 = $0.0075
    write_jsonl(b / "sb.jsonl", [
        user("yo", session="sb", cwd="/work/beta"),
        assistant("m3", "r3", usage(inp=2000, out=100), session="sb", cwd="/work/beta", when=now_iso(-30)),
    ])
    return root


def runner_for(root: Path, **kw: object) -> ExportRunner:
    kw.setdefault("context_provider", None)
    r = ExportRunner([str(root)], PriceTable.default(), "alice", **kw)  # type: ignore[arg-type]
    r.refresh(rescan=True)
    return r


def families(runner: ExportRunner) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = exposition(make_registry(runner.samples))
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def value(fams: dict, name: str, **labels: str) -> float:
    hits = [v for lab, v in fams[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, fams.get(name))
    return hits[0]


def summary_json(root: Path, session: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "spendtui", "summary", session, "--json", "--claude-dir", str(root)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


# ---------------------------------------------------------------- names and labels
def test_metric_names_follow_prometheus_conventions() -> None:
    for m in METRICS:
        assert m.name.startswith("spendtui_")
        if m.kind == "counter":
            assert m.exposed_name.endswith("_total")
        if m.unit:
            assert m.name.endswith("_" + m.unit)
        assert set(m.labels) <= {"user", "project", "model", "agent", "kind", "scope"}
    names = {m.exposed_name for m in METRICS}
    assert {"spendtui_cost_usd_total", "spendtui_tokens_total", "spendtui_context_tokens",
            "spendtui_cache_hit_ratio", "spendtui_stale_context_ratio", "spendtui_advice_open_savings_usd",
            "spendtui_budget_used_ratio"} <= names


def test_exposition_values_match_hand_computed_prices(tmp_path: Path) -> None:
    fams = families(runner_for(make_claude(tmp_path)))
    cost = "spendtui_cost_usd_total"
    assert value(fams, cost, project="alpha", model=SONNET, agent="main") == pytest.approx(0.02775, abs=1e-12)
    assert value(fams, cost, project="alpha", model=HAIKU, agent="subagent") == pytest.approx(0.00026, abs=1e-12)
    assert value(fams, cost, project="beta", model=SONNET, agent="main") == pytest.approx(0.0075, abs=1e-12)
    assert len(fams[cost]) == 3
    tok = "spendtui_tokens_total"
    assert value(fams, tok, project="alpha", model=SONNET, agent="main", kind="output") == 500  # dedup: 1 call
    assert value(fams, tok, project="alpha", model=SONNET, agent="main", kind="cache_read") == 20000
    assert value(fams, tok, project="alpha", model=SONNET, agent="main", kind="cache_write_5m") == 3000
    assert value(fams, tok, project="alpha", model=SONNET, agent="main", kind="cache_write_1h") == 0
    assert value(fams, "spendtui_api_calls_total", project="alpha", model=SONNET, agent="main") == 1
    # gauges
    assert value(fams, "spendtui_context_tokens", project="alpha") == 24000
    assert value(fams, "spendtui_context_used_ratio", project="alpha") == pytest.approx(24000 / 200_000)
    assert value(fams, "spendtui_cache_hit_ratio", project="alpha", agent="main") == pytest.approx(20000 / 24000)
    assert value(fams, "spendtui_cache_hit_ratio", project="beta") == 0.0
    assert value(fams, "spendtui_sessions_followed") == 2
    # no budget: those gauges are absent, not zero; without a context provider the context
    # gauges too (the default provider's are pinned to summary --json below)
    for absent in ("spendtui_stale_context_ratio", "spendtui_advice_open_savings_usd",
                   "spendtui_budget_used_ratio", "spendtui_budget_usd"):
        assert absent not in fams


def test_default_provider_publishes_the_context_gauges(tmp_path: Path) -> None:
    """With the default provider every followed session is analysed, as summary --json
    analyses it: the same stale share and the same advice. alpha's last call was a minute ago,
    so its 5-minute cache is about to expire and the advice's countdown prices the cold turn
    (open advice, not acted on yet); beta's was 30 s ago, too soon for that warning."""
    root = make_claude(tmp_path)
    fams = families(runner_for(root, context_provider=default_context_provider))
    for sid, project in (("sa", "alpha"), ("sb", "beta")):
        s = summary_json(root, sid)
        assert s["stale"]["share"] == 0.0
        assert value(fams, "spendtui_stale_context_ratio", project=project) == 0.0
        assert value(fams, "spendtui_advice_open_savings_usd", project=project) == pytest.approx(
            sum(a["saving_usd"] for a in s["advice"] if a["kind"] != "plan"), abs=1e-9)
        assert [a["key"] for a in s["advice"]] == (["cache:ttl_warning"] if sid == "sa" else [])


def test_labels_are_bounded_and_carry_no_ids(tmp_path: Path) -> None:
    fams = families(runner_for(make_claude(tmp_path)))
    forbidden = {"sa", "sb", "x1", "m1", "m2", "m3", "r1", "r2", "r3", "t1", "hi", "yo"}
    for name, samples in fams.items():
        for labels, _v in samples:
            assert set(labels) <= {*BASE_LABELS, "kind", "scope"}, name
            assert not (set(labels.values()) & forbidden), (name, labels)
            assert labels["user"] == "alice"
            if "project" in labels:
                assert labels["project"] in ("alpha", "beta")  # folder names, no home paths


def test_project_label_path_style(tmp_path: Path) -> None:
    fams = families(runner_for(make_claude(tmp_path), project_style="path"))
    assert {lab["project"] for lab, _ in fams["spendtui_cost_usd_total"]} == {"/work/alpha", "/work/beta"}


def test_totals_equal_summary_json(tmp_path: Path) -> None:
    root = make_claude(tmp_path)
    fams = families(runner_for(root))
    total = sum(v for _, v in fams["spendtui_cost_usd_total"])
    summaries = [summary_json(root, s) for s in ("sa", "sb")]
    assert total == pytest.approx(sum(s["cost_usd"] for s in summaries), abs=1e-9)
    for kind in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
        got = sum(v for lab, v in fams["spendtui_tokens_total"] if lab["kind"] == kind)
        assert got == sum(s["tokens"][kind] for s in summaries), kind
    sa = summaries[0]
    sub = sum(v for lab, v in fams["spendtui_cost_usd_total"] if lab["agent"] == "subagent")
    assert sub == pytest.approx(sa["subagent_cost_usd"], abs=1e-9)


def test_fork_copies_are_not_counted_twice(tmp_path: Path) -> None:
    root = make_claude(tmp_path)
    a = root / "projects" / "-work-alpha"
    write_jsonl(a / "sf.jsonl", [
        user("hi", session="sa", cwd="/work/alpha", forkedFrom={"sessionId": "sa", "messageUuid": "x"}),
        assistant("m1", "r1", usage(inp=1000, out=500, cw5=3000, cr=20000), session="sa", cwd="/work/alpha",
                  when=now_iso(-60), forkedFrom={"sessionId": "sa", "messageUuid": "y"}),
        assistant("m9", "r9", usage(inp=100, out=100), session="sf", cwd="/work/alpha", when=now_iso(-5)),
    ])
    fams = families(runner_for(root))
    # the fork adds only its own call: 100 in + 100 out = $0.0003 + $0.0015
    assert value(fams, "spendtui_cost_usd_total", project="alpha", model=SONNET, agent="main") == pytest.approx(
        0.02775 + 0.0018, abs=1e-12)
    assert value(fams, "spendtui_sessions_followed") == 3


# ---------------------------------------------------------------- following
def test_appends_new_sessions_and_monotonic_counters(tmp_path: Path) -> None:
    root = make_claude(tmp_path)
    r = runner_for(root)
    before = value(families(r), "spendtui_cost_usd_total", project="beta")
    append_jsonl(root / "projects" / "-work-beta" / "sb.jsonl",
                 [assistant("m4", "r4", usage(inp=0, out=1000), session="sb", cwd="/work/beta", when=now_iso())])
    r.refresh(rescan=False)
    after = value(families(r), "spendtui_cost_usd_total", project="beta")
    assert after == pytest.approx(before + 0.015, abs=1e-12)  # 1000 out at $15/MTok
    write_jsonl(root / "projects" / "-work-gamma" / "sc.jsonl", [
        user("new", session="sc", cwd="/work/gamma"),
        assistant("m5", "r5", usage(inp=1_000_000, out=0), model=HAIKU, session="sc", cwd="/work/gamma",
                  when=now_iso())])
    r.refresh(rescan=True)
    fams = families(r)
    assert value(fams, "spendtui_cost_usd_total", project="gamma") == pytest.approx(1.0)
    assert value(fams, "spendtui_sessions_followed") == 3


def test_quiet_sessions_retire_but_their_counters_stay(tmp_path: Path) -> None:
    root = make_claude(tmp_path)
    r = runner_for(root, active_minutes=10)
    cost_before = sorted(v for _, v in families(r)["spendtui_cost_usd_total"])
    old = time.time() - 3600
    beta = root / "projects" / "-work-beta" / "sb.jsonl"
    os.utime(beta, (old, old))
    r.refresh(rescan=True)
    fams = families(r)
    assert r.session_ids == ["sa"]
    assert sorted(v for _, v in fams["spendtui_cost_usd_total"]) == cost_before  # counters never go down
    assert value(fams, "spendtui_sessions_followed") == 1
    assert {lab["project"] for lab, _ in fams["spendtui_context_tokens"]} == {"alpha"}  # gauges: live only
    # active again: re-read from disk, replacing (not adding to) the retired totals
    append_jsonl(beta, [assistant("m6", "r6", usage(inp=0, out=100), session="sb", cwd="/work/beta",
                                  when=now_iso())])
    r.refresh(rescan=True)
    assert value(families(r), "spendtui_cost_usd_total", project="beta") == pytest.approx(0.0075 + 0.0015)


def test_background_thread_follows_and_stops(tmp_path: Path) -> None:
    root = make_claude(tmp_path)
    r = ExportRunner([str(root)], PriceTable.default(), "alice", poll_seconds=0.05, rescan_seconds=0.1,
                     context_provider=None)
    r.start()
    try:
        append_jsonl(root / "projects" / "-work-beta" / "sb.jsonl",
                     [assistant("m7", "r7", usage(inp=0, out=2000), session="sb", cwd="/work/beta", when=now_iso())])
        deadline = time.time() + 10
        while time.time() < deadline:
            got = value(families(r), "spendtui_cost_usd_total", project="beta")
            if got == pytest.approx(0.0075 + 0.03):
                break
            time.sleep(0.05)
        assert got == pytest.approx(0.0075 + 0.03)
    finally:
        r.stop()
    assert r._thread is not None and not r._thread.is_alive()


def test_missing_claude_dir_is_not_fatal(tmp_path: Path) -> None:
    logs: list[str] = []
    r = ExportRunner([str(tmp_path / "nothing")], None, "alice", log=logs.append, context_provider=None)
    r.refresh(rescan=True)
    r.refresh(rescan=True)
    assert len(logs) == 1 and "No Claude Code transcripts" in logs[0]
    assert value(families(r), "spendtui_sessions_followed") == 0


# ---------------------------------------------------------------- budgets and the analyser hook
def test_budget_gauges(tmp_path: Path) -> None:
    from spendtui.core.budget import Budgets, BudgetTracker

    root = make_claude(tmp_path)
    tracker = BudgetTracker(Budgets(session_pico=10**11, day_pico=10**12))  # $0.10 / session, $1 / day
    alerts: list = []
    r = runner_for(root, budget=tracker, on_alerts=alerts.extend)
    fams = families(r)
    # the most spent session: sa at $0.02801 of $0.10; the day: $0.03551 of $1
    assert value(fams, "spendtui_budget_used_ratio", scope="session") == pytest.approx(0.2801)
    assert value(fams, "spendtui_budget_used_ratio", scope="day") == pytest.approx(0.03551)
    assert value(fams, "spendtui_budget_usd", scope="day") == 1.0
    assert alerts == []
    append_jsonl(root / "projects" / "-work-beta" / "sb.jsonl",
                 [assistant("m8", "r8", usage(inp=0, out=5000), session="sb", cwd="/work/beta", when=now_iso())])
    r.refresh(rescan=False)  # sb: $0.0075 + $0.075 = $0.0825 = 82.5 % of its session budget
    assert [(a.scope, a.threshold) for a in alerts] == [("session", 50), ("session", 80)]


def test_context_provider_absent_module_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from spendtui.core.model import SessionModel

    monkeypatch.setitem(sys.modules, "spendtui.core.context", None)  # import raises ImportError
    assert default_context_provider(SessionModel("s")) is None


def test_context_provider_needs_an_attached_analyser() -> None:
    """A model read without an analyser has no context facts: the gauges are absent for it."""
    from spendtui.core.model import SessionModel

    assert default_context_provider(SessionModel("s")) is None


CC_TOOL_USE = ROOT / "tests" / "fixtures" / "cc2197" / "tool_use"


def test_export_once_context_gauges_equal_summary_json_on_a_real_transcript(tmp_path: Path) -> None:
    """Claude Code 2.1.197's tool_use session: a file read, then edited, so part of the context
    is stale. `export --once` publishes summary --json's `stale.share` and the sum of its
    `advice[].saving_usd` for the same file (a copy: written now, so it counts as active)."""
    root = tmp_path / "claude"
    shutil.copytree(CC_TOOL_USE / "projects", root / "projects", copy_function=shutil.copyfile)
    (transcript,) = (root / "projects").glob("*/*.jsonl")
    s = summary_json(root, str(transcript))
    assert s["stale"]["share"] > 0 and s["stale"]["by_reason"]["superseded"] > 0
    out = subprocess.run([sys.executable, "-m", "spendtui", "export", "--once", "--claude-dir", str(root),
                          "--user", "alice"], capture_output=True, text=True, cwd=ROOT, check=True)
    fams: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(out.stdout):
        for sample in fam.samples:
            fams.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    labels = {"project": "project", "model": s["costliest_calls"][0]["model"], "agent": "main"}
    assert value(fams, "spendtui_stale_context_ratio", **labels) == s["stale"]["share"]
    assert value(fams, "spendtui_advice_open_savings_usd", **labels) == pytest.approx(
        sum(a["saving_usd"] for a in s["advice"] if a["kind"] != "plan"), abs=1e-9)


def test_custom_provider_facts(tmp_path: Path) -> None:
    fams = families(runner_for(make_claude(tmp_path), context_provider=lambda m: ContextFacts(stale_ratio=0.5)))
    assert {lab["project"] for lab, _ in fams["spendtui_stale_context_ratio"]} == {"alpha", "beta"}
    assert "spendtui_advice_open_savings_usd" not in fams


def test_default_user() -> None:
    assert default_user({"export": {"user": "  bob "}}) == "bob"
    assert default_user({}) not in ("", None)


# ---------------------------------------------------------------- HTTP endpoint
@pytest.mark.parametrize(("raw", "want"), [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9000", ("127.0.0.1", 9000)), ("9100", ("127.0.0.1", 9100)),
    ("[::1]:9464", ("::1", 9464)), ("0.0.0.0:1", ("0.0.0.0", 1)),
])
def test_parse_listen(raw: str, want: tuple[str, int]) -> None:
    assert parse_listen(raw) == want


@pytest.mark.parametrize("raw", ["host", "a:b", "1.2.3.4:99999", "::1:80"])
def test_parse_listen_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(raw)


def test_http_endpoint_serves_the_collector(tmp_path: Path) -> None:
    r = runner_for(make_claude(tmp_path))
    server, thread = serve(make_registry(r.samples), "127.0.0.1:0")
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode()
        assert 'spendtui_cost_usd_total{agent="main",model="claude-sonnet-4-5-20250929",project="beta",' \
               'user="alice"} 0.0075' in body
        req = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            om = resp.read().decode()
        assert "# UNIT spendtui_cost_usd usd" in om and om.rstrip().endswith("# EOF")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_rewritten_file_is_reread_and_budget_follows_the_new_model(tmp_path: Path) -> None:
    from spendtui.core.budget import Budgets, BudgetTracker

    root = make_claude(tmp_path)
    tracker = BudgetTracker(Budgets(session_pico=10**12))
    r = runner_for(root, budget=tracker)
    beta = root / "projects" / "-work-beta" / "sb.jsonl"
    old_model = r.followed["sb"].follower.model
    new = write_jsonl(beta.with_name("tmp.part"), [  # an editor-style rewrite: a new file renamed over
        user("yo", session="sb", cwd="/work/beta"),
        assistant("m3", "r3", usage(inp=2000, out=100), session="sb", cwd="/work/beta", when=now_iso(-30)),
        assistant("m9", "r9", usage(inp=0, out=1000), session="sb", cwd="/work/beta", when=now_iso()),
    ])
    os.replace(new, beta)
    r.refresh(rescan=False)
    assert r.followed["sb"].follower.model is not old_model
    assert tracker.live["sb"] is r.followed["sb"].follower.model
    assert value(families(r), "spendtui_cost_usd_total", project="beta") == pytest.approx(0.0075 + 0.015)
