"""The plan advice from the user's own history: `summary --json` reads the last 30 days'
spend (kept between runs) and the `[plan] current` setting, and prices Pro / Max 5x /
Max 20x against the API. A history is written into a temp CLAUDE_CONFIG_DIR and every
figure is worked out here by hand: Sonnet 4.5 output at $15 per million tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from spendtui.cli import main
from spendtui.core.context.plans import PLAN_MARGIN
from tests.records import append_jsonl, assistant, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
SONNET = "claude-sonnet-4-5-20250929"
OUTPUT_USD_PER_MTOK = 15.0
PLANS = {"pro": 20.0, "max5x": 100.0, "max20x": 200.0}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def write_history(root: Path, out_tokens: int, days: int = 10) -> float:
    """One session a day for ``days`` days up to now, each one call of ``out_tokens`` output
    tokens; plus a $600 session 40 days ago, outside the window. Returns one day's USD."""
    proj = root / "projects" / "-tmp-proj"
    now = time.time()
    for k in range(days):
        t = now - k * 86400
        write_jsonl(proj / f"d{k}.jsonl", [user("go", session=f"d{k}", when=iso(t), cwd="/tmp/proj"),
                                           assistant(f"m{k}", f"r{k}", usage(inp=0, out=out_tokens), model=SONNET,
                                                     session=f"d{k}", when=iso(t), cwd="/tmp/proj")])
    old = now - 40 * 86400
    p = write_jsonl(proj / "old.jsonl", [user("go", session="old", when=iso(old)),
                                         assistant("mo", "ro", usage(inp=0, out=40_000_000), model=SONNET,
                                                   session="old", when=iso(old))])
    os.utime(p, (old, old))
    return out_tokens * OUTPUT_USD_PER_MTOK / 1e6


def summary_json(root: Path, session: str) -> dict[str, Any]:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root)}
    out = subprocess.run([sys.executable, "-m", "spendtui", "summary", session, "--json"], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout)


def plan_advice(summary: dict[str, Any]) -> dict[str, Any]:
    found = [a for a in summary["advice"] if a["kind"] == "plan"]
    assert len(found) == 1, [a["key"] for a in summary["advice"]]
    return found[0]


def best_plan(projected: float) -> str:
    """The rule, written out: the biggest plan whose price, with a 20 % margin, the projected
    API spend covers (a heavy user needs the headroom); else the API."""
    fitting = [k for k, p in PLANS.items() if p * PLAN_MARGIN <= projected]
    return max(fitting, key=PLANS.__getitem__) if fitting else "api"


def test_api_user_is_told_what_max_20x_would_have_cost(tmp_path: Path, utc: None) -> None:
    """$12 a day (800,000 output tokens) for the last 10 days: $120, $12 a day, $360 in 30
    days at API prices. Max 20x ($200) with its margin ($240) fits: about $160 a month less.
    The $600 session of 40 days ago is outside the window."""
    root = tmp_path / "claude"
    daily = write_history(root, 800_000)
    assert daily == 12.0
    projected = daily * 10 / 10 * 30
    assert best_plan(projected) == "max20x"
    s = summary_json(root, "d0")
    adv = plan_advice(s)
    assert adv["saving_usd"] == pytest.approx(projected - PLANS["max20x"]) == 160.0
    ev = adv["evidence"]
    assert ev["projection"] == {"days_observed": 10, "spend_usd": 120.0, "daily_usd": 12.0,
                                "projected_30d_usd": 360.0}
    assert ev["current"] == "api" and ev["comparison"]["switch_to"] == "max20x"
    # this session: $12 in one call, counted as a minute's work: $720 per active hour
    assert ev["usd_per_active_hour"] == 720.0
    assert adv["message"] == ("$720.00 per active hour here; your last 10 days come to about $360 a month at API "
                              "prices. You pay API prices; Max 20x ($200/month) would have cost $200: about $160 "
                              "a month less, if its usage limits fit how you work.")
    assert s["plan"]["comparison"]["options_usd"] == {"api": 360.0, **PLANS}


def test_max_20x_user_is_told_what_the_api_would_have_cost(tmp_path: Path, utc: None) -> None:
    """On Max 20x (`[plan] current = "Max 20x"`) but spending $0.75 a day (50,000 output
    tokens): $22.50 a month at API prices, under Pro's $24 threshold. Pay as you go would
    have cost $177.50 a month less than the $200 plan."""
    root = tmp_path / "claude"
    daily = write_history(root, 50_000)
    assert daily == 0.75
    Path(os.environ["SPENDTUI_CONFIG"]).write_text('[plan]\ncurrent = "Max 20x"\n')
    projected = daily * 30
    assert best_plan(projected) == "api"
    adv = plan_advice(summary_json(root, "d0"))
    assert adv["saving_usd"] == pytest.approx(PLANS["max20x"] - projected) == 177.5
    assert adv["evidence"]["current"] == "max20x" and adv["evidence"]["comparison"]["switch_to"] == "api"
    assert adv["evidence"]["comparison"]["current_usd"] == 200.0
    assert "You are on Max 20x ($200/month); pay-as-you-go API would have cost $22" in adv["message"]


def test_max_5x_user_spending_that_much_gets_no_plan_advice(tmp_path: Path, utc: None) -> None:
    """$4 a day: $120 a month at API prices, under Max 20x's $240 threshold; Max 5x ($100)
    is the best fit and the user is on it: nothing to advise."""
    root = tmp_path / "claude"
    write_history(root, 266_667)  # $4.000005 a day
    Path(os.environ["SPENDTUI_CONFIG"]).write_text('[plan]\ncurrent = "max5x"\n')
    s = summary_json(root, "d0")
    assert [a for a in s["advice"] if a["kind"] == "plan"] == []
    assert s["plan"]["comparison"]["best"] == "max5x" and s["plan"]["current"] == "max5x"


def test_an_unknown_plan_is_said_and_the_api_assumed(tmp_path: Path, utc: None) -> None:
    root = tmp_path / "claude"
    write_history(root, 800_000)
    Path(os.environ["SPENDTUI_CONFIG"]).write_text('[plan]\ncurrent = "team"\n')
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root)}
    out = subprocess.run([sys.executable, "-m", "spendtui", "summary", "d0", "--json"], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=True)
    assert "[plan] current: expected one of api, pro, max5x, max20x, got 'team'" in out.stderr
    assert plan_advice(json.loads(out.stdout))["evidence"]["current"] == "api"


def test_the_history_is_kept_between_summaries(tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The second summary answers the history from the kept totals (no report is built);
    a transcript that grew is read on, and its new spend is in the projection."""
    import spendtui.core.report as report

    root = tmp_path / "claude"
    write_history(root, 800_000)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    built: list[int] = []
    real = report.build_report

    def counting(*a: Any, **k: Any) -> Any:
        built.append(len(a[0]))
        return real(*a, **k)

    monkeypatch.setattr(report, "build_report", counting)

    def projection() -> dict[str, Any]:
        assert main(["summary", "d0", "--json"]) == 0
        return plan_advice(json.loads(capsys.readouterr().out))["evidence"]["projection"]

    assert projection()["spend_usd"] == 120.0
    assert built == [10]  # the 10 sessions written in the window; the old file is not even read
    time.sleep(0.2)  # an answer is kept only once the files are older than its run's start
    assert projection()["spend_usd"] == 120.0
    assert projection()["spend_usd"] == 120.0
    assert len(built) <= 2  # at most once more (the first run's answer may have been too fresh to keep)
    n = len(built)
    assert projection()["spend_usd"] == 120.0
    assert len(built) == n  # kept: not computed again
    append_jsonl(root / "projects" / "-tmp-proj" / "d0.jsonl",
                 [assistant("m-new", "r-new", usage(inp=0, out=400_000), model=SONNET, session="d0",
                            when=iso(time.time()))])  # $6 more today
    assert projection() == {"days_observed": 10, "spend_usd": 126.0, "daily_usd": 12.6, "projected_30d_usd": 378.0}
    assert len(built) == n + 1


def test_no_claude_dir_means_no_projection(tmp_path: Path) -> None:
    from spendtui.core.history import daily_spend

    assert daily_spend([str(tmp_path / "nothing")], None) == []


def test_the_window_is_thirty_local_days() -> None:
    from datetime import date

    from spendtui.core.history import window

    assert window(date(2026, 11, 30)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert window(date(2026, 3, 1)) == (date(2026, 1, 31), date(2026, 3, 1))
    assert timedelta(days=29) == date(2026, 3, 1) - date(2026, 1, 31)
