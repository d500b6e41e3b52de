"""The exported metrics, defined once for the Prometheus and the OpenTelemetry exporters.

Why a neutral layer: both exporters must publish exactly the same names, labels and
values, and the numbers must be the ones ``summary --json`` prints. So the followed
sessions are reduced here to plain samples ``(labels, value)`` per metric, and the two
exporters only translate those samples into their library's types.

Cardinality is bounded on purpose: the only labels are ``user`` (from config), ``project``
(a folder name), ``model`` (a model id), ``agent`` (``main``/``subagent``), ``kind`` (the
five token kinds) and ``scope`` (session/day/month). No session id, call id, tool input
or prompt text ever becomes a label or a value.
"""

from __future__ import annotations

import contextlib
import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from spendtui.core.model import TOKEN_KINDS, SessionModel
from spendtui.core.summary import context_window

PICO = 10**12

BASE_LABELS = ("user", "project", "model", "agent")
BUDGET_LABELS = ("user", "scope")


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric: ``name`` is the family name (counters are exposed with ``_total``)."""

    name: str
    kind: str  # "counter" or "gauge"
    unit: str  # Prometheus unit suffix ("usd", "tokens", "ratio") or "" for a plain count
    help: str
    labels: tuple[str, ...] = BASE_LABELS
    otel_unit: str = "1"

    @property
    def exposed_name(self) -> str:
        return self.name + "_total" if self.kind == "counter" else self.name


COST = MetricDef(
    "spendtui_cost_usd", "counter", "usd",
    "Cost of the API calls of followed Claude Code sessions, in US dollars (exact list price).",
    otel_unit="USD")
TOKENS = MetricDef(
    "spendtui_tokens", "counter", "tokens",
    "Tokens billed by kind: input, output, cache_write_5m, cache_write_1h, cache_read.",
    (*BASE_LABELS, "kind"), otel_unit="{token}")
CALLS = MetricDef(
    "spendtui_api_calls", "counter", "",
    "API calls (responses) counted, after deduplication of repeated transcript lines.",
    otel_unit="{call}")
CONTEXT = MetricDef(
    "spendtui_context_tokens", "gauge", "tokens",
    "Current context size (prompt tokens of the newest main-chain call); the largest session per label set.",
    otel_unit="{token}")
CONTEXT_RATIO = MetricDef(
    "spendtui_context_used_ratio", "gauge", "ratio",
    "Current context size over the model's context window (0-1); the fullest session per label set.")
CACHE_HIT = MetricDef(
    "spendtui_cache_hit_ratio", "gauge", "ratio",
    "Cache reads over all prompt tokens (input + cache writes + cache reads) of the live sessions (0-1).")
STALE = MetricDef(
    "spendtui_stale_context_ratio", "gauge", "ratio",
    "Share of the current context that the context analyser finds stale (0-1), as summary --json's stale.share.")
SAVINGS = MetricDef(
    "spendtui_advice_open_savings_usd", "gauge", "usd",
    "Savings of the advice not yet acted on (summary --json's advice[].saving_usd summed, plan advice aside), "
    "in US dollars.",
    otel_unit="USD")
BUDGET_RATIO = MetricDef(
    "spendtui_budget_used_ratio", "gauge", "ratio",
    "Spend over budget (1 = budget used up) per scope; session scope is the most spent live session.",
    BUDGET_LABELS)
BUDGET_LIMIT = MetricDef(
    "spendtui_budget_usd", "gauge", "usd", "The configured budget per scope, in US dollars.",
    BUDGET_LABELS, otel_unit="USD")
SESSIONS = MetricDef(
    "spendtui_sessions_followed", "gauge", "", "Sessions followed live right now.", ("user",),
    otel_unit="{session}")

METRICS: tuple[MetricDef, ...] = (
    COST, TOKENS, CALLS, CONTEXT, CONTEXT_RATIO, CACHE_HIT, STALE, SAVINGS, BUDGET_RATIO, BUDGET_LIMIT, SESSIONS,
)


def usd(pico: int) -> float:
    return float(round(Decimal(pico) / PICO, 9))


# --------------------------------------------------------------------------- context hook
@dataclass(frozen=True, slots=True)
class ContextFacts:
    """What the context analyser knows about a session; either may be unknown."""

    stale_ratio: float | None = None
    open_savings_usd: float | None = None


ContextProvider = Callable[[SessionModel], ContextFacts | None]


def default_context_provider(model: SessionModel) -> ContextFacts | None:
    """Facts from ``spendtui.core.context.metrics_for(model)``: the analyser attached to the
    followed model (the runner attaches one before a session is read) gives ``summary
    --json``'s ``stale.share`` and the sum of its ``advice[].saving_usd``. A model without
    an analyser (a session over the analysis size limit) gives None, and the two gauges
    are then absent for it: an exporter must not invent numbers.
    """
    try:
        mod = importlib.import_module("spendtui.core.context")
    except Exception:
        return None
    fn = getattr(mod, "metrics_for", None)
    if not callable(fn):
        return None
    try:
        raw = fn(model)
    except Exception:
        return None
    if raw is None:
        return None
    get = raw.get if isinstance(raw, Mapping) else lambda k: getattr(raw, k, None)
    stale, savings = get("stale_ratio"), get("open_savings_usd")
    return ContextFacts(
        float(stale) if isinstance(stale, (int, float)) else None,
        float(savings) if isinstance(savings, (int, float)) else None,
    )


# --------------------------------------------------------------------------- aggregation
@dataclass(slots=True)
class LabelTotals:
    cost_pico: int = 0
    calls: int = 0
    tokens: Counter[str] = field(default_factory=Counter)

    def add(self, other: LabelTotals) -> None:
        self.cost_pico += other.cost_pico
        self.calls += other.calls
        self.tokens.update(other.tokens)


@dataclass(slots=True)
class SessionAggregate:
    """One session reduced to what the metrics need (no ids leave this object)."""

    session_id: str
    project: str
    by_label: dict[tuple[str, str], LabelTotals] = field(default_factory=dict)  # (model, agent)
    context_tokens: int = 0
    context_window: int = 0
    context_model: str | None = None
    facts: ContextFacts | None = None

    def frozen(self) -> SessionAggregate:
        """The counters only: what a session no longer followed keeps contributing."""
        return SessionAggregate(self.session_id, self.project, self.by_label)


def project_label(model: SessionModel, project_dir: Path | None, style: str = "name") -> str:
    """``name``: the project folder's name (default; no home paths in metrics); ``path``: full path."""
    if model.project:
        return model.project if style == "path" else (Path(model.project).name or model.project)
    return project_dir.name if project_dir is not None else "unknown"


def aggregate_session(
    model: SessionModel,
    prices: Any | None = None,
    project: str = "unknown",
    provider: ContextProvider | None = None,
) -> SessionAggregate:
    """Sum the session's counted calls by (model, main/subagent): the summary's numbers, split."""
    agg = SessionAggregate(model.session_id, project)
    for call in model.calls.values():
        if call.billed_elsewhere:
            continue  # a fork's copy: billed in its parent, as summary --json does
        key = (call.model, "main" if call.agent_id is None else "subagent")
        t = agg.by_label.get(key)
        if t is None:
            t = agg.by_label[key] = LabelTotals()
        t.cost_pico += call.cost_pico
        t.calls += 1
        u = call.usage
        t.tokens["input"] += u.input_tokens
        t.tokens["output"] += u.output_tokens
        t.tokens["cache_write_5m"] += u.ephemeral_5m_input_tokens
        t.tokens["cache_write_1h"] += u.ephemeral_1h_input_tokens
        t.tokens["cache_read"] += u.cache_read_input_tokens
    agg.context_tokens = model.context_current
    agg.context_model = model.current_model
    agg.context_window = context_window(model, prices) if model.current_model else 0
    if provider is not None:
        with contextlib.suppress(Exception):
            agg.facts = provider(model)
    return agg


Labels = tuple[str, ...]
Samples = dict[str, list[tuple[Labels, float]]]  # metric name -> samples


def build_samples(
    user: str,
    live: Sequence[SessionAggregate],
    retired: Iterable[SessionAggregate] = (),
    budget_states: Iterable[Any] = (),
) -> Samples:
    """Every metric's samples. Counters cover live and retired sessions (so they never go
    down while the exporter runs); gauges describe the live sessions only."""
    out: Samples = {m.name: [] for m in METRICS}
    merged: dict[tuple[str, str, str], LabelTotals] = {}
    live_merged: dict[tuple[str, str, str], LabelTotals] = {}
    for agg in [*live, *retired]:
        for (model, agent), t in agg.by_label.items():
            merged.setdefault((agg.project, model, agent), LabelTotals()).add(t)
    for agg in live:
        for (model, agent), t in agg.by_label.items():
            live_merged.setdefault((agg.project, model, agent), LabelTotals()).add(t)

    for (project, model, agent), t in sorted(merged.items()):
        labels = (user, project, model, agent)
        out[COST.name].append((labels, usd(t.cost_pico)))
        out[CALLS.name].append((labels, float(t.calls)))
        for kind in TOKEN_KINDS:
            out[TOKENS.name].append(((*labels, kind), float(t.tokens[kind])))
    for (project, model, agent), t in sorted(live_merged.items()):
        prompt = t.tokens["input"] + t.tokens["cache_write_5m"] + t.tokens["cache_write_1h"] + t.tokens["cache_read"]
        if prompt > 0:
            out[CACHE_HIT.name].append(((user, project, model, agent), t.tokens["cache_read"] / prompt))

    ctx: dict[Labels, int] = {}
    ratio: dict[Labels, float] = {}
    stale: dict[Labels, float] = {}
    savings: dict[Labels, float] = {}
    for agg in live:
        if agg.context_model is None:
            continue
        labels = (user, agg.project, agg.context_model, "main")
        ctx[labels] = max(ctx.get(labels, 0), agg.context_tokens)
        if agg.context_window > 0:
            ratio[labels] = max(ratio.get(labels, 0.0), agg.context_tokens / agg.context_window)
        f = agg.facts
        if f is not None and f.stale_ratio is not None:
            stale[labels] = max(stale.get(labels, 0.0), f.stale_ratio)
        if f is not None and f.open_savings_usd is not None:
            savings[labels] = savings.get(labels, 0.0) + f.open_savings_usd
    out[CONTEXT.name] = [(k, float(v)) for k, v in sorted(ctx.items())]
    out[CONTEXT_RATIO.name] = sorted(ratio.items())
    out[STALE.name] = sorted(stale.items())
    out[SAVINGS.name] = sorted(savings.items())

    worst: dict[str, Any] = {}
    for st in budget_states:
        prev = worst.get(st.scope)
        if prev is None or st.ratio > prev.ratio:
            worst[st.scope] = st
    for scope in ("session", "day", "month"):
        st = worst.get(scope)
        if st is not None:
            out[BUDGET_RATIO.name].append(((user, scope), float(st.ratio)))
            out[BUDGET_LIMIT.name].append(((user, scope), usd(st.budget_pico)))
    out[SESSIONS.name].append(((user,), float(len(live))))
    return out


def default_user(cfg: Mapping[str, Any] | None) -> str:
    """``[export] user`` from the config, else the login name: who the team sees on the dashboard."""
    section = (cfg or {}).get("export") or {}
    user = section.get("user") if isinstance(section, Mapping) else None
    if isinstance(user, str) and user.strip():
        return user.strip()
    import getpass

    try:
        return getpass.getuser() or "unknown"
    except Exception:
        return "unknown"
