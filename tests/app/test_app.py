"""Pilot tests: a real transcript in tmp_path, the real follower thread, lines appended
while the app runs, and assertions on what the widgets show."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import OptionList

from spendtui.core.loader import load_with_dedup
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from spendtui.views.app import SpendApp
from spendtui.views.app.messages import LiveUpdate
from spendtui.views.app.screens import HelpScreen, NoSessionScreen, SessionSwitcher
from spendtui.views.app.widgets import AgentsPanel, CachePanel, CallsTable, ContextGaugeView, Stat
from tests.app.conftest import T0, FakeClock, make_session, project_dir, wait_for
from tests.conftest import SAMPLES
from tests.records import append_jsonl, assistant, ts, usage, user, write_jsonl

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-6"
M = 10**6
HEAD = [
    user("hello", when=ts(0, 0)),
    # 10*3 + 100*15 + 1000*3.75 = 5280 -> $0.00528
    assistant("m1", "r1", usage(10, 100, cw5=1000), model=SONNET, when=ts(0, 0)),
]


def stat(app: SpendApp, name: str) -> Stat:
    return app.dashboard.query_one(f"#stat-{name}", Stat)


def cells(table: CallsTable, row: int) -> list[str]:
    return [getattr(c, "plain", str(c)) for c in table.get_row_at(row)]


def toasts(seen: list[Message]) -> list[tuple[str, str]]:
    return [(m.notification.title, m.notification.message) for m in seen if isinstance(m, Notify)]


async def test_shows_the_session_already_written(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 30))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        assert stat(app, "cost").value == "$0.0053"
        assert stat(app, "last").value == "$0.0053"
        assert stat(app, "calls").value == "1"
        table = app.dashboard.query_one(CallsTable)
        assert table.row_count == 1
        assert cells(table, 0) == ["12:00:00", "sonnet-4-5", "-", "10", "1.0K", "·", "100", "1.0K", "$0.0053", ""]
        assert "s1" in app.sub_title and "/tmp/proj" in app.sub_title


async def test_an_appended_call_appears_with_its_cost_and_context(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 90))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        # 5*3 + 50*15 + 200*3.75 + 1000*0.3 = 1815 -> $0.001815; session 7095 -> $0.0071
        append_jsonl(files.main, [assistant("m2", "r2", usage(5, 50, cw5=200, cr=1000), model=SONNET,
                                            when=ts(0, 1))])
        table = app.dashboard.query_one(CallsTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the appended call's row")
        assert cells(table, 0)[0] == "12:01:00" and cells(table, 0)[8] == "$0.0018"
        assert stat(app, "cost").value == "$0.0071"
        assert stat(app, "last").value == "$0.0018"
        # active 60 s: $0.007095 / 60 s * 3600 = $0.4257/h
        assert stat(app, "burn").value == "$0.4257/h"
        gauge = app.dashboard.query_one(ContextGaugeView).gauge
        assert gauge is not None
        assert (gauge.current, gauge.window, gauge.compact_at) == (1205, 200_000, 167_000)
        cache = app.dashboard.query_one(CachePanel)
        assert cache.info is not None and cache.info.prompt_tokens == 1205
        assert cache.info.warm_pico == 1205 * 0.3 * M and cache.info.cold_pico == 1205 * 3.75 * M
        assert cache.hit_last == 1000 / 1205


async def test_a_real_api_call_line_is_followed(claude_root: Path, prices: PriceTable) -> None:
    """Real Claude Code lines: a fixture session, then a response copied from another one."""
    main = project_dir(claude_root) / "heavy.jsonl"
    main.write_bytes((SAMPLES / "marot_spotter_tool_heavy.jsonl").read_bytes())
    from spendtui.core.paths import scan_project

    files = scan_project(project_dir(claude_root))["heavy"]
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        table = app.dashboard.query_one(CallsTable)
        before = table.row_count
        line = next(raw for raw in (SAMPLES / "marot_spotter_short.jsonl").read_text().splitlines()
                    if '"usage"' in raw and '"assistant"' in raw)
        with open(main, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        await wait_for(pilot, lambda: table.row_count == before + 1, "the real call's row")
        rec = json.loads(line)
        assert cells(table, 0)[1] == rec["message"]["model"].removeprefix("claude-")


async def test_a_half_written_line_waits_for_its_end(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        line = json.dumps(assistant("m2", "r2", usage(5, 50, cr=1000), model=SONNET, when=ts(0, 1)))
        table = app.dashboard.query_one(CallsTable)
        with open(files.main, "a", encoding="utf-8") as f:
            f.write(line[:40])
        await pilot.pause(0.3)
        assert table.row_count == 1
        with open(files.main, "a", encoding="utf-8") as f:
            f.write(line[40:] + "\n")
        await wait_for(pilot, lambda: table.row_count == 2, "the completed line")


async def test_subagent_file_fills_the_agents_panel(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        sub = project_dir(claude_root) / "s1" / "subagents"
        sub.mkdir(parents=True)
        (sub / "agent-x1.meta.json").write_text(json.dumps({"agentType": "Explore", "description": "look around"}))
        # 3*3 + 5*15 + 100*3.75 = 459 -> $0.000459
        write_jsonl(sub / "agent-x1.jsonl", [assistant("ma", "ra", usage(3, 5, cw5=100), model=SONNET,
                                                       when=ts(30, 0), sidechain=True, agent_id="x1")])
        agents = app.dashboard.query_one(AgentsPanel)
        await wait_for(pilot, lambda: agents.row_count == 1, "the sub-agent row")
        row = [getattr(c, "plain", str(c)) for c in agents.get_row_at(0)]
        assert row[:4] == ["Explore", "sonnet-4-5", "1", "$0.0005"]
        assert cells(app.dashboard.query_one(CallsTable), 0)[1] == "↳ sonnet-4-5"
        flags = cells(app.dashboard.query_one(CallsTable), 0)[9]
        assert flags == "Explore"
        assert stat(app, "cost").note == "sub-agents $0.0005"


async def test_toasts_on_compaction_and_model_switch(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    seen: list[Message] = []
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        assert toasts(seen) == []  # history earns no toasts
        boundary = {"type": "system", "subtype": "compact_boundary", "sessionId": "s1", "cwd": "/tmp/proj",
                    "isSidechain": False, "parentUuid": None, "uuid": "cb1", "timestamp": ts(0, 5),
                    "compactMetadata": {"trigger": "auto", "preTokens": 170_251, "postTokens": 9_000}}
        append_jsonl(files.main, [boundary, assistant("m2", "r2", usage(5, 10, cw5=3000), model=OPUS,
                                                      when=ts(0, 6))])
        await wait_for(pilot, lambda: len(toasts(seen)) >= 2, "two toasts")
        assert toasts(seen) == [("Context compacted", "auto: 170.3K → 9.0K tokens"),
                                ("Model switched", f"{SONNET} → {OPUS}")]
        table = app.dashboard.query_one(CallsTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the new call's row")
        flags = cells(table, 0)[9]
        assert flags == "miss compact switch"


async def test_toast_when_the_cache_ttl_runs_out(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    clock = FakeClock(T0 + 100)  # HEAD's call was at T0 and wrote 5-minute cache entries
    seen: list[Message] = []
    app = SpendApp(files, [claude_root], prices, clock=clock)
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        panel = app.dashboard.query_one(CachePanel)
        panel.tick()
        await pilot.pause()
        assert toasts(seen) == []
        assert "3:20 left of the 5m TTL" in panel.render().plain
        clock.advance(200)
        panel.tick()
        await wait_for(pilot, lambda: bool(toasts(seen)), "the expiry toast")
        title, message = toasts(seen)[0]
        # the next call rewrites the 1010-token prompt: 1010*3.75 vs 1010*0.3 per MTok
        assert title == "Prompt cache expired (5m TTL)"
        assert message == "The next call rewrites 1.0K tokens: $0.0038 instead of $0.0003 (+$0.0035)"
        panel.tick()
        await pilot.pause()
        assert len(toasts(seen)) == 1  # once per expiry
        assert "expired" in panel.render().plain


async def test_already_expired_cache_is_not_announced(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    seen: list[Message] = []
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 3600))
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        app.dashboard.query_one(CachePanel).tick()
        await pilot.pause()
        assert toasts(seen) == []


async def test_clear_follows_the_new_session_with_a_toast(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    seen: list[Message] = []
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        write_jsonl(project_dir(claude_root) / "s2.jsonl", [
            user("<command-name>/clear</command-name>\n<command-message>clear</command-message>",
                 session="s2", when=ts(0, 10)),
            assistant("n1", "q1", usage(4, 8, cw5=500), model=SONNET, session="s2", when=ts(5, 10)),
        ])
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.session_id == "s2"
                       and "s2" in app.sub_title, "the switch to s2 painted")
        assert ("/clear: following the new session", "s1 → s2") in toasts(seen)
        assert app.dashboard.query_one(CallsTable).row_count == 1
        assert "s2" in app.sub_title


async def test_quit_returns_and_saves_the_summary(claude_root: Path, prices: PriceTable,
                                                  tmp_path: Path) -> None:
    files = make_session(claude_root, HEAD)
    clock = FakeClock(T0 + 60)
    app = SpendApp(files, [claude_root], prices, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        append_jsonl(files.main, [assistant("m2", "r2", usage(5, 50, cr=1000), model=SONNET, when=ts(0, 1))])
        await wait_for(pilot, lambda: app.dashboard.query_one(CallsTable).row_count == 2, "the second call")
        # the plan advice's history is read in the analysis thread after the first paint;
        # a quit before it arrives has no plan comparison (summary --json always reads it)
        await wait_for(pilot, lambda: app.plan_kwargs is not None, "the plan advice's history")
        await pilot.press("q")
    result: dict[str, Any] | None = app.return_value
    # what `spendtui summary --json` computes: the accounting plus the context analysis,
    # with the spend history of the plan advice
    from spendtui.core.context import ContextAnalyzer
    from spendtui.core.model import SessionModel

    model = SessionModel(files.session_id)
    analyzer = ContextAnalyzer(model, prices, **(app.plan_kwargs or {}))
    model = load_with_dedup(files, prices.cost, model=model)
    expected = session_summary(model, prices, now=clock(), mtime=files.mtime())
    analyzer.merge_into(expected, now=clock())
    assert "advice" in expected and "breakdown" in expected["context"]
    assert app.plan_kwargs and "comparison" in expected["plan"]  # the history made it into both
    assert result == expected
    saved = Path(os.environ["SPENDTUI_DATA_DIR"]) / "summaries" / "s1.json"
    assert json.loads(saved.read_text()) == json.loads(json.dumps(expected))
    assert app.summary_path == saved


async def test_a_quit_before_the_plan_history_arrived_still_compares_plans(
        claude_root: Path, prices: PriceTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis thread reads the plan advice's history after the first paint; a user who
    quits before it arrived (here: it never does) gets it read at quit, as summary --json does."""
    from datetime import datetime

    from spendtui.core.config import load_config
    from spendtui.core.context import ContextAnalyzer
    from spendtui.core.history import plan_inputs
    from spendtui.core.model import SessionModel

    monkeypatch.setattr(SpendApp, "_load_plan_inputs", lambda self: None)
    files = make_session(claude_root, HEAD)
    clock = FakeClock(T0 + 60)
    app = SpendApp(files, [claude_root], prices, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        await wait_for(pilot, lambda: app.analyzer is not None, "the live analysis")
        await pilot.press("q")
    assert app.plan_kwargs is None
    result: dict[str, Any] | None = app.return_value
    kwargs, _ = plan_inputs([claude_root], prices, load_config(),
                            today=datetime.fromtimestamp(clock()).astimezone().date(), use_cache=False)
    model = SessionModel(files.session_id)
    analyzer = ContextAnalyzer(model, prices, **kwargs)
    model = load_with_dedup(files, prices.cost, model=model)
    expected = session_summary(model, prices, now=clock(), mtime=files.mtime())
    analyzer.merge_into(expected, now=clock())
    assert kwargs["history"] and "comparison" in expected["plan"]
    assert result == expected


async def test_ctrl_c_quits_too(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        await pilot.press("ctrl+c")
    assert app.return_value is not None and app.return_value["api_calls"] == 1


async def test_a_print_while_it_runs_is_harmless(claude_root: Path, prices: PriceTable) -> None:
    """A library that prints (a warning on stderr, a stray print in a thread) goes through
    Textual's capture, which calls ``App._flush(stderr=...)``: the app's own paint method
    once had that name, and every print raised TypeError."""
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 90))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        print("a library's print")
        print("a library's warning", file=sys.stderr)
        failed: list[BaseException] = []

        def in_thread() -> None:
            try:
                print("from a worker thread", flush=True)
            except BaseException as e:
                failed.append(e)

        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
        assert not failed
        append_jsonl(files.main, [assistant("m2", "r2", usage(5, 50, cw5=200, cr=1000), model=SONNET,
                                            when=ts(0, 1))])
        table = app.dashboard.query_one(CallsTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the appended call's row")
        await pilot.press("q")
    assert app.return_value is not None and app.return_value["api_calls"] == 2


async def test_no_session_screen_says_where_it_looked_and_picks_one_up(tmp_path: Path, prices: PriceTable) -> None:
    missing = tmp_path / "nowhere"
    app = SpendApp(None, [missing], prices, clock=FakeClock(T0), poll_for_sessions=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NoSessionScreen)
        text = screen.query_one("#no-session-text").render()
        plain = getattr(text, "plain", str(text))
        assert str(missing) in plain and "--claude-dir" in plain
        # Claude Code starts: the config dir and a session appear
        make_session_root = missing / "projects" / "-tmp-proj"
        write_jsonl(make_session_root / "s9.jsonl", HEAD)
        await pilot.press("r")
        await wait_for(pilot, lambda: not isinstance(app.screen, NoSessionScreen) and app.updates > 0,
                       "the new session on the dashboard")
        assert app.snapshot is not None and app.snapshot.session_id == "s9"
        await pilot.press("q")
    assert app.return_value is not None and app.return_value["session_id"] == "s9"


async def test_quit_without_a_session_returns_none(tmp_path: Path) -> None:
    app = SpendApp(None, [tmp_path / "nowhere"], None, poll_for_sessions=False)
    async with app.run_test() as pilot:
        await pilot.press("q")
    assert app.return_value is None


async def test_switcher_restarts_the_follower_on_the_chosen_session(claude_root: Path,
                                                                    prices: PriceTable) -> None:
    other = make_session(claude_root, [assistant("o1", "p1", usage(7, 7), model=SONNET, session="s0",
                                                 when=ts(0, 0, 11))], sid="s0")
    os.utime(other.main, (T0 - 3600, T0 - 3600))  # older: s1 stays the default
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionSwitcher)
                       and app.screen.query_one(OptionList).option_count == 2
                       and bool(app.screen.sessions), "the session list")
        options = app.screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(2)] == ["s1", "s0"]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.session_id == "s0",
                       "the switch to s0")
        await wait_for(pilot, lambda: stat(app, "calls").value == "1" and "s0" in app.sub_title, "s0 painted")
        assert app.files is not None and app.files.session_id == "s0"


async def test_help_screen_opens_and_closes(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_theme_toggle_and_palette_commands(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.theme
        await pilot.press("t")
        assert app.theme != before
        await pilot.press("t")
        assert app.theme == before
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Switch session", "Toggle light/dark", "Help", "Save summary now", "Theme"):
            assert any(t.startswith(wanted) for t in titles), wanted


async def test_bursts_are_painted_at_most_ten_times_a_second(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        snap = app.snapshot
        assert snap is not None
        start, painted = asyncio_time(), app.updates
        for _ in range(500):
            app.post_message(LiveUpdate(app.generation, snap))
        await pilot.pause(0.35)
        elapsed = asyncio_time() - start
        assert app.updates - painted <= elapsed / 0.1 + 2


async def test_updates_of_a_session_left_behind_are_dropped(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), watch=False, analyse=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        snap = app.snapshot
        assert snap is not None
        stale = type(snap)(**{**{f: getattr(snap, f) for f in snap.__dataclass_fields__}, "cost_pico": 1})
        app.post_message(LiveUpdate(app.generation - 1, stale))
        await pilot.pause(0.2)
        assert app.snapshot is snap


def asyncio_time() -> float:
    import asyncio

    return asyncio.get_running_loop().time()


async def test_cursor_on_the_newest_row_follows_new_calls(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, [*HEAD, assistant("m2", "r2", usage(5, 5, cr=1010), model=SONNET,
                                                        when=ts(0, 1))])
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        table = app.dashboard.query_one(CallsTable)
        assert table.cursor_row == 0
        append_jsonl(files.main, [assistant("m3", "r3", usage(5, 5, cr=1020), model=SONNET, when=ts(0, 2))])
        await wait_for(pilot, lambda: table.row_count == 3, "the third call")
        assert table.cursor_row == 0 and cells(table, 0)[0] == "12:02:00"  # tail mode
        table.move_cursor(row=1)
        append_jsonl(files.main, [assistant("m4", "r4", usage(5, 5, cr=1030), model=SONNET, when=ts(0, 3))])
        await wait_for(pilot, lambda: table.row_count == 4, "the fourth call")
        assert table.cursor_row == 2 and cells(table, 2)[0] == "12:01:00"  # stays on the call it was on


async def test_budget_toasts_and_gauge(claude_root: Path, prices: PriceTable, tmp_path: Path,
                                       monkeypatch: Any) -> None:
    """A $0.01 session budget: HEAD costs $0.00528 (53 %); one more call of $0.00375 makes
    $0.00903 (90 %), another $0.00375 makes $0.01278 (128 %)."""
    cfg = tmp_path / "budget.toml"
    cfg.write_text("[budget]\nsession_usd = 0.01\n")
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    monkeypatch.setattr("spendtui.core.budget.notify_desktop", lambda alert: False)
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 30), analyse=False)
    seen: list[Message] = []
    async with app.run_test(size=(160, 50), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        assert stat(app, "cost").note == "session 53% of $0.0100"
        assert [t for t in toasts(seen) if t[0] == "Budget"] == []  # passed before we started: not news
        # 1000 cache-write tokens at $3.75/MTok = $0.00375 each
        append_jsonl(files.main, [assistant("m2", "r2", usage(0, 0, cw5=1000), model=SONNET, when=ts(0, 1))])
        await wait_for(pilot, lambda: stat(app, "cost").note == "session 90% of $0.0100", "90 %")
        append_jsonl(files.main, [assistant("m3", "r3", usage(0, 0, cw5=1000), model=SONNET, when=ts(0, 2))])
        await wait_for(pilot, lambda: stat(app, "cost").note == "session 128% of $0.0100", "128 %")
        await wait_for(pilot, lambda: len([t for t in toasts(seen) if t[0] == "Budget"]) >= 2, "budget toasts")
        budget = [m for _t, m in toasts(seen) if _t == "Budget"]
        assert "80%" in budget[0] and "100%" in budget[1]


async def test_unreadable_lines_are_shown(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 30))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        append_jsonl(files.main, ["{not json", assistant("m2", "r2", usage(5, 5), model=SONNET, when=ts(0, 1))])
        await wait_for(pilot, lambda: stat(app, "model").note == "1 skipped: invalid JSON", "the skipped count")
        assert stat(app, "calls").value == "2"


async def test_context_breakdown_and_advice_arrive_after_the_first_paint(claude_root: Path,
                                                                        prices: PriceTable) -> None:
    files = make_session(claude_root, HEAD)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0 + 30))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.breakdown is not None,
                       "the context analysis")
        snap = app.snapshot
        # the parts of the newest main call's context add up to its measured size (10 + 1000)
        assert sum(snap.breakdown.values()) == 1010
        assert snap.avoidable_headline and snap.avoidable_headline.startswith("$0.01 spent")
        append_jsonl(files.main, [assistant("m2", "r2", usage(5, 50, cw5=200, cr=1000), model=SONNET,
                                            when=ts(0, 1))])
        await wait_for(pilot, lambda: sum((app.snapshot.breakdown or {}).values()) == 1205, "the live breakdown")
