"""The API calls table: newest first, bounded by ``LiveStats.max_rows``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from spendtui.core import live
from spendtui.core.live import CallRow
from spendtui.views.app import format as fmt

FLAG_STYLE = {
    live.FLAG_CACHE_MISS: ("miss", "bold red"),
    live.FLAG_COMPACTION: ("compact", "bold magenta"),
    live.FLAG_MODEL_SWITCH: ("switch", "bold yellow"),
    live.FLAG_SUBAGENT: ("agent", "cyan"),
}
COLUMNS = (
    ("time", "time"), ("model", "model"), ("tools", "tools"), ("input", "input"),
    ("c.write", "cache_write"), ("c.read", "cache_read"), ("output", "output"), ("context", "context"),
    ("cost", "cost"), ("flags", "flags"),
)


def row_key(row: CallRow) -> str:
    return f"{row.key[0]}|{row.key[1]}"


def flags_text(flags: frozenset[str], agent_type: str | None = None) -> Text:
    """Coloured short tags; a sub-agent's tag is its type when known (Explore, Plan...)."""
    out = Text()
    for flag in live.FLAGS:
        if flag in flags:
            label, style = FLAG_STYLE[flag]
            if flag == live.FLAG_SUBAGENT and agent_type:
                label = agent_type
            if out:
                out.append(" ")
            out.append(label, style=style)
    return out


def _num(n: int) -> Text:
    return Text(fmt.tokens(n) if n else "·", justify="right", style="" if n else "dim")


def row_cells(row: CallRow) -> tuple[Text | str, ...]:
    tools = ",".join(row.tools)
    cost = Text(fmt.usd(row.cost_pico), justify="right", style="bold" if row.cost_pico else "dim")
    write = _num(row.cache_write)
    if row.cache_write_1h:
        write.append("ʰ", style="dim")  # 1-hour writes cost more: mark them
    return (
        fmt.clock_time(row.timestamp),
        # sub-agent calls are indented under the main chain's
        Text(fmt.short_model(row.model)) if row.agent_id is None else Text("↳ " + fmt.short_model(row.model),
                                                                          style="cyan"),
        Text(tools[:28] + ("…" if len(tools) > 28 else ""), style="dim") if tools else Text("-", style="dim"),
        _num(row.input), write, _num(row.cache_read), _num(row.output), _num(row.context), cost,
        flags_text(row.flags, row.agent_type),
    )


class CallsTable(DataTable[Text | str]):
    """Rebuilt only when the set of rows changed; a call that grew is updated in place."""

    DEFAULT_CSS = """
    CallsTable { height: 1fr; border: round $primary 60%; border-title-color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.border_title = "API calls (newest first)"
        self._rows: tuple[CallRow, ...] = ()

    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        """Columns may be needed before on_mount ran (a snapshot shown while composing)."""
        if not self.columns:
            for label, key in COLUMNS:
                self.add_column(label, key=key)

    def show(self, rows: Sequence[CallRow]) -> None:
        rows = tuple(rows)
        if rows == self._rows:
            return
        self._ensure_columns()
        if [r.key for r in rows] == [r.key for r in self._rows]:
            for old, new in zip(self._rows, rows, strict=True):
                if old != new:
                    for (_label, col), value in zip(COLUMNS, row_cells(new), strict=True):
                        self.update_cell(row_key(new), col, value)
            self._rows = rows
            return
        # a cursor on the newest row follows new calls (tail mode); elsewhere it stays on its call
        selected = (self._rows[self.cursor_row].key if self._rows and 0 < self.cursor_row < len(self._rows)
                    else None)
        self.clear()
        for r in rows:
            self.add_row(*row_cells(r), key=row_key(r))
        self._rows = rows
        if selected is not None:
            for i, r in enumerate(rows):
                if r.key == selected:
                    self.move_cursor(row=i, animate=False)
                    break
        self.border_subtitle = f"{len(rows)} shown"
