"""``summary --json`` fields: plain data built from a ``ContextAnalyzer`` on demand."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import TYPE_CHECKING, Any

from spendtui.core.context.advisor import money, pico_of, usd
from spendtui.core.context.avoidable import replay
from spendtui.core.context.cache import TTL_1H
from spendtui.core.context.unlogged import estimate_unlogged

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def breakdown(a: ContextAnalyzer) -> dict[str, Any]:
    """The latest main-chain call's context, by part; the parts add up to its measured prompt."""
    if not a.main:
        return {}
    c = a.main[-1]
    call = a.main_calls[-1]
    parts, f = a.parts_for(c)
    r = a.ratio
    tools = {k: round(f * (ex + r * est)) for k, (est, ex) in c.tools.items()}
    files = sorted(((p, round(f * (ex + r * est))) for p, (est, ex) in a.last_files.items()), key=lambda x: -x[1])
    errs = a.estimate_errors()
    mem_files = [{"path": it.path, "tokens": round(f * (it.exact + r * it.est)), "in_transcript": not it.hidden}
                 for it in a.ledger.items if it.cat == "memory" and it.path]
    return {
        "call": {"timestamp": _iso(call.timestamp), "model": call.model, "message_id": call.key[0]},
        "measured_tokens": c.prompt,
        "parts": parts,
        "tools_by_name": dict(sorted(tools.items(), key=lambda kv: -kv[1])),
        "tools_by_file": dict(files[:20]),
        "memory_files": mem_files,
        "estimate": {
            "tokenizer": a.estimator.name,
            "exact_counts": a.counter is not None and not getattr(a.counter, "failed", False),
            "ratio": round(r, 4),
            "method": a.calibration.method,
            "pairs": a.calibration.pairs,
            "baseline_tokens": round(a.baseline() or 0),
            "unscaled_error_pct": round(100 * errs[-1], 2) if errs else None,
            "median_abs_error_pct": round(100 * median(abs(e) for e in errs), 2) if errs else None,
            "max_abs_error_pct": round(100 * max(abs(e) for e in errs), 2) if errs else None,
        },
    }


def stale(a: ContextAnalyzer) -> dict[str, Any]:
    if not a.main:
        return {"tokens": 0, "share": 0.0, "cost_per_call_usd": 0.0}
    c = a.main[-1]
    call = a.main_calls[-1]
    _, f = a.parts_for(c)
    r = a.ratio
    sup = f * (c.stale_exact + r * c.stale_est)
    cold = f * (c.cold_exact + r * c.cold_est)
    tokens = round(sup + cold)
    warm = cold_cost = 0
    if a.prices is not None:
        m, _ = a.prices.resolve(call.model, call.timestamp)
        if m is not None:
            warm = pico_of(tokens, m.base.cache_read)
            wr = m.base.cache_write_1h if a.cache.ttl == TTL_1H else m.base.cache_write_5m
            cold_cost = pico_of(tokens, wr)
    items: dict[tuple[str, str, str], float] = {}
    for it in a.ledger.items:
        if a.stale.state(it) in ("superseded", "cold"):
            k = (it.path or it.tool or "?", it.tool or "?", a.stale.why(it) or "stale")
            items[k] = items.get(k, 0.0) + f * (it.exact + r * it.est)
    top = sorted(items.items(), key=lambda kv: -kv[1])[:10]
    left = 0
    for ci in a.compactions:
        if ci.prev_call is not None and ci.next_prompt is not None:
            left += max(0, ci.prev_call.usage.prompt_tokens - ci.next_prompt)
    return {
        "tokens": tokens,
        "share": round(tokens / c.prompt, 4) if c.prompt else 0.0,
        "cost_per_call_usd": usd(warm),
        "cost_per_call_after_miss_usd": usd(cold_cost),
        "by_reason": {"superseded": round(sup), "cold": round(cold)},
        "items": [{"what": k[0], "tool": k[1], "why": k[2], "tokens": round(v)} for k, v in top],
        "left_context_tokens": left,
    }


def cache(a: ContextAnalyzer) -> dict[str, Any]:
    # the model's running totals over every counted call (a live model keeps only the newest
    # calls' details; a usage's cache writes are its 5-minute plus 1-hour writes)
    t = a.model.tokens
    read = t["cache_read"]
    prompt = t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + read
    misses = [{
        "timestamp": _iso(x.timestamp),
        "reason": x.reason,
        "api_reason": x.api_reason,
        "tokens_rewritten": x.tokens_rewritten,
        "extra_cost_usd": usd(x.extra_pico),
        "model": x.model,
        "evidence": x.evidence,
    } for x in a.cache.misses]
    return {
        "hit_ratio": round(read / prompt, 4) if prompt else 0.0,
        "main_hit_ratio": round(a.cache.hit_ratio, 4),
        "per_call": [round(x, 4) for x in a.cache.per_call],  # one per main call, in order
        "ttl_seconds": int(a.cache.ttl),
        "misses": misses,
        "extra_cost_usd": usd(sum(x.extra_pico for x in a.cache.misses)),
    }


def summary_fields(a: ContextAnalyzer, now: float | datetime | None = None) -> dict[str, Any]:
    unlogged = estimate_unlogged(a)
    avoid = replay(a)
    advice = a.advisor.current(now)
    from spendtui.core.context.plans import plan_report

    return {
        "context": {"breakdown": breakdown(a)},
        "stale": stale(a),
        "cache": cache(a),
        "unlogged_calls_estimate_usd": usd(sum(u.pico for u in unlogged)),
        "unlogged_calls": [u.to_dict() for u in unlogged],
        "avoidable_usd": usd(avoid.total_pico),
        "avoidable": avoid.to_dict(),
        "advice": [x.to_dict() for x in advice],
        "plan": plan_report(a),
        "analysis_window": {  # a long session's analysis covers its newest main calls (WINDOW_MAIN_CALLS)
            "main_calls": a.window,
            "from": _iso(a.window_from),
            "main_calls_before": a.main.gone,
        },
    }


__all__ = ["breakdown", "cache", "money", "stale", "summary_fields"]
