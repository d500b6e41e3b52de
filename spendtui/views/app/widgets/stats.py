"""The row of headline numbers (session cost, last call, burn rate, calls, model) and,
under it when a budget is set, the budget line: what is spent and when it runs out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from spendtui.core.live import LiveSnapshot
from spendtui.views.app import format as fmt


class Stat(Static):
    """One headline number under a bordered label."""

    DEFAULT_CSS = """
    Stat {
        width: 1fr;
        height: 4;
        border: round $primary 60%;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__("-", id=id)
        self.border_title = label
        self.value = "-"
        self.note = ""

    def show(self, value: str, note: str = "", style: str = "bold") -> None:
        if (value, note) == (self.value, self.note):
            return
        self.value, self.note = value, note
        text = Text(value, style=style)
        if note:
            text.append("\n" + note, style="dim")
        self.update(text, layout=False)  # a fixed-size box: no layout pass for a new number


class HeaderStats(Horizontal):
    """Headline numbers; ``show`` is called at most ~10 times a second by the app."""

    DEFAULT_CSS = """
    HeaderStats { height: 4; }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Stat("Cost", id="stat-cost")
        yield Stat("Last call", id="stat-last")
        yield Stat("Burn rate", id="stat-burn")
        yield Stat("Calls", id="stat-calls")
        yield Stat("Model", id="stat-model")

    def show(self, snap: LiveSnapshot) -> None:
        cost = fmt.usd(snap.cost_pico)
        if not snap.cost_complete:
            cost += " +?"
        sub = fmt.usd(snap.subagent_cost_pico)
        note = f"sub-agents {sub}" if snap.subagent_cost_pico else "main chain only"
        style = "bold green" if snap.cost_complete else "bold yellow"
        if snap.budget:
            # the budget nearest its limit, coloured as it fills: the gauge of issue "budgets"
            worst = max(snap.budget, key=lambda b: b.ratio)
            note = f"{worst.scope} {100 * worst.ratio:.0f}% of {fmt.usd(worst.budget_pico)}"
            style = "bold red" if worst.ratio >= 1 else "bold yellow" if worst.ratio >= 0.8 else style
        self.query_one("#stat-cost", Stat).show(cost, note, style)
        last = snap.last_call
        if last is None:
            self.query_one("#stat-last", Stat).show("-", "no calls yet")
        else:
            when = fmt.ago(max(0.0, self.clock() - last.timestamp.timestamp())) if last.timestamp else ""
            self.query_one("#stat-last", Stat).show(fmt.usd(last.cost_pico), f"{fmt.short_model(last.model)} {when}")
        active_min = snap.active_seconds / 60
        self.query_one("#stat-burn", Stat).show(fmt.rate(snap.burn_usd_per_hour), f"{active_min:.0f} active min")
        self.query_one("#stat-calls", Stat).show(
            str(snap.calls), f"{snap.main_calls} main · {plural(snap.calls - snap.main_calls, 'agent')} · "
            f"{plural(snap.turns, 'turn')}")
        model = fmt.short_model(snap.current_model)
        unpriced = ", ".join(snap.unpriced_models)
        if unpriced:
            note = f"not priced: {unpriced}"
            if snap.skipped_lines:  # the count first: the box is narrow and crops its end
                note = f"{snap.skipped_lines} skipped · {note}"
        elif snap.skipped_lines:
            # the box is narrow: the count and the commonest reason (summary --json has all)
            reasons = snap.skipped_reasons
            note = f"{snap.skipped_lines} skipped"
            if reasons:
                note += f": {reasons[0][0].split(' (')[0]}" + (" …" if len(reasons) > 1 else "")
        else:
            note = f"{plural(snap.model_switches, 'switch', 'switches')} · {plural(snap.compactions, 'compaction')}"
        self.query_one("#stat-model", Stat).show(model, note, "bold" if not (unpriced or snap.skipped_lines)
                                                 else "bold yellow")


class BudgetLine(Static):
    """Each configured budget with the time it runs out at the current burn rate; hidden
    without budgets. A line of its own: the Cost box has room for a percentage, not a time."""

    DEFAULT_CSS = """
    BudgetLine { height: 1; padding: 0 1; display: none; }
    BudgetLine.-shown { display: block; }
    """

    GAUGE_CELLS = 10

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.clock = clock
        self.text = ""  # the words, without the gauges
        self.gauges: list[tuple[int, str]] = []  # per budget: cells filled, colour
        self.shown = Text()  # the line as drawn

    @staticmethod
    def colour(ratio: float) -> str:
        """The gauge's colour at the warning thresholds (50, 80, 100 %)."""
        return "red" if ratio >= 1 else "dark_orange" if ratio >= 0.8 else "yellow" if ratio >= 0.5 else "green"

    def show(self, states: tuple[Any, ...]) -> None:
        parts = fmt.budget_parts(states, self.clock())
        plain = " · ".join(t for t, _r in parts)
        if plain == self.text:
            return
        n = self.GAUGE_CELLS
        self.gauges = [(min(n, round(n * r)), self.colour(r)) for _t, r in parts]
        pieces = []
        for (t, r), (filled, colour) in zip(parts, self.gauges, strict=True):
            pieces.append(Text.assemble(("█" * filled, colour), ("░" * (n - filled), "dim"), " ",
                                        (t, "bold red" if r >= 1 else "bold yellow" if r >= 0.8 else "")))
        self.text = plain
        self.shown = Text(" · ", style="dim").join(pieces)
        self.set_class(bool(parts), "-shown")
        self.update(self.shown)


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
