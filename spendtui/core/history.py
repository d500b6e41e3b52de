"""The user's spend per local day over the last 30 days, for the plan advice.

Why here and this way: the plan advice projects a month from the user's own history, and
``summary`` and the app ask for it on every run. Parsing the whole history each time would
cost seconds, so the days come from the same machinery as ``spendtui report --by day``:
the result cache's per-session hourly totals (``report._aggregate_cached``), and the
answer is kept (``tree.memoized``) until a folder, transcript or price source changes.
Only sessions written since the window's first day are summed (older files cannot hold
newer calls), but every transcript is watched for growth.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from spendtui.core.context.plans import PLANS, WINDOW_DAYS

PLAN_NAMES = ("api", *PLANS)


class PlanConfigError(ValueError):
    """``[plan] current`` in the config is not a plan we know."""


def current_plan(cfg: dict[str, Any] | None) -> str | None:
    """``[plan] current`` from the config: ``api`` (pay as you go), ``pro``, ``max5x`` or
    ``max20x`` (spaces, dashes, underscores and case ignored: "Max 5x" is fine). None: not set."""
    section = (cfg or {}).get("plan")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise PlanConfigError("[plan] must be a table, e.g. [plan] current = \"max5x\"")
    raw = section.get("current")
    if raw is None:
        return None
    key = str(raw).lower().replace(" ", "").replace("-", "").replace("_", "")
    if key not in PLAN_NAMES:
        raise PlanConfigError(f"[plan] current: expected one of {', '.join(PLAN_NAMES)}, got {raw!r}")
    return key


def window(today: date, days: int = WINDOW_DAYS) -> tuple[date, date]:
    """The first and last local day of the ``days`` days ending ``today``."""
    return today - timedelta(days=days - 1), today


def daily_spend(
    claude_dirs: Sequence[str | Path] | None,
    prices: Any,
    today: date | None = None,
    days: int = WINDOW_DAYS,
    use_cache: bool = True,
    workers: int | None = None,
    one_shot: bool = True,
) -> list[tuple[date, float]]:
    """``[(day, usd), ...]`` for the local days of the window with any spend, oldest first.

    ``workers=1`` keeps the work in this process (the app: no fork of a threaded process);
    ``one_shot=False`` when a live follower runs in another thread (see ``tree.memoized``).
    No Claude dir at all is an empty history.
    """
    from spendtui.core.batch import _unplain
    from spendtui.core.paths import NoClaudeDataError
    from spendtui.core.report import build_report
    from spendtui.core.tree import memoized

    today = today or datetime.now().astimezone().date()
    since, until = window(today, days)
    cutoff = datetime.combine(since, datetime.min.time()).astimezone().timestamp()

    def compute(sessions: list[Any], partial: Any) -> list[list[Any]]:
        if partial is not None:
            sessions = [_unplain(p) for p in partial.sessions]
        recent = [s for s in sessions if s.mtime() >= cutoff]
        cache = None
        if use_cache:
            from spendtui.core.cache import SessionCache

            cache = SessionCache(prices=prices)
        rep = build_report(recent, prices, by="day", since=since, until=until, workers=workers, cache=cache)
        return [[r["key"], r["cost_usd"]] for r in rep["rows"] if r["key"][:1].isdigit()]

    # local days depend on the zone (and its DST rules), so it is part of the key
    zone = [datetime.now().astimezone().tzname(), time.timezone, time.altzone]
    try:
        rows = memoized(claude_dirs, ["plan-history", since.isoformat(), until.isoformat(), zone], compute,
                        no_cache=not use_cache, one_shot=one_shot)
    except NoClaudeDataError:
        return []
    return [(date.fromisoformat(d), float(v)) for d, v in rows]


def plan_inputs(
    claude_dirs: Sequence[str | Path] | None,
    prices: Any,
    cfg: dict[str, Any] | None,
    today: date | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    one_shot: bool = True,
) -> tuple[dict[str, Any], str | None]:
    """``ContextAnalyzer`` keyword arguments for the plan advice (``history``,
    ``history_until``, ``current_plan``) and the config problem to tell the user, if any
    (the advice then assumes the API, as when no plan is set)."""
    problem = None
    try:
        plan = current_plan(cfg)
    except PlanConfigError as e:
        plan, problem = None, str(e)
    today = today or datetime.now().astimezone().date()
    history = daily_spend(claude_dirs, prices, today, use_cache=use_cache, workers=workers, one_shot=one_shot)
    return {"history": history, "history_until": today, "current_plan": plan}, problem
