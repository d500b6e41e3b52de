"""Avoidable spend: the session replayed as if each advice had been followed when first given.

Every counted call is re-priced after a fixed sequence of changes, each only
for calls *after* the advice that asks for it was first given:

1. cache misses: a call that missed re-reads the missed prefix instead
   (every TTL expiry, whose countdown comes before it; other reasons after the first);
2. stale context: a /compact at a pruning trigger drops the removable tokens
   from every later call of that context segment (minus the compaction's own
   cost; a trigger that never paid off is taken as not followed);
3. lean memory: memory above 5K tokens is gone from later calls;
4. model routing: read-only runs (and Opus sub-agents that only explore) run on Haiku;
5. sub-agents: the extra agents of a fan-out beyond 4 do not start;
6. batch: the repeated per-file calls cost half.

Each step's saving is the price difference it makes on top of the steps
before it, so nothing is counted twice and the parts add up to the total.
Plan advice is about the next month, not this session, and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from spendtui.core.context.advisor import (
    BATCH_DISCOUNT,
    MEMORY_LIMIT,
    OPUS_EXPLORE_MIN_CALLS,
    PICO,
    ROUTING_TARGET,
    reduce_usage,
)
from spendtui.core.context.cache import warm_usage

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer

CATEGORIES = {
    "cache": "cache misses",
    "pruning": "stale context",
    "memory": "lean memory",
    "routing": "model routing",
    "subagents": "sub-agents",
    "batch": "batch",
}


@dataclass(slots=True)
class Avoidable:
    spent_pico: int
    by_category: dict[str, int] = field(default_factory=dict)
    window_from: datetime | None = None  # a long session: the replay covers the calls since then

    @property
    def total_pico(self) -> int:
        return sum(max(0, v) for v in self.by_category.values())

    def headline(self) -> str:
        spent = self.spent_pico / PICO
        total = self.total_pico / PICO
        since = ""
        if self.window_from is not None:
            since = f" since {self.window_from.astimezone().strftime('%b %d %H:%M')}"
        if total < 0.005 or spent <= 0:
            return f"${spent:,.2f} spent{since}; nothing clearly avoidable"
        parts = [(v / PICO, CATEGORIES[k]) for k, v in self.by_category.items() if v / PICO >= 0.005]
        parts.sort(key=lambda x: -x[0])
        detail = ", ".join(f"{v:.2f} {name}" for v, name in parts)
        share = 100 * total / spent
        return f"${spent:,.2f} spent{since}; about ${total:,.2f} of it avoidable ({share:.0f} %): {detail}"

    def to_dict(self) -> dict[str, object]:
        return {"spent_usd": round(self.spent_pico / PICO, 9),
                "avoidable_usd": round(self.total_pico / PICO, 9),
                "by_category": {CATEGORIES[k]: round(max(0, v) / PICO, 9) for k, v in self.by_category.items()},
                "window_from": self.window_from.isoformat().replace("+00:00", "Z") if self.window_from else None,
                "headline": self.headline()}


def _after(ts: datetime | None, first: datetime | None) -> bool:
    return ts is not None and first is not None and ts > first


def replay(a: ContextAnalyzer) -> Avoidable:
    adv = a.advisor
    prices = a.prices
    windowed = a.window_from is not None
    # a long session's replay covers the analysis window: so does what it was spent against
    res = Avoidable(0 if windowed else a.model.cost_pico, dict.fromkeys(CATEGORIES, 0), a.window_from)
    if prices is None:
        return res

    def cost(model: str, u: object, when: datetime | None) -> int:
        c = prices.cost(model, u, when)
        return c.total_pico if c.priced else 0

    misses = adv.avoidable_misses()
    episodes = []
    for e in adv.episodes:
        realised, _ = adv.episode_realised(e)
        if realised > e.one_time_pico:
            episodes.append(e)
            res.by_category["pruning"] -= e.one_time_pico
    _, routing_keys = adv._routing()
    routing_from = adv.routing_first
    mem_excess = int(adv.memory_cost()[0] - MEMORY_LIMIT) if adv._memory() is not None else 0
    mem_from = adv.memory_first
    batch = adv.batch_group()
    _, fan_keys = adv.fanout_extra_calls()
    explorers = adv.opus_explorers()
    explorer_from: dict[str, datetime | None] = {}
    for aid in explorers:
        rows = a.agent_rows(a.agents[aid])
        explorer_from[aid] = a.calls[rows[min(len(rows), OPUS_EXPLORE_MIN_CALLS) - 1]].timestamp

    for row, call in a.counted_calls():
        model, u, when = call.model, call.usage, call.timestamp
        if windowed:
            res.spent_pico += call.cost_pico
        before = cost(model, u, when)

        def step(cat: str, new_model: str, new_u: object, factor: float = 1.0, when: datetime | None = when) -> None:
            nonlocal before, model, u
            after = int(cost(new_model, new_u, when) * factor)
            res.by_category[cat] += before - after
            before, model, u = after, new_model, new_u

        if row in misses:
            step("cache", model, warm_usage(u, misses[row].tokens_rewritten))
        comp = a.composition_of(row)
        if comp is not None:
            for e in episodes:
                if e.segment == comp.segment and comp.index > e.index:
                    step("pruning", model, reduce_usage(u, e.tokens))
            if mem_excess > 0 and _after(when, mem_from):
                step("memory", model, reduce_usage(u, mem_excess))
            if row in routing_keys and _after(when, routing_from):
                step("routing", ROUTING_TARGET, u)
        elif call.agent_id in explorers and _after(when, explorer_from.get(call.agent_id)):
            step("routing", ROUTING_TARGET, u)
        if row in fan_keys:
            res.by_category["subagents"] += before
            before = 0
            continue
        if batch is not None and row in batch[2] and _after(when, batch[3]):
            step("batch", model, u, float(BATCH_DISCOUNT))
    return res
