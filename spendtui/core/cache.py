"""A per-session result cache, so a second run reads only what was appended.

Each entry holds a session's model and, per file, the identity and byte offset
the model was built up to. A file that only grew (same inode, not shorter, the
bytes just before the offset unchanged) is read on from its offset; anything
else rebuilds the entry from scratch. Entries live in the platformdirs cache
dir, are written atomically with mode 0600, and are only ever unpickled by a
restricted unpickler that accepts our own classes and a few builtins: a corrupt,
foreign or tampered file is ignored and rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendtui.core import config as _config
from spendtui.core.jsonl import FileIdentity, LineReader, dumps, loads
from spendtui.core.loader import SessionReaders, feed_file
from spendtui.core.model import SessionModel, Source
from spendtui.core.paths import SessionFiles
from spendtui.core.paths import stat as _stat

FORMAT = 11  # bump whenever SessionModel or what we store changes shape (11: an agent's tokens and models compact)
MAGIC = b"SPENDTUI-CACHE\n"
TAIL = 256  # bytes before the offset that must be unchanged for "only grew"
PERSIST_WINDOW = 24 * 3600  # keep model snapshots for sessions written within a day
RESAVE_BYTES = 4 << 20  # a snapshot is written again once this much was read on since it was

_ALLOWED = {
    ("builtins", n) for n in ("set", "frozenset", "dict", "list", "tuple", "int", "float", "str", "bytes",
                               "bool", "slice", "complex", "object")
} | {
    ("collections", "Counter"), ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timezone"), ("datetime", "timedelta"),
    ("decimal", "Decimal"), ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("pathlib", "Path"),
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"),
    ("array", "array"), ("array", "_array_reconstructor"),
}
_ALLOWED_MODULES = ("spendtui.core.",)


class _Deflate:
    """A file-like sink that deflates what the pickler writes into ``f`` and keeps the CRC
    of the deflated bytes (the header's checksum)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self._z = zlib.compressobj(1)
        self.crc = 0

    def write(self, b: Any) -> int:
        out = self._z.compress(b)
        if out:
            self.crc = zlib.crc32(out, self.crc)
            self._f.write(out)
        return len(b)

    def close(self) -> None:
        out = self._z.flush()
        self.crc = zlib.crc32(out, self.crc)
        self._f.write(out)


class _Inflate:
    """What the unpickler reads (``read``, ``readline``), inflated piece by piece from a
    deflated payload."""

    STEP = 1 << 18

    def __init__(self, payload: memoryview) -> None:
        self._src = payload
        self._at = 0
        self._z = zlib.decompressobj()
        self._buf = bytearray()

    def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            if self._at < len(self._src):
                chunk = self._src[self._at:self._at + self.STEP]
                self._at += len(chunk)
                self._buf += self._z.decompress(chunk)
            else:
                rest = self._z.flush()
                if not rest:
                    return
                self._buf += rest

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            self._fill(1 << 62)
            n = len(self._buf)
        else:
            self._fill(n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                return self.read(i + 1)
            before = len(self._buf)
            self._fill(before + 4096)
            if len(self._buf) == before:
                return self.read(before)


class _Unpickler(pickle.Unpickler):
    """Only data classes: our own (spendtui.core.*) and a few builtins. No functions,
    so a crafted file cannot make unpickling call anything with side effects."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith(_ALLOWED_MODULES) and not name.startswith("_"):
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        raise pickle.UnpicklingError(f"cache refers to {module}.{name}")


@dataclass(slots=True)
class FileState:
    identity: tuple[int, int]  # inode, device
    size: int
    mtime_ns: int
    offset: int
    lineno: int
    tail: bytes  # the TAIL bytes before offset
    oversized: int
    owe_newline: bool
    cut_line: int = 0  # a last line reported cut (LineReader.cut_line)
    skip_to_newline: bool = False  # stopped inside a line too long to read: resume after it


def _tail(path: Path, offset: int) -> bytes | None:
    """A digest of the TAIL bytes before ``offset``: enough to notice a rewrite, and no
    copy of the user's words (the last line is often their latest prompt) in the cache."""
    try:
        with open(path, "rb") as f:
            start = max(0, offset - TAIL)
            f.seek(start)
            return hashlib.blake2b(f.read(offset - start), digest_size=16).digest()
    except OSError:
        return None


def fingerprint(prices: Any) -> str:
    """A short hash of the price table: cached costs are only valid for the same prices."""
    if prices is None:
        return "none"
    text = prices.to_json() if hasattr(prices, "to_json") else repr(prices)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SessionCache:
    """Load sessions through the cache. One instance per run; not thread-safe."""

    def __init__(self, root: Path | None = None, prices: Any = None) -> None:
        self.root = (root or _config.cache_dir()) / "sessions"
        self.prices = prices
        self.fp = fingerprint(prices)
        self.hits = self.grown = self.misses = self.errors = self.light_hits = self.skimmed = 0
        self._index: dict[str, Any] | None = None

    # ------------------------------------------------------------ index
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def index(self) -> dict[str, Any]:
        """entry name -> file identities of its light record: lets a caller see what
        changed without opening every light record."""
        if self._index is None:
            try:
                doc = loads(self._index_path().read_bytes())
                ok = isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("prices") == self.fp
                self._index = doc["entries"] if ok and isinstance(doc.get("entries"), dict) else {}
            except (OSError, ValueError, TypeError, KeyError):
                self._index = {}
        return self._index

    def save_index(self) -> None:
        if self._index is not None:
            doc = {"format": FORMAT, "prices": self.fp, "entries": self._index}
            self._write_bytes(self._index_path(), dumps(doc))

    def stale_bytes(self, sessions: Sequence[SessionFiles]) -> int:
        """Bytes that a run would have to parse (0 when everything is cached)."""
        idx = self.index()
        total = 0
        for s in sessions:
            cur = _identities(s)
            e = idx.get(self._entry_path(s).stem)
            if cur is None or not isinstance(e, dict) or e.get("ids") != cur:
                total += s.size()
        return total

    def _entry_path(self, files: SessionFiles) -> Path:
        ident = str(files.main or files.project_dir / files.session_id)
        return self.root / (hashlib.sha256(ident.encode()).hexdigest()[:32] + ".pkl")

    # ------------------------------------------------------------------ read
    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        try:
            if not blob.startswith(MAGIC):
                raise ValueError("not a spendtui cache file")
            crc = int.from_bytes(blob[len(MAGIC):len(MAGIC) + 4], "big")
            payload = memoryview(blob)[len(MAGIC) + 4:]
            if zlib.crc32(payload) != crc:
                raise ValueError("checksum mismatch")
            # inflated as the unpickler reads (the whole pickle of a 1 GB session is 16 MB)
            entry = _Unpickler(_Inflate(payload)).load()
            if not isinstance(entry, dict) or entry.get("format") != FORMAT:
                raise ValueError("other format")
            if not isinstance(entry.get("model"), SessionModel):
                raise ValueError("no model")
            return entry
        except Exception:
            self.errors += 1
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def _write(self, path: Path, entry: dict[str, Any]) -> None:
        """Pickled and deflated straight into the file: a live app following a 1 GB session
        held the whole pickle and its compressed copy at once (+23 MB at its peak)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError:
            self.errors += 1
            return
        try:
            with os.fdopen(fd, "wb") as f:  # closes fd whatever fails below
                os.fchmod(f.fileno(), 0o600)
                f.write(MAGIC + bytes(4))
                sink = _Deflate(f)
                pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(entry)
                sink.close()
                f.seek(len(MAGIC))
                f.write(sink.crc.to_bytes(4, "big"))
            os.replace(tmp, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            self.errors += 1  # a cache we cannot write only costs speed
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # ------------------------------------------------------------------ use
    def load(
        self,
        files: SessionFiles,
        pricer: Callable[..., Any] | None,
        persist: bool = True,
        readers: SessionReaders | None = None,
        retain: int | None = None,
    ) -> SessionModel:
        """The session's model, read on from the cached state where possible.

        ``readers`` (a live follower's) are left positioned where the model stops,
        so following goes on from there.

        The model counts every call in its files; cross-session dedup (forks) is
        applied by the caller with ``mark_billed_elsewhere``, so the cached state
        never depends on other sessions.
        """
        path = self._entry_path(files)
        entry = self._read(path)
        model: SessionModel | None = None
        states: dict[str, FileState] = {}
        if entry is not None and entry.get("prices") == self.fp:
            model = entry["model"]
            states = entry["files"]
            for f in files.files:
                st = states.get(str(f))
                if st is None:
                    continue  # a new file (a sub-agent that appeared): read from 0
                try:
                    s = os.stat(f)
                except OSError:
                    model = None
                    break
                rewritten = s.st_size == st.size and s.st_mtime_ns != st.mtime_ns  # same size, new bytes
                if ((s.st_ino, s.st_dev) != st.identity or s.st_size < st.offset or rewritten
                        or _tail(f, st.offset) != st.tail):
                    model = None
                    break
            if model is not None and set(states) - {str(f) for f in files.files}:
                model = None  # a file we had read is gone: its calls must go too
        if model is None:
            self.misses += 1
            model = SessionModel(files.session_id)
            states = {}
        model.retain = retain  # a live follower's memory bound applies while reading, too
        model.retire_now()
        model.pricer = pricer
        model.billed_elsewhere = None
        model.transcript = files.main
        if readers is None:
            readers = SessionReaders(files)
        changed = False
        read_on = 0
        for f, agent in [(files.main, None), *[(a.path, a) for a in files.agents]]:
            if f is None:
                continue
            src = Source(f, agent_id=agent.agent_id if agent else None, meta=agent.load_meta() if agent else None)
            reader = readers.reader_for(f, src)
            st = states.get(str(f))
            if st is not None:
                reader.offset, reader.lineno, reader.oversized = st.offset, st.lineno, st.oversized
                reader._owe_newline = st.owe_newline
                reader.cut_line = st.cut_line
                reader._skip_to_newline = st.skip_to_newline
                try:
                    size = os.stat(f).st_size
                except OSError:
                    size = st.offset
                if size == st.offset:
                    continue
            before = reader.offset
            feed_file(model, reader, src)
            if reader.offset != before or st is None:
                changed = True
                read_on += reader.offset - before
                states[str(f)] = _state(reader)
        reused = entry is not None and model is entry.get("model")
        if reused:
            if changed:
                self.grown += 1
            else:
                self.hits += 1
        # a snapshot read on by a little is not written again: the next run reads those
        # bytes once more (milliseconds) instead of this one pickling the whole model
        # (0.1 s of a `sessions` run after a session grew by 1 MB)
        if persist and (changed or not reused) and not (reused and read_on < RESAVE_BYTES):
            self._save(path, model, states)
        return model

    # ------------------------------------------------------------ light rows
    def light(self, files: SessionFiles, pricer: Callable[..., Any] | None) -> dict[str, Any]:
        """A session's summary row and compact per-call arrays, without unpickling
        its model when none of its files changed. Only a session that shares calls
        with another (a fork) needs its calls one by one (`report`); the others are
        served by the index (`digest`)."""
        path = self._entry_path(files).with_suffix(".light")
        cur = _identities(files)
        try:
            with open(path, "rb") as f:
                raw = f.read()
            doc = loads(raw)
            if (isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("prices") == self.fp
                    and doc.get("files") == cur and cur is not None):
                self.light_hits += 1
                self.index()[path.stem] = digest_of(doc, cur)
                return doc
        except (OSError, ValueError, TypeError):
            pass
        doc = self._compute(files, pricer)
        self._write_bytes(path, dumps(doc))
        return doc

    def _compute(self, files: SessionFiles, pricer: Callable[..., Any] | None) -> dict[str, Any]:
        """The light record of a session read from its files, entered in the index."""
        # Only sessions written lately are worth a model snapshot (they are the
        # ones that grow, and the app starts from it); the others are skimmed: only
        # the lines that carry usage are parsed (skim.py).
        recent = 0 <= time.time() - files.mtime() < PERSIST_WINDOW
        doc = None
        if not recent:
            from spendtui.core.skim import skim

            sk = skim(files, pricer)
            if sk is not None:
                self.skimmed += 1
                doc = sk.light_doc(self.prices, files)
        if doc is None:
            model = self.load(files, pricer, persist=recent)
            doc = light_doc(model, self.prices, files)
        ids = _identities(files)
        doc.update({"format": FORMAT, "prices": self.fp, "files": ids})
        if ids is not None:
            self.index()[self._entry_path(files).stem] = digest_of(doc, ids)
        return doc

    def digest(self, files: SessionFiles, pricer: Callable[..., Any] | None) -> dict[str, Any]:
        """What `sessions` and `report` need of a session, straight from the index when
        its files are unchanged (one index file read per run instead of one per session):
        the summary row, its order, the hashes of its call keys, and hourly totals."""
        cur = _identities(files)
        stem = self._entry_path(files).stem
        e = self.index().get(stem)
        if cur is not None and isinstance(e, dict) and e.get("ids") == cur:
            self.light_hits += 1
            return e
        doc = self._compute(files, pricer)
        e = self.index().get(stem)
        return e if e is not None and e.get("ids") == doc.get("files") else digest_of(doc, doc.get("files"))

    def _write_bytes(self, path: Path, blob: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            self.errors += 1

    def _save(self, path: Path, model: SessionModel, states: dict[str, FileState]) -> None:
        keep = (model.pricer, model.billed_elsewhere, model.listeners, model.record_observers)
        model.pricer = model.billed_elsewhere = None
        model.listeners, model.record_observers = [], []
        try:
            self._write(path, {"format": FORMAT, "prices": self.fp, "files": states, "model": model})
        finally:
            model.pricer, model.billed_elsewhere, model.listeners, model.record_observers = keep


def _state(reader: LineReader) -> FileState:
    ident: FileIdentity | None = reader.identity
    try:
        st = os.stat(reader.path)
        size, mtime_ns = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime_ns = -1, -1
    return FileState(
        identity=(ident.inode, ident.device) if ident else (0, 0),
        size=size,
        mtime_ns=mtime_ns,
        offset=reader.offset,
        lineno=reader.lineno,
        tail=_tail(reader.path, reader.offset) or b"",
        oversized=reader.oversized,
        owe_newline=reader._owe_newline,
        cut_line=reader.cut_line,
        skip_to_newline=reader._skip_to_newline,
    )


def _identities(files: SessionFiles) -> dict[str, list[int]] | None:
    """(inode, device, size, mtime_ns) of every file: equal means unchanged."""
    out: dict[str, list[int]] = {}
    for f in files.files:
        try:
            st = _stat(f)
        except OSError:
            return None
        out[str(f)] = [st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns]
    return out


def key_hash(key: tuple[str, str]) -> int:
    """A 63-bit digest of a call key, to find calls shared across sessions cheaply."""
    h = hashlib.blake2b(f"{key[0]}\0{key[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") >> 1


def light_doc(model: SessionModel, prices: Any, files: SessionFiles) -> dict[str, Any]:
    """What `sessions` and `report` need of a session, as plain JSON data."""
    from spendtui.core.loader import session_order
    from spendtui.core.summary import session_summary

    summary = session_summary(model, prices, now=0.0, top_calls=0)
    models: list[str] = []
    index: dict[str, int] = {}
    hashes: list[int] = []
    ts: list[float | None] = []
    mi: list[int] = []
    toks: list[list[int]] = []
    cost: list[int] = []
    priced: list[int] = []
    agent: list[int] = []
    for call in model.calls.values():
        hashes.append(key_hash(call.key))
        ts.append(call.timestamp.timestamp() if call.timestamp else None)
        i = index.get(call.model)
        if i is None:
            i = index[call.model] = len(models)
            models.append(call.model)
        mi.append(i)
        u = call.usage
        toks.append([u.input_tokens, u.output_tokens, u.ephemeral_5m_input_tokens, u.ephemeral_1h_input_tokens,
                     u.cache_read_input_tokens])
        c = call.cost
        cost.append(c.total_pico if c is not None and c.priced else 0)
        priced.append(1 if c is not None and c.priced else 0)
        agent.append(0 if call.agent_id is None else 1)
    order = session_order(files)
    return {
        "session_id": model.session_id,
        "project": model.project,
        "summary": summary,
        "order": [order.first_ts.timestamp() if order.first_ts else None, order.forked],
        "models": models,
        "calls": {"h": hashes, "ts": ts, "m": mi, "tok": toks, "cost": cost, "priced": priced, "agent": agent},
    }


def digest_of(doc: dict[str, Any], ids: Any) -> dict[str, Any]:
    """The index entry of a light record: its row, order, key hashes, and per UTC hour
    and model: [hour, model index, calls, unpriced calls, cost pico, 5 token counts]."""
    c = doc["calls"]
    hours: dict[tuple[int, int], list[int]] = {}
    for ts, mi, tok, cost, priced in zip(c["ts"], c["m"], c["tok"], c["cost"], c["priced"], strict=True):
        h = int(ts // 3600) * 3600 if ts is not None else -1
        b = hours.get((h, mi))
        if b is None:
            b = hours[(h, mi)] = [h, mi, 0, 0, 0, 0, 0, 0, 0, 0]
        b[2] += 1
        if priced:
            b[4] += cost
        else:
            b[3] += 1
        for i in range(5):
            b[5 + i] += tok[i]
    return {"ids": ids, "summary": doc["summary"], "order": doc["order"], "project": doc.get("project"),
            "session_id": doc["session_id"], "models": doc["models"], "h": c["h"], "hours": list(hours.values())}
