"""The history scan: a session's accounting from the lines that carry it.

`sessions` and `report` over months of transcripts need, per session, only its
API calls (usage lines), its prompts, its title, its first cwd and its first
and last timestamps. Three quarters of the bytes are tool results and attachments
that change none of these, so instead of parsing every line (what
``loader.load_session`` does, and must do for the live model and the context
analysis) this finds the few lines that matter with byte searches, which run at
memory speed in C, and parses only those. The rules applied to them are the
session model's own (dedup by message.id + requestId keeping the largest
output, /btw replays, synthetic and API-error entries, invalid usage), and
``tests/test_skim.py`` holds the result equal to the full model's on every
fixture and generated history.

It relies on Claude Code writing compact JSON (``JSON.stringify``): a key is
``"usage":`` with no space, and a quote inside a string is escaped, so these
patterns only match real keys. Whatever does not look like that (a line that is
not one ``{...}`` object, pretty-printed JSON, a timestamp in another format, a
line over ``jsonl.MAX_LINE``) makes ``skim`` return None, and the caller reads
the session the full way. What it cannot see: a line that carries no usage and
is a whole ``{...}`` but broken inside (or a record of the wrong shape) is not
counted in ``skipped_lines`` here (``summary`` parses every line and counts it);
it holds nothing this counts.
"""

from __future__ import annotations

import os
import re
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendtui.core import jsonl
from spendtui.core.jsonl import parse_line
from spendtui.core.model import CallKey, _same_or_smaller, is_real_prompt, parse_ts
from spendtui.core.paths import SessionFiles
from spendtui.core.usage import Usage, UsageError

CHUNK = 8 << 20

# the byte searches compiled (core/_scan.c), when they could be built; the Python
# path below is the same searches and the fallback. SPENDTUI_PURE_SCAN=1 forces it.
_native: Any
try:
    from spendtui.core import _scan as _native
except ImportError:  # not built (no compiler at install): the Python path
    _native = None
if os.environ.get("SPENDTUI_PURE_SCAN"):
    _native = None

# the keys of the lines we read: one pass of the regex engine finds them all
# (with an optional space, to notice JSON that is not compact and give it to the full reader)
_KEYS = re.compile(rb'"(?:usage": ?|type": ?"(?:user|summary|ai-title|custom-title)"|forkedFrom": ?)')
_RESULT = b'"tool_use_id":"'
_TS_KEY = b'"timestamp":"'
_TS = re.compile(rb'"timestamp": ?"([^"]*)"')
# Claude Code's own format, which sorts as text (the model compares others as times)
_TS_ALL = re.compile(rb"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\0)*")


class NotCompact(Exception):
    """The files are not in the shape the byte searches rely on: read them fully."""


@dataclass(slots=True)
class _Call:
    key: CallKey
    model: str
    usage: Usage
    ts: datetime | None
    agent: bool
    cost: Any


class Skim:
    """The aggregates of one session, fed line by line like ``SessionModel``."""

    def __init__(self, session_id: str, pricer: Any) -> None:
        self.session_id = session_id
        self.pricer = pricer
        self.calls: dict[CallKey, _Call] = {}
        self.by_mid: dict[str, CallKey] = {}
        self.main_last: _Call | None = None
        self.current_model: str | None = None
        self.context_peak = 0
        self.turns = 0
        self.seen_prompts: set[str] = set()
        self.title: str | None = None
        self.custom_title: str | None = None
        self.project: str | None = None
        self.forked_from: str | None = None
        self.ts_min: str | None = None
        self.ts_max: str | None = None
        self.skipped = 0
        self.head: list[bytes] | None = None  # the main file's first lines (its order)
        # a response's further block lines repeat its usage and requestId byte for byte:
        # those bytes (and the message id) name the call, so such a line is not parsed
        self.sigs: dict[tuple[bytes, bytes], CallKey] = {}

    # ------------------------------------------------------------ records
    def record(self, rec: dict[str, Any], agent_file: bool) -> CallKey | None:
        """Apply one record; the key of the call it is a line of, if it is one we keep."""
        rtype = rec.get("type")
        if rtype == "assistant" or (rtype is None and isinstance(rec.get("message"), dict)):
            return self._assistant(rec, agent_file)
        if rtype == "user":
            if not agent_file:
                self._user(rec)
        elif rtype == "summary":
            s = rec.get("summary")
            if isinstance(s, str) and self.title is None:
                self.title = s
        elif rtype == "ai-title":
            t = rec.get("aiTitle")
            if isinstance(t, str):
                self.title = t
        elif rtype == "custom-title":
            t = rec.get("customTitle")
            if isinstance(t, str):
                self.custom_title = t
        return None

    def _user(self, rec: dict[str, Any]) -> None:
        uid = rec.get("uuid")
        if type(uid) is str:
            if uid in self.seen_prompts:
                return  # a prompt written again (kept by a compaction): one turn
            self.seen_prompts.add(uid)
        if not isinstance(rec.get("message"), dict):
            self.skipped += 1
            return
        if not rec.get("isSidechain") and is_real_prompt(rec):
            self.turns += 1

    def _assistant(self, rec: dict[str, Any], agent_file: bool) -> CallKey | None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            self.skipped += 1
            return None
        if rec.get("isApiErrorMessage"):
            return None
        model = msg.get("model")
        if model == "<synthetic>":
            return None
        raw_usage = msg.get("usage")
        if raw_usage is None:
            return None
        if not isinstance(model, str) or not model:
            self.skipped += 1
            return None
        mid = msg.get("id")
        if not isinstance(mid, str) or not mid:
            uid = rec.get("uuid")
            if not isinstance(uid, str):
                raise NotCompact  # keyed by file and line in the model: let it do that
            mid = f"uuid:{uid}"
        rid = rec.get("requestId")
        key: CallKey = (mid, rid if isinstance(rid, str) else "")
        agent = agent_file or bool(rec.get("isSidechain"))
        existing = self.calls.get(key)
        if existing is not None and isinstance(raw_usage, dict) and _same_or_smaller(raw_usage, existing.usage):
            return key
        try:
            usage = Usage.from_json(raw_usage)
        except UsageError:
            self.skipped += 1
            return None
        if existing is None:
            other = self.by_mid.get(mid)
            if other is not None and other != key:
                prev = self.calls[other]
                if not prev.agent and agent:
                    return None  # a sidechain replay of a main-chain response (/btw)
                if prev.agent and not agent:
                    del self.calls[other]
                    del self.by_mid[mid]
        if existing is not None:
            if usage.output_tokens >= existing.usage.output_tokens and usage != existing.usage:
                existing.usage = usage
                existing.model = model
                existing.cost = self._price(model, usage, existing.ts)
                self._peak(existing)
            return key
        ts = parse_ts(rec.get("timestamp"))
        call = _Call(key, model, usage, ts, agent, self._price(model, usage, ts))
        self.calls[key] = call
        self.by_mid.setdefault(mid, key)
        if not agent:
            self.main_last = call
            self.current_model = model
        self._peak(call)
        return key

    def _peak(self, call: _Call) -> None:
        if not call.agent:
            p = call.usage.prompt_tokens
            if p > self.context_peak:
                self.context_peak = p

    def _price(self, model: str, usage: Usage, ts: datetime | None) -> Any:
        return self.pricer(model, usage, ts) if self.pricer is not None else None

    # ------------------------------------------------------------ summary
    def summary(self, prices: Any, transcript: str | None) -> dict[str, Any]:
        """The keys of ``session_summary`` that `sessions` and `report` read, computed
        as it computes them."""
        from collections import Counter

        from spendtui.core.model import TOKEN_KINDS
        from spendtui.core.summary import context_window, iso, usd

        tokens = dict.fromkeys(TOKEN_KINDS, 0)
        cost_by_model: Counter[str] = Counter()
        calls_by_model: Counter[str] = Counter()
        unpriced: set[str] = set()
        total = sub = main_calls = 0
        for c in self.calls.values():
            u = c.usage
            tokens["input"] += u.input_tokens
            tokens["output"] += u.output_tokens
            tokens["cache_write_5m"] += u.ephemeral_5m_input_tokens
            tokens["cache_write_1h"] += u.ephemeral_1h_input_tokens
            tokens["cache_read"] += u.cache_read_input_tokens
            pico = c.cost.total_pico if c.cost is not None else 0
            total += pico
            cost_by_model[c.model] += pico
            calls_by_model[c.model] += 1
            if c.cost is not None and not c.cost.priced:
                unpriced.add(c.model)
            if c.agent:
                sub += pico
            else:
                main_calls += 1
        window = context_window(self, prices)  # type: ignore[arg-type]  # same two attributes
        return {
            "session_id": self.session_id,
            "project": self.project,
            "transcript": transcript,
            "title": self.custom_title or self.title,
            "started": iso(parse_ts(self.ts_min)),
            "ended": iso(parse_ts(self.ts_max)),
            "active": False,
            "forked_from": self.forked_from,
            "api_calls": len(self.calls),
            "main_api_calls": main_calls,
            "copied_api_calls": 0,
            "turns": self.turns,
            "tokens": tokens,
            "cost_usd": usd(total),
            "cost_complete": not unpriced,
            "cost_by_model": {m: usd(p) for m, p in sorted(cost_by_model.items(), key=lambda kv: -kv[1])
                              if calls_by_model[m] > 0},
            "subagent_cost_usd": usd(sub),
            "context": {
                "current": self.main_last.usage.prompt_tokens if self.main_last is not None else 0,
                "peak": self.context_peak,
                "window": window,
            },
            "unpriced_models": sorted(unpriced),
            "skipped_lines": self.skipped,
        }


    def light_doc(self, prices: Any, files: SessionFiles) -> dict[str, Any]:
        """The record ``cache.light_doc`` makes from a full model, from these aggregates."""
        from spendtui.core.cache import key_hash
        from spendtui.core.loader import session_order

        models: list[str] = []
        index: dict[str, int] = {}
        hashes: list[int] = []
        ts: list[float | None] = []
        mi: list[int] = []
        toks: list[list[int]] = []
        cost: list[int] = []
        priced: list[int] = []
        agent: list[int] = []
        for c in self.calls.values():
            hashes.append(key_hash(c.key))
            ts.append(c.ts.timestamp() if c.ts else None)
            i = index.get(c.model)
            if i is None:
                i = index[c.model] = len(models)
                models.append(c.model)
            mi.append(i)
            u = c.usage
            toks.append([u.input_tokens, u.output_tokens, u.ephemeral_5m_input_tokens,
                         u.ephemeral_1h_input_tokens, u.cache_read_input_tokens])
            ok = c.cost is not None and c.cost.priced
            cost.append(c.cost.total_pico if ok else 0)
            priced.append(1 if ok else 0)
            agent.append(1 if c.agent else 0)
        order = session_order(files, self.head)
        return {
            "session_id": self.session_id,
            "project": self.project,
            "summary": self.summary(prices, str(files.main) if files.main else None),
            "order": [order.first_ts.timestamp() if order.first_ts else None, order.forked],
            "models": models,
            "calls": {"h": hashes, "ts": ts, "m": mi, "tok": toks, "cost": cost, "priced": priced,
                      "agent": agent},
        }


# ------------------------------------------------------------------ files
def _line_ends(buf: bytes) -> list[int]:
    """The newline positions of ``buf``, checking that every line is one ``{...}``."""
    ends: list[int] = []
    find = buf.find
    add = ends.append
    i = 0
    while True:
        j = find(b"\n", i)
        if j < 0:
            return ends
        if j == i or buf[i] != 123 or buf[j - 1] != 125:
            raise NotCompact  # a blank, cut or foreign line: the full reader counts it exactly
        add(j)
        i = j + 1


def _signature(buf: bytes, s: int, u: int, e: int) -> tuple[bytes, bytes] | None:
    """(message id, the bytes from its usage to its requestId) of an assistant line as
    Claude Code writes it; None when it is not laid out that way (it is then parsed)."""
    m = buf.find(b'"message":{', s, u)
    if m < 0:
        return None
    i = buf.find(b'"id":"', m, m + 400)
    if i < 0:
        return None
    j = buf.find(b'"', i + 6, i + 200)
    r = buf.find(b'"requestId":"', u, e)
    if j < 0 or r < 0:
        return None
    rend = buf.find(b'"', r + 13, e)
    if rend < 0:
        return None
    return buf[i + 6:j], buf[u:rend]


def _scan_chunk(sk: Skim, buf: bytes, agent_file: bool, main: bool) -> None:
    """Apply the interesting lines of ``buf`` (whole lines, each ending in a newline)."""
    if _native is not None:
        _scan_chunk_native(sk, buf, agent_file, main)
        return
    ends = _line_ends(buf)
    wanted: dict[int, int] = {}  # line -> where its usage is (-1: not a usage line)
    for m in _KEYS.finditer(buf):
        pos = m.start()
        if buf[m.end() - 1] == 32 or buf[pos + 7] == 32:
            raise NotCompact
        k = bisect_left(ends, pos)
        c = buf[pos + 1]
        if c == 102:  # "forkedFrom":
            if main and sk.forked_from is None:
                s = ends[k - 1] + 1 if k else 0
                _fork(sk, buf[s:ends[k]])
            continue
        if k in wanted:
            continue
        if c == 117:  # "usage":
            wanted[k] = pos
        else:  # "type":"user|summary|ai-title|custom-title"
            if buf[pos + 8] == 117:
                if agent_file:
                    continue  # a sub-agent's prompts are not the session's turns
                s = ends[k - 1] + 1 if k else 0
                if buf.find(_RESULT, s, ends[k]) >= 0:
                    continue  # a tool result: never a prompt
            wanted[k] = -1
    for k in sorted(wanted):
        s = ends[k - 1] + 1 if k else 0
        e = ends[k]
        u = wanted[k]
        _apply(sk, buf, s, e, _signature(buf, s, u, e) if u >= 0 else None, agent_file)
    found = _TS.findall(buf)
    if found:
        if _TS_ALL.fullmatch(b"\0".join(found) + b"\0") is None:
            raise NotCompact  # a timestamp in another format: the model parses those one by one
        _times(sk, buf, min(found), max(found), lambda: found)


def _scan_chunk_native(sk: Skim, buf: bytes, agent_file: bool, main: bool) -> None:
    """``_scan_chunk`` with its byte searches in C (core/_scan.c): the same lines, forks
    and timestamp extremes, found at memory speed."""
    got = _native.scan(buf, agent_file, main and sk.forked_from is None)
    if got is None:
        raise NotCompact
    lines, forks, lo, hi = got
    for i in range(0, len(forks), 2):
        if sk.forked_from is not None:
            break
        _fork(sk, buf[forks[i]:forks[i + 1]])
    for i in range(0, len(lines), 3):
        _apply(sk, buf, lines[i], lines[i + 1], lines[i + 2], agent_file)
    if lo is not None:
        _times(sk, buf, lo, hi, lambda: _TS.findall(buf))


def _fork(sk: Skim, line: bytes) -> None:
    rec, _ = parse_line(line)
    ff = rec.get("forkedFrom") if rec is not None else None
    if isinstance(ff, dict):
        ff = ff.get("sessionId")
    if ff and isinstance(ff, str):
        sk.forked_from = ff


def _apply(sk: Skim, buf: bytes, s: int, e: int, sig: tuple[bytes, bytes] | None, agent_file: bool) -> None:
    """Parse and apply one wanted line, unless its signature names a call already kept."""
    if e - s > jsonl.MAX_LINE:
        raise NotCompact
    if sig is not None:
        seen = sk.sigs.get(sig)
        if seen is not None and seen in sk.calls:
            return
    rec, _err = parse_line(buf[s:e])
    if rec is None:
        sk.skipped += 1
        return
    key = sk.record(rec, agent_file)
    if sig is not None and key is not None:
        sk.sigs[sig] = key


def _times(sk: Skim, buf: bytes, lo: bytes, hi: bytes, found: Callable[[], list[bytes]]) -> None:
    """First and last timestamp of the records (not progress lines), as the model keeps
    them. ``lo``/``hi`` are the chunk's extremes of every timestamp; they are checked to
    be a record's own (not one nested in a tool result or a progress line), and only
    when one is not are all of them (``found()``) looked at."""
    if sk.ts_min is None or lo.decode() < sk.ts_min:
        v = _first_own(buf, found, lo, ascending=True, bound=sk.ts_min)
        if v is not None and (sk.ts_min is None or v < sk.ts_min):
            sk.ts_min = v
    if sk.ts_max is None or hi.decode() > sk.ts_max:
        v = _first_own(buf, found, hi, ascending=False, bound=sk.ts_max)
        if v is not None and (sk.ts_max is None or v > sk.ts_max):
            sk.ts_max = v


def _own(buf: bytes, value: bytes) -> bool:
    """Is ``value`` the timestamp of a record (not progress) somewhere in ``buf``?"""
    needle = _TS_KEY + value + b'"'
    i = buf.find(needle)
    while i >= 0:
        s = buf.rfind(b"\n", 0, i) + 1
        e = buf.find(b"\n", i)
        rec, _ = parse_line(buf[s:e])
        if (rec is not None and rec.get("type") != "progress" and rec.get("timestamp") == value.decode()
                and parse_ts(rec["timestamp"]) is not None):
            return True
        i = buf.find(needle, e)
    return False


def _first_own(buf: bytes, found: Callable[[], list[bytes]], first: bytes, ascending: bool,
               bound: str | None) -> str | None:
    """The earliest (or latest) of ``found()`` that is a record's own timestamp. The
    extreme usually is; when it is not (a file-history snapshot's, a progress line's) the
    next few are tried before all of them are sorted."""
    if _own(buf, first):
        return first.decode()
    import heapq

    values = set(found())
    pick = heapq.nsmallest if ascending else heapq.nlargest
    tried = 1
    while True:
        batch = pick(tried * 8, values)
        for v in batch[tried:]:
            s = v.decode()
            if bound is not None and (s >= bound if ascending else s <= bound):
                return None
            if _own(buf, v):
                return s
        if len(batch) < tried * 8:
            return None
        tried = len(batch)


def _first_cwd(sk: Skim, buf: bytes) -> bool:
    """The session's project: the first cwd of the main file, from any record."""
    pos = 0
    while pos < len(buf):
        e = buf.find(b"\n", pos)
        if e < 0:
            return False
        if buf.find(b'"cwd":', pos, e) >= 0:
            rec, _ = parse_line(buf[pos:e])
            cwd = rec.get("cwd") if rec is not None else None
            if isinstance(cwd, str) and cwd:
                sk.project = cwd
                return True
        pos = e + 1
    return False


def _head(buf: bytes, at_eof: bytes | None) -> list[bytes] | None:
    """The main file's first lines as ``loader.head_lines`` reads them, when ``buf`` (the
    first whole lines; ``at_eof``: the rest of a file that ended there) holds them all."""
    from spendtui.core.loader import _HEAD_LINE, HEAD_LINES

    # split only as far as the head goes (a split of the whole chunk copies its rest)
    end = -1
    for _ in range(HEAD_LINES):
        end = buf.find(b"\n", end + 1)
        if end < 0:
            break
    parts = buf[:end + 1].split(b"\n", HEAD_LINES) if end >= 0 else buf.split(b"\n", HEAD_LINES)
    if len(parts) > HEAD_LINES:
        lines = [p + b"\n" for p in parts[:HEAD_LINES]]
    elif at_eof is None:
        return None  # fewer lines than needed and the file goes on: read them the usual way
    else:
        lines = [p + b"\n" for p in parts[:-1]]
        if at_eof:
            lines.append(at_eof)
        lines = lines[:HEAD_LINES]
    if any(len(x) > _HEAD_LINE for x in lines):
        return None
    return lines


def _scan_file(sk: Skim, path: os.PathLike[str] | str, agent_file: bool) -> None:
    main = not agent_file
    need_cwd = main
    first: bytes | None = None  # the main file's first whole lines, for its order
    with open(path, "rb") as f:
        carry = b""
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            buf = carry + block if carry else block
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                if len(carry) > jsonl.MAX_LINE:
                    raise NotCompact
                continue
            carry = buf[cut + 1:]
            buf = buf[:cut + 1]
            if main and sk.head is None:
                if first is None:
                    first = buf
                    sk.head = _head(buf, None)
                else:
                    first = b""  # more than one chunk: the head is read from the file
            if need_cwd and _first_cwd(sk, buf):
                need_cwd = False
            _scan_chunk(sk, buf, agent_file, main)
        if main and sk.head is None and first != b"":
            sk.head = _head(first or b"", carry)
        if carry.strip():
            # a last line without its newline counts only if it is a whole record; if
            # it is not and nothing was written for a while, its writer stopped mid-line
            rec, _ = parse_line(carry)
            if rec is None:
                if time.time_ns() - os.fstat(f.fileno()).st_mtime_ns > jsonl.CUT_AFTER_NS:
                    sk.skipped += 1
            else:
                buf = carry + b"\n"
                if need_cwd:
                    _first_cwd(sk, buf)
                _scan_chunk(sk, buf, agent_file, main)


def skim(files: SessionFiles, pricer: Any) -> Skim | None:
    """The session's aggregates, or None when its files need the full reader."""
    sk = Skim(files.session_id, pricer)
    try:
        if files.main is not None:
            _scan_file(sk, files.main, agent_file=False)
        for af in files.agents:
            _scan_file(sk, af.path, agent_file=True)
    except (NotCompact, OSError, RecursionError):
        return None
    return sk
