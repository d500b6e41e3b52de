"""Streaming JSONL reading by byte offset.

One reader serves both the one-shot scan and the live follower: it remembers the
byte offset it has consumed and holds back a trailing line that has no newline yet
(Claude Code may be half-way through writing it). Files are read in blocks, never
as one string, so memory stays flat however large a transcript grows.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

BLOCK = 1 << 20  # 1 MiB reads: few syscalls, bounded memory
MAX_LINE = 64 << 20  # a line larger than this is not a transcript record we can use
TAIL = 64  # bytes before the read offset remembered to notice a file rewritten in place
# A file that ends inside a record and has not been written for this long will not be
# finished: its writer died mid-line (a crash, a full disk). That record is lost, and said so.
CUT_AFTER_NS = 60 * 10**9

try:  # orjson parses transcripts ~3x faster; the stdlib is the fallback
    import orjson as _orjson

    _loads = _orjson.loads
    _JSONError: tuple[type[Exception], ...] = (_orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

    def _no_constants(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not JSON", name, 0)

    def _loads(raw: bytes) -> Any:  # type: ignore[misc]
        # as strict as orjson: NaN and Infinity are not JSON
        return json.loads(raw, parse_constant=_no_constants)

    _JSONError = (json.JSONDecodeError, UnicodeDecodeError)


def loads(raw: bytes) -> Any:
    return _loads(raw)


def dumps_pretty(obj: Any) -> str:
    """Indented JSON text for people and scripts (orjson when present: 5x faster)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, option=_orjson.OPT_INDENT_2).decode()
        except TypeError:  # e.g. an int beyond 64 bits: the stdlib copes
            pass
    return json.dumps(obj, indent=2)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (orjson when present)."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":")).encode()


def parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one line: (object, None) or (None, reason it was skipped)."""
    try:
        obj = _loads(raw)
    except UnicodeDecodeError:
        return None, "invalid UTF-8"
    except _JSONError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "invalid UTF-8"
        return None, "invalid JSON"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(obj, dict):
        return None, "JSON value is not an object"
    return obj, None


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


_IDENT = struct.Struct("<QQqq")


@dataclass(slots=True)
class FileIdentity:
    """What tells us a file is still the one we read: same inode, not shorter."""

    inode: int
    device: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


@dataclass(slots=True)
class LineReader:
    """Reads complete lines appended to a file since the last call.

    ``offset`` is the byte position after the last complete line handed out;
    ``lineno`` the number of complete lines handed out. A trailing fragment with no
    newline is kept as ``pending`` and re-read next time (we never hand out half
    a line, so nothing is ever counted twice or half).
    """

    path: Path
    offset: int = 0
    lineno: int = 0
    # the file's identity at the last read, packed (inode, device, size, mtime_ns): a live
    # session keeps a reader per sub-agent file for good, and four ints in an object are
    # five allocations where these bytes are one
    _ident: bytes = field(default=b"", repr=False)
    pending: int = 0  # bytes of an incomplete last line seen at the last read
    oversized: int = 0  # lines dropped for exceeding MAX_LINE
    # line numbers of dropped lines not yet reported; the caller drains the list (made on
    # the first: a live session keeps a reader per sub-agent file for good)
    dropped: list[int] | None = field(default=None, repr=False)
    # why the last attempt to read failed, so a caller that retries (the follower,
    # every poll) reports a lasting failure once rather than on every attempt
    failure: str | None = field(default=None, repr=False)
    _skip_to_newline: bool = field(default=False, repr=False)
    # the file ends inside a record that has not been written to for CUT_AFTER_NS
    unfinished: bool = field(default=False, repr=False)
    # the line number of such a record once reported (the caller sets it), so it is
    # reported once, and taken back if its writer finishes it after all
    cut_line: int = field(default=0, repr=False)
    # the last line was handed out without its newline (final=True); if the
    # writer adds it later, it ends that line rather than starting a new one
    _owe_newline: bool = field(default=False, repr=False)
    # a digest of the last bytes read, their length and the offset they end at: a file
    # truncated and written again between two reads has other bytes there, though it is
    # no shorter (a digest, not the bytes: they are often the user's last prompt)
    _tail: bytes = field(default=b"", repr=False)
    _tail_len: int = field(default=0, repr=False)
    _tail_end: int = field(default=0, repr=False)
    # the size changed_identity() saw (None when it could not stat the file)
    last_size: int | None = field(default=None, repr=False, compare=False)

    @property
    def identity(self) -> FileIdentity | None:
        return FileIdentity(*_IDENT.unpack(self._ident)) if self._ident else None

    @identity.setter
    def identity(self, ident: FileIdentity | None) -> None:
        self._ident = b"" if ident is None else _IDENT.pack(ident.inode, ident.device, ident.size, ident.mtime_ns)

    def reset(self) -> None:
        self.offset = 0
        self.lineno = 0
        self._ident = b""
        self.pending = 0
        self._skip_to_newline = False
        self._owe_newline = False
        self.unfinished = False
        self.cut_line = 0
        self._tail, self._tail_len, self._tail_end = b"", 0, 0

    def _drop(self, lineno: int) -> None:
        if self.dropped is None:
            self.dropped = []
        self.dropped.append(lineno)

    def changed_identity(self) -> str | None:
        """'replaced' (new inode), 'truncated', 'rewritten' (same inode, other bytes
        where we stopped reading), 'deleted', or None when we can go on."""
        self.last_size = None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        except OSError:
            return None  # cannot even stat it (a folder we may not search): nothing to read now
        self.last_size = st.st_size  # the caller's "did it grow?" needs no second stat
        if not self._ident:
            return None
        inode, device, size, mtime_ns = _IDENT.unpack(self._ident)
        if (st.st_ino, st.st_dev) != (inode, device):
            return "replaced"
        if st.st_size < self.offset:
            return "truncated"
        if self._tail_len and (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._tail_end - self._tail_len)
                    if _digest(f.read(self._tail_len)) != self._tail:
                        return "rewritten"
            except OSError:
                return None
        return None

    def _remember_tail(self, f: BinaryIO) -> None:
        start = max(0, self.offset - TAIL)
        try:
            f.seek(start)
            tail = f.read(self.offset - start)
            self._tail, self._tail_len, self._tail_end = _digest(tail), len(tail), self.offset
        except OSError:
            self._tail, self._tail_len, self._tail_end = b"", 0, 0

    def read_lines(self, final: bool = False) -> Iterator[tuple[int, bytes]]:
        """Yield (line number, raw line without newline) for each complete new line.

        With ``final=True`` a trailing line without newline is yielded too (a
        finished file whose writer never added the last newline); the follower
        passes False so a half-written line waits for its newline.
        """
        with open(self.path, "rb") as f:
            try:
                yield from self._read_from(f, final)
            finally:
                self._remember_tail(f)

    def _read_from(self, f: BinaryIO, final: bool) -> Iterator[tuple[int, bytes]]:
        st = os.fstat(f.fileno())
        self.unfinished = False
        self._ident = _IDENT.pack(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
        f.seek(self.offset)
        if self._owe_newline:
            head = f.read(2)
            if head[:1] == b"\n" or head == b"\r\n":
                self.offset += 1 if head[:1] == b"\n" else 2
                self._owe_newline = False
            elif head:
                self._owe_newline = False
            f.seek(self.offset)
        pieces: list[bytes] = []  # an unfinished line, kept in pieces (no O(n^2) concatenation)
        held = 0
        pos = self.offset
        while True:
            block = f.read(BLOCK)
            if not block:
                break
            if self._skip_to_newline:
                nl = block.find(b"\n")
                if nl < 0:
                    pos += len(block)
                    self.offset = pos
                    continue
                pos += nl + 1
                self.offset = pos
                self.lineno += 1
                self._skip_to_newline = False
                block = block[nl + 1 :]
            if b"\n" not in block:
                pieces.append(block)
                held += len(block)
                if held > MAX_LINE:
                    # A monster line: drop it rather than hold it in memory.
                    self.oversized += 1
                    self._drop(self.lineno + 1)
                    pos += held
                    self.offset = pos
                    pieces, held = [], 0
                    self._skip_to_newline = True
                continue
            if pieces:
                pieces.append(block)
                block = b"".join(pieces)
                pieces, held = [], 0
            lines = block.split(b"\n")
            tail = lines.pop()
            for line in lines:
                self.lineno += 1
                pos += len(line) + 1
                self.offset = pos
                if line[-1:] == b"\r":
                    line = line[:-1]
                if line and not line.isspace():
                    if len(line) > MAX_LINE:
                        self.oversized += 1
                        self._drop(self.lineno)
                        continue
                    yield self.lineno, line
            if tail:
                pieces, held = [tail], len(tail)
        buf = b"".join(pieces)
        self.pending = len(buf)
        stale = time.time_ns() - st.st_mtime_ns > CUT_AFTER_NS
        if (final or stale) and buf.strip() and not self._skip_to_newline:
            obj, _ = parse_line(buf)
            if obj is None:
                self.unfinished = stale
            elif final:
                # A complete record that only lacks its newline: take it, and
                # remember we did, so a later append starts after it.
                self.lineno += 1
                self.offset = pos + len(buf)
                self.pending = 0
                self._owe_newline = True
                yield self.lineno, buf
