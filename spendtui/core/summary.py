"""A session's summary as plain data: what `summary --json` prints and the app saves.

Money is carried as integer pico-dollars inside the core and turned into a USD
number only here, at the edge, so sums never drift.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from spendtui.core.model import TOKEN_KINDS, ApiCall, SessionModel

PICO = 10**12
DEFAULT_WINDOW = 200_000
LONG_WINDOW = 1_000_000
ACTIVE_SECONDS = 300  # written within the last 5 minutes: someone is working in it


def usd(pico: int) -> float:
    """Pico-dollars to a JSON number, exact to 1e-9 USD (far below a hundredth of a cent)."""
    return float(round(Decimal(pico) / PICO, 9))


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def context_window(model: SessionModel, prices: Any | None) -> int:
    """The main model's window; a call over 200K proves a 1M window (transcripts omit `[1m]`)."""
    window = None
    if prices is not None and model.current_model:
        try:
            window = prices.context_window(model.current_model)
        except Exception:
            window = None
    window = window or DEFAULT_WINDOW
    if model.context_peak > DEFAULT_WINDOW:
        window = max(window, LONG_WINDOW)
    return window


_KIND_FIELDS = {
    "input": "input_pico",
    "output": "output_pico",
    "cache_write_5m": "cache_write_5m_pico",
    "cache_write_1h": "cache_write_1h_pico",
    "cache_read": "cache_read_pico",
    "web_search": "web_search_pico",
}


def call_dict(call: ApiCall) -> dict[str, Any]:
    u = call.usage
    cost = call.cost
    return {
        "timestamp": iso(call.timestamp),
        "model": call.model,
        "agent_id": call.agent_id,
        "message_id": call.key[0],
        "request_id": call.key[1] or None,
        "tools": list(call.tools),
        "tokens": {
            "input": u.input_tokens,
            "output": u.output_tokens,
            "cache_write_5m": u.ephemeral_5m_input_tokens,
            "cache_write_1h": u.ephemeral_1h_input_tokens,
            "cache_read": u.cache_read_input_tokens,
        },
        "context": u.prompt_tokens,
        "cost_usd": usd(cost.total_pico) if cost is not None and cost.priced else None,
        "priced": bool(cost is not None and cost.priced),
        "price_rule": getattr(cost, "rule", None),
        "long_context": bool(getattr(cost, "long_context", False)),
        "billed_elsewhere": call.billed_elsewhere,
        "turn": call.turn,
        "file": str(call.file),
        "line": call.line,
    }


def session_summary(
    model: SessionModel,
    prices: Any | None = None,
    now: float | None = None,
    top_calls: int = 5,
    mtime: float | None = None,
) -> dict[str, Any]:
    """The summary dict (issue #2's keys, plus extras that help a reader)."""
    now = time.time() if now is None else now
    costliest = model.costliest(top_calls) if top_calls > 0 else []
    agents = sorted(model.agents.values(), key=lambda a: (a.first_ts is None, a.first_ts or 0))
    subagents = [
        {
            "agent_id": a.agent_id,
            "agent_type": a.agent_type,
            "model": a.model,
            "api_calls": a.api_calls,
            "cost_usd": usd(a.cost_pico),
            "description": a.description,
            "tool_use_id": a.tool_use_id,
            "context_peak": a.context_peak,
        }
        for a in agents
        if a.api_calls > 0
    ]
    last = model.ended.timestamp() if model.ended else None
    if mtime is not None:
        last = max(last or 0.0, mtime)
    return {
        "session_id": model.session_id,
        "project": model.project,
        "transcript": str(model.transcript) if model.transcript else None,
        "title": model.custom_title or model.title,
        "version": model.version,
        "started": iso(model.started),
        "ended": iso(model.ended),
        "active": bool(last is not None and now - last < ACTIVE_SECONDS),
        "forked_from": model.forked_from,
        "api_calls": model.counted_calls,
        "main_api_calls": model.counted_main_calls,
        "copied_api_calls": model.copied_calls,
        "turns": len(model.turns),
        "tokens": {k: int(model.tokens[k]) for k in TOKEN_KINDS},
        "cost_usd": usd(model.cost_pico),
        "cost_complete": not model.unpriced_models,
        "cost_by_model": {
            m: usd(p) for m, p in sorted(model.cost_by_model.items(), key=lambda kv: -kv[1])
            if model.calls_by_model[m] > 0
        },
        "calls_by_model": {m: n for m, n in model.calls_by_model.items() if n > 0},
        "cost_by_kind": {k: usd(model.cost_by_kind[k]) for k in _KIND_FIELDS},
        "main_cost_usd": usd(model.cost_pico - model.subagent_cost_pico),
        "subagents": subagents,
        "subagent_cost_usd": usd(model.subagent_cost_pico),
        "context": {
            "current": model.context_current,
            "peak": model.context_peak,
            "window": context_window(model, prices),
        },
        "compactions": [
            {
                "trigger": c.trigger,
                "pre_tokens": c.pre_tokens,
                "post_tokens": c.post_tokens,
                "timestamp": iso(c.timestamp),
            }
            for c in model.main_compactions
        ],
        "microcompactions": sum(1 for c in model.compactions if c.micro),
        "model_switches": [
            {"timestamp": iso(s.timestamp), "from": s.from_model, "to": s.to_model}
            for s in model.model_switches
        ],
        "unpriced_models": sorted(model.unpriced_models),
        "family_priced_models": sorted(model.family_priced_models),
        "web_search_requests": model.web_search_requests,
        "legacy_cost_usd": round(model.legacy_cost_usd, 6) if model.legacy_cost_usd else None,
        "costliest_calls": [call_dict(c) for c in costliest],
        "skipped_lines": model.skipped_lines,
        "analysis_errors": sum(model.observer_errors.values()),
        "skipped": [
            {"file": str(s.file), "line": s.line, "reason": s.reason} for s in model.skipped[:20]
        ],
    }


ANALYSE_MAX_BYTES = 200 << 20  # above this, the context analysis is skipped unless asked for


def analysis_skipped(files: Any, force: bool = False) -> str | None:
    """Why the context analysis is off for this session (None: it runs). It keeps every
    record's parts in memory and costs several times the accounting, so a session of
    hundreds of MB would break the memory bound of the live app; `--context` forces it."""
    size = files.size()
    if not force and size > ANALYSE_MAX_BYTES:
        return f"session of {size >> 20} MB is over {ANALYSE_MAX_BYTES >> 20} MB (use --context to analyse it)"
    return None


def analysed_summary(files: Any, prices: Any, siblings: Any = None, now: float | None = None,
                     top_calls: int = 5, exact_counts: bool = False, force: bool = False,
                     plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full summary of a session from its files: accounting plus the context
    analysis (which must see every record, so the files are read, not the cache).
    `spendtui summary --json` and the app's exit summary are both this. ``plan``: the
    analyser's plan-advice arguments (``history.plan_inputs``); without them the plan
    part has no projection."""
    from spendtui.core.context import ContextAnalyzer
    from spendtui.core.loader import load_with_dedup
    from spendtui.core.model import SessionModel

    now = time.time() if now is None else now
    skipped = analysis_skipped(files, force)
    if skipped is not None:
        model = load_with_dedup(files, prices.cost if prices is not None else None, siblings=siblings)
        summary = session_summary(model, prices, now=now, top_calls=top_calls, mtime=files.mtime())
        summary["context_analysis"] = f"skipped: {skipped}"
        return summary
    model = SessionModel(files.session_id)
    analyzer = ContextAnalyzer(model, prices, exact_counts=exact_counts, **(plan or {}))
    model = load_with_dedup(files, prices.cost if prices is not None else None, siblings=siblings, model=model)
    summary = session_summary(model, prices, now=now, top_calls=top_calls, mtime=files.mtime())
    analyzer.merge_into(summary, now=now)
    return summary
