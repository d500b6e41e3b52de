"""Events as plain JSON objects: what `watch --json` writes, one per line."""

from __future__ import annotations

from typing import Any

from spendtui.core.follow import Event
from spendtui.core.model import Agent, ApiCall, Compaction, ModelSwitch
from spendtui.core.summary import call_dict, iso

_CALL_KEYS = ("timestamp", "model", "agent_id", "message_id", "request_id", "tools", "tokens", "context",
              "cost_usd", "billed_elsewhere", "turn")


def call_json(call: ApiCall) -> dict[str, Any]:
    """One call as `watch --json` reports it: the summary's call dict, trimmed."""
    d = call_dict(call)
    return {k: d[k] for k in _CALL_KEYS}


def event_json(ev: Event) -> dict[str, Any] | None:
    """The JSON line for one event, or None for events scripts do not need."""
    base: dict[str, Any] = {"event": ev.kind, "session_id": ev.session_id, "observed": round(ev.observed, 6)}
    p = ev.payload
    if ev.kind in ("api_call", "call_updated") and isinstance(p, ApiCall):
        return {**base, **call_json(p)}
    if ev.kind == "compaction" and isinstance(p, Compaction):
        return {**base, "timestamp": iso(p.timestamp), "trigger": p.trigger, "pre_tokens": p.pre_tokens,
                "post_tokens": p.post_tokens, "micro": p.micro}
    if ev.kind == "model_switch" and isinstance(p, ModelSwitch):
        return {**base, "timestamp": iso(p.timestamp), "from": p.from_model, "to": p.to_model}
    if ev.kind == "subagent_start" and isinstance(p, Agent):
        return {**base, "timestamp": iso(p.first_ts), "agent_id": p.agent_id, "agent_type": p.agent_type,
                "model": p.model, "description": p.description}
    if ev.kind in ("clear", "reset", "file_gone") and isinstance(p, dict):
        return {**base, **p}
    return None
