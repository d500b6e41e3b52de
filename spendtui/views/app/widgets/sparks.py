"""Sparklines of context size per main call and cost per call (built-in ``Sparkline``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Label, Sparkline

from spendtui.views.app import format as fmt

SPARK_SECONDS = 1.0


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
        self._shown_at = -SPARK_SECONDS  # monotonic time the sparkline last got new data
        self._later: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("-")
        yield Sparkline([])

    def show(self, data: Sequence[float], label: str) -> None:
        data = tuple(data)
        self.query_one(Sparkline)  # still composing: raises before anything is recorded (retried)
        if label != self._label:  # as wide as the panel: a new label needs no layout pass
            self.query_one(Label).update(label, layout=False)
            self._label = label  # only once shown (the panel may still be composing)
        if data != self._data:
            self._data = data
            wait = self._shown_at + SPARK_SECONDS - time.monotonic()
            if wait <= 0:
                self._draw()
            elif self._later is None:
                self._later = self.set_timer(wait, self._draw, name="sparkline")

    def _draw(self) -> None:
        """At most once a second: the bars are a trend over 120 calls, and drawing them (a
        coloured cell each) was a fifth of a paint."""
        self._later = None
        self._shown_at = time.monotonic()
        self.query_one(Sparkline).data = list(self._data)


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
