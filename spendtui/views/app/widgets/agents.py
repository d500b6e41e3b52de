"""Sub-agents: type, model, calls, cost (and what each was asked to do)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from spendtui.core.live import AgentRow
from spendtui.views.app import format as fmt
from spendtui.views.app.widgets.rows import RowTable


class AgentsPanel(RowTable):
    """Sub-agents, newest first; a row is redrawn only when its agent's numbers changed."""

    DEFAULT_CSS = """
    AgentsPanel { height: 1fr; border: round $primary 60%; border-title-color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(["type", "model", "calls", "cost", "task"], id=id)
        self.border_title = "Sub-agents"
        self._rows: tuple[AgentRow, ...] = ()

    def show(self, rows: Sequence[AgentRow], total_pico: int) -> None:
        rows = tuple(rows)
        subtitle = f"{len(rows)} · {fmt.usd(total_pico)}" if rows else "none yet"
        if rows == self._rows and subtitle == self.border_subtitle:
            return
        before = {a.agent_id: a for a in self._rows}
        changed = {a.agent_id: agent_cells(a) for a in rows if before.get(a.agent_id) != a}
        self.set_rows([a.agent_id for a in rows], changed)
        self._rows = rows
        self.border_subtitle = subtitle


def agent_cells(a: AgentRow) -> tuple[Text | str, ...]:
    return (
        Text(a.agent_type or a.agent_id[:12], style="cyan"),
        fmt.short_model(a.model),
        Text(str(a.calls), justify="right"),
        Text(fmt.usd(a.cost_pico), justify="right", style="bold"),
        Text((a.description or "")[:24], style="dim"),
    )
