"""Prompt-cache hits and misses of the main chain, with an inferred reason for each miss.

A call *misses* when its cache read falls well below what the previous call left
in the cache (``cache_read + cache_creation`` of that call) although the prompt
only grew. The API only caches at breakpoints, and Claude Code sets them on the
system prompt and the last message, so a miss reads back either nothing or
exactly the system + tools prefix (the *baseline*); that, the gap since the
previous call and the events in between tell the reasons apart:

* ``ttl_expired``: the gap exceeds the cache TTL (5 minutes; 1 hour when the
  prefix was written with 1-hour writes). The API's diagnostics have no TTL
  reason (``api_reason`` is None then);
* ``model_changed``: another model (or fast mode) than the previous call;
* ``messages_changed``: a rewind (a prompt that branches off an earlier record)
  or a read that stops inside the conversation;
* ``tools_changed``: the read fell to (almost) nothing: the tool definitions,
  first in the prefix, differ;
* ``system_or_memory_changed``: the read fell to the baseline: the system prompt
  or the first user message changed. Claude Code 2.1 puts CLAUDE.md and the date
  there (a ``<system-reminder>``), so editing a memory file between two runs of a
  session re-writes the whole conversation.

Reason names follow the anthropic SDK's ``CacheMissReason`` types where it has
one (``model_changed``, ``system_changed``, ``tools_changed``,
``messages_changed``); a record that carries the API's own
``diagnostics.cache_miss_reason`` is taken at its word.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spendtui.core.usage import Usage

REASONS = ("ttl_expired", "model_changed", "system_or_memory_changed", "tools_changed", "messages_changed")
# anthropic.types.CacheMissReason discriminators (SDK 2.13; a test keeps them in step)
API_REASONS = ("model_changed", "system_changed", "tools_changed", "messages_changed",
               "previous_message_not_found", "unavailable")
TTL_5M = 300.0
TTL_1H = 3600.0
MIN_MISSED_TOKENS = 1024  # the smallest cacheable prefix: less is noise, not a miss
MIN_MISSED_SHARE = 0.05
GROWTH_TOLERANCE = 0.01  # "the prompt only grew": allow 1 % shrinkage (a cleared thinking block)


def ttl_of(u: Usage, previous: float) -> float:
    """The TTL of the prefix a call left behind: 1 h if it wrote only 1-hour entries."""
    if u.ephemeral_1h_input_tokens > 0 and u.ephemeral_5m_input_tokens == 0:
        return TTL_1H
    if u.ephemeral_5m_input_tokens > 0:
        return TTL_5M
    return previous


def warm_usage(u: Usage, missed: int) -> Usage:
    """The same call had the ``missed`` tokens been read from the cache instead of re-sent."""
    take5 = min(missed, u.ephemeral_5m_input_tokens)
    take1 = min(missed - take5, u.ephemeral_1h_input_tokens)
    take_in = min(missed - take5 - take1, u.input_tokens)
    moved = take5 + take1 + take_in
    return dataclasses.replace(
        u,
        input_tokens=u.input_tokens - take_in,
        ephemeral_5m_input_tokens=u.ephemeral_5m_input_tokens - take5,
        ephemeral_1h_input_tokens=u.ephemeral_1h_input_tokens - take1,
        cache_creation_input_tokens=u.cache_creation_input_tokens - take5 - take1,
        cache_read_input_tokens=u.cache_read_input_tokens + moved,
    )


@dataclass(slots=True)
class Events:
    """What happened on the main chain between two calls (reset at every call)."""

    compaction: bool = False
    rewind: bool = False
    memory_edits: list[str] = field(default_factory=list)
    tools_delta: bool = False
    diagnostics: dict[str, Any] | None = None


@dataclass(slots=True)
class Miss:
    key: tuple[str, str]
    timestamp: datetime | None
    reason: str
    api_reason: str | None
    tokens_rewritten: int
    extra_pico: int
    gap_seconds: float | None
    model: str
    prev_model: str
    expected_read: int
    actual_read: int
    evidence: dict[str, Any] = field(default_factory=dict)
    row: int = -1  # the call's row in the analysis' call log


def _api_to_reason(api: str) -> str | None:
    return {"model_changed": "model_changed", "system_changed": "system_or_memory_changed",
            "tools_changed": "tools_changed", "messages_changed": "messages_changed"}.get(api)


class CacheAnalyzer:
    """Feeds on main-chain calls in order; keeps hit totals and the list of misses."""

    def __init__(self, prices: Any) -> None:
        self.prices = prices
        self.misses: list[Miss] = []
        self.ttl = TTL_5M
        self.read_tokens = 0
        self.prompt_tokens = 0
        self.per_call = array("d")  # hit ratio of each main call, in order (one float each)

    def _cost(self, model: str, u: Usage, when: datetime | None) -> int:
        if self.prices is None:
            return 0
        c = self.prices.cost(model, u, when)
        return c.total_pico if c.priced else 0

    def on_call(self, call: Any, prev: Any | None, ev: Events, baseline: float | None,
                memory_mtimes: list[tuple[str, float]] | None = None) -> Miss | None:
        u: Usage = call.usage
        prompt = u.prompt_tokens
        self.prompt_tokens += prompt
        self.read_tokens += u.cache_read_input_tokens
        self.per_call.append(u.cache_read_input_tokens / prompt if prompt else 0.0)
        if prev is None:
            self.ttl = ttl_of(u, self.ttl)
            return None
        pu: Usage = prev.usage
        ttl = ttl_of(pu, self.ttl)
        self.ttl = ttl_of(u, ttl)
        if ev.compaction or call.billed_elsewhere:
            return None  # replaced, not grown (a rewrite, not a miss); or a fork's copy of its parent
        expected = pu.cache_read_input_tokens + pu.cache_creation_input_tokens
        read = u.cache_read_input_tokens
        if prompt < pu.prompt_tokens * (1 - GROWTH_TOLERANCE):
            return None
        missed = min(expected, prompt) - read
        if missed < max(MIN_MISSED_TOKENS, MIN_MISSED_SHARE * expected):
            return None
        gap = None
        if call.timestamp is not None and prev.timestamp is not None:
            gap = (call.timestamp - prev.timestamp).total_seconds()
        evidence: dict[str, Any] = {"ttl_seconds": int(ttl)}
        api_reason: str | None = None
        diag = (ev.diagnostics or {}).get("cache_miss_reason") if ev.diagnostics else None
        if isinstance(diag, dict) and isinstance(diag.get("type"), str) and _api_to_reason(diag["type"]):
            api_reason = diag["type"]
            reason = _api_to_reason(api_reason) or "messages_changed"
            evidence["source"] = "api diagnostics"
        elif call.model != prev.model or (u.speed or "standard") != (pu.speed or "standard"):
            reason, api_reason = "model_changed", "model_changed"
            evidence["from"] = prev.model
        elif gap is not None and gap > ttl:
            reason = "ttl_expired"
            evidence["idle_seconds"] = int(gap)
        elif ev.rewind:
            reason, api_reason = "messages_changed", "messages_changed"
            evidence["cause"] = "rewind"
        else:
            b = baseline or 0.0
            tol = max(0.1 * b, 2000.0)
            if b and read < 0.5 * b:
                reason, api_reason = "tools_changed", "tools_changed"
                if ev.tools_delta:
                    evidence["cause"] = "tool list changed (deferred/MCP tools)"
            elif b and read <= b + tol:
                reason = "system_or_memory_changed"
                changed = list(ev.memory_edits)
                if memory_mtimes and prev.timestamp is not None:
                    # modified after the previous call (perhaps again later: a file keeps one mtime)
                    lo = prev.timestamp.timestamp()
                    changed += [p for p, m in memory_mtimes if m >= lo and p not in changed]
                if changed:
                    evidence["cause"] = "memory file changed"
                    evidence["files"] = changed
                    api_reason = "messages_changed"  # CLAUDE.md rides in the first user message
                elif (prev.timestamp and call.timestamp
                      and prev.timestamp.date() != call.timestamp.date()):
                    evidence["cause"] = "date changed (the date is in the memory reminder)"
                    api_reason = "messages_changed"
                else:
                    evidence["cause"] = "system prompt or memory reminder changed"
                    api_reason = "system_changed"
            else:
                reason, api_reason = "messages_changed", "messages_changed"
        extra = self._cost(call.model, u, call.timestamp) - self._cost(
            call.model, warm_usage(u, missed), call.timestamp)
        if gap is not None:
            evidence["gap_seconds"] = round(gap, 1)
        m = Miss(call.key, call.timestamp, reason, api_reason, missed, max(0, extra), gap, call.model,
                 prev.model, expected, read, evidence)
        self.misses.append(m)
        return m

    def drop_before(self, gone: Callable[[int], bool], calls: int) -> None:
        """The oldest ``calls`` main calls left the analysis window: their hit ratios go, and
        the misses whose row ``gone`` says left with them (the totals stay whole-session)."""
        del self.per_call[:calls]
        n = 0
        while n < len(self.misses) and gone(self.misses[n].row):
            n += 1
        del self.misses[:n]

    @property
    def hit_ratio(self) -> float:
        return self.read_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def next_turn_costs(self, last: Any) -> tuple[int, int]:
        """(warm, cold) pico-dollars of re-sending the cached prefix ``last`` left behind."""
        u: Usage = last.usage
        cached = u.cache_read_input_tokens + u.cache_creation_input_tokens
        grown = u.input_tokens + u.output_tokens
        warm = Usage(input_tokens=0, cache_read_input_tokens=cached, cache_creation_input_tokens=grown,
                     ephemeral_5m_input_tokens=grown if self.ttl == TTL_5M else 0,
                     ephemeral_1h_input_tokens=grown if self.ttl == TTL_1H else 0)
        total = cached + grown
        cold = Usage(input_tokens=0, cache_creation_input_tokens=total,
                     ephemeral_5m_input_tokens=total if self.ttl == TTL_5M else 0,
                     ephemeral_1h_input_tokens=total if self.ttl == TTL_1H else 0)
        return self._cost(last.model, warm, last.timestamp), self._cost(last.model, cold, last.timestamp)
