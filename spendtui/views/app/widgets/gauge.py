"""Context size against the window, with the auto-compact point marked on the bar."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from spendtui.core.live import ContextGauge
from spendtui.views.app import format as fmt


class ContextGaugeView(Widget):
    """A one-line bar plus the numbers; red once the context is past the compact point."""

    DEFAULT_CSS = """
    ContextGaugeView {
        height: 5;
        border: round $primary 60%;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Context"
        self.gauge: ContextGauge | None = None

    def show(self, gauge: ContextGauge) -> None:
        if gauge != self.gauge:
            self.gauge = gauge
            self.refresh()

    def render(self) -> Text:
        g = self.gauge
        if g is None:
            return Text("waiting for the first call…", style="dim")
        width = max(10, self.content_size.width)
        style = "green"
        if g.current >= g.compact_at:
            style = "red"
        elif g.current >= 0.75 * g.compact_at:
            style = "yellow"
        filled = min(width, round(g.fraction * width))
        mark = min(width - 1, int(g.compact_at / g.window * width)) if g.window else width - 1
        bar = Text()
        for i in range(width):
            if i == mark:
                bar.append("┃", style="bold magenta")
            elif i < filled:
                bar.append("█", style=style)
            else:
                bar.append("░", style="dim")
        head = Text.assemble(
            (fmt.tokens(g.current), f"bold {style}"), f" / {fmt.tokens(g.window)} tokens ",
            (f"({100 * g.fraction:.1f}%)", "dim"),
        )
        tail = Text.assemble(
            ("┃", "bold magenta"), f" auto-compact at {fmt.tokens(g.compact_at)}",
            (f" · {fmt.tokens(g.until_compact)} to go" if g.until_compact else " · compaction due", "dim"),
            (f" · peak {fmt.tokens(g.peak)}", "dim"),
        )
        return Text("\n").join([head, bar, tail])
