"""Sub-agents: type, model, calls, cost (and what each was asked to do)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from spendtui.core.live import AgentRow
from spendtui.views.app import format as fmt


class AgentsPanel(DataTable[Text | str]):
    DEFAULT_CSS = """
    AgentsPanel { height: 1fr; border: round $primary 60%; border-title-color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.border_title = "Sub-agents"
        self._rows: tuple[AgentRow, ...] = ()

    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        """Columns may be needed before on_mount ran (a snapshot shown while composing)."""
        if self.columns:
            return
        self.add_column("type", key="type")
        self.add_column("model", key="model")
        self.add_column("calls", key="calls")
        self.add_column("cost", key="cost")
        self.add_column("task", key="task")

    def show(self, rows: Sequence[AgentRow], total_pico: int) -> None:
        rows = tuple(rows)
        if rows == self._rows:
            return
        self._ensure_columns()
        self._rows = rows
        self.clear()
        for a in rows:
            self.add_row(
                Text(a.agent_type or a.agent_id[:12], style="cyan"),
                fmt.short_model(a.model),
                Text(str(a.calls), justify="right"),
                Text(fmt.usd(a.cost_pico), justify="right", style="bold"),
                Text((a.description or "")[:24], style="dim"),
                key=a.agent_id,
            )
        self.border_subtitle = f"{len(rows)} · {fmt.usd(total_pico)}" if rows else "none yet"
