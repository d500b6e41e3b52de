"""SVG snapshots of each screen (pytest-textual-snapshot), with a fixed clock and UTC.

Update after reviewing the report: ``pytest tests/app/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from spendtui.core.pricing import PriceTable
from spendtui.views.app import SpendApp
from tests.app.conftest import RICH_LAST_CALL, FakeClock, make_session, rich_session, wait_for
from tests.records import assistant, ts, usage

SIZE = (160, 50)


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SpendApp)
    await wait_for(pilot, lambda: app.analysis_settled, "the analysis, painted", timeout=30)
    await pilot.pause()


def test_dashboard(snap_compare: Any, claude_root: Path, prices: PriceTable) -> None:
    files = rich_session(claude_root)
    # 75 s after the last call: the 5-minute cache has 3:45 left
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(RICH_LAST_CALL + 75), watch=False)
    assert snap_compare(app, run_before=loaded, terminal_size=SIZE)


def test_dashboard_expired_cache_light_theme(snap_compare: Any, claude_root: Path, prices: PriceTable) -> None:
    files = rich_session(claude_root)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(RICH_LAST_CALL + 900), watch=False)

    async def light(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("t")

    assert snap_compare(app, run_before=light, terminal_size=(120, 40))


def test_help_screen(snap_compare: Any, claude_root: Path, prices: PriceTable) -> None:
    files = rich_session(claude_root)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(RICH_LAST_CALL + 75), watch=False)

    async def help_(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, run_before=help_, terminal_size=SIZE)


def test_no_session_screen(snap_compare: Any) -> None:
    app = SpendApp(None, ["/nonexistent/claude-config"], None, poll_for_sessions=False)
    assert snap_compare(app, terminal_size=(120, 30))


def test_session_switcher(snap_compare: Any, claude_root: Path, prices: PriceTable) -> None:
    files = rich_session(claude_root)
    older = make_session(claude_root, [assistant("o1", "p1", usage(7, 70, cw5=900), session="s0",
                                                 when=ts(0, 0, 9))], sid="s0")
    os.utime(older.main, (RICH_LAST_CALL - 7200, RICH_LAST_CALL - 7200))
    for f in files.files:
        os.utime(f, (RICH_LAST_CALL, RICH_LAST_CALL))
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(RICH_LAST_CALL + 75), watch=False)

    async def switcher(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the session list")
        await pilot.pause()

    assert snap_compare(app, run_before=switcher, terminal_size=SIZE)


@pytest.mark.parametrize("size", [(80, 24), (100, 32)])
def test_dashboard_small_terminals(snap_compare: Any, claude_root: Path, prices: PriceTable,
                                   size: tuple[int, int]) -> None:
    """80x24 is many terminals' default: calls must stay readable there."""
    files = rich_session(claude_root)
    app = SpendApp(files, [claude_root], prices, clock=FakeClock(RICH_LAST_CALL + 75), watch=False)
    assert snap_compare(app, run_before=loaded, terminal_size=size)
