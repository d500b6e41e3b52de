"""Advice: what would make this session cheaper, biggest saving first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static


class AdvicePanel(Static):
    DEFAULT_CSS = """
    AdvicePanel { height: 1fr; border: round $warning 60%; border-title-color: $text-muted; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.border_title = "Advice"
        self.items: tuple[tuple[str, str, float], ...] = ()

    def show(self, advice: Sequence[Any], headline: str | None = None) -> None:
        items = tuple((a.kind, a.message, a.saving_usd) for a in advice)
        if items == self.items and headline == self.border_subtitle:
            return
        self.items = items
        self.border_subtitle = headline or ""
        # a panel of fixed size (its share of the side column): new advice needs no layout pass,
        # and the TTL countdown's advice changes on every refresh of the analysis
        if not items:
            self.update(Text("nothing to change: the session is lean", style="dim"), layout=False)
            return
        text = Text()
        for i, (kind, message, saving) in enumerate(items):
            if i:
                text.append("\n")
            text.append(f"${saving:.2f} " if saving >= 0.005 else "", style="bold green")
            text.append(f"[{kind}] ", style="bold yellow")
            text.append(message)
        self.update(text, layout=False)
