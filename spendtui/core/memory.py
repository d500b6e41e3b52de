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

import ctypes
import ctypes.util
import sys
import time
from collections.abc import Callable

TRIM_SECONDS = 30.0


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

    def __init__(self, every: float = TRIM_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._trim = _find_trim()
        self._last = clock()
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def maybe(self) -> bool:
        """Trim if the last trim is ``every`` seconds old; whether it did."""
        now = self.clock()
        if self._trim is None or now - self._last < self.every:
            return False
        self._last = now
        self._trim(0)
        self.trims += 1
        return True
