"""Give the memory a long-running process freed back to the system, now and then.

Why: the live app and ``watch --json`` run for hours with two or three threads (the
follower, the analysis, the UI). Each refresh builds and drops short-lived objects, and
glibc keeps the pages they freed (per thread arena, between live objects) as the process'
own: the resident size crept up by about a kilobyte a call while the live heap grew by
half that. ``malloc_trim(0)`` hands those pages back (it takes well under a millisecond);
measured on the app following a session past its detail limit at 20 calls/s, trimming every
10 s, the resident size stayed flat (106.7 -> 106.7 MB over 2,000 calls) where it had grown
2.5 MB (``benchmarks/app_cpu.py --prefill 9000 --samples``). Elsewhere
(macOS, musl, Windows) there is nothing to call and this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import json
import os
import re
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

TRIM_SECONDS = 30.0
MEMSTATS_ENV = "SPENDTUI_MEMSTATS"
"""Set to a file path, the live app and ``watch`` append where their memory sits to it every
``MEMSTATS_SECONDS`` (one JSON line each; scripts/soak.py uses it). Off by default."""
MEMSTATS_SECONDS = 10.0
SNAPSHOT_EVERY = 30
"""With tracemalloc on (``PYTHONTRACEMALLOC``), every this many lines a snapshot is dumped
beside the log (``FILE.<line>.snapshot``)."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def malloc_split() -> dict[str, int]:
    """Where the process' memory sits, in bytes: the resident size; Python's small-object
    arenas (``py_arenas``), the blocks in use in them (``py_used``) and free in them
    (``py_free``); glibc's heap in use, free, and mmapped apart. A growing resident size is
    live objects only if ``py_used`` and ``glibc_used`` grow with it; ``py_free`` growing is
    arenas that cannot be given back. Parts this platform cannot tell are left out.

    Why: the live app's memory per call was long read from the resident size alone, which
    cannot tell what is kept from what the allocators hold. Python's own counts are printed
    to a C ``FILE`` we open (``_PyObject_DebugMallocStats``), never to the terminal's stderr
    (Textual draws on it)."""
    out = {"rss": _rss()}
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fopen, fclose = libc.fopen, libc.fclose
        fopen.restype, fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
        fclose.argtypes = [ctypes.c_void_p]
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
        stats.argtypes, stats.restype = [ctypes.c_void_p], ctypes.c_int
    except (OSError, AttributeError):
        return out
    fd, name = tempfile.mkstemp(prefix="spendtui-mstats-")
    os.close(fd)
    try:
        fp = fopen(name.encode(), b"w")
        if fp:
            try:
                stats(fp)
            finally:
                fclose(fp)
        text = Path(name).read_text(errors="replace")
    except OSError:
        text = ""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)

    def grab(label: str) -> int | None:
        m = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(m.group(1).replace(",", "")) if m else None

    arenas = re.search(r"(\d+) arenas \* (\d+) bytes/arena", text)
    used, avail, pools = (grab("# bytes in allocated blocks"), grab("# bytes in available blocks"),
                          grab("unused pools * 16384 bytes"))
    if arenas and used is not None and avail is not None:
        out["py_arenas"] = int(arenas.group(1)) * int(arenas.group(2))
        out["py_used"] = used
        out["py_free"] = avail + (pools or 0)
    try:
        info = libc.mallinfo2
        info.restype = _MallInfo2
        mi = info()
        out.update(glibc_used=mi.uordblks, glibc_free=mi.fordblks, glibc_mmapped=mi.hblkhd)
    except AttributeError:
        pass  # not glibc 2.33+
    return out


def _find_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class Trimmer:
    """``maybe()`` after work that dropped many objects: trims at most every ``every`` seconds."""

    def __init__(self, every: float = TRIM_SECONDS, clock: Callable[[], float] = time.monotonic,
                 calls: Callable[[], int | None] | None = None, log: str | None = None) -> None:
        self.every = every
        self.clock = clock
        self._trim = _find_trim()
        self._last = clock()
        self.trims = 0
        # SPENDTUI_MEMSTATS: where the memory sits, every MEMSTATS_SECONDS, with the calls so far
        self.calls = calls
        self.log = log if log is not None else os.environ.get(MEMSTATS_ENV) or None
        self._t0 = self._logged = self._last
        self.logged = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def maybe(self) -> bool:
        """Trim if the last trim is ``every`` seconds old; whether it did."""
        now = self.clock()
        if self.log and now - self._logged >= MEMSTATS_SECONDS:
            self._logged = now
            self._write_stats(now)
        if self._trim is None or now - self._last < self.every:
            return False
        self._last = now
        self._trim(0)
        self.trims += 1
        return True

    def _write_stats(self, now: float) -> None:
        assert self.log is not None
        try:
            calls = self.calls() if self.calls is not None else None
        except Exception:  # a model being swapped: the next line has it
            calls = None
        line = {"t": round(now - self._t0, 3), "calls": calls, "trims": self.trims, **malloc_split()}
        try:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
            self.logged += 1
            if self.logged % SNAPSHOT_EVERY == 0 and tracemalloc.is_tracing():
                # run with PYTHONTRACEMALLOC=N too: where the kept objects were allocated, to
                # compare two of these offline (tracemalloc.Snapshot.load)
                tracemalloc.take_snapshot().dump(f"{self.log}.{self.logged}.snapshot")
                # and how many objects of each type the collector tracks: which holders grow.
                # Every type, named with its module (Textual's Strip is not someone else's);
                # a holder kept once counts as much as a type with a million instances
                census = Counter(
                    f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
                )
                with open(f"{self.log}.{self.logged}.types.json", "w", encoding="utf-8") as f:
                    json.dump(dict(census.most_common()), f)
        except OSError:
            self.log = None  # cannot write there: stop trying (it is a diagnostic, never a failure)
