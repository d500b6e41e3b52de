"""A tiny session writer for unit tests: chained records in Claude Code 2.1 shape.

Built on ``tests/records.py``; adds ``parentUuid`` chaining, a clock, and call usage that
the test states explicitly (the arithmetic the tests check is written against it).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from tests import records as R

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
_ids = itertools.count(1)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Chat:
    """Appends records to ``self.records``; each new record's parent is the previous one."""

    def __init__(self, model: str = "claude-sonnet-4-5-20250929", start: datetime = T0, **envelope: Any) -> None:
        self.model = model
        self.now = start
        self.records: list[dict[str, Any]] = []
        self.last: str | None = None
        self.envelope = envelope

    def tick(self, seconds: float = 1.0) -> Chat:
        self.now += timedelta(seconds=seconds)
        return self

    def _add(self, rec: dict[str, Any], parent: str | bool | None = True) -> dict[str, Any]:
        rec["uuid"] = f"u{next(_ids)}"
        rec["parentUuid"] = self.last if parent is True else (None if parent is False else parent)
        rec["timestamp"] = iso(self.now)
        rec.update(self.envelope)
        self.records.append(rec)
        self.last = rec["uuid"]
        self.tick(1)
        return rec

    def prompt(self, text: str, **kw: Any) -> dict[str, Any]:
        parent = kw.pop("parent", True)
        return self._add(R.user(text, **kw), parent)

    def call(self, content: list[dict[str, Any]] | None = None, *, inp: int = 3, out: int = 10, w5: int = 0,
             w1: int = 0, read: int = 0, model: str | None = None, msg_id: str | None = None,
             **kw: Any) -> dict[str, Any]:
        """One API response, one record per content block (as Claude Code writes them)."""
        mid = msg_id or f"msg_{next(_ids)}"
        u = R.usage(inp, out, w5, w1, read)
        blocks = content or [{"type": "text", "text": "ok"}]
        first = None
        for b in blocks:
            rec = self._add(R.assistant(mid, f"req_{mid}", u, model=model or self.model, content=[b], **kw))
            first = first or rec
        return first  # type: ignore[return-value]

    def result(self, tid: str, text: str, **kw: Any) -> dict[str, Any]:
        parent = kw.pop("parent", True)
        return self._add(R.tool_result(tid, text, **kw), parent)

    def attachment(self, att: dict[str, Any]) -> dict[str, Any]:
        return self._add({"type": "attachment", "isSidechain": False, "attachment": att, "sessionId": "s1"})

    def system(self, subtype: str, **kw: Any) -> dict[str, Any]:
        parent = kw.pop("parent", True)
        return self._add({"type": "system", "subtype": subtype, "isSidechain": False, "sessionId": "s1", **kw},
                         parent)

    def compact(self, pre: int, summary: str = "This session is being continued from a previous conversation "
                "that ran out of context.\n\nSummary: the user fixed a bug.") -> None:
        self.system("compact_boundary", parent=False, compactMetadata={"trigger": "manual", "preTokens": pre})
        self._add(R.user(summary, isCompactSummary=True, isVisibleInTranscriptOnly=True))


def read(tid: str, path: str, **inp: Any) -> dict[str, Any]:
    return R.tool_use(tid, "Read", file_path=path, **inp)


def read_result(chat: Chat, tid: str, path: str, text: str, start: int = 1, total: int | None = None) -> dict:
    lines = text.count("\n") + 1
    tur = {"type": "text", "file": {"filePath": path, "content": text, "numLines": lines, "startLine": start,
                                    "totalLines": total or lines}}
    return chat.result(tid, text, toolUseResult=tur)
