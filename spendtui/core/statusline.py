"""The one line for Claude Code's `statusLine` hook.

Claude Code runs the command after each assistant message with a JSON object on
stdin (session_id, transcript_path, model, workspace, ...). We answer with one
short line from our own accounting: model, session cost, context against the
auto-compact point, what is left of the cache TTL, and the budget nearest its
limit (``[budget]`` in the config, or the ``--*-budget`` flags, which win scope by
scope). It must be fast and must never fail loudly: a status line that prints a
traceback is worse than none.

Fast because it runs so often: the numbers come from ``linestate`` (a small state
per transcript, read on from the bytes appended since the previous run), this module
imports only the standard library at the top, and ``spendtui.entry`` sends
``spendtui statusline`` here before the CLI (argparse, the price table) is imported.
A day or month budget needs every session's spend, so with one configured the line
is made the full way (the session model through the result cache).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # not from typing: importing it costs the status line milliseconds
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from spendtui.core.linestate import LineData
    from spendtui.core.model import SessionModel
    from spendtui.core.paths import SessionFiles

PICO = 10**12  # summary.PICO
AUTO_COMPACT_BUFFER = 33_000  # live.AUTO_COMPACT_BUFFER


def files_for_transcript(path: Path, session_id: str | None = None) -> SessionFiles:
    """A transcript and its sub-agent files (nested layout), without scanning the project."""
    from spendtui.core.paths import AgentFile, SessionFiles, agent_id_from_name, read_meta

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


def _budget_text(scope: str, spent_pico: int, budget_pico: int) -> str:
    ratio = spent_pico / budget_pico
    mark = "!" if ratio >= 1 else ""
    return f"{mark}{scope} {100 * ratio:.0f}% of {_money(budget_pico)}"


def budget_part(states: list[Any]) -> str | None:
    """The budget nearest its limit, e.g. "day 82% of $20.00" (from BudgetTracker.states())."""
    if not states:
        return None
    worst = max(states, key=lambda s: s.ratio)
    return _budget_text(worst.scope, worst.spent_pico, worst.budget_pico)


def line_data(model: SessionModel, prices: Any) -> LineData:
    """The line's numbers from a full session model (the slow path and the tests' reference)."""
    from spendtui.core.linestate import LineData
    from spendtui.core.live import cache_info, context_gauge

    g = context_gauge(model, prices)
    d = LineData(model.current_model, model.cost_pico, bool(model.unpriced_models), g.current, g.window)
    ci = cache_info(model, prices)
    if ci is not None:
        d.cache_at, d.ttl, d.warm, d.cold = ci.last_call_at, ci.ttl, ci.warm_pico, ci.cold_pico
    if model.main_calls and d.cache_at is not None:
        from spendtui.core.linestate import compact_advice
        from spendtui.core.usage import Usage

        last = model.main_calls[-1]

        def cost(u: tuple[Any, ...]) -> tuple[int, bool]:
            c = prices.cost(last.model, Usage(u[0], u[1], u[2], u[3], u[4], u[5], u[6]), last.timestamp)
            return c.total_pico, c.priced

        d.advice = compact_advice(d.context, model.main_calls[0].usage.prompt_tokens, cost)
    return d


def render_line(d: LineData, hook: dict[str, Any], now: float | None = None, advice: str | None = None,
                budget: str | None = None) -> str:
    """The status line text (plain; Claude Code shows it dimmed)."""
    now = time.time() if now is None else now
    m = hook.get("model") if isinstance(hook.get("model"), dict) else {}
    name = _short_model(d.current_model or m.get("id"), m.get("display_name"))
    cost = _money(d.cost_pico) + ("+?" if d.unpriced else "")
    parts = [name, cost]
    if d.context:
        compact_at = max(0, d.window - AUTO_COMPACT_BUFFER)
        pct = 100 * d.context / compact_at if compact_at else 0
        parts.append(f"ctx {_k(d.context)} {pct:.0f}% of {_k(compact_at)}")
    if d.cache_at is not None:
        left = min(float(d.ttl), max(0.0, d.cache_at + d.ttl - now))  # a last call stamped ahead: a full TTL
        penalty = d.cold - d.warm if d.warm is not None and d.cold is not None else None
        if left > 0:
            mm, ss = divmod(int(left), 60)
            parts.append(f"cache {mm}:{ss:02d}")
        elif penalty:
            parts.append(f"cache cold (+{_money(penalty)} next)")
        else:
            parts.append("cache cold")
    if budget:
        parts.append(budget)
    if advice is None and d.advice is not None:
        advice = f"/compact saves {_money(d.advice[0])}/call"
    if advice:
        parts.append(advice)
    return " · ".join(parts)


def render(model: SessionModel, prices: Any, hook: dict[str, Any], now: float | None = None,
           advice: str | None = None, budget: str | None = None) -> str:
    """The status line of a full session model."""
    return render_line(line_data(model, prices), hook, now, advice, budget)


# ---------------------------------------------------------------------------- the command


def _hook(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    from spendtui.core import fastjson  # json.loads without importing json (and re)

    hook = fastjson.loads(raw)
    return hook if isinstance(hook, dict) else {}


def statusline_text(raw: str, transcript: str | None = None, claude_dirs: list[str] | None = None,
                    use_state: bool = True, now: float | None = None,
                    budgets: dict[str, Any] | None = None) -> str:
    """The line for one hook input (raises on trouble; ``run_statusline`` catches).
    ``budgets``: ``{"session"|"day"|"month": USD}`` from the flags, each winning over the
    config's ``[budget]`` value for its scope."""
    hook = _hook(raw)
    path = transcript or hook.get("transcript_path")
    if not path:
        return "spendtui: no transcript_path in the statusline input"
    p = os.path.expanduser(path)
    if not os.path.exists(p):
        return "spendtui: waiting for the first message"
    flags = {k: v for k, v in (budgets or {}).items() if v is not None}
    session_flag = None
    if "session" in flags:
        from spendtui.core.limits import BudgetConfigError, parse_usd

        try:
            session_flag = parse_usd(flags["session"], "--session-budget")
        except BudgetConfigError as e:
            return f"spendtui: {e}"
    from spendtui.core.linestate import compute

    res = compute(p, use_state=use_state)
    if res.budget_history or "day" in flags or "month" in flags:
        sid = hook.get("session_id")
        return full_text(p, sid if isinstance(sid, str) else None, hook, claude_dirs, use_state, now, flags)
    budget = None
    session_pico = session_flag if session_flag is not None else res.budget_session_pico
    if session_pico is not None:
        budget = _budget_text("session", res.data.cost_pico, session_pico)
    return render_line(res.data, hook, now, budget=budget)


def full_text(path: str, session_id: str | None, hook: dict[str, Any], claude_dirs: list[str] | None,
              use_cache: bool, now: float | None = None, budgets: dict[str, Any] | None = None) -> str:
    """The line from the full session model and the budget tracker (a day or month budget
    counts every session's spend, which the per-transcript state does not hold)."""
    from pathlib import Path

    from spendtui.core.budget import BudgetConfigError, tracker_from_config
    from spendtui.core.cache import SessionCache
    from spendtui.core.config import load_config
    from spendtui.core.loader import load_session
    from spendtui.core.pricing import PriceTable

    prices = PriceTable.default()
    files = files_for_transcript(Path(path), session_id)
    cache = SessionCache(prices=prices) if use_cache else None
    model = cache.load(files, prices.cost) if cache is not None else load_session(files, prices.cost)
    budget = None
    cfg = load_config()
    flags = budgets or {}
    if cfg.get("budget") or flags:
        try:
            tracker = tracker_from_config(cfg, claude_dirs, prices.cost, session_usd=flags.get("session"),
                                          daily_usd=flags.get("day"), monthly_usd=flags.get("month"),
                                          notify=False, cache=cache, now=now)
        except BudgetConfigError as e:
            return f"spendtui: {e}"
        if tracker is not None:
            tracker.track(model)
            budget = budget_part(tracker.states(now))
    return render(model, prices, hook, now, budget=budget)


def run_statusline(transcript: str | None = None, claude_dirs: list[str] | None = None,
                   use_state: bool = True, budgets: dict[str, Any] | None = None) -> int:
    """Read the hook JSON on stdin, print the line; on any failure print a short
    ``spendtui: <what>`` line instead (see the module docstring). Always exit 0."""
    try:
        raw = sys.stdin.read() if sys.stdin is not None and not sys.stdin.isatty() else ""
        text = statusline_text(raw, transcript, claude_dirs, use_state, budgets=budgets)
    except Exception as e:
        text = f"spendtui: {type(e).__name__}"
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):  # Claude Code went away before reading the line
        pass
    return 0
