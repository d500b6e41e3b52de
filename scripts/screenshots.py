"""Regenerate ``screenshots/*.svg`` headlessly (``App.run_test`` + ``save_screenshot``).

The sessions are real Claude Code transcripts from ``tests/fixtures/samples`` (see
SOURCES.md there), copied into a temporary config dir:

* the followed session starts as ``tomjnsn_agentlogs_subagent.jsonl`` (a Task sub-agent
  written inline), and ``tomjnsn_agentlogs_compact.jsonl`` from the same evening is appended
  while the app runs, so the follower picks it up live (its ``/compact`` raises a toast);
* two more fixtures are other sessions, for the switcher.

The clock is fixed (100 s after the last call) and times are shown in UTC, so the output
only changes when the app does. Usage: ``python scripts/screenshots.py [OUT_DIR]``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spendtui.core.paths import scan_project  # noqa: E402
from spendtui.core.pricing import PriceTable  # noqa: E402
from spendtui.views.app import SpendApp  # noqa: E402

SAMPLES = REPO / "tests" / "fixtures" / "samples"
SIZE = (160, 48)
# tomjnsn_agentlogs_compact.jsonl's last call is at 2025-10-10T21:56:11Z
NOW = datetime(2025, 10, 10, 21, 57, 51, tzinfo=timezone.utc).timestamp()


def build_config(root: Path) -> Path:
    """A Claude config dir with three sessions; returns the followed session's file."""
    proj = root / "projects" / "-Users-philipp-dev-vibeinsights-fixtures-claudecode"
    proj.mkdir(parents=True)
    main = proj / "609efeca-2f51-4118-b077-e91c9fe63f73.jsonl"
    shutil.copyfile(SAMPLES / "tomjnsn_agentlogs_subagent.jsonl", main)
    crud = proj / "8122657c-fe54-4dc9-89a3-20049e8a84f7.jsonl"
    shutil.copyfile(SAMPLES / "tomjnsn_agentlogs_crud.jsonl", crud)
    other = root / "projects" / "-home-marco-projects-spotter"
    other.mkdir(parents=True)
    short = other / "55604662-cf2a-4331-851a-ec234028f8ca.jsonl"
    shutil.copyfile(SAMPLES / "marot_spotter_short.jsonl", short)
    for path, age in ((main, 60), (crud, 3 * 3600), (short, 26 * 3600)):
        os.utime(path, (NOW - age, NOW - age))
    return main


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await asyncio.sleep(0.02)


async def dashboard(root: Path, main: Path, out: Path) -> None:
    files = scan_project(main.parent)[main.stem]
    app = SpendApp(files, [root], PriceTable.embedded(), clock=lambda: NOW)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(lambda: app.updates > 0)
        painted = app.updates
        with open(main, "ab") as f:  # the next part of the evening arrives while we watch
            f.write((SAMPLES / "tomjnsn_agentlogs_compact.jsonl").read_bytes())
        await wait_until(lambda: app.snapshot is not None and app.snapshot.compactions > 0
                         and app.updates > painted and app.analysis_settled, timeout=30)
        await pilot.pause(0.3)
        app.save_screenshot("dashboard.svg", str(out))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot("help.svg", str(out))
        await pilot.press("escape", "s")
        await wait_until(lambda: bool(getattr(app.screen, "sessions", None)))
        await pilot.pause(0.3)
        app.save_screenshot("switcher.svg", str(out))


async def no_session(out: Path) -> None:
    # the default places, spelled for a made-up user so the picture is the same everywhere
    app = SpendApp(None, ["/home/you/.claude", "/home/you/.config/claude"], None, clock=lambda: NOW,
                   poll_for_sessions=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        app.save_screenshot("no-session.svg", str(out))


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spendtui-shots-") as tmp:
        os.environ["SPENDTUI_DATA_DIR"] = str(Path(tmp) / "data")  # never touch the real data dir
        root = Path(tmp) / "claude"
        main_file = build_config(root)
        await dashboard(root, main_file, out)
        await no_session(out)
    for name in sorted(p.name for p in out.glob("*.svg")):
        print(out / name)


if __name__ == "__main__":
    os.environ["TZ"] = "UTC"
    time.tzset()
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "screenshots"))
