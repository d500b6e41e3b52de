"""Shown when there is no session to follow: where we looked and what to do; it keeps
looking, so starting Claude Code afterwards is enough."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from spendtui.core.paths import (
    NoClaudeDataError,
    SessionFiles,
    discover,
    pick_default,
    projects_dirs,
    sessions_for_project,
)

RETRY_SECONDS = 2.0


def where_we_looked(claude_dirs: Sequence[str | Path] | None) -> tuple[list[Path], bool]:
    """(folders, found_projects): the projects/ folders, or the config dirs without one."""
    try:
        return projects_dirs(claude_dirs), True
    except NoClaudeDataError as e:
        return e.tried, False


def explain(claude_dirs: Sequence[str | Path] | None, project: str | None = None) -> Text:
    places, found = where_we_looked(claude_dirs)
    text = Text()
    text.append("No Claude Code session to follow", style="bold")
    if project:
        text.append(" in project ", style="bold")
        text.append(project, style="bold cyan")
    text.append("\n\n")
    if found:
        text.append("Looked for session transcripts (*.jsonl) in:\n")
    else:
        text.append("Looked for a Claude Code config dir with a projects/ folder in:\n")
    for p in places or [Path("(none)")]:
        text.append(f"  {p}\n", style="cyan")
    text.append("\nWhat to do:\n", style="bold")
    where = "that project" if project else "a project"
    text.append(f"  • start Claude Code (claude) in {where}: this screen picks the session up by itself\n")
    text.append("  • or point spendtui at your config dir: ")
    text.append("spendtui --claude-dir DIR", style="bold")
    text.append(" or ")
    text.append("CLAUDE_CONFIG_DIR=DIR", style="bold")
    text.append("\n  • press ")
    text.append("q", style="bold")
    text.append(" to quit\n")
    return text


class NoSessionScreen(Screen[SessionFiles]):
    """Dismissed with the first session that appears (of ``project`` when one was asked for:
    ``spendtui --project P`` must not settle for another project's session)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "retry", "Look again", id="retry")]
    DEFAULT_CSS = """
    NoSessionScreen { align: center top; }
    #no-session-text {
        width: 100; max-width: 95%; height: auto;
        border: round $warning; border-title-color: $warning; padding: 1 2; margin-top: 2;
    }
    """

    def __init__(self, claude_dirs: Sequence[str | Path] | None, poll: bool = True,
                 project: str | None = None) -> None:
        super().__init__(id="no-session")
        self.claude_dirs = list(claude_dirs) if claude_dirs else None
        self.poll = poll
        self.project = project

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="$")
        yield Static(explain(self.claude_dirs, self.project), id="no-session-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no-session-text").border_title = "No session"
        if self.poll:
            self.set_interval(RETRY_SECONDS, self.action_retry, name="look-for-sessions")

    def action_retry(self) -> None:
        self._look()

    @work(thread=True, exclusive=True, group="look-for-sessions", exit_on_error=False)
    def _look(self) -> SessionFiles | None:
        try:
            sessions = discover(self.claude_dirs)
        except NoClaudeDataError:
            return None
        if self.project:
            mine = sessions_for_project(sessions, self.project)  # newest first, as discovered
            return mine[0] if mine else None
        return pick_default(sessions)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "look-for-sessions" or event.state != WorkerState.SUCCESS:
            return
        found = event.worker.result
        if isinstance(found, SessionFiles):
            if self.is_current:
                self.dismiss(found)
        else:
            # a config dir may have appeared meanwhile: say where we look now
            self.query_one("#no-session-text", Static).update(explain(self.claude_dirs, self.project))
