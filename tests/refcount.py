"""A deliberately naive, independent recount of a transcript, for tests.

It shares no code with spendtui: whole-file json.loads per line, a dict keyed
by (message.id, requestId) keeping the line with the most output tokens. Tests
compare spendtui's streaming, incremental numbers against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def naive_calls(*paths: Path) -> dict[tuple[str, str], dict[str, Any]]:
    calls: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(rec, dict) or rec.get("type") not in ("assistant", None):
                continue
            msg = rec.get("message")
            if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict):
                continue
            if msg.get("model") == "<synthetic>" or rec.get("isApiErrorMessage"):
                continue
            key = (msg.get("id") or rec.get("uuid"), rec.get("requestId") or "")
            old = calls.get(key)
            if old is None or msg["usage"].get("output_tokens", 0) >= old["usage"].get("output_tokens", 0):
                calls[key] = {"usage": msg["usage"], "model": msg.get("model"),
                              "sidechain": bool(rec.get("isSidechain"))}
    return calls


def naive_tokens(calls: dict[tuple[str, str], dict[str, Any]]) -> dict[str, int]:
    out = {"input": 0, "output": 0, "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 0}
    for c in calls.values():
        u = c["usage"]
        cc = u.get("cache_creation") or {}
        one_h = cc.get("ephemeral_1h_input_tokens", 0)
        five_m = cc.get("ephemeral_5m_input_tokens", 0) if cc else u.get("cache_creation_input_tokens", 0)
        if cc and not (one_h or five_m):
            five_m = u.get("cache_creation_input_tokens", 0)
        out["input"] += u.get("input_tokens", 0)
        out["output"] += u.get("output_tokens", 0)
        out["cache_write_5m"] += five_m
        out["cache_write_1h"] += one_h
        out["cache_read"] += u.get("cache_read_input_tokens", 0)
    return out
