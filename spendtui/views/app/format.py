"""Short text forms of the dashboard's numbers (pure functions, easy to test)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from spendtui.core.summary import PICO
from spendtui.views.report import money, tokens

_DATE_SUFFIX = re.compile(r"-\d{8}$")


def usd(pico: int | None) -> str:
    """A pico-dollar amount as the reports print it; '-' when unknown (not priced)."""
    return "-" if pico is None else money(pico / PICO)


def rate(usd_per_hour: float | None) -> str:
    return "-" if usd_per_hour is None else f"{money(usd_per_hour)}/h"


def percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.0f}%"


def countdown(seconds: float) -> str:
    """m:ss below an hour, h:mm:ss above (rounded up: 0:00 only when really expired)."""
    s = int(-(-seconds // 1))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h ago"
    return f"{seconds / 86400:.0f}d ago"


def clock_time(ts: datetime | None) -> str:
    """Local wall-clock time of a call (the terminal beside Claude Code is local too)."""
    return ts.astimezone().strftime("%H:%M:%S") if ts else "--:--:--"


BUDGET_ORDER = ("day", "session", "month")  # the day's budget is the one people plan their work by
_LASTS = {"day": "lasts the day", "month": "lasts the month"}


def runs_out(when: datetime, now: float) -> str:
    """Local wall-clock time of a projection; with the date when it is not today."""
    local = when.astimezone()
    today = datetime.fromtimestamp(now).astimezone().date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%b %d %H:%M}"


def budget_parts(states: Iterable[Any], now: float) -> list[tuple[str, float]]:
    """One text per budget scope with its ratio (for the colour), e.g.
    ``("day budget: $12.40 of $20.00 (62%), runs out ~16:40 at this rate", 0.62)``: what is
    spent, and when it runs out at the current burn rate (``BudgetState.projected_exhaustion``)."""
    out = []
    for st in sorted(states, key=lambda s: BUDGET_ORDER.index(s.scope) if s.scope in BUDGET_ORDER else 9):
        text = f"{st.scope} budget: {usd(st.spent_pico)} of {usd(st.budget_pico)} ({100 * st.ratio:.0f}%)"
        if st.ratio >= 1:
            text += ", used up"
        elif st.projected_exhaustion is not None:
            text += f", runs out ~{runs_out(st.projected_exhaustion, now)} at this rate"
        elif st.burn_pico_per_hour > 0 and st.scope in _LASTS:
            text += f", {_LASTS[st.scope]} at this rate"
        out.append((text, st.ratio))
    return out


def short_model(model: str | None) -> str:
    """claude-sonnet-4-5-20250929 -> sonnet-4-5: the table has no room for the rest."""
    if not model:
        return "-"
    m = _DATE_SUFFIX.sub("", model)
    return m[len("claude-"):] if m.startswith("claude-") else m


def ttl_label(ttl: int) -> str:
    return "1h" if ttl >= 3600 else f"{ttl // 60}m"


__all__ = ["ago", "budget_parts", "clock_time", "countdown", "money", "percent", "rate", "runs_out", "short_model",
           "tokens", "ttl_label", "usd"]
