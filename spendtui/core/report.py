"""Spend over the whole history, bucketed by day, week, month, project, model or session.

Aggregation happens per call inside `load_all` (each call counted once, in the
session that owns it), per project in worker processes like `batch`, and only
the bucket totals travel back. Days are calendar days in the user's local time
zone unless told otherwise, as ccusage does.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from spendtui.core.batch import PARALLEL_MIN_BYTES, _Plain, _plain, _unplain
from spendtui.core.loader import load_all
from spendtui.core.model import TOKEN_KINDS, ApiCall, SessionModel
from spendtui.core.summary import usd

GROUPINGS = ("day", "week", "month", "project", "model", "session")


@dataclass(slots=True)
class Bucket:
    key: str
    calls: int = 0
    cost_pico: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    models: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    unpriced_calls: int = 0

    def add(self, call: ApiCall, session_id: str) -> None:
        self.calls += 1
        cost = call.cost
        if cost is not None and cost.priced:
            self.cost_pico += cost.total_pico
        else:
            self.unpriced_calls += 1
        u = call.usage
        t = self.tokens
        t["input"] += u.input_tokens
        t["output"] += u.output_tokens
        t["cache_write_5m"] += u.ephemeral_5m_input_tokens
        t["cache_write_1h"] += u.ephemeral_1h_input_tokens
        t["cache_read"] += u.cache_read_input_tokens
        self.models.add(call.model)
        self.sessions.add(session_id)

    def merge(self, other: Bucket) -> None:
        self.calls += other.calls
        self.cost_pico += other.cost_pico
        self.unpriced_calls += other.unpriced_calls
        for k, v in other.tokens.items():
            self.tokens[k] += v
        self.models |= other.models
        self.sessions |= other.sessions

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "api_calls": self.calls,
            "sessions": len(self.sessions),
            "tokens": dict(self.tokens),
            "total_tokens": sum(self.tokens.values()),
            "cost_usd": usd(self.cost_pico),
            "unpriced_calls": self.unpriced_calls,
            "models": sorted(self.models),
        }


def bucket_key(by: str, call: ApiCall, model: SessionModel, tz: tzinfo | None) -> str | None:
    if by == "model":
        return call.model
    if by == "session":
        return model.session_id
    if by == "project":
        return model.project or "(unknown)"
    if call.timestamp is None:
        return None
    local = call.timestamp.astimezone(tz)
    d = local.date()
    if by == "day":
        return d.isoformat()
    if by == "week":  # ISO weeks start on Monday
        return (d - timedelta(days=d.weekday())).isoformat()
    return f"{d.year:04d}-{d.month:02d}"


def _aggregate(sessions: Sequence[Any], by: str, pricer: Any, since: date | None, until: date | None,
               tz: tzinfo | None) -> dict[str, Bucket]:
    buckets: dict[str, Bucket] = {}

    def take(model: SessionModel) -> None:
        for call in model.calls.values():
            if call.billed_elsewhere:
                continue
            if since or until:
                if call.timestamp is None:
                    continue
                d = call.timestamp.astimezone(tz).date()
                if (since and d < since) or (until and d > until):
                    continue
            key = bucket_key(by, call, model, tz)
            if key is None:
                key = "(no timestamp)"
            b = buckets.get(key)
            if b is None:
                b = buckets[key] = Bucket(key)
            b.add(call, model.session_id)

    load_all(sessions, pricer, on_session=take)
    return buckets


def _bucket_for(by: str, when: datetime | None, model: str, sid: str, project: str) -> str:
    if by == "model":
        return model
    if by == "session":
        return sid
    if by == "project":
        return project
    if when is None:
        return "(no timestamp)"
    d = when.date()
    if by == "day":
        return d.isoformat()
    if by == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    return f"{d.year:04d}-{d.month:02d}"


def _add(buckets: dict[str, Bucket], key: str, model: str, sid: str, calls: int, unpriced: int, cost: int,
         tok: Sequence[int]) -> None:
    b = buckets.get(key)
    if b is None:
        b = buckets[key] = Bucket(key)
    b.calls += calls
    b.unpriced_calls += unpriced
    b.cost_pico += cost
    t = b.tokens
    t["input"] += tok[0]
    t["output"] += tok[1]
    t["cache_write_5m"] += tok[2]
    t["cache_write_1h"] += tok[3]
    t["cache_read"] += tok[4]
    b.models.add(model)
    b.sessions.add(sid)


def _aggregate_cached(sessions: Sequence[Any], by: str, cache: Any, since: date | None, until: date | None,
                      tz: tzinfo | None) -> dict[str, Bucket]:
    """Buckets from the cache index's hourly totals (no transcript or per-session file
    read when nothing changed). A session holding calls an earlier one owns (a fork)
    is counted call by call from its light record instead, skipping those calls.

    Days are cut from UTC hours, so in a time zone whose offset is not whole hours a
    call in the first minutes of a local day can land on the day before."""
    pricer = cache.prices.cost if cache.prices is not None else None
    docs = []
    for s in sessions:
        d = cache.digest(s, pricer)
        ts, forked = d["order"]
        docs.append(((ts if ts is not None else float("inf"), 1 if forked else 0, s.session_id), s, d))
    docs.sort(key=lambda x: x[0])
    owner: dict[int, str] = {}
    buckets: dict[str, Bucket] = {}
    for (_t, _f, sid), s, d in docs:
        shared = False
        for h in d["h"]:  # every hash registered (no short cut): later sessions look them up
            if owner.setdefault(h, sid) != sid:
                shared = True
        project = d.get("project") or "(unknown)"
        models = d["models"]
        if not shared:
            for hour, mi, calls, unpriced, cost, *tok in d["hours"]:
                when = datetime.fromtimestamp(hour, tz) if hour >= 0 else None
                day = when.date() if when is not None else None
                if (since or until) and (day is None or (since and day < since) or (until and day > until)):
                    continue
                _add(buckets, _bucket_for(by, when, models[mi], sid, project), models[mi], sid, calls, unpriced,
                     cost, tok)
            continue
        c = cache.light(s, pricer)["calls"]
        for h, ts, mi, tok, cost, priced in zip(c["h"], c["ts"], c["m"], c["tok"], c["cost"], c["priced"],
                                                strict=True):
            if owner.get(h) != sid:
                continue
            when = datetime.fromtimestamp(ts, tz) if ts is not None else None
            day = when.date() if when is not None else None
            if (since or until) and (day is None or (since and day < since) or (until and day > until)):
                continue
            _add(buckets, _bucket_for(by, when, models[mi], sid, project), models[mi], sid, 1, 0 if priced else 1,
                 cost if priced else 0, tok)
    return buckets


def _worker(plain: list[_Plain], by: str, since: date | None, until: date | None,
            tz: tzinfo | None, cache_root: str | None) -> tuple[dict[str, Bucket], dict[str, Any]]:
    """Buckets of one project group, and the cache index entries it refreshed."""
    from spendtui.core.pricing import PriceTable

    prices = PriceTable.default()
    sessions = [_unplain(p) for p in plain]
    if cache_root is not None:
        from spendtui.core.cache import SessionCache

        cache = SessionCache(Path(cache_root), prices)
        cache._index = {}
        return _aggregate_cached(sessions, by, cache, since, until, tz), cache._index
    return _aggregate(sessions, by, prices.cost, since, until, tz), {}


def build_report(sessions: Sequence[Any], prices: Any, by: str = "day", since: date | None = None,
                 until: date | None = None, tz: tzinfo | None = None,
                 workers: int | None = None, cache: Any = None) -> dict[str, Any]:
    """The report as a dict: rows sorted by key (dates ascending), and totals."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
    pricer = prices.cost if prices is not None else None
    by_project: dict[Path, list[Any]] = defaultdict(list)
    for s in sessions:
        by_project[s.project_dir].append(s)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    total_bytes = cache.stale_bytes(sessions) if cache is not None else sum(s.size() for s in sessions)
    if workers <= 1 or len(by_project) < 2 or total_bytes < PARALLEL_MIN_BYTES:
        if cache is not None:
            buckets = _aggregate_cached(sessions, by, cache, since, until, tz)
        else:
            buckets = _aggregate(sessions, by, pricer, since, until, tz)
    else:
        buckets = {}
        groups = sorted(by_project.values(), key=lambda g: -sum(s.size() for s in g))
        with ProcessPoolExecutor(max_workers=min(workers, len(groups))) as pool:
            root = str(cache.root.parent) if cache is not None else None
            futures = [pool.submit(_worker, [_plain(s) for s in g], by, since, until, tz, root) for g in groups]
            for f in futures:
                part, entries = f.result()
                if cache is not None:
                    cache.index().update(entries)
                for k, b in part.items():
                    if k in buckets:
                        buckets[k].merge(b)
                    else:
                        buckets[k] = b
    if cache is not None:
        cache.save_index()
    if by in ("project", "model", "session"):
        order = sorted(buckets.values(), key=lambda b: -b.cost_pico)
    else:
        order = sorted(buckets.values(), key=lambda b: b.key)
    total = Bucket("total")
    for b in order:
        total.merge(b)
    return {
        "by": by,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "timezone": str(tz) if tz else datetime.now().astimezone().tzname(),
        "rows": [b.to_json() for b in order],
        "totals": total.to_json(),
    }
