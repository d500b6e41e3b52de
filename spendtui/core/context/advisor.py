"""Seven rules, one per cost strategy, each priced in dollars.

Each rule keeps a cheap incremental trigger (updated per call or tool use, so
``first_seen`` is the session time the advice would first have been shown) and
computes its saving on demand. Thresholds and why are in docs/context.md.

* ``model_routing``: runs of >= 5 read-only calls on Opus/Sonnet; saving = the
  same calls priced on Haiku. Never for turns where >= 25 % of tool uses edit.
* ``context_pruning``: stale + cold context (or a context past 150K) that makes
  a /compact pay for itself within 10 calls; says after how many.
* ``cache``: misses priced by reason (idle TTL expiry, CLAUDE.md changes, model
  switches) and, live, a countdown before the TTL runs out.
* ``lean_memory``: memory files over 5K tokens; cost of each 1K.
* ``subagents``: fan-outs of more than 4 parallel sub-agents; sub-agents on Opus
  that only explore.
* ``batch``: the same edit pattern applied to >= 10 files; the Batches API is 50 % off.
* ``plan``: spend per active hour and a 30-day projection against Pro/Max/API.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from spendtui.core.context.cache import TTL_1H
from spendtui.core.context.composition import CallComposition
from spendtui.core.context.readonly import AGENT_TOOLS, EDIT_TOOLS, is_read_only
from spendtui.core.model import ApiCall
from spendtui.core.usage import Usage

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer
    from spendtui.core.context.cache import Miss
    from spendtui.core.context.calllog import CallFacts

PICO = 10**12
ROUTING_TARGET = "claude-haiku-4-5"
ROUTING_FAMILIES = ("opus", "sonnet")
MIN_RUN = 5
EDIT_HEAVY_SHARE = 0.25
PRUNE_MIN_TOKENS = 10_000
PRUNE_MAX_BREAKEVEN = 10
LARGE_CONTEXT = 150_000
SUMMARY_TOKENS = 4_000
COMPACT_PROMPT_TOKENS = 1_500
HORIZON_CALLS = 10
MEMORY_LIMIT = 5_000
FANOUT_LIMIT = 4
BATCH_MIN_FILES = 10
BATCH_DISCOUNT = Decimal("0.5")
OPUS_EXPLORE_MIN_CALLS = 3
COOLDOWN_S = 900.0
REGROW = 1.5
MIN_SAVING_USD = 0.01
TTL_WARN_AFTER_S = 60.0
TTL_WARN_MIN_USD = 0.02
PLAN_MARGIN = 1.2


def usd(pico: int | float) -> float:
    return round(float(pico) / PICO, 9)


def money(pico: int | float) -> str:
    v = float(pico) / PICO
    return f"${v:,.2f}" if abs(v) >= 0.995 or v == 0 else f"${v:.3f}".rstrip("0").rstrip(".")


def pico_of(tokens: float, usd_per_mtok: Decimal) -> int:
    """Tokens at a USD-per-million rate, in pico-dollars (1 USD/MTok = 1e6 pico per token)."""
    return int(Decimal(str(round(tokens, 6))) * usd_per_mtok * 1_000_000)


def reduce_usage(u: Usage, n: int) -> Usage:
    """The call with ``n`` fewer prompt tokens, taken from reads first (the old, cached part)."""
    r = min(n, u.cache_read_input_tokens)
    n -= r
    w5 = min(n, u.ephemeral_5m_input_tokens)
    n -= w5
    w1 = min(n, u.ephemeral_1h_input_tokens)
    n -= w1
    i = min(n, u.input_tokens)
    return dataclasses.replace(
        u, cache_read_input_tokens=u.cache_read_input_tokens - r,
        ephemeral_5m_input_tokens=u.ephemeral_5m_input_tokens - w5,
        ephemeral_1h_input_tokens=u.ephemeral_1h_input_tokens - w1,
        cache_creation_input_tokens=u.cache_creation_input_tokens - w5 - w1,
        input_tokens=u.input_tokens - i)


def _ts(x: float | datetime | None) -> float | None:
    if x is None:
        return None
    return x.timestamp() if isinstance(x, datetime) else float(x)


@dataclass(slots=True)
class Advice:
    kind: str
    key: str
    message: str
    saving_usd: float
    evidence: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "message": self.message,
            "saving_usd": round(self.saving_usd, 9),
            "evidence": self.evidence,
            "first_seen": self.first_seen.isoformat().replace("+00:00", "Z") if self.first_seen else None,
        }


@dataclass(slots=True)
class Episode:
    """One context-pruning trigger: from call ``index`` on, ``tokens`` could have gone."""

    index: int
    segment: int
    ts: datetime | None
    model: str
    tokens: int
    context: int
    stale: int
    one_time_pico: int
    per_call_pico: int
    breakeven: int
    mode: str  # "stale" | "large"
    realised: tuple[int, int] | None = None  # once final: its segment closed and let go of (columns)


class Advisor:
    def __init__(self, analyzer: ContextAnalyzer) -> None:
        self.a = analyzer
        self._ro: dict[str, bool] = {}
        self._agents_in_call: dict[int, list[str]] = defaultdict(list)  # spawning call's row -> tool ids
        self._spawn_ids: dict[int, str] = {}  # spawning call's row -> its message id (the advice's key)
        # pruning
        self.episodes: list[Episode] = []
        # memory
        self.memory_first: datetime | None = None
        # batch
        self._sig: dict[str, tuple[str, ...]] = {}
        self._sig_count: dict[tuple[str, ...], int] = defaultdict(int)
        self._path_calls: dict[str, array[int]] = {}  # rows of the calls that used the file
        self.routing_first: datetime | None = None
        self.batch_first: dict[tuple[str, ...], datetime | None] = {}
        # cool-down
        self._shown: dict[str, tuple[float, float]] = {}

    # ================================================================ helpers
    def _rates(self, model: str, when: datetime | None) -> Any:
        if self.a.prices is None:
            return None
        m, _ = self.a.prices.resolve(model, when)
        return m.base if m is not None else None

    def family(self, model: str) -> str | None:
        if self.a.prices is None:
            return None
        m, _ = self.a.prices.resolve(model)
        return m.family if m is not None else None

    def cost(self, model: str, u: Usage, when: datetime | None) -> int:
        if self.a.prices is None:
            return 0
        c = self.a.prices.cost(model, u, when)
        return c.total_pico if c.priced else 0

    def _write_rate(self, rates: Any) -> Decimal:
        return rates.cache_write_1h if self.a.cache.ttl == TTL_1H else rates.cache_write_5m

    # ================================================================ incremental triggers
    def on_tool_use(self, tid: str | None, name: str, inp: dict[str, Any], call: ApiCall) -> None:
        """One tool call (main chain or sub-agent): read-only flag, fan-out and batch bookkeeping."""
        row = self.a.calls.row_of(call)
        if isinstance(tid, str):
            self._ro[tid] = is_read_only(name, inp)
            if name in AGENT_TOOLS and call.agent_id is None and row is not None:
                self._agents_in_call[row].append(tid)
                self._spawn_ids[row] = call.key[0]
        path = next((inp[k] for k in ("file_path", "notebook_path") if isinstance(inp.get(k), str)), None)
        if path is None:
            return
        old = self._sig.get(path, ())
        new = old if old and old[-1] == name else (*old, name)[-6:]
        if new != old:
            if old:
                self._sig_count[old] -= 1
            self._sig[path] = new
            self._sig_count[new] += 1
            if (self._sig_count[new] >= BATCH_MIN_FILES and new not in self.batch_first
                    and any(t in EDIT_TOOLS for t in new)):
                self.batch_first[new] = call.timestamp
        rows = self._path_calls.get(path)
        if rows is None:
            rows = self._path_calls[path] = array("i")
        if row is not None and (not rows or rows[-1] != row):
            rows.append(row)

    def call_read_only(self, call: ApiCall | CallFacts) -> bool:
        known = getattr(call, "read_only", None)  # a CallFacts carries the answer
        if known is not None:
            return bool(known)
        ids = call.tool_use_ids
        return bool(ids) and all(self._ro.get(t, False) for t in ids)

    def drop_before(self, main_index: int, row: int) -> None:
        """Main calls before ``main_index`` and rows before ``row`` left the analysis window:
        forget what hangs off them (later rows that left are skipped by ``in_window``)."""
        self.episodes = [e for e in self.episodes if e.index >= main_index]
        for r in [r for r in self._agents_in_call if r < row]:
            del self._agents_in_call[r]
            del self._spawn_ids[r]
        for path, rows in list(self._path_calls.items()):
            if rows and rows[0] < row:
                kept = array("i", (r for r in rows if r >= row))
                if kept:
                    self._path_calls[path] = kept
                else:
                    del self._path_calls[path]

    def forget_tools(self, call: ApiCall) -> None:
        """The call's tools were weighed for good (its ``CallFacts`` keeps the answer)."""
        for t in call.tool_use_ids:
            self._ro.pop(t, None)

    def _edit_heavy(self, turn: int) -> bool:
        total, edits = self.a.turn_tools.get(turn, (0, 0))
        return total > 0 and edits / total >= EDIT_HEAVY_SHARE

    def on_main_call(self, call: ApiCall, comp: CallComposition, miss: Miss | None) -> None:
        """Per-call triggers that depend on the context at that moment (memory, pruning);
        the rest (routing runs, fan-outs, batches) are read off the calls on demand."""
        self._memory_on_call(call, comp)
        self._pruning_on_call(call, comp)

    # ---------------------------------------------------------------- memory
    def _memory_on_call(self, call: ApiCall, comp: CallComposition) -> None:
        """Only the trigger is kept per call; the cost is summed on demand at the current ratio."""
        if self.memory_first is None and comp.memory_exact + self.a.ratio * comp.memory_est > MEMORY_LIMIT:
            self.memory_first = call.timestamp

    def memory_cost(self) -> tuple[float, int, int]:
        """(memory tokens now, calls that carried memory, pico-dollars those tokens cost).

        Memory sits right after the baseline in the first message: on each call the part the
        cache read covers was paid at the read price, the rest at the call's write price (or
        the input price when nothing was written)."""
        a = self.a
        r = a.ratio
        b = a.baseline() or 0.0
        tokens = 0.0
        calls = 0
        pico = 0
        for comp, call in zip(a.main, a.main_calls, strict=True):
            m = comp.memory_exact + r * comp.memory_est
            if m <= 0:
                continue
            tokens = m
            calls += 1
            rates = self._rates(call.model, call.timestamp)
            if rates is None:
                continue
            u = call.usage
            read = min(m, max(0.0, u.cache_read_input_tokens - b))
            wrate = rates.input
            if u.cache_creation_input_tokens > 0:
                wrate = (rates.cache_write_1h if u.ephemeral_1h_input_tokens > u.ephemeral_5m_input_tokens
                         else rates.cache_write_5m)
            pico += pico_of(read, rates.cache_read) + pico_of(m - read, wrate)
        return tokens, calls, pico

    # ---------------------------------------------------------------- pruning
    def _pruning_on_call(self, call: ApiCall, comp: CallComposition) -> None:
        if any(e.segment == comp.segment for e in self.episodes):
            return
        rates = self._rates(call.model, call.timestamp)
        if rates is None:
            return
        a = self.a
        r = a.ratio
        stale = comp.stale_tokens(r)
        ctx = comp.prompt
        b = a.baseline() or 0.0
        mem = comp.memory_exact + r * comp.memory_est
        after = b + mem + SUMMARY_TOKENS
        mode = "stale"
        tokens = stale
        if ctx >= LARGE_CONTEXT and ctx - after > tokens:
            tokens, mode = ctx - after, "large"
        if tokens < PRUNE_MIN_TOKENS:
            return
        one_time = (pico_of(ctx, rates.cache_read) + pico_of(COMPACT_PROMPT_TOKENS, rates.input)
                    + pico_of(SUMMARY_TOKENS, rates.output) + pico_of(mem + SUMMARY_TOKENS, self._write_rate(rates)))
        per_call = pico_of(tokens, rates.cache_read)
        if per_call <= 0:
            return
        k = math.ceil(one_time / per_call)
        if k > PRUNE_MAX_BREAKEVEN:
            return
        self.episodes.append(Episode(comp.index, comp.segment, call.timestamp, call.model, int(tokens), ctx,
                                     int(stale), one_time, per_call, k, mode))

    def episode_realised(self, e: Episode) -> tuple[int, int]:
        """(saving, calls) realised by one pruning episode on the calls that followed it in
        the same segment, before the compaction's own cost."""
        if e.realised is not None:
            return e.realised
        realised = 0
        n = 0
        a = self.a
        comps, calls = a.main, a.calls
        for i in range(e.index + 1, len(comps)):
            if comps[i].segment != e.segment:
                if i <= comps.base and a.main_row(i - 1) < calls.base:
                    # every call of its segment is let go of (final): walked once, not per query
                    e.realised = (realised, n)
                break
            call = calls[a.main_row(i)]
            n += 1
            realised += self.cost(call.model, call.usage, call.timestamp) - self.cost(
                call.model, reduce_usage(call.usage, e.tokens), call.timestamp)
        return realised, n

    def episode_saving(self, e: Episode) -> int:
        """Realised saving, projected at the per-call rate up to ``HORIZON_CALLS`` calls while
        fewer have followed, minus the compaction's own cost."""
        realised, n = self.episode_realised(e)
        return realised + e.per_call_pico * max(0, HORIZON_CALLS - n) - e.one_time_pico

    # ================================================================ rules on demand
    def _routing(self) -> tuple[Advice | None, set[int]]:
        """Runs of >= ``MIN_RUN`` read-only main calls outside edit-heavy turns, on Opus/Sonnet.

        The advice counts as given once the first qualifying run reached ``MIN_RUN`` calls."""
        a = self.a
        runs: list[list[int]] = []
        cur: list[int] = []
        for i, call in enumerate(a.main_calls, a.main.gone):
            if self.call_read_only(call):
                cur.append(i)
            else:
                if len(cur) >= MIN_RUN:
                    runs.append(cur)
                cur = []
        if len(cur) >= MIN_RUN:
            runs.append(cur)
        keys: set[int] = set()  # rows
        actual = haiku = 0
        tools: dict[str, int] = defaultdict(int)
        models: set[str] = set()
        first: datetime | None = None
        qualifying = 0
        for run in runs:
            if any(self._edit_heavy(a.main[i].turn) for i in run):
                continue
            mains = a.main_calls
            calls = [(mains.row(i), c) for i in run
                     if not (c := mains[i]).billed_elsewhere and self.family(c.model) in ROUTING_FAMILIES]
            if len(calls) < MIN_RUN:
                continue
            qualifying += 1
            if first is None:
                first = calls[MIN_RUN - 1][1].timestamp
            for row, call in calls:
                keys.add(row)
                models.add(call.model)
                actual += self.cost(call.model, call.usage, call.timestamp)
                haiku += self.cost(ROUTING_TARGET, call.usage, call.timestamp)
                for t in call.tools:
                    tools[t] += 1
        self.routing_first = first
        saving = actual - haiku
        if not keys or usd(saving) < MIN_SAVING_USD:
            return None, keys
        names = ", ".join(t for t, _ in sorted(tools.items(), key=lambda kv: -kv[1]))
        msg = (f"{len(keys)} read-only calls ({names}) ran on {', '.join(sorted(models))} for {money(actual)}; "
               f"on Haiku, or in an Explore sub-agent, they would have cost about {money(haiku)}: "
               f"save {money(saving)}. Keep the big model for the turns that write code.")
        ev = {"calls": len(keys), "runs": qualifying, "cost_usd": usd(actual), "haiku_cost_usd": usd(haiku),
              "tools": dict(tools), "models": sorted(models), "target": ROUTING_TARGET}
        return Advice("model_routing", "model_routing", msg, usd(saving), ev, first), keys

    def _pruning(self) -> Advice | None:
        if not self.episodes:
            return None
        total = 0
        for e in self.episodes:
            total += max(0, self.episode_saving(e))
        last = self.episodes[-1]
        if usd(total) < MIN_SAVING_USD:
            return None
        if last.mode == "large":
            what = f"the context is {last.context:,} tokens (past {LARGE_CONTEXT // 1000}K)"
            do = "/compact at the next task boundary"
        else:
            what = f"{last.stale:,} tokens of stale or cold context ride along on every call"
            do = "/compact (or /clear if the task is done)"
        msg = (f"{what}: {do} costs about {money(last.one_time_pico)} once and saves "
               f"{money(last.per_call_pico)} per call, so it pays for itself after {last.breakeven} calls.")
        ev = {"episodes": [{"tokens_removable": e.tokens, "context_tokens": e.context, "stale_tokens": e.stale,
                            "compaction_cost_usd": usd(e.one_time_pico), "saving_per_call_usd": usd(e.per_call_pico),
                            "breakeven_calls": e.breakeven, "mode": e.mode,
                            "at": e.ts.isoformat().replace("+00:00", "Z") if e.ts else None}
                           for e in self.episodes],
              "breakeven_calls": last.breakeven}
        return Advice("context_pruning", "context_pruning", msg, usd(total), ev, self.episodes[0].ts)

    def avoidable_misses(self) -> dict[int, Miss]:
        """Misses following the cache advice would have avoided: every TTL expiry (the
        countdown comes before it), and any other kind after its first occurrence."""
        out: dict[int, Miss] = {}  # by row
        seen: set[str] = set()
        for m in self.a.cache.misses:
            if m.reason == "ttl_expired" or m.reason in seen:
                out[m.row] = m
            seen.add(m.reason)
        return out

    def _cache(self, now: float | None) -> list[Advice]:
        out: list[Advice] = []
        by: dict[str, list[Miss]] = defaultdict(list)
        for m in self.a.cache.misses:
            by[m.reason].append(m)
        for reason, ms in by.items():
            extra = sum(m.extra_pico for m in ms)
            if usd(extra) < MIN_SAVING_USD:
                continue
            toks = sum(m.tokens_rewritten for m in ms)
            n = len(ms)
            if reason == "ttl_expired":
                ttl_min = max(m.evidence.get("ttl_seconds", 300) for m in ms) // 60
                msg = (f"{n} turn{'s' if n > 1 else ''} started after the {ttl_min}-minute cache had expired and "
                       f"re-wrote {toks:,} tokens: {money(extra)} extra. Reply within {ttl_min} minutes, or "
                       f"/compact before a break so the cold start is small.")
            elif reason == "system_or_memory_changed":
                files = sorted({f for m in ms for f in m.evidence.get("files", [])})
                what = ", ".join(files) if files else "CLAUDE.md (or the system prompt)"
                msg = (f"{what} changed mid-session: Claude Code sends memory files in the first message, so "
                       f"each change re-wrote the whole conversation ({n}x, {toks:,} tokens, {money(extra)}). "
                       f"Edit memory files between sessions.")
            elif reason == "model_changed":
                msg = (f"Switching models mid-session re-wrote the context {n}x ({toks:,} tokens, {money(extra)}). "
                       f"Pick the model at the start, or delegate to a sub-agent on the other model.")
            else:
                msg = (f"{n} cache miss{'es' if n > 1 else ''} ({reason.replace('_', ' ')}) re-wrote {toks:,} "
                       f"tokens: {money(extra)} extra.")
            ev = {"misses": n, "tokens_rewritten": toks, "extra_cost_usd": usd(extra), "reason": reason}
            out.append(Advice("cache", f"cache:{reason}", msg, usd(extra), ev, ms[0].timestamp))
        warn = self._ttl_warning(now)
        if warn is not None:
            out.append(warn)
        return out

    def _ttl_warning(self, now: float | None) -> Advice | None:
        a = self.a
        if now is None or not a.main_calls:
            return None
        last = a.main_calls[-1]
        if last.timestamp is None:
            return None
        idle = now - last.timestamp.timestamp()
        ttl = a.cache.ttl
        if not TTL_WARN_AFTER_S <= idle < ttl:
            return None
        warm, cold = a.cache.next_turn_costs(last)
        if usd(cold - warm) < TTL_WARN_MIN_USD:
            return None
        left = int(ttl - idle)
        msg = (f"Reply within {left // 60}:{left % 60:02d}, or the next turn costs {money(cold)} "
               f"instead of {money(warm)} (the prompt cache expires).")
        ev = {"seconds_left": left, "warm_usd": usd(warm), "cold_usd": usd(cold), "ttl_seconds": int(ttl)}
        return Advice("cache", "cache:ttl_warning", msg, usd(cold - warm), ev,
                      datetime.fromtimestamp(now, timezone.utc))

    def _memory(self) -> Advice | None:
        if self.memory_first is None:
            return None
        m, calls, cost = self.memory_cost()
        if m <= MEMORY_LIMIT or cost <= 0:
            return None
        saving = cost * (m - MEMORY_LIMIT) / m
        if usd(saving) < MIN_SAVING_USD:
            return None
        per_1k = cost * 1000 / m
        r = self.a.ratio
        files = [{"path": it.path, "tokens": round(it.exact + r * it.est)}
                 for it in self.a.ledger.items if it.cat == "memory" and it.path]
        msg = (f"Memory files (CLAUDE.md and imports) are {round(m):,} tokens, sent with every call: "
               f"{money(cost)} over {calls} calls, {money(per_1k)} per 1K tokens. "
               f"Trimming them to {MEMORY_LIMIT // 1000}K tokens would save about {money(saving)}.")
        ev = {"tokens": round(m), "calls": calls, "cost_usd": usd(cost), "cost_per_1k_usd": usd(per_1k),
              "limit_tokens": MEMORY_LIMIT, "files": files}
        return Advice("lean_memory", "lean_memory", msg, usd(saving), ev, self.memory_first)

    def fanout_extra_calls(self) -> tuple[list[tuple[int, datetime | None, list[str], int]], set[int]]:
        """Per fan-out: (spawning call's row, time, agent ids, saving) and the rows of the first
        calls that are avoidable."""
        a = self.a
        groups = []
        keys: set[int] = set()
        fanouts = [(row, a.calls[row].timestamp, tids) for row, tids in self._agents_in_call.items()
                   if len(tids) > FANOUT_LIMIT and a.in_window(row)]
        for spawn_row, ts, tids in fanouts:
            firsts: list[tuple[int, int]] = []
            agents: list[str] = []
            for tid in tids:
                tu = a.model.tools.get(tid)
                aid = tu.spawned_agent if tu is not None else None
                if aid is None:
                    aid = next((g.agent_id for g in a.model.agents.values() if g.tool_use_id == tid), None)
                facts = a.agents.get(aid) if aid else None
                rows = a.agent_rows(facts) if facts is not None else []
                if not rows:
                    continue
                first_row = rows[0]
                agents.append(aid)
                firsts.append((a.calls[first_row].cost_pico, first_row))
            firsts.sort()
            extra = firsts[: max(0, len(tids) - FANOUT_LIMIT)]
            keys.update(k for _, k in extra)
            groups.append((spawn_row, ts, agents, sum(p for p, _ in extra)))
        return groups, keys

    def opus_explorers(self) -> dict[str, tuple[datetime | None, int, int]]:
        """Sub-agents on Opus that only read: agent id -> (first call time, cost, Haiku cost)."""
        out = {}
        for aid, facts in self.a.agents.items():
            if not facts.read_only or not facts.tools:
                continue
            calls = [self.a.calls[k] for k in self.a.agent_rows(facts)]
            if len(calls) < OPUS_EXPLORE_MIN_CALLS:
                continue
            if not calls or self.family(calls[0].model) != "opus":
                continue
            cost = sum(self.cost(c.model, c.usage, c.timestamp) for c in calls)
            haiku = sum(self.cost(ROUTING_TARGET, c.usage, c.timestamp) for c in calls)
            out[aid] = (calls[0].timestamp, cost, haiku)
        return out

    def _subagents(self) -> list[Advice]:
        a = self.a
        out = []
        total = a.model.cost_pico
        share = a.model.subagent_cost_pico / total if total else 0.0
        groups, _ = self.fanout_extra_calls()
        for spawn_row, ts, agents, saving in groups:
            n = len(self._agents_in_call.get(spawn_row, ()))
            if usd(saving) < MIN_SAVING_USD:
                continue
            msg = (f"{n} sub-agents ran in parallel; each starts by writing its own context to the cache. "
                   f"Keeping fan-outs to {FANOUT_LIMIT} (scope each task wider) would save about {money(saving)}; "
                   f"sub-agents took {share:.0%} of this session's cost.")
            ev = {"parallel_agents": n, "agents": agents, "limit": FANOUT_LIMIT, "subagent_share": round(share, 4)}
            out.append(Advice("subagents", f"subagents:fanout:{self._spawn_ids[spawn_row]}", msg, usd(saving), ev, ts))
        ex = self.opus_explorers()
        if ex:
            cost = sum(v[1] for v in ex.values())
            haiku = sum(v[2] for v in ex.values())
            saving = cost - haiku
            if usd(saving) >= MIN_SAVING_USD:
                first = min((v[0] for v in ex.values() if v[0] is not None), default=None)
                msg = (f"{len(ex)} sub-agent{'s' if len(ex) > 1 else ''} on Opus only explored (read-only tools) for "
                       f"{money(cost)}; an Explore agent on Haiku would have cost about {money(haiku)}.")
                ev = {"agents": sorted(ex), "cost_usd": usd(cost), "haiku_cost_usd": usd(haiku),
                      "subagent_share": round(share, 4)}
                out.append(Advice("subagents", "subagents:opus_explore", msg, usd(saving), ev, first))
        return out

    def batch_group(self) -> tuple[tuple[str, ...], list[str], set[int], datetime | None] | None:
        best = None
        for sig, first in self.batch_first.items():
            n = self._sig_count.get(sig, 0)
            if n >= BATCH_MIN_FILES and (best is None or n > self._sig_count[best[0]]):
                best = (sig, first)
        if best is None:
            return None
        sig, first = best
        paths = sorted(p for p, s in self._sig.items() if s == sig)
        keys: set[int] = set()  # rows
        for p in paths:
            keys.update(r for r in self._path_calls.get(p, ()) if self.a.in_window(r))
        return sig, paths, keys, first

    def _batch(self) -> Advice | None:
        g = self.batch_group()
        if g is None:
            return None
        sig, paths, keys, first = g
        calls = [self.a.calls[k] for k in keys]
        cost = sum(c.cost_pico for c in calls if not c.billed_elsewhere)
        saving = int(cost * (1 - BATCH_DISCOUNT))
        if usd(saving) < MIN_SAVING_USD:
            return None
        msg = (f"{len(paths)} files got the same {' → '.join(sig)} treatment in {len(calls)} calls costing "
               f"{money(cost)}; as a Message Batches job (50 % off) it would cost about {money(cost - saving)}.")
        ev = {"files": len(paths), "pattern": list(sig), "calls": len(calls), "cost_usd": usd(cost),
              "batch_cost_usd": usd(cost - saving), "examples": paths[:5]}
        return Advice("batch", "batch", msg, usd(saving), ev, first)

    def _plan(self) -> Advice | None:
        from spendtui.core.context.plans import plan_report

        rep = plan_report(self.a)
        rec = rep.get("recommendation")
        if not rec:
            return None
        return Advice("plan", "plan", rec["message"], rec["saving_usd"], rep, None)

    # ================================================================ output
    def current(self, now: float | datetime | None = None) -> list[Advice]:
        out: list[Advice] = []
        routing, _ = self._routing()
        for adv in (routing, self._pruning(), self._memory(), self._batch(), self._plan()):
            if adv is not None:
                out.append(adv)
        out.extend(self._cache(_ts(now)))
        out.extend(self._subagents())
        out.sort(key=lambda x: -x.saving_usd)
        return out

    def pop_new(self, now: float | datetime | None = None, current: list[Advice] | None = None) -> list[Advice]:
        """Advice not shown before, or grown by half since it was shown ``COOLDOWN_S`` ago.
        ``current``: this moment's ``current(now)`` if the caller has it (it walks every call)."""
        t = _ts(now)
        if t is None:
            last = self.a.main_calls[-1].timestamp if self.a.main_calls else None
            t = last.timestamp() if last else 0.0
        new = []
        for adv in self.current(now) if current is None else current:
            seen = self._shown.get(adv.key)
            if seen is None or (adv.saving_usd >= REGROW * seen[1] and t - seen[0] >= COOLDOWN_S):
                self._shown[adv.key] = (t, adv.saving_usd)
                new.append(adv)
        return new
