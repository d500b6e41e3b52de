"""Budgets: thresholds fire once each at 50/80/100 %, day/month use the local calendar and
the history, the projection follows the burn rate. Every expected number is worked out by
hand in the test (the flat pricer makes one output token cost one cent)."""

from __future__ import annotations

import os
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from spendtui.core.budget import (
    BudgetConfigError,
    Budgets,
    BudgetTracker,
    SpendHistory,
    SpendIndex,
    burn_rate,
    notify_desktop,
    parse_usd,
    period_start,
    tracker_from_config,
)
from tests.export.helpers import CENT, PICO, LiveModel, call_rec, flat_pricer
from tests.records import user, write_jsonl

TZ = timezone(timedelta(hours=-5))  # the user's "local" zone in these tests
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)  # 17:00Z


def at(hour: int, minute: int = 0, day: int = 20, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize(("raw", "pico"), [
    (5, 5 * PICO), ("2.50", 2_500_000_000_000), ("$1", PICO), (0.1, 100_000_000_000), ("0.000001", 1_000_000),
])
def test_parse_usd_exact(raw: object, pico: int) -> None:
    assert parse_usd(raw, "x") == pico


@pytest.mark.parametrize("raw", [0, -1, "abc", True, None, [], "nan", "inf"])
def test_parse_usd_rejects(raw: object) -> None:
    with pytest.raises(BudgetConfigError):
        parse_usd(raw, "[budget] daily_usd")


def test_budgets_from_config_and_flags() -> None:
    b = Budgets.from_config({"budget": {"session_usd": 5, "daily_usd": "20"}})
    assert (b.session_pico, b.day_pico, b.month_pico) == (5 * PICO, 20 * PICO, None)
    b2 = b.override(daily_usd="30", monthly_usd=100)
    assert (b2.session_pico, b2.day_pico, b2.month_pico) == (5 * PICO, 30 * PICO, 100 * PICO)
    assert not Budgets.from_config({}).any
    with pytest.raises(BudgetConfigError, match="daily_usd"):
        Budgets.from_config({"budget": {"daily_usd": -3}})
    with pytest.raises(BudgetConfigError):
        Budgets.from_config({"budget": "ten dollars"})


def test_no_budget_no_tracker(tmp_path: Path) -> None:
    assert tracker_from_config({}, [str(tmp_path)]) is None


# ---------------------------------------------------------------- session scope
def test_session_thresholds_fire_once_each_in_order() -> None:
    live = LiveModel()
    tr = BudgetTracker(Budgets(session_pico=10 * PICO), tz=TZ)
    tr.track(live.model)
    now = NOON.timestamp()

    live.spend(400, at(11, 0))  # $4.00 = 40 %
    assert tr.check(now) == []
    live.spend(100, at(11, 10))  # $5.00 = exactly 50 %: fires (>=)
    [a] = tr.check(now)
    assert (a.scope, a.threshold, a.spent_usd, a.budget_usd) == ("session", 50, 5.0, 10.0)
    assert tr.check(now) == []  # not again
    live.spend(299, at(11, 20))  # $7.99: 79.9 %, below 80
    assert tr.check(now) == []
    live.spend(1, at(11, 30))  # $8.00 = 80 %
    assert [x.threshold for x in tr.check(now)] == [80]
    live.spend(250, at(11, 40))  # $10.50 = 105 %
    [c] = tr.check(now)
    assert (c.threshold, c.spent_usd) == (100, 10.5)
    assert c.projected_exhaustion is None  # already spent: no projection
    assert tr.check(now) == []


def test_jump_over_several_thresholds_fires_each_lowest_first() -> None:
    live = LiveModel()
    tr = BudgetTracker(Budgets(session_pico=1 * PICO), tz=TZ)
    tr.track(live.model)
    live.spend(95, at(11, 0))  # $0.95 = 95 %
    alerts = tr.check(NOON.timestamp())
    assert [a.threshold for a in alerts] == [50, 80]


def test_new_session_rearms_session_thresholds() -> None:
    tr = BudgetTracker(Budgets(session_pico=1 * PICO), tz=TZ)
    a, b = LiveModel("sa"), LiveModel("sb")
    tr.track(a.model)
    a.spend(60, at(11))
    assert [x.threshold for x in tr.check(NOON.timestamp())] == [50]
    tr.track(b.model)
    b.spend(60, at(11, 5))
    alerts = tr.check(NOON.timestamp())
    assert [(x.threshold, x.session_id) for x in alerts] == [(50, "sb")]


# ---------------------------------------------------------------- day / month from history
def _history(*sessions: tuple[str, list[tuple[int, datetime]]]) -> SpendHistory:
    h = SpendHistory()
    for sid, spends in sessions:
        live = LiveModel(sid)
        for cents, when in spends:
            live.spend(cents, when)
        h.sessions[sid] = SpendIndex.of_calls(live.model.calls.values(), TZ, NOON.timestamp())
    return h


def test_day_spend_is_history_plus_live_on_the_local_day() -> None:
    # 03:00Z on the 20th is 22:00 on the 19th in UTC-5: yesterday, not today
    hist = _history(
        ("old", [(300, datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)), (200, at(9))]),
        ("other", [(100, at(10))]),
    )
    live = LiveModel("live")
    live.spend(150, at(11))
    tr = BudgetTracker(Budgets(day_pico=10 * PICO, month_pico=100 * PICO), history=hist, tz=TZ)
    tr.track(live.model)
    states = {s.scope: s for s in tr.states(NOON.timestamp())}
    assert states["day"].spent_pico == (200 + 100 + 150) * CENT  # $4.50
    assert states["day"].period == "2026-11-20"
    assert states["month"].spent_pico == (300 + 200 + 100 + 150) * CENT  # the 19th counts for November
    assert states["month"].period == "2026-11"
    assert states["day"].ratio == pytest.approx(0.45)


def test_live_session_replaces_its_history_entry() -> None:
    hist = _history(("s1", [(300, at(9))]))
    live = LiveModel("s1")
    live.spend(300, at(9))
    live.spend(100, at(11))
    tr = BudgetTracker(Budgets(day_pico=10 * PICO), history=hist, tz=TZ)
    tr.track(live.model)
    [day] = tr.states(NOON.timestamp())
    assert day.spent_pico == 400 * CENT  # not 700: the file read at start is the live session


def test_retired_session_keeps_counting_for_the_day() -> None:
    live = LiveModel("s1")
    live.spend(500, at(11))
    tr = BudgetTracker(Budgets(day_pico=10 * PICO, session_pico=PICO), tz=TZ)
    tr.track(live.model)
    tr.retire(live.model, NOON.timestamp())
    states = tr.states(NOON.timestamp())
    assert [s.scope for s in states] == ["day"]  # no live session any more
    assert states[0].spent_pico == 500 * CENT


def test_day_thresholds_rearm_on_the_next_local_day() -> None:
    live = LiveModel()
    tr = BudgetTracker(Budgets(day_pico=1 * PICO), tz=TZ)
    tr.track(live.model)
    live.spend(60, at(23, 0, day=20))
    assert [a.threshold for a in tr.check(at(23, 30, day=20).timestamp())] == [50]
    # after local midnight the 20th's spend no longer counts for "today"
    assert tr.check(at(0, 30, day=21).timestamp()) == []
    live.spend(55, at(0, 40, day=21))
    alerts = tr.check(at(0, 45, day=21).timestamp())
    assert [(a.threshold, a.period) for a in alerts] == [(50, "2026-11-21")]


def test_month_boundary_is_local() -> None:
    # 2026-12-01T02:00Z is still November 30th, 21:00 in UTC-5
    live = LiveModel()
    live.spend(700, datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    tr = BudgetTracker(Budgets(month_pico=10 * PICO), tz=TZ)
    tr.track(live.model)
    [nov] = tr.states(datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc).timestamp())  # 22:00 local, Nov 30
    assert (nov.period, nov.spent_pico) == ("2026-11", 700 * CENT)
    [dec] = tr.states(datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc).timestamp())  # 01:00 local, Dec 1
    assert (dec.period, dec.spent_pico) == ("2026-12", 0)


# ---------------------------------------------------------------- projection
def test_projection_at_the_current_burn_rate() -> None:
    """$2 at 08:00, then $2 + $1 + $1 at 11:10/11:30/11:50; now 12:00, day budget $10.

    Last hour: $4 spent by calls spanning 11:10 -> 12:00 = 50 min, so $4.80/h.
    Remaining $10 - $6 = $4 at $4.80/h = 50 min: runs out at 12:50 local.
    """
    live = LiveModel()
    for cents, when in [(200, at(8)), (200, at(11, 10)), (100, at(11, 30)), (100, at(11, 50))]:
        live.spend(cents, when)
    tr = BudgetTracker(Budgets(day_pico=10 * PICO), tz=TZ)
    tr.track(live.model)
    [day] = tr.states(NOON.timestamp())
    assert day.spent_pico == 600 * CENT
    assert day.burn_pico_per_hour == pytest.approx(4.8 * PICO)
    assert day.projected_exhaustion == at(12, 50)
    [alert] = tr.check(NOON.timestamp())  # 60 % -> the 50 % warning carries the projection
    assert alert.threshold == 50 and alert.projected_exhaustion == at(12, 50)
    assert alert.to_json()["projected_exhaustion"] == "2026-11-20T17:50:00Z"
    assert "runs out at" in alert.message()


def test_projection_past_midnight_is_none_for_the_day_but_not_the_session() -> None:
    """At 23:00, $1 in the last 10 min -> $6/h (10 min span); $50 left takes 8h20: after midnight."""
    live = LiveModel()
    live.spend(100, at(22, 50))
    tr = BudgetTracker(Budgets(day_pico=51 * PICO, session_pico=51 * PICO), tz=TZ)
    tr.track(live.model)
    states = {s.scope: s for s in tr.states(at(23).timestamp())}
    assert states["day"].burn_pico_per_hour == pytest.approx(6 * PICO)
    assert states["day"].projected_exhaustion is None
    assert states["session"].projected_exhaustion == at(23) + timedelta(hours=50 / 6)


def test_burn_rate_window_floor_and_cutoff() -> None:
    now = 10_000.0
    # one $1 call a minute ago: divided by the 5 min floor, not by 60 s -> $12/h
    assert burn_rate([(now - 60, PICO)], now) * 3600 == pytest.approx(12 * PICO)
    # a call exactly one window old is outside it
    assert burn_rate([(now - 3600, PICO)], now) == 0.0
    # two hours of a cent a minute: the last hour holds 60 calls (minutes 0..59 ago) that
    # span 59 minutes -> 60 cents per 59 minutes
    calls = [(now - m * 60, CENT) for m in range(0, 120)]
    assert burn_rate(calls, now) * 3600 == pytest.approx(60 * CENT * 60 / 59)
    assert burn_rate([], now) == 0.0


def test_undated_live_calls_count_today() -> None:
    live = LiveModel()
    rec = call_rec(99, 300, NOON)
    del rec["timestamp"]
    from spendtui.core.model import Source

    live.model.ingest(rec, Source(Path("/x/s1.jsonl")), 50)
    tr = BudgetTracker(Budgets(day_pico=10 * PICO), tz=TZ)
    tr.track(live.model)
    [day] = tr.states(NOON.timestamp())
    assert day.spent_pico == 300 * CENT


# ---------------------------------------------------------------- history from disk
def test_history_load_reads_recent_files_only(tmp_path: Path) -> None:
    proj = tmp_path / "claude" / "projects" / "-tmp-proj"
    write_jsonl(proj / "a.jsonl", [user("x", session="a"), call_rec(1, 120, at(9), session="a")])
    write_jsonl(proj / "b.jsonl", [user("x", session="b"), call_rec(1, 80, at(10), session="b")])
    old = write_jsonl(proj / "c.jsonl", [user("x", session="c"), call_rec(1, 999, at(10, day=2), session="c")])
    for p in proj.glob("*.jsonl"):
        os.utime(p, (NOON.timestamp(), NOON.timestamp()))
    os.utime(old, (at(12, day=2).timestamp(),) * 2)  # untouched since Nov 2: cannot hold today's calls
    since = period_start("day", NOON.timestamp(), TZ)
    assert since == at(0)
    hist = SpendHistory.load([str(tmp_path / "claude")], flat_pricer, since, tz=TZ, now=NOON.timestamp())
    assert sorted(hist.sessions) == ["a", "b"]
    tr = BudgetTracker(Budgets(day_pico=10 * PICO), history=hist, tz=TZ)
    [day] = tr.states(NOON.timestamp())
    assert day.spent_pico == 200 * CENT


def test_history_missing_dir_is_empty(tmp_path: Path) -> None:
    hist = SpendHistory.load([str(tmp_path / "nope")], flat_pricer, at(0), tz=TZ)
    assert hist.sessions == {}


def test_tracker_from_config_loads_month_history(tmp_path: Path) -> None:
    proj = tmp_path / "claude" / "projects" / "-tmp-proj"
    write_jsonl(proj / "a.jsonl", [user("x", session="a"), call_rec(1, 250, at(9, day=3), session="a")])
    os.utime(proj / "a.jsonl", (at(9, day=3).timestamp(),) * 2)
    tr = tracker_from_config({"budget": {"monthly_usd": 10}}, [str(tmp_path / "claude")], flat_pricer,
                             daily_usd="5", notify=False, tz=TZ, now=NOON.timestamp())
    assert tr is not None
    states = {s.scope: s for s in tr.states(NOON.timestamp())}
    assert states["month"].spent_pico == 250 * CENT and states["day"].spent_pico == 0
    assert states["day"].budget_pico == 5 * PICO


# ---------------------------------------------------------------- desktop notification
def _fake_notify(bin_dir: Path, body: str) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "notify-send"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_notify_send_gets_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "args.txt"
    _fake_notify(tmp_path / "bin", f'printf "%s\\n" "$@" > {out}')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    live = LiveModel()
    tr = BudgetTracker(Budgets(session_pico=PICO), tz=TZ, notify=True)
    tr.track(live.model)
    live.spend(90, at(11))
    assert [a.threshold for a in tr.check(NOON.timestamp())] == [50, 80]
    deadline = time.time() + 5
    while not out.exists() and time.time() < deadline:
        time.sleep(0.02)
    args = out.read_text().splitlines()
    assert "spendtui budget" in args and "--urgency=normal" in args
    assert any("80% of the $1.00 budget" in a for a in args)  # one notification: the highest crossed


def test_notify_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    live = LiveModel()
    tr = BudgetTracker(Budgets(session_pico=PICO), tz=TZ, notify=True)
    tr.track(live.model)
    live.spend(200, at(11))
    assert len(tr.check(NOON.timestamp())) == 3  # no notify-send: alerts still returned
    _fake_notify(tmp_path / "bad", "exit 7")
    monkeypatch.setenv("PATH", str(tmp_path / "bad"))
    from spendtui.core.budget import BudgetAlert

    assert notify_desktop(BudgetAlert("day", 100, 2.0, 1.0, None)) is True  # started; its failure is ignored
