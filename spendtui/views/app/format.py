"""Short text forms of the dashboard's numbers (pure functions, easy to test)."""

from __future__ import annotations

import re
from datetime import datetime

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


def short_model(model: str | None) -> str:
    """claude-sonnet-4-5-20250929 -> sonnet-4-5: the table has no room for the rest."""
    if not model:
        return "-"
    m = _DATE_SUFFIX.sub("", model)
    return m[len("claude-"):] if m.startswith("claude-") else m


def ttl_label(ttl: int) -> str:
    return "1h" if ttl >= 3600 else f"{ttl // 60}m"


__all__ = ["ago", "clock_time", "countdown", "money", "percent", "rate", "short_model", "tokens", "ttl_label",
           "usd"]
