"""Pilot tests of the budget line (budgets given as flags, the day's budget running out at
the current burn rate) and of the toast a new piece of advice raises, on real transcripts
in tmp_path followed by the real follower thread. Every shown number is worked out by hand
here: list prices per million tokens, the burn rate over the last hour, the clock the test holds."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify

from spendtui.core.pricing import PriceTable
from spendtui.views.app import SpendApp
from spendtui.views.app.widgets import BudgetLine
from tests.app.conftest import T0, FakeClock, make_session, wait_for
from tests.context.chat import Chat, read, read_result
from tests.records import append_jsonl, assistant, ts, usage, user, write_jsonl

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-6"
# USD per million tokens: input, output, 5-minute cache write, cache read
SONNET_RATES = (3.0, 15.0, 3.75, 0.30)
OPUS_RATES = (5.0, 25.0, 6.25, 0.50)
HAIKU_RATES = (1.0, 5.0, 1.25, 0.10)


def cost(rates: tuple[float, ...], inp: int = 0, out: int = 0, w5: int = 0, rd: int = 0) -> float:
    i, o, c5, r = rates
    return (inp * i + out * o + w5 * c5 + rd * r) / 1e6


def toasts(seen: list[Message]) -> list[tuple[str, str]]:
    return [(m.notification.title, m.notification.message) for m in seen if isinstance(m, Notify)]


def runs_out(spent: float, budget: float, first_call: float, now: float) -> str:
    """The rule, written out: the last hour's spend over the time its calls span (at least
    5 minutes) is the burn rate; what is left of the budget, at that rate, from now."""
    span = max(300.0, now - first_call)
    at = now + (budget - spent) / (spent / span)
    return datetime.fromtimestamp(at, timezone.utc).strftime("%H:%M")


async def test_day_budget_flag_shows_when_it_runs_out(claude_root: Path) -> None:
    """A $0.02 day budget given as a flag (no config). Calls at 12:00 ($0.00528) and 12:01
    ($0.00375); at 12:10 that is $0.00903 spent over 10 minutes, and the $0.01097 left lasts
    until about 12:22. A third call at 12:02 ($0.00375) brings the end forward to 12:15."""
    head = [user("hello", when=ts(0, 0)),
            assistant("m1", "r1", usage(10, 100, cw5=1000), model=SONNET, when=ts(0, 0)),
            assistant("m2", "r2", usage(0, 0, cw5=1000), model=SONNET, when=ts(0, 1))]
    c1 = cost(SONNET_RATES, 10, 100, 1000)
    c2 = cost(SONNET_RATES, w5=1000)
    assert (round(c1, 6), round(c2, 6)) == (0.00528, 0.00375)
    files = make_session(claude_root, head)
    now = T0 + 600
    app = SpendApp(files, [claude_root], PriceTable.embedded(), clock=FakeClock(now), analyse=False,
                   budgets={"day": "0.02"}, notify=False)
    async with app.run_test(size=(160, 50)) as pilot:
        line = app.dashboard.query_one(BudgetLine)
        await wait_for(pilot, lambda: line.text != "", "the budget line")
        spent = c1 + c2
        assert line.text == (f"day budget: $0.0090 of $0.0200 (45%), runs out ~{runs_out(spent, 0.02, T0, now)} "
                             "at this rate")
        assert runs_out(spent, 0.02, T0, now) == "12:22" and line.has_class("-shown")
        assert line.gauges == [(round(10 * spent / 0.02), "green")] == [(5, "green")]  # 45.15 %: under 50 %
        append_jsonl(files.main, [assistant("m3", "r3", usage(0, 0, cw5=1000), model=SONNET, when=ts(0, 2))])
        spent += c2
        want = f"day budget: $0.0128 of $0.0200 (64%), runs out ~{runs_out(spent, 0.02, T0, now)} at this rate"
        await wait_for(pilot, lambda: line.text == want, want)
        assert runs_out(spent, 0.02, T0, now) == "12:15"
        assert line.gauges == [(round(10 * spent / 0.02), "yellow")] == [(6, "yellow")]  # 64 %: past 50 %
        shown = line.shown
        assert shown.plain.startswith("██████░░░░ day budget")
        assert any(span.style == "yellow" and span.end - span.start == 6 for span in shown.spans)


async def test_no_budget_no_budget_line(claude_root: Path) -> None:
    files = make_session(claude_root, [user("hi", when=ts(0, 0)),
                                       assistant("m1", "r1", usage(10, 100), model=SONNET, when=ts(0, 0))])
    app = SpendApp(files, [claude_root], PriceTable.embedded(), clock=FakeClock(T0 + 30), analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        line = app.dashboard.query_one(BudgetLine)
        assert line.text == "" and not line.has_class("-shown") and line.region.height == 0


async def test_session_and_used_up_budgets(claude_root: Path) -> None:
    """A $0.005 session budget and a $1 month budget, at 12:01. The session's $0.00528 used its
    budget up. The month's $0.99472 left, at $0.00528 per 5 minutes (one call: the 5-minute
    floor), lasts 15 h 42 min: until 03:42 the next day, shown with its date."""
    files = make_session(claude_root, [user("hi", when=ts(0, 0)),
                                       assistant("m1", "r1", usage(10, 100, cw5=1000), model=SONNET,
                                                 when=ts(0, 0))])
    now = T0 + 60
    app = SpendApp(files, [claude_root], PriceTable.embedded(), clock=FakeClock(now), analyse=False,
                   budgets={"session": "0.005", "month": "1"}, notify=False)
    async with app.run_test(size=(160, 50)) as pilot:
        line = app.dashboard.query_one(BudgetLine)
        await wait_for(pilot, lambda: line.text != "", "the budget line")
        at = now + (1 - 0.00528) / (0.00528 / 300)
        when = datetime.fromtimestamp(at, timezone.utc).strftime("%b %d %H:%M")
        assert when == "Nov 21 03:42"
        assert line.text == ("session budget: $0.0053 of $0.0050 (106%), used up · "
                             f"month budget: $0.0053 of $1.00 (1%), runs out ~{when} at this rate")
        assert line.gauges == [(10, "red"), (0, "green")]
        assert [BudgetLine.colour(r) for r in (0.49, 0.5, 0.79, 0.8, 0.99, 1.0)] == [
            "green", "yellow", "yellow", "dark_orange", "dark_orange", "red"]


def test_app_gets_the_budget_flags(claude_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`spendtui --daily-budget 20 --no-notify` hands the flags to the app."""
    from spendtui.cli import main

    write_jsonl(claude_root / "projects" / "-tmp-proj" / "s1.jsonl",
                [user("hi", when=ts(0, 0)), assistant("m1", "r1", usage(10, 100), model=SONNET, when=ts(0, 0))])
    got: dict[str, Any] = {}

    def run_app(files: Any, **kw: Any) -> None:
        got.update(kw, files=files)

    monkeypatch.setattr("spendtui.views.app.run_app", run_app)
    assert main(["--claude-dir", str(claude_root), "--daily-budget", "20", "--session-budget", "$3",
                 "--no-notify"]) == 0
    assert got["budgets"] == {"day": "20", "session": "$3"} and got["notify"] is False
    assert got["files"].session_id == "s1"


# ---------------------------------------------------------------- the advice toast
def _explore(chat: Chat, i: int, prev: int) -> int:
    """One read-only Opus call (a Read of its own file) and the file's content; returns the
    prompt the next call reads from the cache."""
    w5 = 10_000 if i == 0 else 600
    chat.call([read(f"r{i}", f"/p/m{i}.py")], w5=w5, read=prev, out=40)
    read_result(chat, f"r{i}", f"/p/m{i}.py", "code\n" * 400)
    return prev + w5


def _exploration(n: int) -> tuple[Chat, list[tuple[int, int, int]], int]:
    """A prompt and ``n`` read-only Opus calls: the chat, each call's (input, 5-minute
    write, cache read), and the prompt the next call would read from the cache."""
    chat = Chat(model=OPUS)
    chat.prompt("where is the bug?")
    prev, usages = 0, []
    for i in range(n):
        usages.append((3, 10_000 if i == 0 else 600, prev))
        prev = _explore(chat, i, prev)
    return chat, usages, prev


async def test_a_new_advice_raises_a_toast(claude_root: Path) -> None:
    """Four read-only Opus calls: no advice yet (model routing needs a run of five). The fifth
    call arrives while the app runs: a toast says what routing them to Haiku saves, the five
    calls priced at Opus's list prices minus the same tokens at Haiku's."""
    chat, usages, prev = _exploration(4)
    files = make_session(claude_root, chat.records)
    app = SpendApp(files, [claude_root], PriceTable.embedded(), clock=FakeClock(T0 + 40))
    seen: list[Message] = []
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.breakdown is not None,
                       "the context analysis")
        assert [t for t in toasts(seen) if t[0].startswith("Advice")] == []
        n = len(chat.records)
        usages.append((3, 600, prev))
        _explore(chat, 4, prev)
        append_jsonl(files.main, chat.records[n:])
        await wait_for(pilot, lambda: any(t[0].startswith("Advice") for t in toasts(seen)), "the advice toast")
        saving = sum(cost(OPUS_RATES, i, 40, w, r) - cost(HAIKU_RATES, i, 40, w, r) for i, w, r in usages)
        (title, message), = [t for t in toasts(seen) if t[0].startswith("Advice")]
        assert title == f"Advice: save ${saving:.2f}"
        assert message.startswith(f"5 read-only calls (Read) ran on {OPUS} for ")
        advice = [a for a in app.snapshot.advice if a.kind == "model_routing"]
        assert len(advice) == 1 and advice[0].saving_usd == pytest.approx(saving, abs=1e-9)


# ---------------------------------------------------------------- the plan advice
async def test_plan_advice_from_the_history_read_off_the_ui_thread(claude_root: Path) -> None:
    """Ten days of $12 (800,000 Sonnet output tokens at $15/MTok), the followed session on the
    last: $360 a month at API prices, so Max 20x ($200) would have cost $160 a month less.
    The history is read in the analysis thread; the advice then shows, with its toast, and
    the exit summary has it."""
    from datetime import timedelta

    proj = claude_root / "projects" / "-tmp-proj"
    t0 = datetime.fromtimestamp(T0, timezone.utc)
    for k in range(1, 10):
        when = (t0 - timedelta(days=k)).isoformat().replace("+00:00", "Z")
        write_jsonl(proj / f"d{k}.jsonl", [user("go", session=f"d{k}", when=when),
                                           assistant(f"m{k}", f"r{k}", usage(0, 800_000), model=SONNET,
                                                     session=f"d{k}", when=when)])
    files = make_session(claude_root, [user("go", when=ts(0, 0)),
                                       assistant("m0", "r0", usage(0, 800_000), model=SONNET, when=ts(0, 0))])
    assert cost(SONNET_RATES, out=800_000) == 12.0
    app = SpendApp(files, [claude_root], PriceTable.embedded(), clock=FakeClock(T0 + 30))
    seen: list[Message] = []
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: any(a.kind == "plan" for a in (app.snapshot.advice if app.snapshot else ())),
                       "the plan advice")
        (plan,) = [a for a in app.snapshot.advice if a.kind == "plan"]
        assert plan.saving_usd == 12.0 * 30 - 200 == 160
        assert "You pay API prices; Max 20x ($200/month) would have cost $200" in plan.message
        await wait_for(pilot, lambda: ("Advice: save $160.00", plan.message) in toasts(seen), "the plan toast")
        await app.action_quit()
    assert app.summary is not None
    (saved,) = [a for a in app.summary["advice"] if a["kind"] == "plan"]
    assert saved["saving_usd"] == 160 and saved["evidence"]["projection"]["days_observed"] == 10


# ---------------------------------------------------------------- the printed exit summary
def test_the_printed_exit_summary_leads_with_the_avoidable_spend(claude_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`spendtui` on six read-only Opus calls, quit with q: the summary it prints starts its
    advice with the avoidable-spend headline. Routing was advised at the fifth call, so only
    the sixth counts as avoidable: its Opus price minus its Haiku price."""
    import asyncio

    from spendtui.cli import main

    chat, usages, _prev = _exploration(6)
    make_session(claude_root, chat.records)

    def run_app(files: Any, **kw: Any) -> Any:
        """The real app, headless: wait for its analysis, press q, return what it returns."""
        async def go() -> Any:
            app = SpendApp(files, kw["claude_dirs"], kw["prices"], clock=FakeClock(T0 + 40))
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_for(pilot, lambda: app.snapshot is not None and bool(app.snapshot.advice), "the advice")
                await pilot.press("q")
                await pilot.pause(0.2)
            return app.return_value

        return asyncio.run(go())

    monkeypatch.setattr("spendtui.views.app.run_app", run_app)
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["--claude-dir", str(claude_root)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    spent = sum(cost(OPUS_RATES, i, 40, w, r) for i, w, r in usages)
    i, w, r = usages[5]
    avoidable = cost(OPUS_RATES, i, 40, w, r) - cost(HAIKU_RATES, i, 40, w, r)
    assert round(avoidable, 6) == 0.008772  # 10,965 vs 2,193 micro-dollars
    headline = (f"${spent:,.2f} spent; about ${avoidable:,.2f} of it avoidable ({100 * avoidable / spent:.0f} %): "
                f"{avoidable:.2f} model routing")
    assert headline == "$0.12 spent; about $0.01 of it avoidable (8 %): 0.01 model routing"
    assert headline in printed
    assert printed.index(headline) < printed.index("model_routing: 6 read-only calls")
