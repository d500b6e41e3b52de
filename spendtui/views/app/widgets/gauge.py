"""Context size against the window, with the auto-compact point marked on the bar."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from spendtui.core.live import ContextGauge
from spendtui.views.app import format as fmt

PART_STYLES = {"baseline": "blue", "memory": "magenta", "attachments": "cyan", "tools": "green",
               "conversation": "white", "compaction_summary": "yellow", "unlogged": "bright_black",
               "stale": "red"}
PART_LABELS = {"baseline": "system+tools", "compaction_summary": "summary", "attachments": "attach"}


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
        self.breakdown: dict[str, int] | None = None

    def show(self, gauge: ContextGauge, breakdown: dict[str, int] | None = None) -> None:
        if gauge != self.gauge or breakdown != self.breakdown:
            self.gauge = gauge
            self.breakdown = breakdown
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
        # the filled part is split by what fills the context, when the analysis knows
        cells = [style] * filled
        parts = [(k, v) for k, v in (self.breakdown or {}).items() if v > 0]
        total = sum(v for _k, v in parts)
        if parts and total:
            cells, acc = [], 0
            for k, v in parts:
                acc += v
                cells += [PART_STYLES.get(k, style)] * (round(acc / total * filled) - len(cells))
        # one span per run of cells that look alike (a run costs what a cell did: the bar is
        # redrawn with every main call)
        looks = [("┃", "bold magenta") if i == mark else ("█", cells[i]) if i < len(cells) else ("░", "dim")
                 for i in range(width)]
        bar = Text()
        start = 0
        for i in range(1, width + 1):
            if i == width or looks[i] != looks[start]:
                char, look = looks[start]
                bar.append(char * (i - start), style=look)
                start = i
        head = Text.assemble(
            (fmt.tokens(g.current), f"bold {style}"), f" / {fmt.tokens(g.window)} tokens ",
            (f"({100 * g.fraction:.1f}%)", "dim"),
        )
        for k, v in parts:
            head.append("  ")
            head.append("■", style=PART_STYLES.get(k, style))
            head.append(f" {PART_LABELS.get(k, k)} {fmt.tokens(v)}", style="dim")
        tail = Text.assemble(
            ("┃", "bold magenta"), f" auto-compact at {fmt.tokens(g.compact_at)}",
            (f" · {fmt.tokens(g.until_compact)} to go" if g.until_compact else " · compaction due", "dim"),
            (f" · peak {fmt.tokens(g.peak)}", "dim"),
        )
        for line in (head, bar, tail):
            line.no_wrap = True
            line.overflow = "ellipsis"
            line.truncate(width, overflow="ellipsis")
        return Text("\n").join([head, bar, tail])
