"""The API calls table: newest first, bounded by ``LiveStats.max_rows``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from spendtui.core import live
from spendtui.core.live import CallRow
from spendtui.views.app import format as fmt
from spendtui.views.app.widgets.rows import RowTable

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


class CallsTable(RowTable):
    """Newest first. A new call adds a row at the top and the oldest beyond the bound goes;
    a call that grew (a later block line with more output) has its row redrawn; the rest
    of the rows are not touched (see ``RowTable``)."""

    DEFAULT_CSS = """
    CallsTable { height: 1fr; border: round $primary 60%; border-title-color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__([label for label, _key in COLUMNS], id=id)
        self.border_title = "API calls (newest first)"
        self._rows: tuple[CallRow, ...] = ()

    def show(self, rows: Sequence[CallRow]) -> None:
        rows = tuple(rows)
        if rows == self._rows:
            return
        before = {r.key: r for r in self._rows}
        changed = {row_key(r): row_cells(r) for r in rows if before.get(r.key) != r}
        # a cursor on the newest row follows new calls (tail mode); elsewhere it stays on its call
        selected = self.row_key_at(self.cursor_row) if self.cursor_row > 0 else None
        keys = [row_key(r) for r in rows]
        self.set_rows(keys, changed)
        self._rows = rows
        if selected is not None and selected in changed.keys() | set(keys):
            self.move_cursor(row=keys.index(selected), animate=False)
        self.border_subtitle = f"{len(rows)} shown"
