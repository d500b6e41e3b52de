"""Shared builders for tests/export: a flat-rate pricer so budget arithmetic is checkable
by hand, and sessions written with real timestamps."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spendtui.core.model import SessionModel, Source
from tests.records import assistant, usage, user

PICO = 10**12
CENT = PICO // 100


@dataclass(frozen=True)
class FlatCost:
    """A stand-in for pricing.Cost: one output token costs one cent, nothing else costs."""

    total_pico: int
    priced: bool = True
    rule: str = "table"


def flat_pricer(_model: str, u: Any, _ts: Any) -> FlatCost:
    return FlatCost(u.output_tokens * CENT)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def call_rec(n: int, dollars_cents: int, when: datetime, session: str = "s1", **kw: Any) -> dict[str, Any]:
    """An assistant record whose flat cost is ``dollars_cents`` cents."""
    return assistant(f"msg_{session}_{n}", f"req_{session}_{n}", usage(out=dollars_cents), session=session,
                     when=iso(when), **kw)


class LiveModel:
    """A SessionModel fed record by record with the flat pricer (no files needed)."""

    def __init__(self, session_id: str = "s1") -> None:
        self.model = SessionModel(session_id, pricer=flat_pricer)
        self.n = 0
        self.model.ingest(user("go", session=session_id), Source(Path(f"/x/{session_id}.jsonl")), 1)

    def spend(self, cents: int, when: datetime) -> None:
        self.n += 1
        rec = call_rec(self.n, cents, when, session=self.model.session_id)
        self.model.ingest(rec, Source(Path(f"/x/{self.model.session_id}.jsonl")), self.n + 1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
