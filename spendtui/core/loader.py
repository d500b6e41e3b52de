"""Reading sessions from disk into ``SessionModel``s, with cross-session dedup.

A session is its main transcript plus its sub-agent files; they are streamed
line by line through one ``LineReader`` each, so the same reader objects can be
kept by the live follower to pick up where the one-shot load stopped.

Cross-session dedup (issue: forks and old-style resumes): a file that continues
or forks another session starts with copies of the other session's records,
with the same ``message.id`` + ``requestId``. Those calls were billed once, in
the session where they first appeared, so the copy is marked
``billed_elsewhere``: it still shapes the fork's context size, but its cost and
tokens count only in the parent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from spendtui.core import jsonl
from spendtui.core.jsonl import LineReader, parse_line
from spendtui.core.model import CallKey, SessionModel, Source, parse_ts
from spendtui.core.paths import AgentFile, SessionFiles, scan_project

Pricer = Callable[[str, Any, datetime | None], Any]

_USAGE = b'"usage"'
_REQ = b'"requestId"'


@dataclass(slots=True)
class SessionReaders:
    """One LineReader per file of a session, so a follower can resume from here."""

    files: SessionFiles
    readers: dict[Path, tuple[LineReader, Source]] = field(default_factory=dict)

    def reader_for(self, path: Path, src: Source) -> LineReader:
        hit = self.readers.get(path)
        if hit is None:
            hit = (LineReader(path), src)
            self.readers[path] = hit
        return hit[0]


def _too_long() -> str:
    limit = jsonl.MAX_LINE
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 and limit % (1 << 20) == 0 else f"{limit:,} bytes"
    return f"line longer than {size} (not read)"


def _report_dropped(model: SessionModel, reader: LineReader, src: Source) -> None:
    """Lines the reader dropped unread for their size still count as skipped lines."""
    if reader.dropped:
        for lineno in reader.dropped:
            model.skip(src, lineno, _too_long())
        reader.dropped.clear()


def release_meta(model: SessionModel, af: AgentFile, src: Source) -> None:
    """Let go of a sub-agent's meta once the model has made its agent from it."""
    if src.meta is not None and af.agent_id in model.agents:
        src.meta = None
        af.release_meta()


CUT_REASON = "the file ends inside this record (its writer stopped mid-line)"


def feed_file(model: SessionModel, reader: LineReader, src: Source, final: bool = True) -> int:
    """Ingest every complete new line of one file; returns the number of lines read."""
    n = 0
    try:
        for lineno, raw in reader.read_lines(final=final):
            if reader.dropped:
                _report_dropped(model, reader, src)
            n += 1
            obj, err = parse_line(raw)
            if reader.cut_line == lineno:  # the line once reported cut, now read whole
                reader.cut_line = 0
                if obj is None:
                    continue  # still broken (the next record written on after it): said already
                model.unskip(src, lineno, CUT_REASON)  # finished after all
            if obj is None:
                model.skip(src, lineno, err or "unreadable line")
                continue
            try:
                model.ingest(obj, src, lineno)
            except Exception as e:
                model.skip(src, lineno, f"record not understood ({type(e).__name__}: {e})")
        _report_dropped(model, reader, src)
        if reader.unfinished and not reader.cut_line:
            reader.cut_line = reader.lineno + 1
            model.skip(src, reader.cut_line, CUT_REASON)
    except FileNotFoundError:
        _failed(model, reader, src, "file disappeared while reading")
    except OSError as e:
        _failed(model, reader, src, f"cannot read file ({e.strerror or e})")
    else:
        reader.failure = None
    return n


def _failed(model: SessionModel, reader: LineReader, src: Source, reason: str) -> None:
    if reader.failure != reason:  # the same failure again (a retrying follower): said already
        model.skip(src, 0, reason)
        reader.failure = reason


def load_session(
    files: SessionFiles,
    pricer: Pricer | None = None,
    billed_elsewhere: Callable[[CallKey], bool] | None = None,
    readers: SessionReaders | None = None,
    model: SessionModel | None = None,
) -> SessionModel:
    """Build the model of one session from its files (main first, then sub-agents).

    The main file goes first so sub-agents can be linked to the tool_use that
    spawned them and so a main-chain copy of a response wins over a sidechain
    replay of it.
    """
    if model is None:
        model = SessionModel(files.session_id)
    model.pricer = pricer
    model.billed_elsewhere = billed_elsewhere
    model.transcript = files.main
    readers = readers or SessionReaders(files)
    if files.main is not None:
        src = Source(files.main)
        feed_file(model, readers.reader_for(files.main, src), src)
    for af in files.agents:
        src = Source(af.path, agent_id=af.agent_id, meta=af.load_meta())
        feed_file(model, readers.reader_for(af.path, src), src)
    return model


# ------------------------------------------------------------------ keys only
HEAD_LINES = 200  # a session's order is read from its first lines
_HEAD_LINE = 8 << 20


def head_lines(path: Path, max_lines: int = HEAD_LINES) -> list[bytes]:
    """The first lines of a file, as the order checks read them (pieces of 8 MiB at most)."""
    out: list[bytes] = []
    try:
        with open(path, "rb") as f:
            for _ in range(max_lines):
                line = f.readline(_HEAD_LINE)
                if not line:
                    break
                out.append(line)
    except OSError:
        return []
    return out


def _first_record_in(lines: Sequence[bytes]) -> dict[str, Any] | None:
    """The first record with a timestamp (cheap: a few lines, not the file)."""
    for line in lines:
        obj, _ = parse_line(line.strip())
        if obj is not None and parse_ts(obj.get("timestamp")) is not None:
            return obj
    return None


def _first_record(path: Path, max_lines: int = HEAD_LINES) -> dict[str, Any] | None:
    return _first_record_in(head_lines(path, max_lines))


def first_call_key(path: Path, max_lines: int = 5000) -> CallKey | None:
    """The first API call's key in a file (forks and old resumes start with copies)."""
    try:
        reader = LineReader(path)
        for i, (_n, raw) in enumerate(reader.read_lines(final=True)):
            if i >= max_lines:
                return None
            if _USAGE not in raw:
                continue
            obj, _ = parse_line(raw)
            key = _call_key(obj) if obj is not None else None
            if key is not None:
                return key
    except OSError:
        return None
    return None


def _call_key(obj: dict[str, Any]) -> CallKey | None:
    if obj.get("type") not in ("assistant", None) or obj.get("isApiErrorMessage"):
        return None
    msg = obj.get("message")
    if not isinstance(msg, dict) or msg.get("usage") is None:
        return None
    mid = msg.get("id")
    if not isinstance(mid, str) or not mid or msg.get("model") == "<synthetic>":
        return None
    rid = obj.get("requestId")
    return (mid, rid if isinstance(rid, str) else "")


def iter_call_keys(files: SessionFiles) -> Iterable[CallKey]:
    """Every API call key in a session's files, parsing only lines that carry usage."""
    for path in files.files:
        reader = LineReader(path)
        try:
            for _n, raw in reader.read_lines(final=True):
                if _USAGE not in raw:
                    continue
                obj, _ = parse_line(raw)
                if obj is None:
                    continue
                key = _call_key(obj)
                if key is not None:
                    yield key
        except OSError:
            continue


def _file_contains(path: Path, needle: bytes) -> bool:
    """Substring search in 1 MiB blocks (no whole-file read)."""
    overlap = len(needle) - 1
    try:
        with open(path, "rb") as f:
            tail = b""
            while True:
                block = f.read(1 << 20)
                if not block:
                    return False
                chunk = tail + block
                if needle in chunk:
                    return True
                tail = chunk[-overlap:] if overlap > 0 else b""
    except OSError:
        return False


@dataclass(slots=True)
class SessionOrder:
    """What decides which of two sessions holding the same call was first."""

    first_ts: datetime | None
    forked: bool  # its first records name another session (forkedFrom / foreign sessionId)

    def sort_key(self) -> tuple[float, int]:
        ts = self.first_ts.timestamp() if self.first_ts else float("inf")
        return (ts, 1 if self.forked else 0)


COPY_JUMP_SECONDS = 0.25  # a record this much older than one written before it is a copy


def _timestamps_jump_back(lines: Sequence[bytes], max_lines: int = 40) -> bool:
    """Do the file's first lines hold records older than ones written before them?

    A fork (``--fork-session``, Claude Code 2.1) writes its own first records
    (``mode``, ``queue-operation``) with the current time, then copies the
    parent's history with the parent's old timestamps. A live session only ever
    appends, so apart from millisecond jitter its timestamps do not go back.
    """
    latest: datetime | None = None
    for line in lines[:max_lines]:
        obj, _ = parse_line(line.strip())
        if obj is None:
            continue
        ts = parse_ts(obj.get("timestamp"))
        if ts is None:
            continue
        if latest is not None and (latest - ts).total_seconds() > COPY_JUMP_SECONDS:
            return True
        if latest is None or ts > latest:
            latest = ts
    return False


def session_order(files: SessionFiles, head: Sequence[bytes] | None = None) -> SessionOrder:
    """``head``: the main file's first lines when the caller has them (``head_lines``)."""
    if files.main is None:
        return SessionOrder(None, False)
    if head is None:
        head = head_lines(files.main)
    rec = _first_record_in(head)
    if rec is None:
        return SessionOrder(None, False)
    forked = bool(rec.get("forkedFrom"))
    sid = rec.get("sessionId")
    if isinstance(sid, str) and sid != files.session_id:
        forked = True  # an old-style resume: copied lines keep the parent's id
    orig = rec.get("session_id")
    if isinstance(orig, str) and orig != files.session_id:
        forked = True
    if not forked:
        forked = _timestamps_jump_back(head)
    return SessionOrder(parse_ts(rec.get("timestamp")), forked)


def _forked_from(rec: dict[str, Any] | None) -> str | None:
    ff = rec.get("forkedFrom") if rec else None
    if isinstance(ff, dict):
        ff = ff.get("sessionId")
    return ff if isinstance(ff, str) and ff else None


def parents_of(files: SessionFiles, siblings: Sequence[SessionFiles]) -> list[SessionFiles]:
    """Sessions whose calls this one holds copies of, and which therefore own them.

    Claude Code 2.1 marks each copied record with ``forkedFrom: {sessionId,
    messageUuid}``, which names the parent outright. Older files carry no mark:
    then a sibling holding our first call and starting no later than us is the
    parent (old ``--resume`` copies kept the parent's ``sessionId``).
    """
    if files.main is None:
        return []
    named = _forked_from(_first_record(files.main))
    if named is not None:
        return [s for s in siblings if s.session_id == named and s.session_id != files.session_id]
    key = first_call_key(files.main)
    if key is None:
        return []
    needle = f'"{key[0]}"'.encode()
    mine = session_order(files).sort_key()
    out: list[SessionFiles] = []
    for s in siblings:
        if s.session_id == files.session_id or s.main is None:
            continue
        if not _file_contains(s.main, needle):
            continue
        theirs = session_order(s).sort_key()
        if theirs < mine or (theirs == mine and s.session_id < files.session_id):
            out.append(s)
    return out


def load_with_dedup(
    files: SessionFiles,
    pricer: Pricer | None = None,
    siblings: Sequence[SessionFiles] | None = None,
    readers: SessionReaders | None = None,
    model: SessionModel | None = None,
    cache: Any = None,
    retain: int | None = None,
) -> SessionModel:
    """Load one session, not counting calls that an earlier session (fork parent) owns."""
    if siblings is None:
        siblings = list(scan_project(files.project_dir).values())
    owned: set[CallKey] = set()
    for parent in parents_of(files, siblings):
        owned.update(iter_call_keys(parent))
    if cache is not None and model is None:
        loaded = cache.load(files, pricer, readers=readers, retain=retain)
        if owned:
            loaded.mark_billed_elsewhere(owned.__contains__)
            loaded.billed_elsewhere = owned.__contains__  # and for calls still to come
        return loaded
    return load_session(
        files, pricer, billed_elsewhere=(owned.__contains__ if owned else None), readers=readers, model=model
    )


def load_all(
    sessions: Sequence[SessionFiles],
    pricer: Pricer | None = None,
    on_session: Callable[[SessionModel], None] | None = None,
    cache: Any = None,
) -> list[SessionModel]:
    """Load many sessions; a call found in several counts in the earliest one.

    Sessions are loaded oldest first (a fork's copies then meet their parent's
    keys). With ``on_session`` each model is handed over and not kept, so memory
    holds only the keys, not every session's calls.
    """
    ordered = sorted(sessions, key=lambda s: (session_order(s).sort_key(), s.session_id))
    owner: dict[CallKey, str] = {}
    kept: list[SessionModel] = []
    for files in ordered:
        sid = files.session_id

        def elsewhere(key: CallKey, sid: str = sid) -> bool:
            o = owner.get(key)
            return o is not None and o != sid

        if cache is not None:
            model = cache.load(files, pricer)
            model.mark_billed_elsewhere(elsewhere)
        else:
            model = load_session(files, pricer, billed_elsewhere=elsewhere)
        for key in model.calls:
            owner.setdefault(key, sid)
        if on_session is not None:
            on_session(model)
        else:
            kept.append(model)
    return kept
