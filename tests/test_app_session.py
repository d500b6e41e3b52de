"""Which session the app opens with: `spendtui --session X`, `spendtui --project P`, or the
default, on real transcripts in a temp config dir (cmd_app's own resolution, argv parsed by the
real parser), and the app itself waiting for a session of `--project` (Pilot)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from spendtui.cli import EXIT_NOT_FOUND, EXIT_USAGE, app_session, build_parser, main
from spendtui.core.paths import encode_project_dir
from spendtui.core.pricing import PriceTable
from spendtui.views.app import SpendApp
from spendtui.views.app.screens import NoSessionScreen
from tests.app.conftest import FakeClock, wait_for
from tests.records import assistant, usage, user, write_jsonl

# session id -> (project folder under the work dir, age in hours: the newest has the smallest)
WORLD = {
    "aaaa1111-old-a": ("a", 4),
    "aaaa2222-new-a": ("a", 2),
    "cccc3333-sub-a": ("a/sub", 3),
    "bbbb4444-newest-b": ("b", 1),
}


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """(claude dir, work dir): sessions of projects work/a, work/a/sub and work/b, their
    transcripts written with ages set by mtime, as Claude Code's would be."""
    root, work = tmp_path / "claude", tmp_path / "work"
    now = time.time()
    for sid, (folder, hours) in WORLD.items():
        cwd = work / folder
        cwd.mkdir(parents=True, exist_ok=True)
        path = write_jsonl(root / "projects" / encode_project_dir(str(cwd)) / f"{sid}.jsonl",
                           [user("hi", session=sid, cwd=str(cwd)),
                            assistant(f"msg_{sid}", f"req_{sid}", usage(out=hours), session=sid, cwd=str(cwd))])
        os.utime(path, (now - hours * 3600, now - hours * 3600))
    return root, work


def chosen(root: Path, *argv: str) -> str | None:
    args = build_parser().parse_args(["--claude-dir", str(root), *argv])
    assert args.command is None  # the app, not a subcommand
    files, code = app_session(args)
    assert code is None
    return files.session_id if files else None


def test_session_flag_picks_by_id_prefix_or_path_and_wins_over_project(world: tuple[Path, Path]) -> None:
    root, work = world
    assert chosen(root, "--session", "aaaa1111-old-a") == "aaaa1111-old-a"
    assert chosen(root, "--session", "cccc") == "cccc3333-sub-a"
    path = next(root.glob("projects/*/aaaa2222-new-a.jsonl"))
    assert chosen(root, "--session", str(path)) == "aaaa2222-new-a"
    assert chosen(root, "--session", "aaaa1111", "--project", str(work / "b")) == "aaaa1111-old-a"


def test_project_flag_picks_the_newest_session_of_that_project_or_below(world: tuple[Path, Path],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root, work = world
    monkeypatch.chdir(work / "b")  # the current folder must not matter
    assert chosen(root, "--project", str(work / "a")) == "aaaa2222-new-a"  # not b's newer one
    assert chosen(root, "--project", str(work / "a" / "sub")) == "cccc3333-sub-a"
    assert chosen(root, "--project", str(work / "b")) == "bbbb4444-newest-b"
    assert chosen(root, "--project", str(work / "nowhere")) is None  # the no-session screen, for that project


def test_default_is_the_current_folders_project_else_the_newest(world: tuple[Path, Path],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    root, work = world
    (work / "a" / "sub" / "deeper").mkdir()
    monkeypatch.chdir(work / "a" / "sub" / "deeper")
    assert chosen(root) == "cccc3333-sub-a"  # the deepest project holding the folder, not a's newer one
    monkeypatch.chdir(work / "a")
    assert chosen(root) == "aaaa2222-new-a"
    monkeypatch.chdir(tmp_path)
    assert chosen(root) == "bbbb4444-newest-b"


def test_unknown_or_ambiguous_session_stops_before_the_app(world: tuple[Path, Path],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root, _work = world
    assert main(["--claude-dir", str(root), "--session", "zzzz"]) == EXIT_NOT_FOUND
    assert "no session matches 'zzzz'" in capsys.readouterr().err
    assert main(["--claude-dir", str(root), "--session", "aaaa"]) == EXIT_USAGE
    assert "ambiguous" in capsys.readouterr().err


async def test_app_with_project_waits_for_a_session_of_that_project(world: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    """`spendtui --project P` before P has a session: the no-session screen must not settle for
    another project's (newer) session, and opens P's when it appears."""
    root, work = world
    fresh = work / "fresh"
    fresh.mkdir()
    args = build_parser().parse_args(["--claude-dir", str(root), "--project", str(fresh)])
    files, code = app_session(args)
    assert files is None and code is None
    app = SpendApp(files, [root], PriceTable.embedded(), clock=FakeClock(), poll_for_sessions=False,
                   project=args.project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NoSessionScreen)
        text = screen.query_one("#no-session-text").render()
        assert str(fresh) in getattr(text, "plain", str(text))
        # a newer session in another project: not ours
        other = work / "b"
        write_jsonl(root / "projects" / encode_project_dir(str(other)) / "dddd5555-other.jsonl",
                    [user("x", session="dddd5555-other", cwd=str(other))])
        await pilot.press("r")
        await wait_for(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "look-for-sessions"),
                       "the look for sessions to end")
        await pilot.pause(0.1)  # its result handled
        assert isinstance(app.screen, NoSessionScreen)
        # Claude Code starts in the project
        write_jsonl(root / "projects" / encode_project_dir(str(fresh)) / "eeee6666-fresh.jsonl",
                    [user("y", session="eeee6666-fresh", cwd=str(fresh)),
                     assistant("msg_f", "req_f", usage(out=3), session="eeee6666-fresh", cwd=str(fresh))])
        await pilot.press("r")
        await wait_for(pilot, lambda: not isinstance(app.screen, NoSessionScreen) and app.updates > 0,
                       "the project's session on the dashboard")
        assert app.snapshot is not None and app.snapshot.session_id == "eeee6666-fresh"
        await pilot.press("q")
    assert app.return_value is not None and app.return_value["session_id"] == "eeee6666-fresh"
