"""The live dashboard's numbers, derived from a ``SessionModel`` (no Textual here).

The follower thread owns a ``LiveStats``: it feeds it each event batch and hands
the UI an immutable ``LiveSnapshot``, so the UI never reads the model while the
follower writes it. Work per batch is proportional to the batch (plus bounded
tails: the call rows, the sparkline series); only ``rebuild`` walks every call,
and it runs once per load or transcript reset.

Time never comes from here: the only clock-dependent number, the cache TTL
countdown, is ``CacheInfo.remaining(now)`` with ``now`` supplied by the caller.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from spendtui.core.activity import ACTIVE_GAP_SECONDS, ActivityTracker
from spendtui.core.model import Agent, ApiCall, CallKey, Compaction, ModelSwitch, SessionModel
from spendtui.core.summary import PICO, context_window
from spendtui.core.usage import Usage

if TYPE_CHECKING:  # the follower is only a source of duck-typed events here
    from spendtui.core.follow import Event

CACHE_TTL_5M = 300
CACHE_TTL_1H = 3600
AUTO_COMPACT_BUFFER = 33_000
"""Claude Code compacts automatically about this many tokens below the window."""
CACHE_MISS_FRACTION = 0.5
"""A call "missed" when it read less than this share of the previous prompt from cache."""
TTL_LOOKBACK = 50
"""How many main calls back we look for the cache writes that set the TTL."""
MAX_ROWS = 60  # a screenful and more; the table is rebuilt when a call arrives (~0.7 ms a row)
SPARK_LEN = 120
MAX_AGENT_ROWS = 50
MAX_CHAINS = 256
"""Chains (the main one and sub-agents) whose last call LiveStats remembers for the next
call's flags; a sub-agent quiet while this many others ran gets no miss/switch flag."""

FLAG_CACHE_MISS = "cache miss"
FLAG_COMPACTION = "compaction"
FLAG_MODEL_SWITCH = "model switch"
FLAG_SUBAGENT = "sub-agent"
FLAGS = (FLAG_CACHE_MISS, FLAG_COMPACTION, FLAG_MODEL_SWITCH, FLAG_SUBAGENT)


def epoch(ts: datetime | None) -> float | None:
    return ts.timestamp() if ts is not None else None


def pico_to_usd(pico: int) -> float:
    return pico / PICO


# ------------------------------------------------------------------ burn rate


def active_seconds(timestamps: Iterable[float], max_gap: float = ACTIVE_GAP_SECONDS) -> float:
    """Sum of the gaps between consecutive calls, leaving out breaks longer than ``max_gap``."""
    ts = sorted(timestamps)
    return sum(b - a for a, b in pairwise(ts) if b - a <= max_gap)


MIN_ACTIVE_FOR_RATE = 60.0  # below a minute of activity an hourly rate is noise ($2,700/h from 2 calls)


def burn_rate_per_hour(cost_pico: int, active_s: float) -> float | None:
    """USD per hour of active time; None until there is a minute of activity to divide by."""
    if active_s < MIN_ACTIVE_FOR_RATE:
        return None
    return cost_pico / PICO / active_s * 3600.0


# ------------------------------------------------------------------ cache


def cache_hit_ratio(usage: Usage) -> float | None:
    """Share of the prompt read from cache (None for an empty prompt)."""
    prompt = usage.prompt_tokens
    return usage.cache_read_input_tokens / prompt if prompt else None


def session_cache_hit_ratio(model: SessionModel) -> float | None:
    """Cache reads over all prompt tokens of the counted calls (main and sub-agents)."""
    t = model.tokens
    prompt = t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"]
    return t["cache_read"] / prompt if prompt else None


def cache_ttl_seconds(main_calls: Sequence[ApiCall], lookback: int = TTL_LOOKBACK) -> int:
    """The TTL of the cached prefix: 1h if the newest main call that wrote cache wrote
    1-hour entries, else 5 minutes (a call that only read leaves the TTL as it was)."""
    for i, call in enumerate(reversed(main_calls)):
        if i >= lookback:
            break
        u = call.usage
        if u.ephemeral_1h_input_tokens > 0:
            return CACHE_TTL_1H
        if u.cache_creation_input_tokens > 0:
            return CACHE_TTL_5M
    return CACHE_TTL_5M


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """What the prompt cache looks like after the last main call."""

    model: str
    ttl: int
    last_call_at: float
    prompt_tokens: int
    warm_pico: int | None  # the next call with its prompt read from cache
    cold_pico: int | None  # the same prompt written to the cache again

    def remaining(self, now: float) -> float:
        # never more than the TTL: a last call stamped in the future (a transcript from a
        # machine whose clock runs ahead) showed "454:38:44 left of the 5m TTL"
        return min(float(self.ttl), max(0.0, self.last_call_at + self.ttl - now))

    def expired(self, now: float) -> bool:
        return self.remaining(now) <= 0.0

    @property
    def penalty_pico(self) -> int | None:
        if self.warm_pico is None or self.cold_pico is None:
            return None
        return self.cold_pico - self.warm_pico


def next_call_costs(prices: Any, model: str, prompt: int, ttl: int,
                    when: datetime | None) -> tuple[int | None, int | None]:
    """(warm, cold) cost in pico-dollars of resending ``prompt`` tokens, priced by the table's
    own rules (long context included); output is left out: it does not depend on the cache."""
    if prices is None or prompt <= 0:
        return None, None
    warm = prices.cost(model, Usage(cache_read_input_tokens=prompt), when)
    if ttl >= CACHE_TTL_1H:
        cold_usage = Usage(cache_creation_input_tokens=prompt, ephemeral_1h_input_tokens=prompt)
    else:
        cold_usage = Usage(cache_creation_input_tokens=prompt, ephemeral_5m_input_tokens=prompt)
    cold = prices.cost(model, cold_usage, when)
    return (warm.total_pico if warm.priced else None, cold.total_pico if cold.priced else None)


def cache_info(model: SessionModel, prices: Any) -> CacheInfo | None:
    """Cache state after the newest main call (None before the first timed main call)."""
    if not model.main_calls:
        return None
    last = model.main_calls[-1]
    if last.timestamp is None:
        return None
    ttl = cache_ttl_seconds(model.main_calls)
    prompt = last.usage.prompt_tokens
    warm, cold = next_call_costs(prices, last.model, prompt, ttl, last.timestamp)
    return CacheInfo(last.model, ttl, last.timestamp.timestamp(), prompt, warm, cold)


# ------------------------------------------------------------------ context


@dataclass(frozen=True, slots=True)
class ContextGauge:
    current: int
    peak: int
    window: int

    @property
    def compact_at(self) -> int:
        return max(0, self.window - AUTO_COMPACT_BUFFER)

    @property
    def fraction(self) -> float:
        return self.current / self.window if self.window else 0.0

    @property
    def until_compact(self) -> int:
        return max(0, self.compact_at - self.current)


def context_gauge(model: SessionModel, prices: Any) -> ContextGauge:
    """Window: 1M once a call went past 200K, else the price table's, else 200K."""
    return ContextGauge(model.context_current, model.context_peak, context_window(model, prices))


def context_series(model: SessionModel, n: int = SPARK_LEN) -> list[int]:
    """Context size of the newest ``n`` main calls, oldest first."""
    return [c.usage.prompt_tokens for c in model.main_calls[-n:]]


# ------------------------------------------------------------------ rows


@dataclass(frozen=True, slots=True)
class CallRow:
    """One line of the calls table, frozen when built so the UI can hold it safely."""

    key: CallKey
    seq: int
    timestamp: datetime | None
    model: str
    agent_id: str | None
    agent_type: str | None
    tools: tuple[str, ...]
    input: int
    cache_write: int
    cache_write_1h: int
    cache_read: int
    output: int
    context: int
    cost_pico: int | None  # None: not priced
    flags: frozenset[str] = frozenset()

    @property
    def sort_key(self) -> tuple[float, int]:
        return (self.timestamp.timestamp() if self.timestamp else -math.inf, self.seq)

    @property
    def hit_ratio(self) -> float | None:
        return self.cache_read / self.context if self.context else None

    @property
    def cost_usd(self) -> float | None:
        return None if self.cost_pico is None else self.cost_pico / PICO


@dataclass(frozen=True, slots=True)
class ChainTip:
    """What the flags of a chain's next call need from its previous call. Not the call
    itself: that would keep every sub-agent's last call alive after the model let go of it."""

    model: str
    prompt_tokens: int
    at: float | None  # epoch seconds

    @classmethod
    def of(cls, call: ApiCall) -> ChainTip:
        return cls(call.model, call.usage.prompt_tokens, epoch(call.timestamp))


def call_flags(call: ApiCall, prev: ApiCall | ChainTip | None, compacted: bool = False,
               agent_type: str | None = None) -> frozenset[str]:
    """Flags of one call given the previous call of the same chain (main or one agent).

    A cache miss is a prompt that grew while reading well under the previous prompt
    from cache: the prefix that should have been cached was written again.
    """
    flags: set[str] = set()
    if call.agent_id is not None:
        flags.add(FLAG_SUBAGENT)
        if agent_type == "compaction":
            flags.add(FLAG_COMPACTION)
    elif compacted:
        flags.add(FLAG_COMPACTION)
    if prev is not None:
        if call.agent_id is None and prev.model != call.model:
            flags.add(FLAG_MODEL_SWITCH)
        prev_prompt = prev.prompt_tokens if isinstance(prev, ChainTip) else prev.usage.prompt_tokens
        u = call.usage
        if u.prompt_tokens > prev_prompt and u.cache_read_input_tokens < CACHE_MISS_FRACTION * prev_prompt:
            flags.add(FLAG_CACHE_MISS)
    return frozenset(flags)


def call_row(call: ApiCall, flags: frozenset[str] = frozenset(), agent_type: str | None = None) -> CallRow:
    u = call.usage
    cost = call.cost
    return CallRow(
        key=call.key,
        seq=call.seq,
        timestamp=call.timestamp,
        model=call.model,
        agent_id=call.agent_id,
        agent_type=agent_type,
        tools=tuple(call.tools),
        input=u.input_tokens,
        cache_write=u.cache_creation_input_tokens,
        cache_write_1h=u.ephemeral_1h_input_tokens,
        cache_read=u.cache_read_input_tokens,
        output=u.output_tokens,
        context=u.prompt_tokens,
        cost_pico=cost.total_pico if cost is not None and cost.priced else None,
        flags=flags,
    )


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    agent_type: str | None
    model: str | None
    calls: int
    cost_pico: int
    description: str | None
    first_ts: datetime | None
    context_peak: int


def _agent_order(a: Agent) -> tuple[float, str]:
    return epoch(a.first_ts) or -math.inf, a.agent_id


def agent_rows(model: SessionModel, limit: int = MAX_AGENT_ROWS, among: Collection[str] | None = None
               ) -> list[AgentRow]:
    """Sub-agents that made calls, most recently started first.

    ``among``: the ids of the newest agents, kept by the caller (LiveStats) as they start, so
    a snapshot does not look at every sub-agent a swarm ever made; the whole set is looked at
    when they hold too few agents with calls."""
    agents: list[Agent] = []
    if among is not None:
        got = model.agents
        agents = [a for i in among if (a := got.get(i)) is not None and a.api_calls > 0]
    if among is None or (len(agents) < limit and len(model.agents) > len(agents)):
        agents = [a for a in model.agents.values() if a.api_calls > 0]
    newest = heapq.nlargest(limit, agents, key=_agent_order)
    return [AgentRow(a.agent_id, a.agent_type, a.model, a.api_calls, a.cost_pico, a.description,
                     a.first_ts, a.context_peak) for a in newest]


# ------------------------------------------------------------------ notices


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a toast. ``severity`` uses Textual's words but is plain text."""

    kind: str
    title: str
    message: str
    severity: str = "information"


def _short(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1000:.1f}K" if n >= 1000 else str(n)


def notice_for(ev: Event) -> Notice | None:
    p = ev.payload
    if ev.kind == "compaction" and isinstance(p, Compaction) and not p.micro:
        if p.post_tokens is None:
            return Notice("compaction", "Context compacted", f"{p.trigger}: {_short(p.pre_tokens)} tokens summarised")
        return Notice("compaction", "Context compacted",
                      f"{p.trigger}: {_short(p.pre_tokens)} → {_short(p.post_tokens)} tokens")
    if ev.kind == "model_switch" and isinstance(p, ModelSwitch):
        return Notice("model_switch", "Model switched", f"{p.from_model} → {p.to_model}", "warning")
    if ev.kind == "clear" and isinstance(p, dict):
        return Notice("clear", "/clear: following the new session",
                      f"{str(p.get('from', ''))[:8]} → {str(p.get('to', ''))[:8]}")
    if ev.kind == "reset" and isinstance(p, dict):
        name = str(p.get("file", "")).rsplit("/", 1)[-1]
        return Notice("reset", "Transcript re-read", f"{name} was {p.get('why', 'changed')}", "warning")
    if ev.kind == "file_gone" and isinstance(p, dict):
        name = str(p.get("file", "")).rsplit("/", 1)[-1]
        return Notice("file_gone", "Transcript deleted", f"{name}: the numbers so far are kept", "warning")
    return None


# ------------------------------------------------------------------ snapshot


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything the dashboard shows at one moment (minus the clock)."""

    session_id: str
    project: str | None
    title: str | None
    current_model: str | None
    cost_pico: int
    cost_complete: bool
    subagent_cost_pico: int
    calls: int
    main_calls: int
    turns: int
    compactions: int
    model_switches: int
    last_call: CallRow | None
    active_seconds: float
    burn_usd_per_hour: float | None
    cache_hit_last: float | None
    cache_hit_session: float | None
    cache: CacheInfo | None
    gauge: ContextGauge
    context_series: tuple[int, ...]
    cost_series: tuple[float, ...]
    rows: tuple[CallRow, ...]  # newest first
    agents: tuple[AgentRow, ...]
    unpriced_models: tuple[str, ...] = ()
    previous_sessions: tuple[str, ...] = field(default_factory=tuple)
    budget: tuple[Any, ...] = ()  # BudgetState per configured scope (spendtui.core.budget)
    skipped_lines: int = 0
    skipped_reasons: tuple[tuple[str, int], ...] = ()  # most frequent first
    # from the context analysis (spendtui.core.context), when it runs
    breakdown: dict[str, int] | None = None  # part -> tokens of the newest main call's context
    advice: tuple[Any, ...] = ()  # Advice, biggest saving first
    avoidable_headline: str | None = None

    @property
    def cost_usd(self) -> float:
        return self.cost_pico / PICO


class LiveStats:
    """Incremental state behind ``LiveSnapshot``: activity time, newest rows, flags."""

    def __init__(self, prices: Any = None, max_rows: int = MAX_ROWS, spark_len: int = SPARK_LEN,
                 max_agents: int = MAX_AGENT_ROWS, max_chains: int = MAX_CHAINS) -> None:
        self.prices = prices
        self.max_rows = max_rows
        self.max_chains = max_chains
        self.spark_len = spark_len
        self.max_agents = max_agents
        self.model: SessionModel | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self.activity = ActivityTracker()
        self._rows: list[CallRow] = []  # oldest first, at most max_rows
        self._row_keys: list[tuple[float, int]] = []
        self._by_key: dict[CallKey, CallRow] = {}
        # chain (None: main) -> its newest call's tip, least recently active first
        self._last_in_chain: OrderedDict[str | None, ChainTip] = OrderedDict()
        self._compaction_ts: list[float] = []
        # the newest sub-agents that made calls (up to twice max_agents), by _agent_order
        self._agent_keys: list[tuple[float, str]] = []
        self._agent_ids: set[str] = set()

    # -------------------------------------------------------------- feeding
    def rebuild(self, model: SessionModel) -> None:
        """Recompute from the whole model (after a load, a reset or /clear)."""
        self.model = model
        self._reset_state()
        self._compaction_ts = sorted(t for c in model.main_compactions if (t := epoch(c.timestamp)) is not None)
        for call in list(model.calls.values()):
            self._add_call(call, count_activity=False)
        # activity from every counted call, including those a long session let go of
        for t in model.call_times():
            self.activity.add(t)
        for a in model.agents.values():
            if a.api_calls > 0:
                self._note_agent(a)

    def apply(self, model: SessionModel, events: Sequence[Event]) -> list[Notice]:
        """Fold one batch in; returns the toasts it deserves.

        ``model`` is the follower's model read *after* the poll that produced
        ``events``: a reset or /clear replaces it, and then we rebuild; the events
        after it (the re-read history) earn no toasts.
        """
        notices: list[Notice] = []
        replaced = False
        for ev in events:
            n = notice_for(ev)
            if n is not None:
                notices.append(n)
            if ev.kind in ("reset", "clear"):
                replaced = True
                break
        if replaced or model is not self.model:
            self.rebuild(model)
            return notices
        for ev in events:
            if ev.kind == "api_call" and isinstance(ev.payload, ApiCall):
                self._add_call(ev.payload)
            elif ev.kind == "call_updated" and isinstance(ev.payload, ApiCall):
                self._update_call(ev.payload)
            elif ev.kind == "subagent_start" and isinstance(ev.payload, Agent):
                self._note_agent(ev.payload)
            elif ev.kind == "compaction" and isinstance(ev.payload, Compaction):
                t = epoch(ev.payload.timestamp)
                if t is not None and not ev.payload.micro:
                    bisect.insort(self._compaction_ts, t)
        return notices

    def _note_agent(self, agent: Agent) -> None:
        """Keep ``agent`` among the newest started ones if it is (what the snapshot's agent
        rows are picked from): a swarm's thousands of older ones are never looked at again."""
        key = _agent_order(agent)
        if agent.agent_id in self._agent_ids:  # started again (its first call had no time)
            self._agent_keys = [k for k in self._agent_keys if k[1] != agent.agent_id]
        bisect.insort(self._agent_keys, key)
        self._agent_ids.add(agent.agent_id)
        keep = 2 * self.max_agents
        if len(self._agent_keys) > keep:
            for _t, aid in self._agent_keys[:-keep]:
                self._agent_ids.discard(aid)
            del self._agent_keys[:-keep]

    def _compacted_between(self, prev: ChainTip | None, call: ApiCall) -> bool:
        t = epoch(call.timestamp)
        if t is None or not self._compaction_ts:
            return False
        lo = prev.at if prev is not None else None
        i = bisect.bisect_right(self._compaction_ts, t)  # compactions at or before the call
        if i == 0:
            return False
        return lo is None or self._compaction_ts[i - 1] > lo

    def _agent_type(self, call: ApiCall) -> str | None:
        if call.agent_id is None or self.model is None:
            return None
        agent = self.model.agents.get(call.agent_id)
        return agent.agent_type if agent is not None else None

    def _add_call(self, call: ApiCall, count_activity: bool = True) -> None:
        chains = self._last_in_chain
        prev = chains.get(call.agent_id)
        chains[call.agent_id] = ChainTip.of(call)
        chains.move_to_end(call.agent_id)
        if len(chains) > self.max_chains:
            # the least recently active sub-agent (the main chain is never forgotten)
            oldest = next(k for k in chains if k is not None)
            del chains[oldest]
        if call.billed_elsewhere:
            return  # a fork's copy of its parent's call: history of another session
        t = epoch(call.timestamp)
        if t is not None and count_activity:
            self.activity.add(t)
        atype = self._agent_type(call)
        compacted = call.agent_id is None and self._compacted_between(prev, call)
        row = call_row(call, call_flags(call, prev, compacted, atype), atype)
        self._insert(row)

    def _insert(self, row: CallRow) -> None:
        k = row.sort_key
        if len(self._rows) >= self.max_rows and k <= self._row_keys[0]:
            return
        i = bisect.bisect_right(self._row_keys, k)
        self._rows.insert(i, row)
        self._row_keys.insert(i, k)
        self._by_key[row.key] = row
        if len(self._rows) > self.max_rows:
            old = self._rows.pop(0)
            self._row_keys.pop(0)
            self._by_key.pop(old.key, None)

    def _update_call(self, call: ApiCall) -> None:
        old = self._by_key.get(call.key)
        if old is None:
            return
        new = call_row(call, old.flags, old.agent_type)
        i = bisect.bisect_left(self._row_keys, old.sort_key)
        if i < len(self._rows) and self._rows[i].key == call.key:
            self._rows[i] = new
        self._by_key[call.key] = new

    # -------------------------------------------------------------- reading
    @property
    def rows(self) -> list[CallRow]:
        """Newest first."""
        return self._rows[::-1]

    def burn_rate(self) -> float | None:
        if self.model is None:
            return None
        return burn_rate_per_hour(self.model.cost_pico, self.activity.seconds)

    def snapshot(self, previous: Sequence[str] = ()) -> LiveSnapshot:
        m = self.model
        if m is None:
            raise RuntimeError("LiveStats.snapshot() before rebuild()")
        calls = m.calls
        rows = tuple(r for r in reversed(self._rows) if r.key in calls)
        last_main = m.main_calls[-1] if m.main_calls else None
        cost_series = tuple(r.cost_usd or 0.0 for r in rows[: self.spark_len][::-1])
        return LiveSnapshot(
            session_id=m.session_id,
            project=m.project,
            title=m.custom_title or m.title,
            current_model=m.current_model,
            cost_pico=m.cost_pico,
            cost_complete=not m.unpriced_models,
            subagent_cost_pico=m.subagent_cost_pico,
            calls=m.counted_calls,
            main_calls=m.counted_main_calls,
            turns=len(m.turns),
            compactions=len(m.main_compactions),
            model_switches=len(m.model_switches),
            last_call=rows[0] if rows else None,
            active_seconds=self.activity.seconds,
            burn_usd_per_hour=self.burn_rate(),
            cache_hit_last=cache_hit_ratio(last_main.usage) if last_main is not None else None,
            cache_hit_session=session_cache_hit_ratio(m),
            cache=cache_info(m, self.prices),
            gauge=context_gauge(m, self.prices),
            context_series=tuple(context_series(m, self.spark_len)),
            cost_series=cost_series,
            rows=rows,
            agents=tuple(agent_rows(m, self.max_agents, among=self._agent_ids)),
            unpriced_models=tuple(sorted(m.unpriced_models)),
            previous_sessions=tuple(previous),
        )
