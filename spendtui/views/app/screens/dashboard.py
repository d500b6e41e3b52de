"""The main screen: headline numbers, budgets, context gauge, cache, sparklines, calls, sub-agents."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from spendtui.core.live import LiveSnapshot
from spendtui.views.app.widgets import (
    AdvicePanel,
    AgentsPanel,
    BudgetLine,
    CachePanel,
    CallsTable,
    ContextGaugeView,
    HeaderStats,
    Sparks,
)


class DashboardScreen(Screen[None]):
    """Pure view: ``show`` paints one snapshot; the app decides when (coalesced)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(id="dashboard")
        self.clock = clock
        self.snapshot: LiveSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="$")
        yield Static("", id="follow-error")
        yield HeaderStats(self.clock, id="stats")
        yield BudgetLine(self.clock, id="budget-line")
        with Horizontal(id="middle"):
            yield ContextGaugeView(id="gauge")
            yield CachePanel(self.clock, id="cache")
        yield Sparks(id="sparks")
        with Horizontal(id="bottom"):
            yield CallsTable(id="calls")
            with Vertical(id="side"):
                yield AgentsPanel(id="agents")
                yield AdvicePanel(id="advice")
        yield Footer()

    DEFAULT_CSS = """
    #follow-error { display: none; background: $error 30%; color: $text; padding: 0 1; height: auto; }
    #follow-error.-shown { display: block; }
    """

    def show_error(self, text: str | None) -> None:
        """A banner that stays until following works again (a toast would fade away)."""
        banner = self.query_one("#follow-error", Static)
        banner.update(text or "")
        banner.set_class(bool(text), "-shown")

    def show(self, snap: LiveSnapshot) -> None:
        self.snapshot = snap
        self.query_one(HeaderStats).show(snap)
        self.query_one(BudgetLine).show(snap.budget)
        self.query_one(ContextGaugeView).show(snap.gauge, snap.breakdown)
        self.query_one(CachePanel).show(snap.cache, snap.cache_hit_last, snap.cache_hit_session)
        self.query_one(Sparks).show(snap.context_series, snap.cost_series)
        self.query_one(CallsTable).show(snap.rows)
        self.query_one(AgentsPanel).show(snap.agents, snap.subagent_cost_pico)
        self.query_one(AdvicePanel).show(snap.advice, snap.avoidable_headline)
