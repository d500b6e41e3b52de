"""What the status line needs of a session, kept per transcript and read on from the
bytes appended since the previous run.

Why: Claude Code starts ``spendtui statusline`` as a new process after every assistant
message. Unpickling the session model from the result cache, or parsing a 500 MB
transcript, takes seconds; the line needs a handful of numbers. So each transcript
(per installation) gets a few small files in ``<cache dir>/statusline/``:

* ``<id>.json``: the running totals (cost, unpriced models, context peak, current
  model), the newest calls with their usage (one response is written as several
  lines that repeat its usage; they sit next to each other, so the newest calls are
  all the dedup by message.id + requestId needs), the newest main-chain calls (cache
  TTL, context), the transcript's identity, size, mtime, the byte offset read up to
  and a digest of the bytes before it, and the price entries used so far as exact
  fractions with the days they hold for, so a warm run neither parses the price TOML
  nor imports the table;
* ``<id>.keys``: 8-byte hashes of the key and of the message id of every older call,
  sorted and searched in place, so a line repeating an old call is noticed (and the
  session read again);
* ``<id>.agents.json``: the same marks for each sub-agent file, read only when one of
  them changed (a digest of all their stats, in the JSON, says whether one did).

The accounting mirrors ``SessionModel._ingest_assistant`` rule for rule, restricted to
what the line shows; tests hold the two equal on real transcripts appended in chunks.
Whatever it cannot decide from what it kept (a line of an old call, a file replaced,
shorter, or rewritten in place, another price table or config) makes it read the
session again from the start; that read only parses lines with a ``"usage"`` key,
which Claude Code's compact JSON spells exactly so (everything else is skipped by a
byte search).

Only the standard library is imported up front: ``orjson`` (the loader's parser),
the price table and ``Usage`` load when a line or a price needs them.
"""

from __future__ import annotations

import os
import sys
import time

from spendtui import __version__
from spendtui.core import fastjson

TYPE_CHECKING = False  # typing, collections.abc and contextlib are imports this path can skip
if TYPE_CHECKING:
    from typing import Any

try:  # CPython's blake2 without hashlib's OpenSSL start-up
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b as _blake2b

FORMAT = 7  # bump when the state's shape or the accounting rules change
STATE_DIR = "statusline"
KEYS_MAGIC = b"SPENDTUI-KEYS-2\n"
KEYS_HEAD = len(KEYS_MAGIC) + 16  # magic, then the token the state's JSON names
KEYS_TAIL_MAX = 2048  # unsorted records appended before the file is sorted again
RECENT = 64  # newest calls kept with their usage (dedup only ever reaches the newest)
FORGET_AFTER = 14 * 86400  # a state nobody used for this long is deleted (when another is built)
TAIL = 256  # bytes before the offset whose digest must be unchanged for "only grew"
BLOCK = 8 << 20
USAGE_KEY = b'"usage"'

# the same numbers as the modules named (tests/test_statusline_state.py pins them); not
# imported from there because those modules pull in the whole model
MAX_LINE = 64 << 20  # jsonl.MAX_LINE
TTL_LOOKBACK = 50  # live.TTL_LOOKBACK
CACHE_TTL_5M = 300  # live.CACHE_TTL_5M
CACHE_TTL_1H = 3600  # live.CACHE_TTL_1H
DEFAULT_WINDOW = 200_000  # summary.DEFAULT_WINDOW
LONG_WINDOW = 1_000_000  # summary.LONG_WINDOW
_MAX_TOKENS = 10**12  # usage._MAX_TOKENS

if TYPE_CHECKING:
    Key = tuple[str, str]
    UsageT = tuple[Any, ...]  # Usage's fields, in its order


class Doubt(Exception):
    """What was kept cannot decide this: read the session again from the start."""


# ---------------------------------------------------------------------------- where


def _env_path(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return os.path.expanduser(value) if value else None


def cache_root() -> str:
    """config.cache_dir(), without importing the config module (tomllib, pathlib)."""
    env = _env_path("SPENDTUI_CACHE_DIR")
    if env:
        return env
    import platformdirs

    return platformdirs.user_cache_dir("spendtui")


def config_file() -> str:
    """config.config_path(), likewise."""
    env = _env_path("SPENDTUI_CONFIG")
    if env:
        return env
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("spendtui"), "config.toml")


def _stat_sig(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _guess_cache_root() -> str | None:
    """Where platformdirs puts the user cache dir in the usual case (a guess, checked
    against what the state that is found there recorded; platformdirs costs this path
    20 ms of imports)."""
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    elif sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    else:
        return None
    return os.path.join(base, "spendtui")


def _where_key() -> list[Any]:
    """Everything platformdirs' answers (and our overrides) depend on: equal keys, equal dirs."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    return [sys.platform, uid, *(os.environ.get(k) for k in (
        "HOME", "USERPROFILE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "SPENDTUI_CACHE_DIR", "SPENDTUI_CONFIG"))]


def price_sig(root: str, cfg: str) -> list[Any]:
    """What the price table and the budget come from: the embedded table, the LiteLLM
    import (in cache dir ``root``) and the config file ``cfg``, by path and stat. Any
    change means another table (or budget), so the state is built again, not trusted."""
    embedded = os.path.join(os.path.dirname(os.path.abspath(sys.modules["spendtui"].__file__ or "")),
                            "data", "prices.toml")
    litellm = os.path.join(root, "litellm-prices.json")
    return [FORMAT, __version__, embedded, _stat_sig(embedded), litellm, _stat_sig(litellm),
            cfg, _stat_sig(cfg)]


def subagents_dir(transcript: str) -> str:
    """``<session>/subagents`` next to ``<session>.jsonl`` (``path.with_suffix("")``)."""
    base, ext = os.path.splitext(transcript)
    return os.path.join(base if ext != "." else transcript, "subagents")


def agent_names(sub: str) -> list[str]:
    """The sub-agent transcripts under ``sub`` (``rglob("*.jsonl")``) as paths relative to it,
    in the order the folder lists them (``loader_order`` sorts them). One ``listdir`` in
    the usual flat layout: a session can have thousands of them, and this runs every time."""
    try:
        names = os.listdir(sub)
    except OSError:
        return []
    found: list[str] = []
    nested: list[str] = []

    def walk(d: str, rel: str) -> None:
        try:
            it = os.scandir(d)
        except OSError:
            return
        with it:
            for e in it:
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    walk(e.path, f"{rel}{e.name}/")
                elif e.name.endswith(".jsonl"):
                    nested.append(rel + e.name)

    for n in names:
        if n.endswith(".jsonl"):
            found.append(n)
        elif not n.endswith(".json"):  # anything but the agent files and their .meta.json may be a folder
            p = os.path.join(sub, n)
            if os.path.isdir(p) and not os.path.islink(p):
                walk(p, n + "/")
    return found + nested


def loader_order(names: list[str]) -> list[str]:
    """``names`` sorted as the loader sorts the paths (by their parts)."""
    if any("/" in n for n in names):
        return sorted(names, key=lambda n: n.split("/"))
    return sorted(names)


def session_files(transcript: str) -> list[tuple[str, str]]:
    """(name in the state, path) of the transcript and its sub-agent files, in the order
    the loader reads them (``statusline.files_for_transcript``: main, then
    ``<session>/subagents/**/*.jsonl`` sorted by path parts)."""
    sub = subagents_dir(transcript)
    return [("", transcript)] + [(n, os.path.join(sub, n)) for n in loader_order(agent_names(sub))]


def _stat_all(sub: str, names: list[str]) -> list[Any]:
    """os.stat of each ``sub/name`` (None for one that is gone), relative to an open
    directory where the platform allows: thousands of them, each a few microseconds."""
    if not names:
        return []
    fd = -1
    if os.stat in os.supports_dir_fd:
        try:
            fd = os.open(sub, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            fd = -1
    out: list[Any] = []
    try:
        for n in names:
            try:
                out.append(os.stat(n, dir_fd=fd) if fd >= 0 else os.stat(os.path.join(sub, n)))
            except OSError:
                out.append(None)
    finally:
        if fd >= 0:
            os.close(fd)
    return out


def _files_digest(names: list[str], flat: list[int]) -> str:
    """One digest of the files' names and (inode, device, size, mtime) each: equal
    digests, nothing to read (so thousands of sub-agent marks need not be loaded)."""
    from array import array

    h = _blake2b(digest_size=16)
    h.update("\0".join(names).encode("utf-8", "surrogatepass"))
    try:
        h.update(array("q", flat).tobytes())
    except OverflowError:  # an inode beyond 2**63: the same numbers, unsigned
        h.update(array("Q", [x & 0xFFFFFFFFFFFFFFFF for x in flat]).tobytes())
    return h.hexdigest()


def _stats_digest(names: list[str], sts: list[Any]) -> str:
    if any(st is None for st in sts):
        return ""  # a file went away meanwhile: look at each
    from itertools import chain
    from operator import attrgetter

    return _files_digest(names, list(chain.from_iterable(map(attrgetter("st_ino", "st_dev", "st_size", "st_mtime_ns"),
                                                       sts))))


def _marks_digest(marks: dict[str, list[Any]]) -> str:
    from itertools import chain

    return _files_digest(list(marks), list(chain.from_iterable(v[:4] for v in marks.values())))


# ---------------------------------------------------------------------------- parsing

_orjson: Any = None  # the module once imported, False when it is not installed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise ValueError("out of range")  # orjson refuses it: let orjson decide
    return v


def _load_orjson() -> Any:
    global _orjson
    if _orjson is None:
        try:
            import orjson

            _orjson = orjson
        except ImportError:  # pragma: no cover - depends on the environment
            _orjson = False
    return _orjson


_line_loads = fastjson.scanner(_reject_constant, _finite)
_BOM = b"\xef\xbb\xbf"


def loads(raw: bytes) -> Any:
    """``jsonl.parse_line``'s verdict on one line: the object, or None when the loader
    would skip it. The stdlib's C parser serves the common line (orjson is a 6 ms
    import); a line where the two could disagree (lone surrogates, NUL, a BOM, a number
    beyond a double, nesting deeper than the stdlib's recursion limit) goes to orjson,
    the parser the loader uses when it is installed."""
    if _orjson is None and not (b"\\u" in raw or b"\xed" in raw or b"\x00" in raw or raw[:3] == _BOM):
        try:
            obj = _line_loads(raw.decode("utf-8"))
            return obj if isinstance(obj, dict) else None
        except (ValueError, RecursionError) as e:
            from json import JSONDecodeError

            if isinstance(e, JSONDecodeError):
                return None  # not JSON to either parser
    oj = _load_orjson()
    try:
        obj = oj.loads(raw) if oj else json_loads_strict(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return obj if isinstance(obj, dict) else None


def json_loads_strict(raw: bytes) -> Any:
    """jsonl's parser when orjson is not installed."""
    import json

    return json.loads(raw, parse_constant=_reject_constant)


def _plain_usage(raw: dict[str, Any]) -> UsageT | None:
    """``Usage._from_plain`` as a tuple (the shape of nearly every line)."""
    g = raw.get
    if "input_tokens" not in raw and "output_tokens" not in raw:
        return None
    inp, out = g("input_tokens", 0), g("output_tokens", 0)
    cc, cr = g("cache_creation_input_tokens", 0), g("cache_read_input_tokens", 0)
    b = g("cache_creation")
    if b is None:
        e5, e1 = cc, 0
    elif type(b) is dict:
        e5, e1 = b.get("ephemeral_5m_input_tokens", 0), b.get("ephemeral_1h_input_tokens", 0)
    else:
        return None
    stu = g("server_tool_use")
    ws = wf = 0
    if stu is not None:
        if type(stu) is not dict:
            return None
        ws, wf = stu.get("web_search_requests", 0), stu.get("web_fetch_requests", 0)
    m = _MAX_TOKENS
    if not (type(inp) is int and type(out) is int and type(cc) is int and type(cr) is int and type(e5) is int
            and type(e1) is int and type(ws) is int and type(wf) is int and 0 <= inp <= m and 0 <= out <= m
            and 0 <= cc <= m and 0 <= cr <= m and 0 <= e5 <= m and 0 <= e1 <= m and 0 <= ws <= m and 0 <= wf <= m):
        return None
    if b is not None and e5 + e1 != cc:
        return None
    sp, geo, tier = g("speed"), g("inference_geo"), g("service_tier")
    return (inp, out, cc, cr, e5, e1, ws, wf, sp if type(sp) is str else None,
            geo if type(geo) is str else None, tier if type(tier) is str else None)


def usage_of(raw: Any) -> UsageT | None:
    """``Usage.from_json(raw)`` as a tuple; None where it raises UsageError."""
    if type(raw) is dict:
        t = _plain_usage(raw)
        if t is not None:
            return t
    from spendtui.core.usage import Usage, UsageError

    try:
        u = Usage.from_json(raw)
    except UsageError:
        return None
    return (u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens,
            u.ephemeral_5m_input_tokens, u.ephemeral_1h_input_tokens, u.web_search_requests,
            u.web_fetch_requests, u.speed, u.inference_geo, u.service_tier)


def _same_or_smaller(raw: dict[str, Any], u: UsageT) -> bool:
    """``model._same_or_smaller``: a repeated block line that cannot change the call."""
    out = raw.get("output_tokens")
    if type(out) is not int:
        return False
    if out < u[1]:
        return True
    return (out == u[1] and raw.get("input_tokens") == u[0] and raw.get("cache_read_input_tokens") == u[3]
            and raw.get("cache_creation_input_tokens") == u[2])


_datetime: Any = None


def parse_time(value: Any) -> tuple[float, str] | None:
    """``model.parse_ts`` as (epoch seconds, UTC day "YYYY-MM-DD"), or None."""
    global _datetime
    if type(value) is not str or len(value) < 10:
        return None
    if _datetime is None:
        try:  # the C module alone: datetime.py adds a large .pyc, math and operator (1-4 ms)
            import _datetime as datetime
        except ImportError:  # pragma: no cover - other interpreters
            import datetime

        _datetime = datetime
    try:
        if value[-1] == "Z":
            dt = _datetime.datetime.fromisoformat(value[:-1] + "+00:00")
            if len(value) == 24 and value[10] == "T" and value[4] == "-" and value[7] == "-":
                return dt.timestamp(), value[:10]  # Claude Code's own format: its date is the UTC day
        else:
            dt = _datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    utc = _datetime.timezone.utc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=utc)
    return dt.timestamp(), dt.astimezone(utc).date().isoformat()


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def _prompt(u: UsageT) -> int:
    return u[0] + u[2] + u[3]


# ---------------------------------------------------------------------------- pricing


def _ratio(d: Any, scale: int = 1) -> list[int]:
    """An exact Decimal (times ``scale``) as [numerator, denominator]."""
    n, q = d.as_integer_ratio()
    return [n * scale, q]


def _half_even(n: int, d: int) -> int:
    """n / d rounded half to even (n >= 0, d > 0): ``Decimal.to_integral_value(ROUND_HALF_EVEN)``."""
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    return q


class Pricer:
    """Prices as ``PriceTable.cost`` does, from numbers remembered per (model, day).

    The table resolves a model and a day to one price entry; we keep that entry's
    numbers as exact fractions (pico-dollars per token for each category, at standard
    and long-context rates, the fast-mode and US-inference multipliers, the web search
    price) and apply the table's rules with integer arithmetic (one half-even rounding
    per category, as ``pricing._pico``). So a warm run prices without parsing the TOML
    or importing the table; a test holds this equal to the table on every model, day
    and kind of request.
    """

    def __init__(self, rates: dict[str, Any] | None = None, windows: dict[str, Any] | None = None,
                 table: Any = None) -> None:
        self.rates: dict[str, Any] = rates or {}
        self.windows: dict[str, Any] = windows or {}
        self._table = table
        self._memo: dict[tuple[str, str], list[Any]] = {}  # rates by (model, day), without building the key
        self._whole: dict[int, tuple[int, ...] | None] = {}  # id(rates) -> whole pico per token, if they are
        self.learned = False  # asked the table something: worth saving

    def table(self) -> Any:
        if self._table is None:
            from spendtui.core.pricing import PriceTable

            self._table = PriceTable.default()
        return self._table

    def _compile(self, model: str, day: str) -> list[Any]:
        """The price entry for ``model`` on ``day``, with the span of days it holds for (no
        price entry of the model starts or ends within it, nor its long-context premium),
        so the next day needs no table either."""
        from datetime import date

        d = date.fromisoformat(day)
        table = self.table()
        m, _rule = table.resolve(model, d)
        if m is None:
            r: list[Any] = [None, None, "u"]
        else:
            def per_token(rates: Any) -> list[list[int]]:  # USD per MTok -> pico-dollars per token
                return [_ratio(v, 10**6) for v in (rates.input, rates.output, rates.cache_write_5m,
                                                   rates.cache_write_1h, rates.cache_read)]

            bounds = {x for e in table.entries() if e.key == m.key for x in (e.valid_from, e.valid_until)}
            bounds = sorted(x for x in (*bounds, m.long_context_until) if x is not None)
            lo = max((x for x in bounds if x <= d), default=None)
            hi = min((x for x in bounds if x > d), default=None)
            long = per_token(m.long_context) if m.long_context is not None and m.long_context_on(d) else None
            r = [lo.isoformat() if lo else None, hi.isoformat() if hi else None,
                 "p", per_token(m.base), long, m.long_context_threshold, _ratio(m.web_search_usd, 10**12),
                 _ratio(m.fast_multiplier) if m.fast_multiplier is not None else None,
                 _ratio(m.geo_us_multiplier) if m.geo_us_multiplier is not None else None]
        self.rates.setdefault(model, []).append(r)
        self.learned = True
        return r

    def _entry(self, model: str, day: str) -> list[Any]:
        for r in self.rates.get(model, ()):
            if (r[0] is None or r[0] <= day) and (r[1] is None or day < r[1]):
                return r
        return self._compile(model, day)

    def cost(self, model: str, u: UsageT, day: str | None) -> tuple[int, bool]:
        """(pico-dollars, priced) as ``PriceTable.cost(model, Usage(*u), day)``."""
        d = day or _today()
        r = self._memo.get((model, d))
        if r is None:
            r = self._memo[(model, d)] = self._entry(model, d)
        if r[2] == "u":
            return 0, False
        base, long, threshold, search, fast_m, geo_m = r[3:]
        w1h = u[5]
        w5m = max(u[2] - w1h, u[4])
        fast = u[8] == "fast" and fast_m is not None
        rates = long if long is not None and not fast and u[0] + w5m + w1h + u[3] > threshold else base
        mn = md = 1
        if fast:
            mn, md = fast_m
        if geo_m is not None and (u[9] or "").lower() == "us":
            mn, md = mn * geo_m[0], md * geo_m[1]
        whole = self._whole.get(id(rates), ())
        if whole == ():
            whole = self._whole[id(rates)] = (tuple(n // q for n, q in rates) if all(n % q == 0 for n, q in rates)
                                              else None)
        if whole is not None and mn == md == 1:  # the usual call: exact integers, nothing to round
            total = u[0] * whole[0] + u[1] * whole[1] + w5m * whole[2] + w1h * whole[3] + u[3] * whole[4]
        else:
            total = 0
            for tokens, (rn, rd) in zip((u[0], u[1], w5m, w1h, u[3]), rates, strict=True):
                if tokens > 0:
                    total += _half_even(tokens * rn * mn, rd * md)
        if u[6] > 0:
            total += _half_even(u[6] * search[0], search[1])
        return total, True

    def window(self, model: str) -> int | None:
        """``PriceTable.context_window(model)`` (None: unknown)."""
        if model not in self.windows:
            self.learned = True
            try:
                self.windows[model] = self.table().context_window(model)
            except Exception:  # summary.context_window treats a failure as unknown
                self.windows[model] = None
        w = self.windows[model]
        return w if isinstance(w, int) else None


# ---------------------------------------------------------------------------- accounting


class Call:
    """One API call, as much as the line needs of it."""

    __slots__ = ("cost", "day", "key", "main", "model", "priced", "seq", "ts", "usage")

    def __init__(self, key: Key, main: bool, usage: UsageT, model: str, ts: float | None, day: str | None,
                 cost: int, priced: bool, seq: int) -> None:
        self.key = key
        self.main = main
        self.usage = usage
        self.model = model
        self.ts = ts
        self.day = day
        self.cost = cost
        self.priced = priced
        self.seq = seq

    def to_json(self) -> list[Any]:
        return [self.key[0], self.key[1], int(self.main), list(self.usage), self.model, self.ts, self.day,
                self.cost, int(self.priced), self.seq]

    @classmethod
    def from_json(cls, v: list[Any]) -> Call:
        return cls((v[0], v[1]), bool(v[2]), tuple(v[3]), v[4], v[5], v[6], v[7], bool(v[8]), v[9])


def key_hash(s: str) -> bytes:
    """8 bytes naming a call key or message id in the keys file (a collision only
    costs a re-read: it can make a new call look old, never the reverse)."""
    return _blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _key_str(key: Key) -> str:
    return f"{key[0]}\0{key[1]}"


class OldKeys:
    """The hashes of every call no longer held: the keys file (see ``Store``).

    Two sorted runs (key hashes, then message-id hashes) searched in place with a
    few ``pread`` calls, and a short unsorted tail of the calls let go of since the
    file was last sorted. A run that asks about no old key never opens the file.
    """

    def __init__(self, store: Store | None = None, info: list[Any] | None = None) -> None:
        self.store = store
        self.token, self.n_sorted, self.n_tail = info if info is not None else ("", 0, 0)
        self._fd = -1
        self._tail: bytes | None = None

    def __bool__(self) -> bool:
        return bool(self.n_sorted or self.n_tail)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> int:
        if self._fd < 0:
            assert self.store is not None
            try:
                fd = os.open(self.store.keys_path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except OSError as e:
                raise Doubt(f"keys file unusable ({e})") from None
            self._fd = fd
            try:
                head = _pread(fd, KEYS_HEAD, 0)
                tail_at = KEYS_HEAD + 16 * self.n_sorted
                self._tail = _pread(fd, 16 * self.n_tail, tail_at)
            except OSError as e:
                raise Doubt(f"keys file unusable ({e})") from None
            if head != KEYS_MAGIC + bytes.fromhex(self.token) or len(self._tail) != 16 * self.n_tail:
                raise Doubt("keys file of another state")
        return self._fd

    def _has(self, h: bytes, which: int) -> bool:
        if not self:
            return False
        fd = self._open()
        base = KEYS_HEAD + 8 * self.n_sorted * which
        lo, hi = 0, self.n_sorted
        while lo < hi:
            mid = (lo + hi) // 2
            v = _pread(fd, 8, base + 8 * mid)
            if v < h:
                lo = mid + 1
            elif v > h:
                hi = mid
            else:
                return True
        tail = self._tail or b""
        i = tail.find(h)
        while i >= 0:
            if i % 16 == 8 * which:
                return True
            i = tail.find(h, i + 1)
        return False

    def has_key(self, key: Key) -> bool:
        return self._has(key_hash(_key_str(key)), 0)

    def has_mid(self, mid: str) -> bool:
        return self._has(key_hash(mid), 1)


def _pread(fd: int, n: int, at: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, at)
    os.lseek(fd, at, 0)  # pragma: no cover - Windows
    return os.read(fd, n)


class Accounts:
    """``SessionModel``'s running totals, restricted to what the line shows.

    Built from scratch it holds every call; restored from the state it holds the
    newest ones and knows the rest by hash (``old``): a line that needs one of those
    raises ``Doubt``.
    """

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer
        self.calls: dict[Key, Call] = {}
        self.by_mid: dict[str, Key] = {}  # message id -> the first key seen with it
        self.old = OldKeys()
        self.main_tail: list[Call] = []  # newest main-chain calls, oldest first
        self.cost_pico = 0
        self.unpriced: dict[str, int] = {}
        self.current_model: str | None = None
        self.context_peak = 0
        self.seq = 0
        # the first main-chain call's prompt: the system prompt, tools, memory files and
        # the first message, about what a /compact leaves besides its summary
        self.first_key: Key | None = None
        self.first_prompt = 0

    # ------------------------------------------------------------ counting
    def _apply(self, c: Call, sign: int) -> None:
        if c.main and sign > 0:
            self.context_peak = max(self.context_peak, _prompt(c.usage))
        self.cost_pico += sign * c.cost
        if not c.priced:
            n = self.unpriced.get(c.model, 0) + sign
            if n > 0:
                self.unpriced[c.model] = n
            else:
                self.unpriced.pop(c.model, None)

    # ------------------------------------------------------------ one record
    def ingest(self, rec: dict[str, Any], agent_file: bool, path: str, pos: int) -> None:
        """One parsed line (at byte ``pos`` of ``path``): ``SessionModel.ingest`` for an
        assistant record, else nothing."""
        get = rec.get
        rtype = get("type")
        msg = get("message")
        if not (rtype == "assistant" or (rtype is None and isinstance(msg, dict))):
            return
        if not isinstance(msg, dict) or get("isApiErrorMessage"):
            return
        model = msg.get("model")
        if model == "<synthetic>":
            return
        raw_usage = msg.get("usage")
        if raw_usage is None or not isinstance(model, str) or not model:
            return
        mid = msg.get("id")
        if not isinstance(mid, str) or not mid:
            uid = get("uuid")
            mid = f"uuid:{uid}" if isinstance(uid, str) else f"line:{path}:{pos}"
        rid = get("requestId")
        key: Key = (mid, rid if isinstance(rid, str) else "")
        main = not agent_file and not get("isSidechain")

        existing = self.calls.get(key)
        if existing is None and self.old.has_key(key):
            raise Doubt("a line of an older call")
        if existing is not None and isinstance(raw_usage, dict) and _same_or_smaller(raw_usage, existing.usage):
            return
        u = usage_of(raw_usage)
        if u is None:
            return
        if existing is None:
            other = self.by_mid.get(mid)
            if other is None and self.old.has_mid(mid):
                raise Doubt("an older call's message id")
            if other is not None and other != key:
                prev = self.calls.get(other)
                if prev is None:
                    raise Doubt("an older call's message id")
                if prev.main and not main:
                    return  # sidechain replay of a main-chain response (/btw)
                if not prev.main and main:
                    self._apply(prev, -1)
                    del self.calls[other]
                    del self.by_mid[mid]  # the main-chain copy takes its place
        else:
            if u[1] >= existing.usage[1] and u != existing.usage:
                if key == self.first_key:
                    self.first_prompt = _prompt(u)
                self._apply(existing, -1)
                existing.usage = u
                existing.model = model
                existing.cost, existing.priced = self.pricer.cost(model, u, existing.day)
                self._apply(existing, +1)
            return
        t = parse_time(get("timestamp"))
        ts, day = t if t is not None else (None, None)
        cost, priced = self.pricer.cost(model, u, day)
        self.seq += 1
        c = Call(key, main, u, model, ts, day, cost, priced, self.seq)
        self.calls[key] = c
        self.by_mid.setdefault(mid, key)
        if main:
            if self.first_key is None:
                self.first_key, self.first_prompt = key, _prompt(u)
            self.main_tail.append(c)
            if len(self.main_tail) > 2 * TTL_LOOKBACK:
                del self.main_tail[:-TTL_LOOKBACK]
            self.current_model = model
        self._apply(c, +1)

    # ------------------------------------------------------------ the line's numbers
    def line(self) -> LineData:
        last = self.main_tail[-1] if self.main_tail else None
        window = self.pricer.window(self.current_model) if self.current_model else None
        window = window or DEFAULT_WINDOW
        if self.context_peak > DEFAULT_WINDOW:
            window = max(window, LONG_WINDOW)
        d = LineData(self.current_model, self.cost_pico, bool(self.unpriced),
                     _prompt(last.usage) if last else 0, window)
        if last is not None and last.ts is not None:
            ttl = CACHE_TTL_5M
            for c in reversed(self.main_tail[-TTL_LOOKBACK:]):
                if c.usage[5] > 0:
                    ttl = CACHE_TTL_1H
                    break
                if c.usage[2] > 0:
                    break
            prompt = _prompt(last.usage)
            d.cache_at, d.ttl = last.ts, ttl
            if prompt > 0:  # live.next_call_costs
                w, wp = self.pricer.cost(last.model, (0, 0, 0, prompt, 0, 0, 0, 0, None, None, None), last.day)
                cold_u = ((0, 0, prompt, 0, 0, prompt, 0, 0, None, None, None) if ttl >= CACHE_TTL_1H
                          else (0, 0, prompt, 0, prompt, 0, 0, 0, None, None, None))
                k, kp = self.pricer.cost(last.model, cold_u, last.day)
                d.warm, d.cold = (w if wp else None), (k if kp else None)
            d.advice = compact_advice(d.context, self.first_prompt,
                                      lambda u: self.pricer.cost(last.model, u, last.day))
        return d


# context.advisor's pruning rule, reduced to what the line knows (no context analysis)
LARGE_CONTEXT = 150_000
SUMMARY_TOKENS = 4_000
COMPACT_PROMPT_TOKENS = 1_500
PRUNE_MIN_TOKENS = 10_000
PRUNE_MAX_BREAKEVEN = 10


def compact_advice(context: int, first_prompt: int, cost: Any) -> tuple[int, int] | None:
    """(saving per call, calls to break even) of a /compact now, when the context is past
    LARGE_CONTEXT and a compaction would pay for itself within PRUNE_MAX_BREAKEVEN calls.
    What stays after it is estimated as the first call's prompt plus the summary.
    ``cost(usage_tuple) -> (pico, priced)`` prices a usage at the newest call's model."""
    if context < LARGE_CONTEXT or first_prompt <= 0:
        return None
    after = first_prompt + SUMMARY_TOKENS
    tokens = context - after
    if tokens < PRUNE_MIN_TOKENS:
        return None
    per_call, ok = cost((0, 0, 0, tokens, 0, 0, 0, 0, None, None, None))
    # the summarising call: reads the context, writes the summary, caches what is left
    once, ok2 = cost((COMPACT_PROMPT_TOKENS, SUMMARY_TOKENS, after, context, after, 0, 0, 0, None, None, None))
    if not (ok and ok2) or per_call <= 0:
        return None
    k = -(-once // per_call)
    return (per_call, k) if k <= PRUNE_MAX_BREAKEVEN else None


class LineData:
    """The numbers of one status line, without the clock (the TTL countdown is
    computed at render time)."""

    __slots__ = ("advice", "cache_at", "cold", "context", "cost_pico", "current_model", "ttl", "unpriced",
                 "warm", "window")

    def __init__(self, current_model: str | None, cost_pico: int, unpriced: bool, context: int,
                 window: int) -> None:
        self.current_model = current_model
        self.cost_pico = cost_pico
        self.unpriced = unpriced
        self.context = context
        self.window = window
        self.cache_at: float | None = None  # the newest main call's time; None: no cache part
        self.ttl = CACHE_TTL_5M
        self.warm: int | None = None
        self.cold: int | None = None
        self.advice: tuple[int, int] | None = None  # compact_advice()

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)


# ---------------------------------------------------------------------------- reading


class FileMark:
    """How far a file was read, and what tells us it is still that file."""

    __slots__ = ("dev", "ino", "mtime_ns", "offset", "owe", "size", "tail")

    def __init__(self, ino: int, dev: int, size: int, mtime_ns: int, offset: int, owe: bool, tail: str) -> None:
        self.ino, self.dev, self.size, self.mtime_ns = ino, dev, size, mtime_ns
        self.offset, self.owe, self.tail = offset, owe, tail

    def to_json(self) -> list[Any]:
        return [self.ino, self.dev, self.size, self.mtime_ns, self.offset, int(self.owe), self.tail]

    @classmethod
    def from_json(cls, v: list[Any]) -> FileMark:
        return cls(v[0], v[1], v[2], v[3], v[4], bool(v[5]), v[6])


def _digest(b: bytes) -> str:
    return _blake2b(b, digest_size=16).hexdigest()


def read_on(path: str, mark: FileMark | None, acc: Accounts, agent_file: bool) -> FileMark | None:
    """Feed the file's complete new lines to ``acc`` (as ``LineReader.read_lines(final=True)``
    would hand them out) and return its new mark; None when it cannot be opened.
    Raises Doubt when the file is not the one the mark describes."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, after a bounded read
    except OSError:
        if mark is not None:
            raise Doubt("a file read before cannot be opened") from None
        return None
    with f:
        st = os.fstat(f.fileno())
        offset, owe = (mark.offset, mark.owe) if mark is not None else (0, False)
        if mark is not None:
            if (st.st_ino, st.st_dev) != (mark.ino, mark.dev) or st.st_size < mark.offset:
                raise Doubt("replaced or truncated")
            if st.st_size == mark.size:
                if st.st_mtime_ns == mark.mtime_ns:
                    return mark
                raise Doubt("rewritten in place")
            start = max(0, offset - TAIL)
            f.seek(start)
            if _digest(f.read(offset - start)) != mark.tail:
                raise Doubt("rewritten before the offset")
        end = st.st_size
        f.seek(offset)
        if owe:  # the last line was taken without its newline: a newline now only ends it
            head = f.read(min(2, end - offset))
            if head[:1] == b"\n" or head == b"\r\n":
                offset += 1 if head[:1] == b"\n" else 2
                owe = False
            elif head:
                owe = False
            f.seek(offset)
        offset, owe = _scan(f, path, offset, end, owe, acc, agent_file)
        start = max(0, offset - TAIL)
        f.seek(start)
        tail = _digest(f.read(offset - start))
    return FileMark(st.st_ino, st.st_dev, end, st.st_mtime_ns, offset, owe, tail)


def _feed(acc: Accounts, rec: dict[str, Any] | None, agent_file: bool, path: str, pos: int) -> None:
    if rec is None:
        return
    try:
        acc.ingest(rec, agent_file, path, pos)
    except Doubt:
        raise
    except Exception:  # the loader skips a record the model cannot take
        pass


def _scan(f: Any, path: str, offset: int, end: int, owe: bool, acc: Accounts, agent_file: bool) -> tuple[int, bool]:
    """Complete lines in [offset, end) with a "usage" key go to ``acc``; a last line
    without newline is taken when it is a whole JSON object (as the loader does).

    Blocks are searched in place (no copy of a block, only of the lines that carry
    usage and of a line cut by a block boundary): at 500 MB the copies were a third of
    the time."""
    carry: list[bytes] = []  # the pieces of a line cut by block boundaries
    held = 0
    at = offset  # file offset of the first byte not consumed yet (where the carried line starts)
    left = end - offset
    skipping = False  # inside a line longer than MAX_LINE: dropped unread, as the reader does
    while left > 0:
        block = f.read(min(BLOCK, left))
        if not block:
            break
        left -= len(block)
        start = 0
        if skipping or carry:
            nl = block.find(b"\n")
            if nl < 0:
                if skipping:
                    at += len(block)
                    continue
                carry.append(block)
                held += len(block)
                if held > MAX_LINE:
                    at += held
                    carry, held, skipping = [], 0, True
                continue
            if skipping:
                skipping = False
                at += nl + 1
            else:
                line = b"".join(carry) + block[:nl]
                carry, held = [], 0
                if USAGE_KEY in line and len(line) <= MAX_LINE:
                    _feed(acc, loads(line), agent_file, path, at)
                at += len(line) + 1
            start = nl + 1
        last = block.rfind(b"\n", start)
        if last >= 0:
            base = at - start  # file offset of block[0]
            i = block.find(USAGE_KEY, start, last)
            while i >= 0:
                s = block.rfind(b"\n", start, i) + 1 or start
                e = block.find(b"\n", i, last + 1)
                if e - s <= MAX_LINE:
                    _feed(acc, loads(block[s:e]), agent_file, path, base + s)
                i = block.find(USAGE_KEY, e, last)
            at = base + last + 1
            start = last + 1
        if start < len(block):
            carry.append(block[start:])
            held += len(block) - start
            if held > MAX_LINE:
                at += held
                carry, held, skipping = [], 0, True
    frag = b"".join(carry)
    if frag and not skipping and frag.strip() and frag.rstrip().endswith(b"}"):
        rec = loads(frag)
        if rec is not None:
            if USAGE_KEY in frag:
                _feed(acc, rec, agent_file, path, at)
            return at + len(frag), True
    return at, owe


# ---------------------------------------------------------------------------- the state files


def _write_atomic(path: str, blob: bytes) -> None:
    """Whole or not at all, mode 0600 (no tempfile module: it is a slow import)."""
    tmp = f"{path}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105 - contextlib is a slow import here
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Store:
    """The files of one transcript's state (see the module docstring)."""

    def __init__(self, transcript: str, root: str) -> None:
        self.dir = os.path.join(root, STATE_DIR)
        # one state per transcript and installation: two spendtui installs (a checkout and a
        # pipx one) would otherwise each find the other's price table and rebuild every time
        here = os.path.dirname(os.path.abspath(sys.modules["spendtui"].__file__ or ""))
        name = _blake2b(f"{transcript}\0{here}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        self.json_path = os.path.join(self.dir, name + ".json")
        self.keys_path = os.path.join(self.dir, name + ".keys")
        self.agents_path = os.path.join(self.dir, name + ".agents.json")

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.json_path, "rb") as f:
                doc = fastjson.loads(f.read().decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None

    def all_keys(self, info: list[Any]) -> tuple[list[bytes], list[bytes]]:
        """Every (key hashes, message-id hashes) of the keys file ``info`` names."""
        token, n_sorted, n_tail = info
        with open(self.keys_path, "rb") as f:
            blob = f.read(KEYS_HEAD + 16 * (n_sorted + n_tail))
        if blob[:KEYS_HEAD] != KEYS_MAGIC + bytes.fromhex(token) or len(blob) != KEYS_HEAD + 16 * (n_sorted + n_tail):
            raise ValueError("keys file of another state")
        run = KEYS_HEAD + 8 * n_sorted
        keys = [blob[i:i + 8] for i in range(KEYS_HEAD, run, 8)]
        mids = [blob[i:i + 8] for i in range(run, run + 8 * n_sorted, 8)]
        tail = blob[run + 8 * n_sorted:]
        keys += [tail[i:i + 8] for i in range(0, len(tail), 16)]
        mids += [tail[i + 8:i + 16] for i in range(0, len(tail), 16)]
        return keys, mids

    def forget_old(self, now: float | None = None) -> None:
        """Delete the states of transcripts no run has used for FORGET_AFTER (a state is
        a few files named alike; all go, or none). Runs after a build, which is rare."""
        cutoff = (time.time() if now is None else now) - FORGET_AFTER
        newest: dict[str, float] = {}
        names: dict[str, list[str]] = {}
        for n in os.listdir(self.dir):
            try:
                mtime = os.stat(os.path.join(self.dir, n)).st_mtime
            except OSError:
                continue
            if n.endswith(".tmp") and mtime < cutoff + FORGET_AFTER - 86400:
                newest.setdefault(n, 0.0)  # a write that never finished, a day ago: goes alone
                names[n] = [n]
                continue
            stem = n.split(".", 1)[0]
            newest[stem] = max(newest.get(stem, mtime), mtime)
            names.setdefault(stem, []).append(n)
        for stem, t in newest.items():
            if t < cutoff:
                for n in names[stem]:
                    try:  # noqa: SIM105 - contextlib is a slow import here
                        os.unlink(os.path.join(self.dir, n))
                    except OSError:
                        pass

    def read_agents(self, token: str) -> dict[str, list[Any]]:
        """The sub-agent files' marks written under ``token``."""
        with open(self.agents_path, "rb") as f:
            doc = fastjson.loads(f.read().decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("token") != token or not isinstance(doc.get("marks"), dict):
            raise ValueError("sub-agent marks of another state")
        return doc["marks"]

    def write(self, doc: dict[str, Any], gone: list[tuple[bytes, bytes]], fresh: bool,
              agent_marks: dict[str, list[Any]] | None = None) -> None:
        """The keys of the calls let go of (``gone``: key hash, message-id hash) and the
        sub-agent marks first (the JSON names which ones it goes with), then the JSON."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        if agent_marks is not None:
            token = os.urandom(16).hex()
            _write_atomic(self.agents_path, fastjson.dumps({"token": token, "marks": agent_marks}).encode())
            doc["agents"][1] = token
        info = doc.get("keys")
        if fresh or (gone and info[2] + len(gone) > KEYS_TAIL_MAX):
            keys, mids = self.all_keys(info) if not fresh and info[1] + info[2] else ([], [])
            keys += [k for k, _ in gone]
            mids += [m for _, m in gone]
            token = os.urandom(16)
            keys.sort()
            mids.sort()
            _write_atomic(self.keys_path, KEYS_MAGIC + token + b"".join(keys) + b"".join(mids))
            doc["keys"] = [token.hex(), len(keys), 0]
        elif gone:
            token, n_sorted, n_tail = info
            with open(self.keys_path, "r+b") as f:
                if f.read(KEYS_HEAD) != KEYS_MAGIC + bytes.fromhex(token):
                    raise ValueError("keys file replaced meanwhile")
                f.seek(KEYS_HEAD + 16 * (n_sorted + n_tail))
                f.write(b"".join(k + m for k, m in gone))
                f.truncate()
            doc["keys"] = [token, n_sorted, n_tail + len(gone)]
        _write_atomic(self.json_path, fastjson.dumps(doc).encode())


# ---------------------------------------------------------------------------- one run


class Result:
    """The line's numbers plus the budget the config asks for."""

    def __init__(self, data: LineData, budget_session_pico: int | None, budget_history: bool,
                 how: str) -> None:
        self.data = data
        self.budget_session_pico = budget_session_pico
        self.budget_history = budget_history
        self.how = how  # "unchanged", "grown" or "built": what this run had to do (tests, benchmarks)
        self.why = ""  # why it was built


def _budget(pricer: Pricer) -> tuple[int | None, bool]:
    """(session budget in pico-dollars, whether a day/month budget is set) from the config
    (``tracker_from_config`` with no flags); config errors propagate as they do there."""
    from spendtui.core.config import load_config

    cfg = load_config()
    if not cfg.get("budget"):
        return None, False
    from spendtui.core.budget import Budgets

    b = Budgets.from_config(cfg)
    return b.session_pico, b.needs_history


def compute(transcript: str, use_state: bool = True) -> Result:
    """The numbers for ``transcript``'s status line, reading on from its state when
    there is one that still fits (and saving the new state, unless ``use_state`` is off)."""
    path = os.path.abspath(transcript)
    why = ""
    key = _where_key()
    env_root = _env_path("SPENDTUI_CACHE_DIR")
    root = env_root or _guess_cache_root()
    cfg = _env_path("SPENDTUI_CONFIG")
    known = env_root is not None  # root is the cache dir for sure (else it is a guess)
    doc = None
    if use_state and root is not None:
        doc = Store(path, root).read()
        where = doc.get("where") if doc is not None else None
        if isinstance(where, list) and len(where) == 3 and where[:2] == [key, root]:
            known = True  # platformdirs said so, in this very environment, when it was written
            cfg = cfg or where[2]
    if not known or cfg is None:
        real = env_root or cache_root()
        cfg = cfg or config_file()
        if real != root:
            root = real
            doc = Store(path, root).read() if use_state else None
    assert root is not None
    store = Store(path, root) if use_state else None
    sig = price_sig(root, cfg)
    if doc is not None and doc.get("sig") == sig and doc.get("path") == path and store is not None:
        try:
            return _warm(doc, path, store)
        except (Doubt, ValueError, TypeError, KeyError, IndexError, AttributeError, OSError) as e:
            why = f"{type(e).__name__}: {e}"  # read it all again below
    else:
        why = "no state" if doc is None else "another price table, config or transcript"
    res = _build(path, sig, store, [key, root, cfg])
    res.why = why
    return res


def _build(path: str, sig: list[Any], store: Store | None, where: list[Any]) -> Result:
    pricer = Pricer()
    pricer.table()  # a broken config or price import fails here, before any reading
    session_pico, history = _budget(pricer)
    _load_orjson()  # many lines to parse: the loader's own parser, once
    acc = Accounts(pricer)
    main = read_on(path, None, acc, agent_file=False)
    sub = subagents_dir(path)
    listed = agent_names(sub)
    marks: dict[str, list[Any]] = {}
    for name in loader_order(listed):
        m = read_on(os.path.join(sub, name), None, acc, agent_file=True)
        if m is not None:
            marks[name] = m.to_json()
    agent_marks = {n: marks[n] for n in listed if n in marks}  # listing order: the digest's
    data = acc.line()
    if store is not None:
        doc = {"format": FORMAT, "sig": sig, "path": path, "where": where, "budget": [session_pico, history],
               "agents": [_marks_digest(agent_marks), None] if agent_marks else None}
        try:  # a state we cannot write only costs speed
            store.write(*_dump(doc, acc, main), fresh=True, agent_marks=agent_marks if agent_marks else None)
            store.forget_old()
        except (OSError, ValueError):
            pass
    return Result(data, session_pico, history, "built")


def _agents_on(doc: dict[str, Any], path: str, store: Store, acc: Accounts) -> dict[str, list[Any]] | None:
    """Read on in the sub-agent files that changed; their new marks, or None when none
    did (told by one digest of every file's stat, without loading the marks)."""
    sub = subagents_dir(path)
    names = agent_names(sub)
    info = doc.get("agents")
    if not names and info is None:
        return None
    sts = _stat_all(sub, names)
    if info is not None and _stats_digest(names, sts) == info[0]:
        return None
    marks = store.read_agents(info[1]) if info is not None else {}
    if set(marks) - set(names):
        raise Doubt("a sub-agent file read before is gone")
    stat_of = dict(zip(names, sts, strict=True))
    for n in loader_order(names):
        st, v = stat_of[n], marks.get(n)
        if st is None or (v is not None and v[:4] == [st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns]):
            continue
        m = read_on(os.path.join(sub, n), FileMark.from_json(v) if v is not None else None, acc, agent_file=True)
        if m is not None:
            marks[n] = m.to_json()
    marks = {n: marks[n] for n in names if n in marks}  # in the listing's order, the digest's
    doc["agents"] = [_marks_digest(marks), info[1] if info is not None else None]
    return marks


def _warm(doc: dict[str, Any], path: str, store: Store) -> Result:
    a = doc["acc"]
    pricer = Pricer(doc["rates"], doc["windows"])
    acc = Accounts(pricer)
    for v in a["calls"]:
        c = Call.from_json(v)
        acc.calls[c.key] = c
    by_seq = {c.seq: c for c in acc.calls.values()}
    acc.main_tail = [by_seq[s] for s in a["main"]]
    acc.by_mid = {m: (k0, k1) for m, k0, k1 in a["by_mid"]}
    acc.cost_pico, acc.unpriced, acc.current_model = a["cost"], a["unpriced"], a["model"]
    acc.context_peak, acc.seq = a["peak"], a["seq"]
    fk, acc.first_prompt = a["first"]
    acc.first_key = (fk[0], fk[1]) if fk else None
    acc.old = OldKeys(store, doc["keys"])
    try:
        return _read_on_all(doc, path, store, acc)
    finally:
        acc.old.close()


def _read_on_all(doc: dict[str, Any], path: str, store: Store, acc: Accounts) -> Result:
    pricer = acc.pricer
    changed = False
    v = doc["files"].get("")
    mark = None
    if v is not None:
        try:
            st = os.stat(path)
        except OSError:
            raise Doubt("the transcript cannot be read") from None
        if st.st_size == v[2] and st.st_mtime_ns == v[3] and st.st_ino == v[0] and st.st_dev == v[1]:
            mark = v  # unchanged
        else:
            mark = FileMark.from_json(v)
    main = mark if isinstance(mark, list) else read_on(path, mark, acc, agent_file=False)
    if main is not None and main is not mark:
        changed = True
    agent_marks = _agents_on(doc, path, store, acc)
    if agent_marks is not None:
        changed = True
    data = acc.line()  # before saving: it may learn a new model's window
    if changed or pricer.learned:
        doc, gone = _dump(doc, acc, main)
        try:  # noqa: SIM105 - see _build
            store.write(doc, gone, fresh=False, agent_marks=agent_marks)
        except (OSError, ValueError):
            pass
    session_pico, history = doc["budget"]
    return Result(data, session_pico, history, "grown" if changed else "unchanged")


def _dump(doc: dict[str, Any], acc: Accounts, main: Any) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    """The state document for ``acc`` and the keys of the calls it lets go of."""
    calls = sorted(acc.calls.values(), key=lambda c: c.seq)
    keep = {id(c) for c in calls[-RECENT:]} | {id(c) for c in acc.main_tail[-TTL_LOOKBACK:]}
    held = [c for c in calls if id(c) in keep]
    gone = [c for c in calls if id(c) not in keep]
    gone_keys = [(key_hash(_key_str(c.key)), key_hash(c.key[0])) for c in gone]
    held_keys = {c.key for c in held}
    by_mid = [[m, k[0], k[1]] for m, k in acc.by_mid.items() if k in held_keys]
    doc["acc"] = {
        "calls": [c.to_json() for c in held],
        "main": [c.seq for c in acc.main_tail[-TTL_LOOKBACK:]],
        "by_mid": by_mid,
        "cost": acc.cost_pico, "unpriced": acc.unpriced, "model": acc.current_model,
        "peak": acc.context_peak, "seq": acc.seq,
        "first": [list(acc.first_key) if acc.first_key else None, acc.first_prompt],
    }
    doc["rates"] = acc.pricer.rates
    doc["windows"] = acc.pricer.windows
    doc["files"] = {} if main is None else {"": main.to_json() if isinstance(main, FileMark) else main}
    return doc, gone_keys
