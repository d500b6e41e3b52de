"""Summarising many sessions at once, on every core.

Calls shared between sessions (forks, old-style resumes) only ever share a
project folder, so each project is an independent unit of work: projects are
spread over worker processes, and inside a project `load_all` keeps counting
each call once. Small histories stay in-process (a pool costs ~100 ms to start).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from spendtui.core.loader import load_all
from spendtui.core.paths import AgentFile, SessionFiles
from spendtui.core.summary import ACTIVE_SECONDS, session_summary

ROW_KEYS = (
    "session_id", "project", "transcript", "title", "started", "ended", "active",
    "api_calls", "main_api_calls", "copied_api_calls", "turns", "tokens", "cost_usd",
    "cost_complete", "cost_by_model", "subagent_cost_usd", "context",
    "unpriced_models", "skipped_lines", "forked_from",
)
PARALLEL_MIN_BYTES = 64 << 20

_Plain = tuple[str, str, str | None, list[tuple[str, str, dict[str, Any] | None]]]


def _plain(s: SessionFiles) -> _Plain:
    """SessionFiles as builtins, so it crosses a process boundary on any Python."""
    return (s.session_id, str(s.project_dir), str(s.main) if s.main else None,
            [(a.agent_id, str(a.path), a.meta) for a in s.agents])


def _unplain(p: _Plain) -> SessionFiles:
    sid, proj, main, agents = p
    return SessionFiles(sid, Path(proj), Path(main) if main else None,
                        [AgentFile(a, Path(path), meta) for a, path, meta in agents])


def _order_key(doc: dict[str, Any], sid: str) -> tuple[float, int, str]:
    ts, forked = doc["order"]
    return (ts if ts is not None else float("inf"), 1 if forked else 0, sid)


def _rows_cached(sessions: Sequence[SessionFiles], prices: Any, now: float, cache: Any) -> list[dict[str, Any]]:
    """Rows from the cache's light records; a session sharing calls with an earlier
    one (a fork) is rebuilt from its model so the copies are not counted twice."""
    from spendtui.core.cache import key_hash

    pricer = prices.cost if prices is not None else None
    docs = []
    for s in sessions:
        doc = cache.digest(s, pricer)
        docs.append((_order_key(doc, s.session_id), s, doc["h"], doc["summary"]))
    docs.sort(key=lambda d: d[0])
    owner: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    for _key, s, hashes, summ in docs:
        sid = s.session_id
        mtime = s.mtime()
        if any(owner.get(h, sid) != sid for h in hashes):
            model = cache.load(s, pricer)
            model.mark_billed_elsewhere(lambda k, sid=sid: owner.get(key_hash(k), sid) != sid)
            summ = session_summary(model, prices, now=now, mtime=mtime, top_calls=0)
        else:
            ended = summ.get("ended")
            last = max(mtime, _epoch(ended)) if ended else mtime
            summ = {**summ, "active": now - last < ACTIVE_SECONDS}
        for h in hashes:
            owner.setdefault(h, sid)
        r = {k: summ[k] for k in ROW_KEYS}
        r["last_activity"] = summ["ended"]
        r["_mtime"] = mtime
        rows.append(r)
    return rows


def row_order(r: dict[str, Any]) -> tuple[float, str, str]:
    """Newest write first; ties in a fixed order (a partial recompute merges rows)."""
    return (-r["_mtime"], str(r.get("transcript") or ""), r["session_id"])


def refresh_active(rows: Sequence[dict[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
    """Rows as printed: ``active`` worked out for now from each row's ``_mtime`` (a kept
    answer may be minutes old), the private key dropped."""
    now = time.time() if now is None else now
    out = []
    for r in rows:
        r = dict(r)
        mt = r.pop("_mtime", None)
        if mt is not None:
            ended = r.get("ended")
            last = max(mt, _epoch(ended)) if ended else mt
            r["active"] = now - last < ACTIVE_SECONDS
        out.append(r)
    return out


def _epoch(iso_ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_ts.replace("Z", "+00:00")).timestamp()


def _rows_for(sessions: Sequence[SessionFiles], prices: Any, now: float, cache: Any = None) -> list[dict[str, Any]]:
    if cache is not None:
        return _rows_cached(sessions, prices, now, cache)
    mtimes = {s.session_id: s.mtime() for s in sessions}
    rows: list[dict[str, Any]] = []

    def row(model: Any) -> None:
        s = session_summary(model, prices, now=now, mtime=mtimes.get(model.session_id))
        r = {k: s[k] for k in ROW_KEYS}
        r["last_activity"] = s["ended"]
        r["_mtime"] = mtimes.get(model.session_id, 0.0)
        rows.append(r)

    load_all(sessions, prices.cost if prices is not None else None, on_session=row)
    return rows


def _worker(plain: list[_Plain], now: float, cache_root: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of one project group, and the cache index entries it refreshed."""
    from spendtui.core.pricing import PriceTable

    prices = PriceTable.default()
    cache = None
    if cache_root is not None:
        from spendtui.core.cache import SessionCache

        cache = SessionCache(Path(cache_root), prices)
        cache._index = {}
    rows = _rows_for([_unplain(p) for p in plain], prices, now, cache)
    return rows, (cache._index or {}) if cache is not None else {}


def session_rows(sessions: Sequence[SessionFiles], prices: Any, workers: int | None = None,
                 now: float | None = None, cache: Any = None) -> list[dict[str, Any]]:
    """One summary row per session, newest write first; shared calls counted once."""
    now = time.time() if now is None else now
    by_project: dict[Path, list[SessionFiles]] = defaultdict(list)
    for s in sessions:
        by_project[s.project_dir].append(s)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    total = cache.stale_bytes(sessions) if cache is not None else sum(s.size() for s in sessions)
    if workers <= 1 or len(by_project) < 2 or total < PARALLEL_MIN_BYTES:
        rows = _rows_for(sessions, prices, now, cache)
    else:
        groups = sorted(by_project.values(), key=lambda g: -sum(s.size() for s in g))
        rows = []
        with ProcessPoolExecutor(max_workers=min(workers, len(groups))) as pool:
            root = str(cache.root.parent) if cache is not None else None
            futures = [pool.submit(_worker, [_plain(s) for s in g], now, root) for g in groups]
            for f in futures:
                part, entries = f.result()
                rows.extend(part)
                if cache is not None:
                    cache.index().update(entries)
    if cache is not None:
        cache.save_index()
    rows.sort(key=row_order)
    for r in rows:
        del r["_mtime"]
    return rows
