"""`?`: what each panel means and which keys do what."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# spendtui

What the Claude Code session beside you costs, live, and why.

## Panels

- **Session cost**: every API call of the session, main chain and sub-agents, at list
  prices. `+?` means a model is not in the price table (its calls are unknown, not free).
- **Last call**: the newest call's cost.
- **Burn rate**: cost per hour of *active* time; gaps over 5 minutes between calls do not count.
- **Context**: the prompt size of the last main call against the model's window. `┃` marks
  the auto-compact point, about 33K below the window. A call over 200K proves a 1M window.
- **Prompt cache**: the share of the prompt read from cache, and the cache TTL (5 minutes,
  or 1 hour when the last cache writes were 1-hour writes) counting down from the last main
  call. *Next call* is what resending the current prompt costs while the cache is warm, and
  after it expires (the whole prompt written to the cache again).
- **API calls**: newest first, with tokens by kind, context and cost. Flags: `miss` the
  cache was rewritten, `compact` the first call after a compaction, `switch` a model switch;
  a sub-agent's calls show `↳` before the model and the agent's type as a flag.
  `ʰ` marks 1-hour cache writes.
- **Sub-agents**: one row per sub-agent that made calls.

## Keys

| Key | Action |
|---|---|
| `s` | Switch session |
| `t` | Toggle light/dark theme |
| `ctrl+p` | Command palette: switch session, themes, save the summary now |
| `?` | This help (`esc` closes it) |
| `q` / `ctrl+c` | Quit and print the session summary (also saved as JSON) |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help-close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 110; max-width: 95%; height: 85%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Help"
            box.border_subtitle = "esc to close"
            yield Markdown(HELP)
