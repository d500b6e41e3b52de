"""``RowTable``: a keyed table drawn line by line, each row's line kept until the row changes.

Why not Textual's ``DataTable``: any change to a DataTable (a row added, one removed, one
cell updated) bumps a counter that is part of every cell's render-cache key, so every
visible cell is rendered again (~0.25 ms each); with zebra stripes by position, a row
added at the top also restyles every row below it. The live calls table gains a row at
the top with each API call, so at a few calls a second the dashboard spent most of its
CPU re-rendering the same 40 rows. Here a row is rendered once per look (its stripe,
which stays with the row, or the cursor) and kept; new rows, changed rows and a moved
cursor are all that is drawn again, and scrolling crops kept lines.

What the dashboard uses of DataTable is kept: a header, columns as wide as their widest
cell, zebra stripes, a row cursor (keys, mouse, scroll into view) and ``row_count`` /
``get_row_at`` / ``cursor_row`` / ``move_cursor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Text | str

HEADER, EVEN, ODD, CURSOR = range(4)


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


class RowTable(ScrollView, can_focus=True):
    """Rows in the order given to ``set_rows`` (the caller sorts), each under a key."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header", "rowtable--cursor", "rowtable--even-row", "rowtable--odd-row",
    }
    # DataTable's look (its default CSS for the same parts), so the dashboard looks as before
    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        & > .rowtable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .rowtable--odd-row { }
        & > .rowtable--even-row { background: $surface-lighten-1 50%; }
        &:dark > .rowtable--even-row { background: $surface-darken-1 40%; }
        & > .rowtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .rowtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .rowtable--header { background-tint: $foreground 5%; }
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
    ]

    def __init__(self, columns: Sequence[str], *, zebra_stripes: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zebra_stripes = zebra_stripes
        self._labels = tuple(Text(c, style="bold") for c in columns)
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._cell_widths: dict[str, tuple[int, ...]] = {}
        self._stripe: dict[str, int] = {}  # EVEN or ODD, fixed when the row first appears
        self._next_stripe = EVEN
        self._widths: tuple[int, ...] = tuple(t.cell_len for t in self._labels)
        self._strips: dict[tuple[str, int], Strip] = {}
        self._header: Strip | None = None
        self._styles: list[Style] | None = None
        self._cursor = 0
        self.renders = 0
        """Rows rendered so far (kept lines are not counted): what a test can hold us to."""

    # ------------------------------------------------------------ data
    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def get_row_at(self, row: int) -> list[Cell]:
        return list(self._cells[self._keys[row]])

    def row_key_at(self, row: int) -> str | None:
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def set_rows(self, keys: Sequence[str], cells: Mapping[str, Sequence[Cell]]) -> None:
        """Show the rows ``keys``, in that order. ``cells`` holds the cells of new rows and of
        rows that changed; a key not in it keeps the cells it had. Only those rows, and any
        row the cursor moved onto or off, are drawn again."""
        keep = set(keys)
        for gone in [k for k in self._cells if k not in keep]:
            del self._cells[gone], self._cell_widths[gone], self._stripe[gone]
            self._drop(gone)
        for k, row in cells.items():
            if k not in keep:
                continue
            texts = tuple(_text(c) for c in row)
            if self._cells.get(k) == texts:
                continue
            self._cells[k] = texts
            self._cell_widths[k] = tuple(t.cell_len for t in texts)
            if k not in self._stripe:
                self._stripe[k] = self._next_stripe
                self._next_stripe = ODD if self._next_stripe == EVEN else EVEN
            self._drop(k)
        missing = [k for k in keys if k not in self._cells]
        if missing:
            raise KeyError(f"rows without cells: {missing[:3]}")
        self._keys = list(keys)
        self._index = {k: i for i, k in enumerate(self._keys)}
        widths = [t.cell_len for t in self._labels]
        for ws in self._cell_widths.values():
            for i, w in enumerate(ws):
                if w > widths[i]:
                    widths[i] = w
        if tuple(widths) != self._widths:  # a wider cell: every line is drawn again
            self._widths = tuple(widths)
            self._strips.clear()
            self._header = None
        self._cursor = min(self._cursor, max(0, len(self._keys) - 1))
        self.virtual_size = Size(sum(w + 2 for w in self._widths), len(self._keys) + 1)
        self.refresh()

    def clear(self) -> None:
        self.set_rows([], {})

    def _drop(self, key: str) -> None:
        for kind in (EVEN, ODD, CURSOR):
            self._strips.pop((key, kind), None)

    # ------------------------------------------------------------ cursor
    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            self._cursor = row
            self.refresh()
        if scroll:
            self._scroll_to_cursor(animate)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        rows_shown = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate)
        elif self._cursor >= top + rows_shown:
            self.scroll_to(y=self._cursor - rows_shown + 1, animate=animate)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self._cursor - max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self.move_cursor(row=self._cursor + max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._keys) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(row=offset.y - 1 + round(self.scroll_y), scroll=False)

    # ------------------------------------------------------------ looks
    def notify_style_update(self) -> None:
        """Theme or focus changed: every kept line is drawn again in the new style."""
        super().notify_style_update()
        self._restyle()

    def on_focus(self) -> None:
        self._restyle()

    def on_blur(self) -> None:
        self._restyle()

    def _restyle(self) -> None:
        self._styles = None
        self._strips.clear()
        self._header = None
        self.refresh()

    def _style(self, kind: int) -> Style:
        if self._styles is None:
            self._styles = [self.get_component_rich_style(f"rowtable--{name}")
                            for name in ("header", "even-row", "odd-row", "cursor")]
        return self._styles[kind]

    def _line(self, cells: Sequence[Text], kind: int) -> Strip:
        """One row (or the header) at full width: each cell padded by one space a side."""
        style = self._style(kind)
        console = self.app.console
        segments: list[Segment] = []
        pad = Segment(" ", style)
        for cell, width in zip(cells, self._widths, strict=True):
            text = cell.copy()
            text.no_wrap = True
            text.truncate(width, overflow="ellipsis")
            text.align(text.justify if text.justify in ("left", "center", "right") else "left", width)
            # Text.render leaves out the text's own style (only its spans): it goes under them
            own = text.style if isinstance(text.style, Style) else console.get_style(text.style, default=Style())
            rendered = text.render(console)
            segments.append(pad)
            if kind == CURSOR:  # the cursor's colours win over the cell's, as in DataTable
                segments.extend(Segment.apply_style(rendered, style=own, post_style=style))
            else:
                segments.extend(Segment.apply_style(rendered, style=style + own))
            segments.append(pad)
        return Strip(segments, sum(w + 2 for w in self._widths))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            if self._header is None:
                self._header = self._line(self._labels, HEADER)
            strip, kind = self._header, HEADER
        else:
            i = y - 1 + scroll_y
            if i >= len(self._keys):
                return Strip.blank(width, self.rich_style)
            key = self._keys[i]
            kind = CURSOR if i == self._cursor else self._stripe[key] if self.zebra_stripes else ODD
            strip_or_none = self._strips.get((key, kind))
            if strip_or_none is None:
                strip_or_none = self._line(self._cells[key], kind)
                self._strips[(key, kind)] = strip_or_none
                self.renders += 1
            strip = strip_or_none
        # past the last column the row's own background goes on, as in DataTable
        return strip.crop_extend(scroll_x, scroll_x + width, self._style(kind))
