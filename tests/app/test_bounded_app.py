"""The app's work per call and its memory stay bounded in a long session (issue #6).

Counted, not timed: how many table rows a new call makes the app draw, how many times the
live analysis runs, and that the analysis (which keeps state for every call) is let go of
once the session grows past the size limit `summary --json` applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spendtui.core import summary as summary_mod
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import analysed_summary
from spendtui.views.app import SpendApp
from spendtui.views.app.widgets import CallsTable
from tests.app.conftest import T0, FakeClock, make_session, wait_for
from tests.records import append_jsonl, assistant, ts, usage, user

SONNET = "claude-sonnet-4-5-20250929"


def calls(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [assistant(f"m{i}", f"r{i}", usage(5, 50, cw5=100, cr=1_000 + 10 * i), model=SONNET,
                      when=ts(i % 60, i // 60)) for i in range(start, start + n)]


async def test_a_new_call_draws_its_row_not_the_table(claude_root: Path, prices: PriceTable) -> None:
    files = make_session(claude_root, [user("go", when=ts(0, 0)), *calls(30)])
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0, "the first paint")
        table = app.dashboard.query_one(CallsTable)
        await pilot.pause(0.2)
        before = table.renders
        assert before >= 20  # the rows on screen were drawn once
        for i in range(30, 40):
            append_jsonl(files.main, calls(1, i))
            await wait_for(pilot, lambda n=i: table.row_count == n + 1, f"call {i}'s row", detail=lambda: (
                f"rows {table.row_count}, updates {app.updates}, counted "
                f"{app.follower.model.counted_calls if app.follower else None}, "
                f"watch {app.follower.watch_mode if app.follower else None}, workers {list(app.workers)}"))
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        # each call: its own row (under the cursor, in tail mode) and the row the cursor left
        assert table.renders - before <= 2 * 10 + 2
        assert str(table.get_row_at(0)[0]) == "12:00:39" and table.cursor_row == 0


async def test_the_app_keeps_the_details_of_its_newest_calls_only(claude_root: Path, prices: PriceTable,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Its follower's detail limit is the app's own (a call's details weigh ~2 KB); the totals,
    the table's 60 rows and the analysis still cover every call."""
    from spendtui.core.loader import load_with_dedup
    from spendtui.views.app import app as app_mod
    from spendtui.views.app.widgets import Stat

    monkeypatch.setattr(app_mod, "APP_RETAIN_CALLS", 80)
    files = make_session(claude_root, [user("go", when=ts(0, 0)), *calls(300)])
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0 and app.analyzer is not None, "the analysis")
        append_jsonl(files.main, calls(100, 300))
        table = app.dashboard.query_one(CallsTable)
        await wait_for(pilot, lambda: app.follower is not None and app.follower.model.counted_calls == 400,
                       "the appended calls")
        await pilot.pause(0.3)
        model = app.follower.model
        assert len(model.calls) <= 80 + 80 // 4 + 16 and model.retain == 80
        assert table.row_count == 60
        whole = load_with_dedup(files, prices.cost)
        assert model.cost_pico == whole.cost_pico and len(whole.calls) == 400
        assert app.dashboard.query_one("#stat-cost", Stat).value == f"${whole.cost_pico / 10**12:.4f}"
        a = app.analyzer
        assert a is not None and len(a.calls) == 400 and a.calls.full <= len(model.calls) + 16  # the rest: columns
        await pilot.press("q")
    assert app.return_value is not None and app.return_value["api_calls"] == 400


async def test_the_live_analysis_is_let_go_of_past_the_size_limit(claude_root: Path, prices: PriceTable,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    files = make_session(claude_root, [user("go", when=ts(0, 0)), *calls(5)])
    monkeypatch.setattr(summary_mod, "ANALYSE_MAX_BYTES", files.size() + 3_000)
    clock = FakeClock(T0 + 600)
    app = SpendApp(files, [claude_root], prices, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.analyzer is not None and app.snapshot is not None
                       and app.snapshot.breakdown is not None, "the live analysis")
        model = app.follower.model if app.follower is not None else None
        assert model is not None and model.record_observers
        append_jsonl(files.main, calls(20, 5))  # ~8 KB: past the limit
        await wait_for(pilot, lambda: app.analyzer is None, "the analysis let go of")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.calls == 25
                       and (app.snapshot.avoidable_headline or "").startswith("context analysis off"),
                       "the note on screen")
        assert app.snapshot.breakdown is None and app.snapshot.advice == ()
        assert not model.record_observers  # nothing feeds the analyser any more
        await pilot.press("q")
    result = app.return_value
    assert result is not None and result["context_analysis"].startswith("skipped: session of")
    # what `spendtui summary --json` says of the same files
    expected = analysed_summary(files, prices, now=clock())
    assert json.loads(json.dumps(result)) == json.loads(json.dumps(expected))


async def test_the_live_analysis_runs_within_its_share_of_time(claude_root: Path, prices: PriceTable,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Many batches, few analysis refreshes once one refresh is costly: with a refresh made
    to cost 0.3 s and ANALYSIS_DUTY 0.1, a burst of 20 batches in ~2 s earns at most a few."""
    from spendtui.views.app import app as app_mod

    files = make_session(claude_root, [user("go", when=ts(0, 0)), *calls(3)])
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.analyzer is not None and app.analysis_refreshes > 0, "the analysis")
        real = app._refresh_extras

        def costly(a: Any, follower: Any) -> Any:
            out = real(a, follower)
            app._analysis_took = 0.3  # as if the session were long
            return out

        monkeypatch.setattr(app, "_refresh_extras", costly)
        start = app.analysis_refreshes
        painted = app.updates
        for i in range(3, 23):
            append_jsonl(files.main, calls(1, i))
            await pilot.pause(0.1)
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.calls == 23, "every call")
        assert app.updates - painted >= 10  # the live numbers kept up
        assert app.analysis_refreshes - start <= 3, app_mod.ANALYSIS_DUTY
        # the refresh owed by the last batches still comes (the newest call: 5 + 100 + 1220 tokens)
        await wait_for(pilot, lambda: app.snapshot is not None
                       and sum((app.snapshot.breakdown or {}).values()) == 1_325, "the trailing refresh")


def _orphan_styles_caches() -> int:
    """StylesCache objects alive whose widget is gone (kept by Textual's lru_cache alone)."""
    import gc

    from textual._styles_cache import StylesCache
    from textual.widget import Widget

    gc.collect()
    objects = gc.get_objects()
    owned = {id(o._styles_cache) for o in objects if isinstance(o, Widget)}
    return sum(1 for o in objects if type(o) is StylesCache and id(o) not in owned)


async def _toasts_come_and_go(app: SpendApp, pilot: Any, n: int) -> None:
    """``n`` notifications, each toast drawn as a real terminal would draw the screen (a
    headless app never renders a widget's lines), until every one has gone."""

    def paint() -> None:
        app.screen._compositor.render_update(full=True).render_segments(app.console)

    await wait_for(pilot, lambda: app.updates > 0, "the first paint")
    for i in range(n):
        app.notify(f"notice {i}", timeout=0.05)
        await pilot.pause(0.03)
        paint()
    await wait_for(pilot, lambda: not app._notifications, "the toasts to go")
    await pilot.pause(0.2)
    paint()


async def test_toasts_that_went_keep_no_rendered_lines(claude_root: Path, prices: PriceTable,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A notification's toast, once gone, keeps nothing: Textual's ``get_inner_outer``
    lru_cache would keep its StylesCache (and its Strips) for good (textual#6665). The
    screen is rendered as a real terminal would (headless skips it), so the cache fills."""
    from spendtui.views.app import leaks

    monkeypatch.setattr(leaks, "FORGET_SECONDS", 3600.0)  # not yet: see what Textual keeps
    files = make_session(claude_root, [user("go", when=ts(0, 0)), *calls(3)])
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), analyse=False)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await _toasts_come_and_go(app, pilot, 12)
        kept = _orphan_styles_caches()
        forgot = leaks.forget_removed_widgets()
        assert _orphan_styles_caches() == 0
        # on a Textual with the bug, the toasts were kept until now (and the cache said so)
        assert kept == 0 or forgot >= kept

    # the app does it by itself, on a timer
    monkeypatch.setattr(leaks, "FORGET_SECONDS", 0.1)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(T0), analyse=False)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await _toasts_come_and_go(app, pilot, 6)
        await pilot.pause(0.1)  # the 0.1 s timer's next turn
        assert _orphan_styles_caches() == 0


def test_forgetting_is_a_no_op_on_a_textual_without_that_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Textual that fixed the leak (the method gone, or no lru_cache on it): nothing to do,
    and never an exception in the app's timer."""
    from textual._styles_cache import StylesCache

    from spendtui.views.app import leaks

    monkeypatch.setattr(StylesCache, "get_inner_outer", lambda self, a, b: (a, b))
    assert leaks.forget_removed_widgets() == 0
    monkeypatch.delattr(StylesCache, "get_inner_outer")
    assert leaks.forget_removed_widgets() == 0
