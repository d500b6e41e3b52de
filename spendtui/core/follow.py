"""Following a live session: incremental reads driven by watchfiles.

The follower owns one ``LineReader`` per file of the session and feeds only the
bytes appended since the last read into the same ``SessionModel`` the one-shot
loader builds, so the work per update is proportional to what was written. It
watches the project *directory* (a watch on a file dies when the file is
replaced), picks up sub-agent files as they appear, rebuilds the model when a
file is truncated or replaced, and follows ``/clear`` into the new session file.

No Textual here: the app and ``watch --json`` are both thin consumers of
``Event`` batches.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendtui.core.loader import Pricer, SessionReaders, feed_file, load_with_dedup, release_meta
from spendtui.core.model import SessionModel, Source
from spendtui.core.paths import (
    AgentFile,
    SessionFiles,
    agent_id_from_name,
    first_cwd,
    first_session_id,
    read_meta,
    scan_project,
)

CLEAR_MARKERS = (b"<command-name>/clear</command-name>",)
IDLE_SWITCH_SECONDS = 30.0  # a new session in the project after this much quiet is "the active one"
STREAM_BATCH = 2_000  # events handed over at a time while a history is read
RETAIN_CALLS = 5_000  # calls whose details a live session keeps; older ones live on in the totals
CLEAR_RECHECK_SECONDS = 10.0
"""A new session file seen before its /clear line was written is read again for this long."""
COLD_AFTER_SECONDS = 30.0
"""A sub-agent file that has not grown for this long is looked at only in sweeps (every
COLD_POLL_SECONDS, less often past SWEEP_FILES_PER_SECOND files) or when an event names it
(a finished sub-agent's file is never written again; a long session has hundreds)."""
COLD_POLL_SECONDS = 1.0
"""Also how often folders are listed again even if their mtime says nothing changed (a file
made in the same clock tick as our listing leaves the mtime as it was)."""
WATCH_STEP_MS = 10  # how often the native watcher looks for changes while files are being written
DROWSY_STEP_MS = 50  # ... and after DROWSY_AFTER_SECONDS with none
DROWSY_AFTER_SECONDS = 30.0
SWEEP_FILES_PER_SECOND = 200
"""Past this many files the sweep comes less often (every files/200 seconds): a session with
16,000 finished sub-agents cost 14 % of a core idle with a sweep a second. Native file
events name a cold file that changes, so it is read at once (``poll(hint=...)``)."""
MTIME_TRUST_NS = 10_000_000
"""A folder's mtime vouches for its listing only once it is older than a kernel clock tick."""


@dataclass(slots=True)
class Event:
    """Something the views should know about. ``kind`` is the model's event name
    (api_call, call_updated, turn, compaction, model_switch, subagent_start) or one
    of the follower's own: clear, reset, file_gone, skipped."""

    kind: str
    payload: Any
    session_id: str
    observed: float = field(default_factory=time.time)


NO_EVENT_FSTYPES = frozenset({"nfs", "nfs4", "cifs", "smbfs", "smb3", "9p", "fuse.sshfs", "afs", "v9fs", "drvfs"})
"""Filesystems whose changes made elsewhere (another host, Windows) raise no inotify event."""


def _mount_point(field: str) -> str:
    """A /proc/mounts path field: spaces, tabs, newlines and backslashes come octal-escaped."""
    for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(esc, ch)
    return field


def _network_or_wsl(path: Path, proc_version: str = "/proc/version", proc_mounts: str = "/proc/mounts") -> bool:
    """Native file events do not arrive on network mounts and across WSL's 9p bridge.

    The /proc files are parameters so tests can hand in a WSL kernel's version line or a
    mount table with an NFS mount, which this machine has not.
    """
    try:
        with open(proc_version, encoding="utf-8", errors="replace") as f:
            if "microsoft" in f.read().lower():
                return True
    except OSError:
        pass
    try:
        real = str(path.resolve())
        best, fstype = "", ""
        with open(proc_mounts, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mp = _mount_point(parts[1])
                # whole path components: /mnt/nfs must not claim /mnt/nfsdata
                inside = real == mp or real.startswith(mp.rstrip("/") + "/")
                if inside and len(mp) >= len(best):  # the last of stacked mounts is the one seen
                    best, fstype = mp, parts[2]
        return fstype in NO_EVENT_FSTYPES
    except OSError:
        return False


def _is_clear_start(path: Path, max_lines: int = 40) -> bool:
    """Does a new session file start with a /clear command (the old session's successor)?"""
    try:
        with open(path, "rb") as f:
            for _ in range(max_lines):
                line = f.readline(4 << 20)
                if not line:
                    return False
                if any(m in line for m in CLEAR_MARKERS):
                    return True
    except OSError:
        return False
    return False


def _abs(path: Path) -> str:
    """``os.path.abspath(path)``, as the Path's own cached string when that is already it (a
    Path never holds "." parts or doubled slashes; ".." it keeps, and abspath folds)."""
    s = str(path)
    return s if path.is_absolute() and ".." not in path.parts else os.path.abspath(s)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone between the listing and now
        return 0


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # EACCES on a folder we may not search (Path.is_dir only hides ENOENT)
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class SessionFollower:
    """One followed session; ``poll()`` applies whatever was written since last time."""

    def __init__(
        self,
        files: SessionFiles,
        pricer: Pricer | None = None,
        follow_clear: bool = True,
        siblings: Sequence[SessionFiles] | None = None,
        cache: Any = None,
        history: bool = True,
    ) -> None:
        self.files = files
        self.pricer = pricer
        self.follow_clear = follow_clear
        self.cache = cache  # a SessionCache: start from the last run's snapshot of this session
        # whether the events of what was already written are wanted, one per call (``watch
        # --json``): a cached model that let go of old calls' details cannot make them up, so
        # then the history is read again (the app, which only wants the model, says False)
        self.history = history
        # called with each new model before any record is read (after a reset or /clear
        # too); set, it also means the whole history is read, not the cache's snapshot
        self.on_model: Callable[[SessionModel], None] | None = None
        self.retain: int | None = RETAIN_CALLS
        self._siblings = siblings
        self.previous: list[str] = []  # sessions left behind by /clear
        self.model: SessionModel = SessionModel(files.session_id)
        self.readers = SessionReaders(files)
        self._pending: list[Event] = []
        self._stream: Callable[[list[Event]], None] | None = None
        self._known_mains: set[Path] = set()
        self._foreign_flat: set[Path] = set()
        self._gone: set[Path] = set()  # deleted files we already said were gone
        self._last_growth = time.time()
        self.started = time.time()
        # Work per poll must not grow with the files a long session made: idle sub-agent files
        # are looked at in sweeps, and folders are listed again only when they changed.
        self._grew_at: dict[Path, float] = {}  # monotonic time each file last grew (or was first seen)
        self._cold: set[Path] = set()  # sub-agent files idle for COLD_AFTER_SECONDS: not polled between sweeps
        self._cold_moves = 0  # files that went cold or woke up so far (the hot list below is of a count)
        self._hot: tuple[tuple[int, int], list[Path]] = ((-1, -1), [])  # the others: (readers, moves), paths
        self._cold_abs: tuple[int, dict[str, Path]] = (-1, {})  # the cold files by absolute path, of a move count
        self._cold_sweep = 0.0
        self._sweeping = True  # this poll is a sweep: it looks at every file and lists every folder
        # (what for, folder) -> the folder's mtime_ns when last listed, if old enough to trust
        self._listed: dict[tuple[str, Path], int] = {}
        self._walked: list[Path] = []  # the folders under the session's folder, as last walked
        self._flat_undecided = False  # a flat agent-*.jsonl we could not place yet: list again
        self._young_mains: dict[Path, float] = {}  # new session files (monotonic first sight) not yet /clear
        # how watch_loop is being told of changes: "native" (file events) or "polling", with why
        self.watch_mode: str | None = None
        self.watch_mode_reason: str = ""
        self.watch_step_ms = 0  # how often the native watcher now looks for changes (0: not watching)

    # -------------------------------------------------------------- setup
    @property
    def project_dir(self) -> Path:
        return self.files.project_dir

    def _listen(self, model: SessionModel) -> None:
        sid = model.session_id

        def on(event: str, payload: Any) -> None:
            self._pending.append(Event(event, payload, sid))
            if self._stream is not None and len(self._pending) >= STREAM_BATCH:
                self._stream(self._drain())

        model.listeners.append(on)

    def load(self, on_events: Callable[[list[Event]], None] | None = None) -> list[Event]:
        """Read everything already written; returns the events for it, oldest first.

        With ``on_events`` the history is handed over in batches while it is read
        (and the rest returned), so a huge session's events are never all held at
        once; a caller that only wants the final state passes ``lambda _: None``.
        """
        self._stream = on_events
        try:
            return self._load()
        finally:
            self._stream = None

    def _load(self) -> list[Event]:
        self._pending = []
        self.readers = SessionReaders(self.files)
        model: SessionModel | None = None
        if self.on_model is None and self.cache is not None:
            # A snapshot of this session from an earlier run: only the bytes written
            # since are read. History events are made up from the model afterwards.
            model = load_with_dedup(self.files, self.pricer, siblings=self._siblings, readers=self.readers,
                                    cache=self.cache, retain=self.retain)
            if self.history and model.let_go_of_calls:
                # the oldest calls' details are gone: their events come from reading it all
                model, self.readers = None, SessionReaders(self.files)
        if model is not None:
            self._listen(model)
            self.model = model
            self._pending.extend(history_events(model))
            if self._stream is not None:
                for i in range(0, len(self._pending), STREAM_BATCH):
                    self._stream(self._pending[i:i + STREAM_BATCH])
                self._pending = []
        else:
            # every record read here, each call's event made as it is counted (and, streamed,
            # handed over in batches)
            model = SessionModel(self.files.session_id)
            model.retain = self.retain
            if self.on_model is not None:
                self.on_model(model)  # an analyser that must see every record from the first
            self._listen(model)
            self.model = load_with_dedup(self.files, self.pricer, siblings=self._siblings, readers=self.readers,
                                         model=model)
        _release_metas(self.model, self.files, self.readers)
        self._known_mains = {s.main for s in scan_project(self.project_dir).values() if s.main}
        self._gone = set()
        self._last_growth = time.time()
        self._grew_at, self._listed, self._walked, self._young_mains = {}, {}, [], {}
        self._cold, self._hot, self._cold_abs = set(), ((-1, -1), []), (-1, {})
        return self._drain()

    def rebuild_with(self, on_model: Callable[[SessionModel], None], lock: Any) -> tuple[SessionModel, list[Event]]:
        """Read the whole session again into a new model that ``on_model`` prepares (an
        analyser that must see every record), then swap it in under ``lock``.

        The slow read happens outside the lock while live polls go on with the old
        model; under the lock the new model catches up with the bytes written in the
        meantime, so the swap loses and doubles nothing; the events of those bytes (as
        the live model saw them) are returned, as a poll's would be.
        """
        files = self.files
        readers = SessionReaders(files)
        model = SessionModel(files.session_id)
        model.retain = self.retain
        on_model(model)
        model = load_with_dedup(files, self.pricer, siblings=self._siblings, readers=readers, model=model)
        with lock:
            if self.files is not files:
                return self.model, []  # /clear moved on meanwhile: the new session has its own analysis
            # The live model reads what is new first: its events are the news (the new
            # model read some of those bytes silently, outside the lock).
            events = self.poll()
            if self.files is not files or any(e.kind in ("reset", "clear") for e in events):
                return self.model, events
            for path, (reader, src) in readers.readers.items():
                if path.exists():
                    feed_file(model, reader, src, final=False)
            for af in files.agents:  # sub-agent files the live follower found meanwhile
                if af.path not in readers.readers:
                    src = Source(af.path, agent_id=af.agent_id, meta=af.load_meta())
                    feed_file(model, readers.reader_for(af.path, src), src, final=False)
            _release_metas(model, files, readers)
            self._listen(model)
            self.model = model
            self.readers = readers
            return model, events

    def _drain(self) -> list[Event]:
        out, self._pending = self._pending, []
        return out

    # -------------------------------------------------------------- polling
    def poll(self, hint: Collection[str] | None = None) -> list[Event]:
        """Apply new bytes of every file of the session; notice new agents and /clear.

        ``hint``: paths native file events named; a cold file among them is read now
        rather than at the next sweep."""
        grew = False
        now = time.monotonic()
        readers = self.readers.readers
        every = COLD_POLL_SECONDS * max(1.0, len(readers) / SWEEP_FILES_PER_SECOND)
        sweep = self._sweeping = now - self._cold_sweep >= every
        if sweep:
            self._cold_sweep = now
            self._cold.clear()
            self._cold_moves += 1
            paths = list(readers)
        else:
            cold = self._cold
            if self._hot[0] != (len(readers), self._cold_moves):  # a file came, went cold or woke up
                self._hot = ((len(readers), self._cold_moves), [p for p in readers if p not in cold])
            paths = list(self._hot[1])
            if hint and cold:
                if self._cold_abs[0] != self._cold_moves:  # events name absolute paths
                    # str(p) is the Path's own cached string: abspath would make a second
                    # copy of every cold file's name, kept until the next move
                    self._cold_abs = (self._cold_moves, {_abs(p): p for p in cold})
                by_abs = self._cold_abs[1]
                paths += [by_abs[h] for h in hint if h in by_abs]
        for path in paths:
            reader, src = readers[path]
            if (src.agent_id is not None and path not in self._cold
                    and now - self._grew_at.setdefault(path, now) > COLD_AFTER_SECONDS):
                self._cold.add(path)  # an idle sub-agent file: looked at in sweeps (or when named)
                self._cold_moves += 1
            change = reader.changed_identity()
            if change in ("replaced", "truncated", "rewritten"):
                self._pending.append(Event("reset", {"file": str(path), "why": change}, self.files.session_id))
                return [*self._drain(), *self.load()]
            if change is None and path in self._gone:
                self._gone.discard(path)  # back as it was (same inode): read on
            if change == "deleted":
                # its calls were made and stay counted; say it once, and re-read the
                # session if the file comes back (a new inode: "replaced")
                if path not in self._gone:
                    self._gone.add(path)
                    self._pending.append(Event("file_gone", {"file": str(path)}, self.files.session_id))
                continue
            size = reader.last_size
            if size is None:
                continue
            if size > reader.offset + reader.pending or (reader.pending and size > reader.offset):
                before = reader.offset
                feed_file(self.model, reader, src, final=False)
                if src.meta is not None and src.agent_id in self.model.agents:
                    self._meta_taken(path, src)  # the agent's first call came: it has the meta now
                grew = grew or reader.offset != before
                self._grew_at[path] = now
                if path in self._cold:
                    self._cold.discard(path)
                    self._cold_moves += 1
        grew = self._new_agent_files() or grew
        if grew:
            self._last_growth = time.time()
        if self.follow_clear:
            self._check_new_session()
        return self._drain()

    def _new_agent_files(self) -> bool:
        """Sub-agent files appear while the session runs: start reading them from byte 0.

        Only this session's folder and new flat ``agent-*.jsonl`` names are looked
        at, so the cost does not grow with the number of sessions in the project.
        """
        added = False
        sid = self.files.session_id
        candidates: list[AgentFile] = []
        sdir = self.project_dir / sid
        walk = not self._walked or not all(self._unchanged("walk", d) for d in self._walked)
        list_flat = self._flat_undecided or not self._unchanged("flat", self.project_dir)
        # keyed by str: a sweep of 8,000 sub-agent files made a Path of each name it listed
        known = {str(a.path): a for a in self.files.agents} if walk or list_flat else {}
        if walk:
            walked: list[Path] = []
            if _is_dir(sdir):
                for root, _dirs, names in os.walk(sdir):
                    rootp = self._mark("walk", Path(root))
                    walked.append(rootp)
                    for name in names:
                        if name.endswith(".jsonl"):
                            k = os.path.join(root, name)
                            af = known.get(k)
                            if af is None:
                                p = rootp / name  # Path(k), without parsing the folder again
                                candidates.append(AgentFile(agent_id_from_name(p), p, read_meta(p)))
                            elif af.meta is None and not af.meta_taken:
                                self._late_meta(af)
            self._walked = walked
        flat: list[Path] = []
        if list_flat:  # the project folder gained or lost a file since we last listed it
            self._mark("flat", self.project_dir)
            try:
                flat = [self.project_dir / e.name for e in os.scandir(self.project_dir)
                        if e.name.startswith("agent-") and e.name.endswith(".jsonl")]
            except OSError:
                flat = []
            self._flat_undecided = False
        for p in flat:
            if str(p) in known or p in self._foreign_flat:
                continue
            if first_session_id(p) == sid:
                candidates.append(AgentFile(agent_id_from_name(p), p, read_meta(p)))
            elif _size(p) > 0:
                self._foreign_flat.add(p)  # another session's agent: never look again
            else:
                self._flat_undecided = True  # empty yet: whose it is shows later
        for af in candidates:
            self.files.agents.append(af)
            src = Source(af.path, agent_id=af.agent_id, meta=af.load_meta())
            feed_file(self.model, self.readers.reader_for(af.path, src), src, final=False)
            release_meta(self.model, af, src)
            added = True
        if self.files.main is None:
            main = self.project_dir / f"{sid}.jsonl"
            if _is_file(main):
                self.files.main = main
                src = Source(main)
                feed_file(self.model, self.readers.reader_for(main, src), src, final=False)
                added = True
        return added

    def _mark(self, why: str, d: Path) -> Path:
        """Remember ``d``'s mtime before listing it (for ``why``), if old enough to vouch for
        the listing."""
        try:
            m = os.stat(d).st_mtime_ns
        except OSError:
            self._listed.pop((why, d), None)
            return d
        # a listing made in the mtime's own clock tick may miss a file made in it; an mtime
        # in the future (a clock ahead, a copied tree) vouches too: any change sets it to now
        if abs(time.time_ns() - m) > MTIME_TRUST_NS:
            self._listed[(why, d)] = m
        else:
            self._listed.pop((why, d), None)  # changed just now: list it again next time
        return d

    def _unchanged(self, why: str, d: Path) -> bool:
        """Has ``d`` kept the entries it had when last listed for ``why``? (A file added,
        removed or renamed in it changes its mtime; a file growing does not.)"""
        m = self._listed.get((why, d))
        if m is None or self._sweeping:
            return False
        try:
            return os.stat(d).st_mtime_ns == m
        except OSError:
            return False

    def _meta_taken(self, path: Path, src: Source) -> None:
        for af in reversed(self.files.agents):  # the newest agents are last: a few steps
            if af.path is path or af.path == path:
                release_meta(self.model, af, src)
                return
        src.meta = None

    def _late_meta(self, af: AgentFile) -> None:
        """``agent-<id>.meta.json`` may land after the agent's first lines."""
        meta = read_meta(af.path)
        if meta is None:
            return
        af.meta = meta
        _reader, src = self.readers.readers.get(af.path, (None, None))
        if src is not None:
            src.meta = meta
        agent = self.model.agents.get(af.agent_id)
        if agent is not None:
            self.model.apply_agent_meta(agent, meta)
            if src is not None:
                release_meta(self.model, af, src)

    def _check_new_session(self) -> None:
        """After /clear Claude Code writes a new session file in the same project. Its /clear
        line is not its first (a mode line, a file-history snapshot and a prompt come before
        it), so a file seen before that line was written is read again for a while."""
        listed = not self._unchanged("mains", self.project_dir)
        if not listed and not self._young_mains:
            return  # no file came or went, and none is waiting for its /clear line
        new: list[Path] = []
        if listed:
            self._mark("mains", self.project_dir)
            try:
                mains = {Path(e.path) for e in os.scandir(self.project_dir)
                         if e.name.endswith(".jsonl") and not e.name.startswith("agent-") and e.is_file()}
            except OSError:
                return
            new = sorted(mains - self._known_mains, key=_mtime)
            self._known_mains |= mains
        now = time.monotonic()
        for path in new:
            if path == self.files.main:
                continue
            idle = time.time() - self._last_growth
            cwd_ok = self.model.project is None or first_cwd(path, 40) in (None, self.model.project)
            if cwd_ok and (_is_clear_start(path) or idle >= IDLE_SWITCH_SECONDS):
                self._switch_to(path)
                return
            self._young_mains[path] = now
        for path, seen in list(self._young_mains.items()):
            if path in new:
                continue
            if now - seen > CLEAR_RECHECK_SECONDS:
                del self._young_mains[path]
            elif _is_clear_start(path) and (self.model.project is None
                                            or first_cwd(path, 40) in (None, self.model.project)):
                self._switch_to(path)
                return

    def _switch_to(self, path: Path) -> None:
        old = self.files.session_id
        self.previous.append(old)
        sid = path.name[: -len(".jsonl")]
        self.files = scan_project(self.project_dir).get(sid) or SessionFiles(sid, self.project_dir, path)
        events = self.load()
        self._pending = [Event("clear", {"from": old, "to": sid, "transcript": str(path)}, sid), *events]


def _release_metas(model: SessionModel, files: SessionFiles, readers: SessionReaders) -> None:
    """After a whole read: the agents have their meta's facts; let go of the dicts."""
    for af in files.agents:
        hit = readers.readers.get(af.path)
        if hit is not None:
            release_meta(model, af, hit[1])


def history_events(model: SessionModel) -> list[Event]:
    """The events a session's history would have produced, oldest first, rebuilt from
    its model (when it came from the cache and no line was read to emit them)."""
    sid = model.session_id
    out: list[tuple[float, int, Event]] = []
    for call in model.calls.values():
        t = call.timestamp.timestamp() if call.timestamp else 0.0
        out.append((t, call.seq, Event("api_call", call, sid)))
    for c in model.compactions:
        out.append((c.timestamp.timestamp() if c.timestamp else 0.0, 0, Event("compaction", c, sid)))
    for sw in model.model_switches:
        out.append((sw.timestamp.timestamp() if sw.timestamp else 0.0, 0, Event("model_switch", sw, sid)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [e for _t, _s, e in out]


def watch_loop(
    follower: SessionFollower,
    on_events: Callable[[list[Event]], None],
    stop: threading.Event,
    force_polling: bool | None = None,
    poll_interval_ms: int = 200,
    debounce_ms: int = 30,
) -> None:
    """Block, calling ``on_events`` with each non-empty batch until ``stop`` is set.

    Native events wake us within a few milliseconds; a periodic timeout also
    polls, so a filesystem that drops events (or a mount we failed to detect)
    is still followed, just more slowly. If polling keeps finding data no event
    announced, we switch to plain polling for good.
    """
    import watchfiles

    if force_polling is None:
        force_polling = _network_or_wsl(follower.project_dir)
        reason = "network mount or WSL" if force_polling else "native file events"
    else:
        reason = "asked for" if force_polling else "native file events"
    missed = 0
    step = WATCH_STEP_MS
    quiet_since = time.monotonic()
    while not stop.is_set():
        follower.watch_mode, follower.watch_mode_reason = ("polling" if force_polling else "native"), reason
        if force_polling:
            # Our own poll: a stat per followed file and one directory listing per
            # interval. Cheaper and more predictable than a generic tree poller.
            while not stop.wait(poll_interval_ms / 1000):
                events = follower.poll()
                if events:
                    on_events(events)
            return
        watched = follower.project_dir
        follower.watch_step_ms = step
        for changes in watchfiles.watch(
            watched,
            stop_event=stop,
            debounce=debounce_ms,
            step=step,
            rust_timeout=1000,
            yield_on_timeout=True,
            recursive=True,
            ignore_permission_denied=True,
        ):
            events = follower.poll(hint={p for _, p in changes} if changes else None)
            if events:
                on_events(events)
            if not changes and any(e.kind in ("api_call", "call_updated") for e in events):
                missed += 1
            if not force_polling and missed >= 2:
                force_polling = True
                reason = "native file events did not arrive"
                break  # restart the watcher in polling mode
            if follower.project_dir != watched:
                break
            if stop.is_set():
                return
            # the watcher checks for changes every `step` ms, which idle costs 0.7 % of a
            # core at 10 ms and 0.2 % at 50: drowsy after a quiet spell, awake at the first
            # change (a prompt is written seconds before its response, so calls see 10 ms)
            now = time.monotonic()
            if changes:
                quiet_since = now
                if step != WATCH_STEP_MS:
                    step = WATCH_STEP_MS
                    break
            elif step == WATCH_STEP_MS and now - quiet_since > DROWSY_AFTER_SECONDS:
                step = DROWSY_STEP_MS
                break
