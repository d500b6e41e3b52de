"""History report: buckets and totals against hand-computed prices."""

from __future__ import annotations

import json
from datetime import date, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from spendtui.cli import main
from spendtui.core.paths import discover
from spendtui.core.pricing import PriceTable
from spendtui.core.report import build_report
from tests.records import assistant, usage, user, write_jsonl

M = Decimal(10**6)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    a = tmp_path / "projects" / "-work-a"
    b = tmp_path / "projects" / "-work-b"
    write_jsonl(a / "s1.jsonl", [
        user("x", session="s1", cwd="/work/a", when="2026-11-01T10:00:00.000Z"),
        assistant("m1", "r1", usage(inp=1000, out=100), session="s1", when="2026-11-01T10:00:01.000Z",
                  model="claude-sonnet-4-5-20250929"),
        assistant("m2", "r2", usage(inp=0, out=0, cr=10_000), session="s1", when="2026-11-02T23:30:00.000Z",
                  model="claude-sonnet-4-5-20250929"),
    ])
    write_jsonl(b / "s2.jsonl", [
        user("y", session="s2", cwd="/work/b", when="2026-11-02T09:00:00.000Z"),
        assistant("m3", "r3", usage(inp=0, out=1000, cw5=2000), session="s2", when="2026-11-02T09:00:05.000Z",
                  model="claude-haiku-4-5-20251001"),
    ])
    return tmp_path


# list prices per MTok: Sonnet 4.5 in 3 / out 15 / read 0.30; Haiku 4.5 out 5 / 5m write 1.25
C1 = (1000 * 3 + 100 * 15) / M
C2 = 10_000 * Decimal("0.30") / M
C3 = (1000 * 5 + 2000 * Decimal("1.25")) / M


def _cost(row: dict) -> Decimal:
    return Decimal(str(row["cost_usd"]))


def test_by_day_utc(history: Path) -> None:
    rep = build_report(discover([history]), PriceTable.default(), by="day", tz=timezone.utc)
    rows = {r["key"]: r for r in rep["rows"]}
    assert list(rows) == ["2026-11-01", "2026-11-02"]
    assert _cost(rows["2026-11-01"]) == C1
    assert _cost(rows["2026-11-02"]) == C2 + C3
    assert rows["2026-11-02"]["api_calls"] == 2 and rows["2026-11-02"]["sessions"] == 2
    assert _cost(rep["totals"]) == C1 + C2 + C3
    assert rep["totals"]["tokens"]["cache_read"] == 10_000


def test_by_model_project_session_and_range(history: Path) -> None:
    sessions = discover([history])
    prices = PriceTable.default()
    by_model = {r["key"]: _cost(r) for r in build_report(sessions, prices, by="model")["rows"]}
    assert by_model == {"claude-sonnet-4-5-20250929": C1 + C2, "claude-haiku-4-5-20251001": C3}
    by_project = {r["key"]: _cost(r) for r in build_report(sessions, prices, by="project")["rows"]}
    assert by_project == {"/work/a": C1 + C2, "/work/b": C3}
    ranged = build_report(sessions, prices, by="session", since=date(2026, 11, 2), until=date(2026, 11, 2),
                          tz=timezone.utc)
    assert {r["key"]: _cost(r) for r in ranged["rows"]} == {"s1": C2, "s2": C3}
    month = build_report(sessions, prices, by="month", tz=timezone.utc)["rows"]
    assert [(r["key"], r["api_calls"]) for r in month] == [("2026-11", 3)]
    week = build_report(sessions, prices, by="week", tz=timezone.utc)["rows"]
    assert [r["key"] for r in week] == ["2026-10-26", "2026-11-02"]  # ISO weeks start Monday


def test_report_cli(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--claude-dir", str(history), "--by", "day", "--utc", "--json",
                 "--since", "20261102"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rep["rows"]] == ["2026-11-02"]
    assert main(["report", "--claude-dir", str(history), "--by", "project"]) == 0
    out = capsys.readouterr().out
    assert "/work/a" in out and "total" in out
