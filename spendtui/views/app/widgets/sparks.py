"""Sparklines of context size per main call and cost per call (built-in ``Sparkline``)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from spendtui.views.app import format as fmt


class SparkPanel(Vertical):
    """A labelled sparkline; the series is replaced (never mutated) so it repaints."""

    DEFAULT_CSS = """
    SparkPanel {
        width: 1fr;
        height: 5;
        border: round $primary 60%;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    SparkPanel Label { color: $text-muted; width: 1fr; }
    SparkPanel Sparkline { height: 2; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self._data: tuple[float, ...] = ()
        self._label = "-"

    def compose(self) -> ComposeResult:
        yield Label("-")
        yield Sparkline([])

    def show(self, data: Sequence[float], label: str) -> None:
        data = tuple(data)
        if label != self._label:  # as wide as the panel: a new label needs no layout pass
            self.query_one(Label).update(label, layout=False)
            self._label = label  # only once shown (the panel may still be composing)
        if data != self._data:
            self._data = data
            self.query_one(Sparkline).data = list(data)


class Sparks(Horizontal):
    DEFAULT_CSS = """
    Sparks { height: 5; }
    """

    def compose(self) -> ComposeResult:
        yield SparkPanel("Context per main call", id="spark-context")
        yield SparkPanel("Cost per call", id="spark-cost")

    def show(self, context: Sequence[int], cost: Sequence[float]) -> None:
        ctx_label = (f"last {fmt.tokens(context[-1])} · max {fmt.tokens(max(context))} · {len(context)} calls"
                     if context else "no calls yet")
        cost_label = (f"last {fmt.money(cost[-1])} · max {fmt.money(max(cost))} · {len(cost)} calls"
                      if cost else "no calls yet")
        self.query_one("#spark-context", SparkPanel).show([float(c) for c in context], ctx_label)
        self.query_one("#spark-cost", SparkPanel).show(cost, cost_label)
