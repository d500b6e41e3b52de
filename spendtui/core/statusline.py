"""The one line for Claude Code's `statusLine` hook.

Claude Code runs the command after each assistant message with a JSON object on
stdin (session_id, transcript_path, model, workspace, ...). We answer with one
short line from our own accounting: model, session cost, context against the
auto-compact point, what is left of the cache TTL, and the top advice. It must
be fast and must never fail loudly: a status line that prints a traceback is
worse than none.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from spendtui.core.live import cache_info, context_gauge
from spendtui.core.model import SessionModel
from spendtui.core.paths import AgentFile, SessionFiles, agent_id_from_name, read_meta
from spendtui.core.summary import PICO


def files_for_transcript(path: Path, session_id: str | None = None) -> SessionFiles:
    """A transcript and its sub-agent files (nested layout), without scanning the project."""
    sid = session_id or path.stem
    files = SessionFiles(sid, path.parent, path)
    sub = path.with_suffix("") / "subagents"
    if sub.is_dir():
        for f in sorted(sub.rglob("*.jsonl")):
            files.agents.append(AgentFile(agent_id_from_name(f), f, read_meta(f)))
    return files


def _money(pico: int) -> str:
    usd = pico / PICO
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.3f}"


def _k(n: int) -> str:
    return f"{n / 1000:.0f}K" if n >= 1000 else str(n)


def _short_model(model_id: str | None, display: str | None) -> str:
    if display:
        return display
    if not model_id:
        return "?"
    parts = [p for p in model_id.removeprefix("claude-").split("[")[0].split("-")
             if not (p.isdigit() and len(p) == 8)]
    words = [p for p in parts if not p.isdigit()]
    digits = [p for p in parts if p.isdigit()]
    family = " ".join(w.capitalize() for w in words) or model_id
    return f"{family} {'.'.join(digits)}".strip()


def budget_part(states: list[Any]) -> str | None:
    """The budget nearest its limit, e.g. "day 82% of $20.00" (from BudgetTracker.states())."""
    if not states:
        return None
    worst = max(states, key=lambda s: s.ratio)
    mark = "!" if worst.ratio >= 1 else ""
    return f"{mark}{worst.scope} {100 * worst.ratio:.0f}% of {_money(worst.budget_pico)}"


def render(model: SessionModel, prices: Any, hook: dict[str, Any], now: float | None = None,
           advice: str | None = None, budget: str | None = None) -> str:
    """The status line text (plain; Claude Code shows it dimmed)."""
    now = time.time() if now is None else now
    m = hook.get("model") if isinstance(hook.get("model"), dict) else {}
    name = _short_model(model.current_model or m.get("id"), m.get("display_name"))
    cost = _money(model.cost_pico) + ("+?" if model.unpriced_models else "")
    parts = [name, cost]
    g = context_gauge(model, prices)
    if g.current:
        pct = 100 * g.current / g.compact_at if g.compact_at else 0
        parts.append(f"ctx {_k(g.current)} {pct:.0f}% of {_k(g.compact_at)}")
    ci = cache_info(model, prices)
    if ci is not None:
        left = ci.remaining(now)
        if left > 0:
            mm, ss = divmod(int(left), 60)
            parts.append(f"cache {mm}:{ss:02d}")
        elif ci.penalty_pico:
            parts.append(f"cache cold (+{_money(ci.penalty_pico)} next)")
        else:
            parts.append("cache cold")
    if budget:
        parts.append(budget)
    if advice:
        parts.append(advice)
    return " · ".join(parts)
