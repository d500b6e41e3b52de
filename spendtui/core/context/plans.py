"""Subscription plans against pay-as-you-go API prices.

Plan limits are token-based and undisclosed (pricing.md §4), so we compare
prices only and say so: a plan is suggested when the projected API spend is
well above its price (``PLAN_MARGIN``), the biggest such plan first, because a
heavy user needs the headroom.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer

PLANS: dict[str, tuple[str, float]] = {"pro": ("Pro", 20.0), "max5x": ("Max 5x", 100.0), "max20x": ("Max 20x", 200.0)}
PLAN_MARGIN = 1.2
ACTIVE_GAP_S = 300.0  # calls closer than this belong to one stretch of work
MIN_STRETCH_S = 60.0  # a lone call still took someone a minute
WINDOW_DAYS = 30


def active_seconds(timestamps: Iterable[float], gap: float = ACTIVE_GAP_S, minimum: float = MIN_STRETCH_S) -> float:
    """Time spent working: stretches of calls less than ``gap`` apart, each at least ``minimum``."""
    ts = sorted(timestamps)
    if not ts:
        return 0.0
    total = 0.0
    start = prev = ts[0]
    for t in ts[1:]:
        if t - prev > gap:
            total += max(prev - start, minimum)
            start = t
        prev = t
    return total + max(prev - start, minimum)


def project_30_days(history: Sequence[tuple[date, float]], today: date | None = None) -> dict[str, Any] | None:
    """Spend over the next 30 days at the pace of the last 30 (days since the first day with data)."""
    if not history:
        return None
    today = today or max(d for d, _ in history)
    lo = date.fromordinal(today.toordinal() - WINDOW_DAYS + 1)
    window = [(d, v) for d, v in history if lo <= d <= today]
    if not window:
        return None
    first = min(d for d, _ in window)
    days = (today - first).days + 1
    total = sum(v for _, v in window)
    daily = total / days
    return {"days_observed": days, "spend_usd": round(total, 2), "daily_usd": round(daily, 4),
            "projected_30d_usd": round(daily * 30, 2)}


def _name(plan: str) -> str:
    return PLANS[plan][0] if plan in PLANS else "pay-as-you-go API"


def compare_plans(projected: float, current_plan: str | None = None) -> dict[str, Any]:
    """The plans' monthly prices against ``projected`` API spend; the best fit and, when it
    is not the user's ``current_plan`` (None: the API) and is cheaper, what it saves."""
    options = {"api": round(projected, 2), **{k: p for k, (_, p) in PLANS.items()}}
    fitting = [k for k, (_, p) in PLANS.items() if p * PLAN_MARGIN <= projected]
    best = max(fitting, key=lambda k: PLANS[k][1]) if fitting else "api"
    best_cost = PLANS[best][1] if best != "api" else projected
    current = current_plan if current_plan in PLANS else "api"
    now_cost = PLANS[current][1] if current != "api" else projected
    out: dict[str, Any] = {"options_usd": options, "best": best, "current": current,
                           "current_usd": round(now_cost, 2)}
    saving = now_cost - best_cost
    if best != current and saving > 0:
        price = f" (${PLANS[best][1]:.0f}/month)" if best != "api" else ""
        caveat = ", if its usage limits fit how you work" if best != "api" else ""
        now = "You pay API prices" if current == "api" else f"You are on {_name(current)} (${now_cost:,.0f}/month)"
        out["switch_to"] = best
        out["saving_usd"] = round(saving, 2)
        out["text"] = (f"{now}; {_name(best)}{price} would have cost ${best_cost:,.0f}: about "
                       f"${saving:,.0f} a month less{caveat}.")
    return out


def plan_report(analyzer: ContextAnalyzer, today: date | None = None) -> dict[str, Any]:
    """Spend per active hour (this session) and, with history, the plan comparison."""
    m = analyzer.model
    # every counted call's time, those a long live session let go of the details of included
    # (the model keeps the stretches up to date: this is asked on every refresh)
    secs = m.work_seconds(ACTIVE_GAP_S, MIN_STRETCH_S)
    spend = m.cost_pico / 10**12
    per_hour = spend / (secs / 3600) if secs > 0 else 0.0
    rep: dict[str, Any] = {"session_usd": round(spend, 4), "active_hours": round(secs / 3600, 3),
                           "usd_per_active_hour": round(per_hour, 2),
                           "plans_usd": {k: p for k, (_, p) in PLANS.items()},
                           "current": analyzer.current_plan or "api"}
    today = today or analyzer.history_until
    if today is None and m.ended is not None:
        today = m.ended.astimezone(timezone.utc).date()
    proj = project_30_days(analyzer.history, today or datetime.now(timezone.utc).date())
    if proj is None:
        return rep
    rep["projection"] = proj
    cmp = compare_plans(proj["projected_30d_usd"], analyzer.current_plan)
    rep["comparison"] = cmp
    if "text" in cmp:
        n = proj["days_observed"]
        last = "your last day comes to" if n == 1 else f"your last {n} days come to"
        rep["recommendation"] = {
            "message": (f"${per_hour:,.2f} per active hour here; {last} about ${proj['projected_30d_usd']:,.0f} "
                        f"a month at API prices. {cmp['text']}"),
            "saving_usd": cmp["saving_usd"],
            "switch_to": cmp["switch_to"],
        }
    return rep
