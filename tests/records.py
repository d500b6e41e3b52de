"""Builders for transcript records in Claude Code's current shape (2.1.x), for
unit tests of edge cases the real client cannot be made to produce on demand.
The shapes follow the real transcripts in tests/fixtures (see
docs/claude-code-format-notes.md)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

_n = itertools.count(1)


def _default_ts() -> str:
    """A record's default time: later than the one before, for 12 hours of seconds (times that
    wrapped every minute put a later record before an earlier one, and tests that read turns
    or windows by time failed depending on how many records earlier tests had made)."""
    n = next(_n) % 43_200
    return ts(n % 60, n // 60 % 60, 12 + n // 3600 % 12)


def ts(second: int, minute: int = 0, hour: int = 12) -> str:
    return f"2026-11-20T{hour:02d}:{minute:02d}:{second:02d}.000Z"


def usage(inp: int = 3, out: int = 10, cw5: int = 0, cw1h: int = 0, cr: int = 0, **extra: Any) -> dict[str, Any]:
    u: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": cw5 + cw1h,
        "cache_read_input_tokens": cr,
        "cache_creation": {"ephemeral_5m_input_tokens": cw5, "ephemeral_1h_input_tokens": cw1h},
        "output_tokens": out,
        "service_tier": "standard",
    }
    u.update(extra)
    return u


def assistant(
    msg_id: str,
    req: str | None,
    u: dict[str, Any],
    *,
    model: str = "claude-sonnet-4-5-20250929",
    content: list[dict[str, Any]] | None = None,
    session: str = "s1",
    when: str | None = None,
    sidechain: bool = False,
    agent_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": "/tmp/proj",
        "sessionId": session,
        "version": "2.1.197",
        "type": "assistant",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content if content is not None else [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": u,
        },
        "uuid": f"u-{next(_n)}",
        "timestamp": when or _default_ts(),
    }
    if req is not None:
        rec["requestId"] = req
    if agent_id:
        rec["agentId"] = agent_id
    rec.update(extra)
    return rec


def user(text: str | list[dict[str, Any]], *, session: str = "s1", when: str | None = None,
         **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/tmp/proj",
        "sessionId": session,
        "version": "2.1.197",
        "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": f"u-{next(_n)}",
        "timestamp": when or _default_ts(),
    }
    rec.update(extra)
    return rec


def tool_use(tid: str, name: str, **inp: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": name, "input": inp}


def tool_result(tid: str, text: str, **extra: Any) -> dict[str, Any]:
    return user([{"type": "tool_result", "tool_use_id": tid, "content": text}], **extra)


def write_jsonl(path: Path, records: list[dict[str, Any] | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def append_jsonl(path: Path, records: list[dict[str, Any] | str], newline: bool = True) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for i, r in enumerate(records):
            f.write(r if isinstance(r, str) else json.dumps(r))
            if newline or i < len(records) - 1:
                f.write("\n")
