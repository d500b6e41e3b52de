"""The two context figures the metrics exporters publish, from a live session's analyser.

Why a function of the model: the exporters hold followed ``SessionModel`` objects, not
analysers, and must publish exactly what ``summary --json`` prints for the same
session. So the analyser attached to a model (``ContextAnalyzer`` registers itself as
one of its record observers) is found here and asked the same two questions the
summary asks: ``stale.share`` and the sum of ``advice[].saving_usd``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

SESSIONLESS = frozenset({"plan"})
"""Advice kinds about the user rather than the session: not part of a session's open savings."""

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer
    from spendtui.core.model import SessionModel


def attached_analyzer(model: SessionModel) -> ContextAnalyzer | None:
    """The analyser that observes ``model``'s records, if one was attached before it loaded."""
    from spendtui.core.context.analyzer import ContextAnalyzer

    for observe in getattr(model, "record_observers", ()):
        a = getattr(observe, "__self__", None)
        if isinstance(a, ContextAnalyzer) and a.model is model:
            return a
    return None


def metrics_for(model: SessionModel, now: float | None = None) -> dict[str, Any] | None:
    """``{"stale_ratio", "open_savings_usd"}`` for ``model``, or None without an analyser
    (an exporter must not invent numbers). ``stale_ratio`` is ``summary --json``'s
    ``stale.share``; ``open_savings_usd`` is the sum of its ``advice[].saving_usd`` at
    ``now`` (the advice still listed is the advice not acted on), the plan advice left out:
    it is the user's monthly saving, not this session's, and would count once per session."""
    from spendtui.core.context.report import stale

    a = attached_analyzer(model)
    if a is None:
        return None
    now = time.time() if now is None else now
    a.flush()
    a.calibration.fit()
    share = stale(a)["share"]
    advice = a.advisor.current(now)
    savings = sum(x.saving_usd for x in advice if x.kind not in SESSIONLESS)
    return {"stale_ratio": float(share), "open_savings_usd": round(savings, 9)}
