"""The warm path of `sessions` and `report`: when nothing changed, nothing is read.

People glance at these dozens of times an hour, and most of the time no transcript
changed since the last glance. Finding the sessions (listing every folder, building
paths) and looking each one up in the result cache costs far more than the answer,
so the last answer is kept with what it was computed from: the mtime of every folder
listed (a file added or removed changes its folder's mtime), the size and mtime of
every transcript, and where the prices came from. If one stat per folder and per
file finds all of that unchanged, the kept answer is the answer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendtui.core.jsonl import dumps, loads

FORMAT = 3
SAFETY_NS = 100_000_000  # file times are coarse (a few ms): count a write this close to the start as after it


def _stat_sig(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def price_sources() -> list[Any]:
    """What the price table is built from (embedded table, LiteLLM import, config),
    by stat: a change to any of them changes every cost."""
    from spendtui import __version__
    from spendtui.core import config
    from spendtui.core.pricing import litellm_cache_path

    embedded = Path(__file__).resolve().parent.parent / "data" / "prices.toml"
    return [__version__, *(_stat_sig(str(p)) for p in (embedded, litellm_cache_path(), config.config_path()))]


@dataclass(slots=True)
class Lookup:
    """What ``Memo.get`` found: an answer, or what is known towards computing one."""

    value: Any = None
    sessions: list[Any] | None = None  # the kept session list (batch._plain form)
    grown: set[str] = field(default_factory=set)  # transcripts that grew
    previous: Any = None  # the answer before they grew


class Memo:
    """One kept answer, for one command and its arguments, in the cache dir."""

    def __init__(self, root: Path, key: Sequence[Any],
                 paths_of: Callable[[Any], list[str]] | None = None) -> None:
        """``paths_of(sessions)``: the transcript paths of a kept session list, in the order
        ``put`` is given them, so they need not be kept twice."""
        self.paths_of = paths_of
        digest = hashlib.sha256(dumps([FORMAT, *key])).hexdigest()[:20]
        self.path = root / f"memo-{digest}.json"
        self.dirs: list[list[Any]] = []  # the folders of the kept answer, once read
        # what get() found unchanged, by path: put() keeps those signatures rather than
        # stat every file again (a file written since shows as changed to the next run)
        self._same: dict[str, Any] = {}

    def get(self, sources: list[Any]) -> Lookup:
        """The kept answer if nothing it was computed from changed. When only transcripts
        grew (no folder changed, no file replaced or cut) also the sessions it was
        computed from, the files that grew and the previous answer: the same sessions,
        no need to look for them, and what did not change need not be computed again."""
        miss = Lookup()
        try:
            with open(self.path, "rb") as f:
                doc = loads(f.read())
        except (OSError, ValueError):
            return miss
        try:
            if doc["format"] != FORMAT or doc["sources"] != sources:
                return miss
            stat = os.stat
            self.dirs = doc["dirs"]
            for path, mtime in self.dirs:
                if stat(path).st_mtime_ns != mtime:
                    return miss
            grown: set[str] = set()
            paths = doc["paths"]
            if paths is None:
                if self.paths_of is None:
                    return miss
                paths = self.paths_of(doc["sessions"])
            if len(paths) != len(doc["files"]):
                return miss
            same: dict[str, Any] = {}
            for path, sig in zip(paths, doc["files"], strict=True):
                size, mtime, ino = sig
                st = stat(path)
                if st.st_mtime_ns != mtime or st.st_size != size:
                    if st.st_ino != ino or st.st_size < size:
                        return miss
                    grown.add(path)
                else:
                    same[path] = sig
            if not grown:
                return Lookup(value=doc["value"])
            sessions = doc["sessions"]
            if not isinstance(sessions, list):
                return miss
            self._same = same
            self._same.update((d, m) for d, m in self.dirs)
            return Lookup(sessions=sessions, grown=grown, previous=doc["value"])
        except (OSError, KeyError, TypeError, ValueError):
            return miss

    def put(self, sources: list[Any], dirs: Sequence[str], files: Sequence[Path | str], value: Any,
            started_ns: int, write: Callable[[Path, bytes], None], sessions: Any = None) -> bool:
        """Keep ``value``, computed from ``dirs`` and ``files`` by a run that started at
        ``started_ns`` (time.time_ns() before the folders were listed). Anything written
        since then may not be in ``value``: then nothing is kept, and the next run
        computes again (a session being written is caught by this every time)."""
        fresh = started_ns - SAFETY_NS
        same = self._same
        d_out = []
        for d in dict.fromkeys(dirs):
            try:
                m = same[d] if d in same else os.stat(d).st_mtime_ns
            except OSError:
                return False
            if m >= fresh:
                return False
            d_out.append([d, m])
        f_out = []
        paths = [str(f) for f in files]
        for f in paths:
            sig = same.get(f) or _stat_sig(f)
            if sig is None or sig[1] >= fresh:
                return False
            f_out.append(sig)
        derived = sessions is not None and self.paths_of is not None and self.paths_of(sessions) == paths
        doc = {"format": FORMAT, "sources": sources, "dirs": d_out, "files": f_out,
               "paths": None if derived else paths, "value": value, "sessions": sessions}
        write(self.path, dumps(doc))
        return True


def plain_paths(plains: list[Any]) -> list[str]:
    """The transcripts of sessions in batch._plain form: main, then sub-agent files."""
    return [f for _sid, _proj, main, agents in plains for f in ([main] if main else []) + [a[1] for a in agents]]


Discover = Callable[[list[str]], list[Any]]
Compute = Callable[[list[Any], Any], Any]


def memoized(claude_dirs: Sequence[str | Path] | None, key: list[Any], compute: Compute,
             discover: Discover | None = None, no_cache: bool = False, one_shot: bool = True) -> Any:
    """``compute(sessions, partial)``, or the answer kept from the last run if not one
    folder, transcript or price source changed since. ``partial`` is None or, when only
    transcripts grew, the ``Lookup`` with the previous answer and what grew.
    ``discover(visited)`` finds the sessions, listing the folders it read into ``visited``
    (a NUL string in it: the answer is partial and not kept); default: ``paths.discover``.
    ``one_shot``: stat each file once for the whole run (``paths.stat_once``, process-wide:
    not while a live follower in another thread must see files change). Raises
    NoClaudeDataError."""
    import contextlib

    from spendtui.core.paths import stat_once

    if discover is None:
        discover = _discoverer(claude_dirs)
    with stat_once() if one_shot else contextlib.nullcontext():
        if no_cache:
            return compute(discover([]), None)
        return _memoized_run(claude_dirs, key, compute, discover)


def _discoverer(claude_dirs: Sequence[str | Path] | None) -> Discover:
    def discover(visited: list[str]) -> list[Any]:
        from spendtui.core.paths import discover as find

        problems: list[str] = []
        sessions = find(claude_dirs, problems, visited)
        if problems:
            visited.append("\0")
        return sessions

    return discover


def _memoized_run(claude_dirs: Sequence[str | Path] | None, key: list[Any], compute: Compute,
                  discover: Discover) -> Any:
    import time

    from spendtui.core import config
    from spendtui.core.batch import _plain
    from spendtui.core.paths import projects_dirs

    pds = projects_dirs(claude_dirs)
    memo = Memo(config.cache_dir() / "sessions", [*key, [str(p) for p in pds]], paths_of=plain_paths)
    sources = price_sources()
    found = memo.get(sources)
    if found.value is not None:
        return found.value
    started = time.time_ns()
    visited: list[str] = []
    if found.sessions is not None:  # only transcripts grew: the same sessions, no need to look for them
        plains = found.sessions
        visited = [d for d, _m in memo.dirs]
        value = compute([], found)  # it builds the sessions it needs from found.sessions
    else:
        sessions = discover(visited)
        plains = [_plain(s) for s in sessions]
        value = compute(sessions, None)
    if "\0" not in visited:
        from spendtui.core.cache import SessionCache

        writer = SessionCache(prices=None)
        memo.put(sources, visited, plain_paths(plains), value, started, writer._write_bytes, sessions=plains)
    return value
