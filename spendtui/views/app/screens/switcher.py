"""`s`: pick another session; the app restarts its follower on the choice."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from spendtui.core.paths import NoClaudeDataError, SessionFiles, discover, session_cwd
from spendtui.views.app import format as fmt

MAX_SESSIONS = 200


def session_option(s: SessionFiles, current: str | None, now: float) -> Option:
    cwd = session_cwd(s) or s.project_dir.name
    mark = "●" if s.session_id == current else " "
    agents = f" +{len(s.agents)} agents" if s.agents else ""
    prompt = Text.assemble(
        (f"{mark} ", "green"), (s.session_id[:8], "bold cyan"), "  ",
        (f"{fmt.ago(max(0.0, now - s.mtime())):>9}", "dim"), "  ",
        (f"{s.size() / 1e6:7.2f} MB", "dim"), "  ", cwd, (agents, "dim"),
    )
    return Option(prompt, id=s.session_id)


class SessionSwitcher(ModalScreen[SessionFiles | None]):
    """Lists ``discover()`` newest first; lists in a thread (it stats every file)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel", id="switch-cancel")]
    DEFAULT_CSS = """
    SessionSwitcher { align: center middle; }
    #switch-box {
        width: 110; max-width: 95%; height: 70%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    #switch-box OptionList { height: 1fr; border: none; padding: 0; }
    #switch-box Label { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, claude_dirs: Sequence[str | Path] | None, current: str | None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(id="switcher")
        self.claude_dirs = list(claude_dirs) if claude_dirs else None
        self.current = current
        self.clock = clock
        self.sessions: dict[str, SessionFiles] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="switch-box"):
            yield Label("enter: follow the session · esc: cancel", id="switch-title")
            yield OptionList(Option("looking for sessions…", disabled=True), id="sessions")

    def on_mount(self) -> None:
        self.query_one("#switch-box").border_title = "Switch session"
        self._list()

    @work(thread=True, exclusive=True, group="list-sessions", exit_on_error=False)
    def _list(self) -> list[tuple[SessionFiles, Option]]:
        try:
            sessions = discover(self.claude_dirs)[:MAX_SESSIONS]
        except NoClaudeDataError:
            sessions = []
        now = self.clock()
        return [(s, session_option(s, self.current, now)) for s in sessions]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "list-sessions" or event.state != WorkerState.SUCCESS:
            return
        found: list[tuple[SessionFiles, Option]] = event.worker.result or []
        options = self.query_one("#sessions", OptionList)
        options.clear_options()
        self.sessions = {s.session_id: s for s, _ in found}
        if not found:
            options.add_option(Option("no sessions found", disabled=True))
            return
        options.add_options([o for _, o in found])
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = self.sessions.get(event.option.id or "")
        if chosen is not None:
            self.dismiss(chosen)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
