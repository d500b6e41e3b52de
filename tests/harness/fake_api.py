"""A loopback stand-in for the Anthropic Messages API, for driving the real ``claude`` CLI.

Usage::

    with FakeAnthropic(log_path=tmp / "truth.jsonl", seed="scenario-a") as api:
        env = {"ANTHROPIC_BASE_URL": api.url, ...}
        ...  # run claude
        truth = api.records()

or, for manual use::

    python -m tests.harness.fake_api --port 8765 --log /tmp/truth.jsonl

What it serves
--------------
* ``POST /v1/messages`` – streaming (SSE) or not, the way the real API answers: ``message_start``
  (``msg_…`` id, the *dated* model id for an alias, input-side usage, small ``output_tokens``),
  ``content_block_start/delta/stop`` for ``thinking`` (+ ``signature_delta``), ``text`` and
  ``tool_use`` (``input_json_delta``) blocks, ``message_delta`` (stop_reason, final usage incl. the
  input-side fields again), ``message_stop``; header ``request-id: req_…``.
* ``POST /v1/messages/count_tokens`` – ``{"input_tokens": N}``.
* anything else – 404 with an Anthropic-style JSON error.

Ground truth
------------
Every ``/v1/messages`` request served appends one JSON line to ``log_path`` (and to
``self.truth``)::

    {"seq", "time", "request_id", "message_id", "model", "request_model", "usage", "stream",
     "kind", "plan", "step", "stop_reason", "max_tokens", "n_messages", "est_prompt_tokens",
     "cache_ttls", "tool_uses", "thinking", "session_id", "betas", "context_1m"}

``session_id`` is Claude Code's ``X-Claude-Code-Session-Id`` request header (sub-agent requests
carry the parent's), ``betas`` the ``anthropic-beta`` header, ``context_1m`` whether the
``context-1m-*`` beta was sent (how a ``[1m]`` model shows on the wire: the body's model has no
suffix).

``usage`` is exactly the usage object we reported (the final, merged one):
``input_tokens, cache_creation_input_tokens, cache_read_input_tokens,
cache_creation{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, output_tokens, service_tier``.
``kind`` is a short classification: ``main`` (a scripted main-thread conversation),
``subagent`` (a scripted sub-agent conversation), ``compact`` (a compaction summary request),
``title`` (session-title generation), ``quota`` (``max_tokens: 1`` probe), ``side`` (any other
request with no tools), ``other`` (unrecognised; gets a short text answer).

Usage simulation
----------------
The prompt is split into units (each tool definition, each system block, each message content
block), each weighing ``ceil(len(json)/4)`` tokens; ``[[pad:N]]`` in a text adds ``N`` tokens to
that unit (how a scenario forces a huge prompt). Units carrying ``cache_control`` are cache
breakpoints. Per model, a cache of prefix hashes (``cache_control`` stripped before hashing, so a
marker moving forward still hits the earlier prefix) remembers what earlier requests wrote and
when it expires (5 minutes, or 1 hour for ``"ttl": "1h"``). For a request:

* ``cache_read_input_tokens`` = the longest prefix that an earlier request wrote and is still live;
* ``cache_creation_input_tokens`` = from there up to the last breakpoint (prefixes shorter than the
  model's minimum cacheable length – 1024, or 2048 for Haiku – are not cached), split into
  ``ephemeral_5m``/``ephemeral_1h`` per the ``ttl`` of the breakpoint closing each segment;
* ``input_tokens`` = the rest after the last breakpoint, plus ``INPUT_OVERHEAD`` (3).

``force_1h=True`` reports every cache write as 1h; ``usage_hook(ctx, usage) -> usage`` lets a
scenario rewrite the numbers (the rewritten numbers are the ones reported *and* logged).

Scripted behaviour
------------------
A user prompt containing ``[[plan:NAME key=value ...]]`` selects a main-thread plan (``PLANS``);
a sub-agent prompt containing ``[[agent:NAME ...]]`` selects a sub-agent plan. The step is the
number of assistant messages after the last user text carrying a marker, so the plan advances one
step per request. Past the end of a plan – or for anything unrecognised – the answer is a short
text with ``stop_reason: end_turn``. Compaction requests ("Your task is to create a detailed
summary…") get a summary text.
"""

from __future__ import annotations

import argparse
import base64
import copy
import gzip
import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

# --------------------------------------------------------------------------------------------
# Models

#: alias → dated id, as the real API answers in ``message.model``.
MODEL_ALIASES: dict[str, str] = {
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-5-latest": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-haiku-4-5-latest": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-5-latest": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-1-latest": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}


def resolve_model(requested: str) -> str:
    """The model id the real API would put in ``message.model`` for ``requested``.

    Aliases map to their dated id; ``[1m]`` suffixes are dropped; dated or unknown ids are echoed.
    """
    base = re.sub(r"\[1m\]$", "", requested or "", flags=re.IGNORECASE)
    return MODEL_ALIASES.get(base, base or "claude-sonnet-4-5-20250929")


def min_cacheable_tokens(model: str) -> int:
    return 2048 if "haiku" in model else 1024


# --------------------------------------------------------------------------------------------
# Token estimation and cache simulation

_PAD_RE = re.compile(r"\[\[pad:(\d+)\]\]")
_MARKER_RE = re.compile(r"\[\[(plan|agent):([A-Za-z0-9_\-]+)([^\]]*)\]\]")


BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def estimate_tokens(obj: Any) -> int:
    """``ceil(len(json)/4)`` plus every ``[[pad:N]]`` found in the serialised object."""
    text = obj if isinstance(obj, str) else _dumps(obj)
    pad = sum(int(m) for m in _PAD_RE.findall(text))
    return max(1, (len(text) + 3) // 4) + pad


def _strip_cache_control(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_cache_control(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_strip_cache_control(v) for v in obj]
    return obj


@dataclass
class _Unit:
    tokens: int
    ttl: str | None  # None: not a breakpoint; "5m" / "1h": breakpoint
    digest: str  # hash of the prefix up to and including this unit


def prompt_units(body: dict) -> list[_Unit]:
    """Split a request into cacheable units in the API's prefix order: tools, system, messages."""
    raw: list[Any] = []
    raw.extend(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        raw.append({"type": "text", "text": system})
    elif isinstance(system, list):
        # Claude Code's first system block is an attribution header the API consumes; its hash
        # suffix changes between requests, so it must not take part in prefix caching.
        raw.extend(b for b in system if not (
            isinstance(b, dict) and str(b.get("text", "")).startswith(BILLING_HEADER_PREFIX)))
    for msg in body.get("messages") or []:
        content = msg.get("content")
        role = msg.get("role", "user")
        if isinstance(content, str):  # the API treats a string as one text block
            content = [{"type": "text", "text": content}]
        if isinstance(content, list):
            for i, block in enumerate(content):
                unit = dict(block) if isinstance(block, dict) else {"value": block}
                unit["role"] = role
                if i == 0:
                    unit["_msg_start"] = True
                raw.append(unit)
    units: list[_Unit] = []
    h = hashlib.sha256(b"prefix")
    for item in raw:
        cc = item.get("cache_control") if isinstance(item, dict) else None
        ttl = None
        if isinstance(cc, dict):
            ttl = "1h" if cc.get("ttl") == "1h" else "5m"
        stripped = _strip_cache_control(item)
        h.update(_dumps(stripped).encode())
        units.append(_Unit(estimate_tokens(stripped), ttl, h.copy().hexdigest()))
    return units


#: tokens the real API bills as uncached input even when the last block is a breakpoint
INPUT_OVERHEAD = 3


class PromptCache:
    """Per-model prefix cache with TTLs (thread-safe)."""

    TTL_SECONDS: ClassVar[dict[str, float]] = {"5m": 300.0, "1h": 3600.0}

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def usage_for(self, model: str, units: list[_Unit], *, force_1h: bool = False) -> dict:
        now = self._clock()
        total = sum(u.tokens for u in units)
        cum: list[int] = []
        acc = 0
        for u in units:
            acc += u.tokens
            cum.append(acc)
        min_len = min_cacheable_tokens(model)
        with self._lock:
            # longest live prefix written earlier
            read_idx = -1
            for i in range(len(units) - 1, -1, -1):
                entry = self._entries.get((model, units[i].digest))
                if entry and entry[0] > now:
                    read_idx = i
                    break
            if read_idx >= 0:
                exp, ttl = self._entries[(model, units[read_idx].digest)]
                self._entries[(model, units[read_idx].digest)] = (
                    max(exp, now + self.TTL_SECONDS[ttl]),
                    ttl,
                )
            read = cum[read_idx] if read_idx >= 0 else 0
            created = {"5m": 0, "1h": 0}
            boundary = read_idx
            for i, u in enumerate(units):
                if u.ttl is None or i <= read_idx or cum[i] < min_len:
                    continue
                ttl = "1h" if force_1h else u.ttl
                created[ttl] += cum[i] - (cum[boundary] if boundary >= 0 else 0)
                boundary = i
                self._entries[(model, u.digest)] = (now + self.TTL_SECONDS[ttl], ttl)
        cached_upto = cum[boundary] if boundary >= 0 else 0
        return {
            "input_tokens": total - cached_upto + INPUT_OVERHEAD,
            "cache_creation_input_tokens": created["5m"] + created["1h"],
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": created["5m"],
                "ephemeral_1h_input_tokens": created["1h"],
            },
            "output_tokens": 0,
            "service_tier": "standard",
        }


# --------------------------------------------------------------------------------------------
# Scripted plans


@dataclass
class PlanContext:
    cwd: str
    args: dict[str, str]
    tool_names: list[str]
    model: str

    def path(self, name: str | None = None) -> str:
        name = name or self.args.get("file", "notes.txt")
        if name.startswith("/"):
            return name
        return f"{self.cwd.rstrip('/')}/{name}" if self.cwd else name

    @property
    def agent_tool(self) -> str:
        if "Agent" in self.tool_names:
            return "Agent"
        if "Task" in self.tool_names:
            return "Task"
        return "Agent"


def _think(text: str) -> dict:
    return {"type": "thinking", "thinking": text}


def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def _tool(name: str, inp: dict) -> dict:
    return {"type": "tool_use", "name": name, "input": inp}


def _plan_read_edit(c: PlanContext) -> list[list[dict]]:
    f = c.path()
    return [
        [_think("I should look at the file first."), _text("Let me read the file."),
         _tool("Read", {"file_path": f})],
        [_text("Now I'll edit it."),
         _tool("Edit", {"file_path": f, "old_string": "hello", "new_string": "goodbye"})],
        [_tool("Bash", {"command": "ls", "description": "List files in the project"})],
        [_think("Two independent checks: run them in parallel."),
         _text("Checking two things at once."),
         _tool("Read", {"file_path": f}),
         _tool("Bash", {"command": "wc -l notes.txt", "description": "Count lines"})],
    ]


def _plan_subagent(c: PlanContext) -> list[list[dict]]:
    sub = c.args.get("sub", "read_answer")
    model = c.args.get("model", "haiku")
    return [
        [_text("I'll delegate this to a sub-agent."),
         _tool(c.agent_tool, {
             "description": "Summarise notes file",
             "prompt": f"[[agent:{sub} file={c.args.get('file', 'notes.txt')}]] "
                       "Read the notes file and summarise it in one sentence.",
             "subagent_type": c.args.get("type", "general-purpose"),
             "model": model,
         })],
    ]


def _plan_read(c: PlanContext) -> list[list[dict]]:
    return [[_text("Reading the file."), _tool("Read", {"file_path": c.path()})]]


def _plan_bash(c: PlanContext) -> list[list[dict]]:
    return [[_tool("Bash", {"command": c.args.get("cmd", "ls"), "description": "Run a command"})]]


def _plan_reads(c: PlanContext) -> list[list[dict]]:
    """``n`` sequential Reads (default 3) – a longer conversation for compaction tests."""
    n = int(c.args.get("n", "3"))
    return [[_text(f"Read number {i + 1}."), _tool("Read", {"file_path": c.path()})]
            for i in range(n)]


def _plan_text(c: PlanContext) -> list[list[dict]]:
    return []


#: plan name → function(PlanContext) → list of steps (each a list of content blocks).
#: Both ``[[plan:…]]`` and ``[[agent:…]]`` markers look names up here.
PLANS: dict[str, Callable[[PlanContext], list[list[dict]]]] = {
    "read_edit": _plan_read_edit,
    "subagent": _plan_subagent,
    "read_answer": _plan_read,
    "read": _plan_read,
    "bash": _plan_bash,
    "reads": _plan_reads,
    "text": _plan_text,
}

COMPACT_RE = re.compile(r"Your task is to create a detailed summary", re.IGNORECASE)

SUMMARY_TEXT = (
    "<analysis>The user asked for scripted file operations in a test project.</analysis>\n"
    "<summary>\n1. Primary Request and Intent: exercise the test harness.\n"
    "2. Key Technical Concepts: none.\n3. Files and Code Sections: notes.txt was read.\n"
    "4. Errors and fixes: none.\n5. Problem Solving: done.\n"
    "6. All user messages: a scripted prompt.\n7. Pending Tasks: none.\n"
    "8. Current Work: finished.\n9. Optional Next Step: none.\n</summary>"
)


def _texts_of(content: Any) -> list[str]:
    """Text of a message's content, excluding tool_result blocks."""
    if isinstance(content, str):
        return [content]
    out = []
    if isinstance(content, list):
        for b in content:
            if isinstance(b, dict) and b.get("type") == "text":
                out.append(str(b.get("text", "")))
    return out


def _system_text(body: dict) -> str:
    s = body.get("system")
    if isinstance(s, str):
        return s
    if isinstance(s, list):
        return "\n".join(str(b.get("text", "")) for b in s if isinstance(b, dict))
    return ""


def _parse_args(s: str) -> dict[str, str]:
    out = {}
    for tok in s.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


_CWD_RES = [
    re.compile(r"Primary working directory:\s*(\S[^\n]*)"),
    re.compile(r"Working directory:\s*(\S[^\n]*)"),
]


@dataclass
class Decision:
    kind: str
    plan: str | None
    step: int | None
    blocks: list[dict]
    stop_reason: str


def decide(body: dict) -> Decision:
    """What to answer for a request (pure function of the request body)."""
    messages = body.get("messages") or []
    system = _system_text(body)
    tools = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    last_texts = _texts_of(last_user.get("content")) if last_user else []

    if not tools and not (body.get("system") and COMPACT_RE.search(system)) and not any(
            COMPACT_RE.search(t) for t in last_texts):
        return _side_decision(body, system)

    is_compact = any(COMPACT_RE.search(t) for t in last_texts) or bool(COMPACT_RE.search(system))

    # find the last user message with a plan/agent marker
    marker = None
    marker_idx = -1
    for idx in range(len(messages) - 1, -1, -1):
        m = messages[idx]
        if m.get("role") != "user":
            continue
        for t in _texts_of(m.get("content")):
            found = list(_MARKER_RE.finditer(t))
            if found:
                marker = found[-1]
                break
        if marker:
            marker_idx = idx
            break

    if is_compact:
        summary = SUMMARY_TEXT
        if marker is not None:
            # carry the plan state across the compaction so the plan goes on afterwards
            args = _parse_args(marker.group(3))
            done = int(args.pop("_done", "0")) + sum(
                1 for m in messages[marker_idx + 1:] if m.get("role") == "assistant")
            kv = "".join(f" {k}={v}" for k, v in args.items())
            summary += f"\n[[{marker.group(1)}:{marker.group(2)}{kv} _done={done}]]"
        return Decision("compact", marker.group(2) if marker else None, None,
                        [_text(summary)], "end_turn")

    if marker is not None:
        kind = "main" if marker.group(1) == "plan" else "subagent"
        name = marker.group(2)
        cwd = ""
        for rx in _CWD_RES:
            mm = rx.search(system) or next(
                (rx.search(t) for m in messages for t in _texts_of(m.get("content"))
                 if rx.search(t)), None)
            if mm:
                cwd = mm.group(1).strip()
                break
        args = _parse_args(marker.group(3))
        done = int(args.pop("_done", "0"))
        ctx = PlanContext(cwd=cwd, args=args, tool_names=tools, model=str(body.get("model", "")))
        plan_fn = PLANS.get(name, _plan_text)
        steps = plan_fn(ctx)
        step = done + sum(1 for m in messages[marker_idx + 1:] if m.get("role") == "assistant")
        if step < len(steps):
            return Decision(kind, name, step, copy.deepcopy(steps[step]), "tool_use"
                            if any(b["type"] == "tool_use" for b in steps[step]) else "end_turn")
        answer = ctx.args.get("answer") or f"Done: plan {name} finished after {step} steps."
        return Decision(kind, name, step, [_text(answer)], "end_turn")

    return Decision("other", None, None, [_text("OK.")], "end_turn")


def _side_decision(body: dict, system: str) -> Decision:
    """Requests without tools: title generation, quota probes, other one-shot helpers."""
    if body.get("max_tokens") == 1:
        return Decision("quota", None, None, [_text("ok")], "max_tokens")
    kind = "title" if re.search(r"\btitle\b", system, re.IGNORECASE) else "side"
    schema = _json_schema(body)
    if schema is not None:
        answer = json.dumps(_example_for_schema(schema))
    elif kind == "title":
        answer = "Scripted test session"
    else:
        answer = "OK."
    return Decision(kind, None, None, [_text(answer)], "end_turn")


def _json_schema(body: dict) -> dict | None:
    for key in ("output_config", "output_format"):
        oc = body.get(key)
        if not isinstance(oc, dict):
            continue
        fmt = oc.get("format") if isinstance(oc.get("format"), dict) else oc
        if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):
            return fmt["schema"]
    return None


def _example_for_schema(schema: dict, name: str = "") -> Any:
    t = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if t == "object":
        props = schema.get("properties") or {}
        return {k: _example_for_schema(v, k) for k, v in props.items()}
    if t == "array":
        return []
    if t == "boolean":
        return False
    if t in ("integer", "number"):
        return 0
    return "Scripted test session" if name == "title" else "ok"


# --------------------------------------------------------------------------------------------
# Ids

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62(data: bytes, n: int) -> str:
    num = int.from_bytes(data, "big")
    out = []
    for _ in range(n):
        num, r = divmod(num, 62)
        out.append(_B62[r])
    return "".join(out)


def make_id(prefix: str, seed: str, *parts: object, n: int = 24) -> str:
    h = hashlib.sha256(":".join([seed, prefix, *map(str, parts)]).encode()).digest()
    return f"{prefix}{_b62(h, n)}"


# --------------------------------------------------------------------------------------------
# Server


@dataclass
class RequestContext:
    """Passed to ``usage_hook`` so a scenario can force numbers."""

    seq: int
    body: dict
    decision: Decision
    model: str
    request_model: str


class FakeAnthropic:
    """Threaded loopback fake of the Anthropic API. Use as a context manager."""

    def __init__(
        self,
        log_path: str | Path | None = None,
        *,
        seed: str = "spendtui",
        host: str = "127.0.0.1",
        port: int = 0,
        force_1h: bool = False,
        usage_hook: Callable[[RequestContext, dict], dict] | None = None,
        dump_dir: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_path = Path(log_path) if log_path else None
        self.seed = seed
        self.force_1h = force_1h
        self.usage_hook = usage_hook
        self.dump_dir = Path(dump_dir) if dump_dir else None
        self.cache = PromptCache(clock)
        self.truth: list[dict] = []
        #: every request that was not a ``/v1/messages`` call: {"method","path","status"}
        self.other_requests: list[dict] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> FakeAnthropic:
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.touch()
        if self.dump_dir:
            self.dump_dir.mkdir(parents=True, exist_ok=True)
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def records(self) -> list[dict]:
        """The ground-truth records (from the log file when there is one)."""
        if self.log_path and self.log_path.exists():
            return [json.loads(line) for line in self.log_path.read_text().splitlines()
                    if line.strip()]
        with self._lock:
            return list(self.truth)

    # -- request handling
    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def handle_messages(self, body: dict, headers: dict[str, str]) -> tuple[dict, dict, str]:
        """Decide and account one request; returns (message, truth_record, request_id)."""
        seq = self._next_seq()
        request_model = str(body.get("model", ""))
        model = resolve_model(request_model)
        decision = decide(body)
        thinking_on = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        content = []
        for i, b in enumerate(decision.blocks):
            if b["type"] == "thinking":
                if not thinking_on:
                    continue
                b = dict(b)
                sig = hashlib.sha256(f"{self.seed}:{seq}:{i}".encode()).digest() * 3
                b["signature"] = base64.b64encode(sig).decode()
            elif b["type"] == "tool_use":
                b = {"type": "tool_use", "id": make_id("toolu_", self.seed, seq, i),
                     "name": b["name"], "input": b["input"]}
            content.append(b)
        if not content:
            content = [_text("OK.")]
        stop_reason = decision.stop_reason
        if stop_reason == "tool_use" and not any(b["type"] == "tool_use" for b in content):
            stop_reason = "end_turn"

        units = prompt_units(body)
        usage = self.cache.usage_for(model, units, force_1h=self.force_1h)
        out = max(1, sum(estimate_tokens(b) for b in content))
        if isinstance(body.get("max_tokens"), int):
            out = min(out, max(1, body["max_tokens"]))
        usage["output_tokens"] = out
        if self.usage_hook:
            ctx = RequestContext(seq, body, decision, model, request_model)
            usage = self.usage_hook(ctx, copy.deepcopy(usage)) or usage
            cc = usage.get("cache_creation") or {}
            if cc:
                usage["cache_creation_input_tokens"] = (
                    cc.get("ephemeral_5m_input_tokens", 0) + cc.get("ephemeral_1h_input_tokens", 0))
        request_id = make_id("req_", self.seed, seq, n=24)
        message = {
            "id": make_id("msg_", self.seed, seq),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        ttls = sorted({u.ttl for u in units if u.ttl})
        lower = {k.lower(): v for k, v in headers.items()}
        betas = [b.strip() for b in lower.get("anthropic-beta", "").split(",") if b.strip()]
        record = {
            "seq": seq,
            "time": time.time(),
            "request_id": request_id,
            "message_id": message["id"],
            "model": model,
            "request_model": request_model,
            "usage": copy.deepcopy(usage),
            "stream": bool(body.get("stream")),
            "kind": decision.kind,
            "plan": decision.plan,
            "step": decision.step,
            "stop_reason": stop_reason,
            "max_tokens": body.get("max_tokens"),
            "n_messages": len(body.get("messages") or []),
            "est_prompt_tokens": sum(u.tokens for u in units),
            "cache_ttls": ttls,
            "tool_uses": [b["name"] for b in content if b["type"] == "tool_use"],
            "thinking": thinking_on,
            "session_id": lower.get("x-claude-code-session-id"),
            "betas": betas,
            "context_1m": any(b.startswith("context-1m") for b in betas),
        }
        with self._lock:
            self.truth.append(record)
            if self.log_path:
                with self.log_path.open("a") as fh:
                    fh.write(json.dumps(record, sort_keys=True) + "\n")
        if self.dump_dir:
            (self.dump_dir / f"{seq:04d}-{decision.kind}.json").write_text(
                json.dumps({"headers": headers, "body": body, "response": message,
                            "record": record}, indent=1))
        return message, record, request_id

    def note_other(self, method: str, path: str, status: int, body: Any = None) -> None:
        with self._lock:
            self.other_requests.append({"method": method, "path": path, "status": status})
        if self.dump_dir:
            n = len(self.other_requests)
            (self.dump_dir / f"other-{n:04d}.json").write_text(
                json.dumps({"method": method, "path": path, "status": status, "body": body},
                           indent=1, default=str))


def sse_events(message: dict) -> Iterator[tuple[str, dict]]:
    """The SSE event sequence the real API streams for ``message``."""
    usage = message["usage"]
    start_usage = copy.deepcopy(usage)
    start_usage["output_tokens"] = min(usage.get("output_tokens", 1), 1) or 1
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=start_usage)
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for i, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "text", "text": ""}}
            text = block["text"]
            half = max(1, len(text) // 2)
            for chunk in (text[:half], text[half:]):
                if chunk:
                    yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "text_delta", "text": chunk}}
        elif kind == "thinking":
            yield "content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            yield "content_block_delta", {
                "type": "content_block_delta", "index": i,
                "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}
            yield "content_block_delta", {
                "type": "content_block_delta", "index": i,
                "delta": {"type": "signature_delta", "signature": block["signature"]}}
        elif kind == "tool_use":
            yield "content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                  "input": {}}}
            js = json.dumps(block["input"])
            half = max(1, len(js) // 2)
            for chunk in (js[:half], js[half:]):
                if chunk:
                    yield "content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": chunk}}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": message["stop_reason"],
                                      "stop_sequence": None},
                            "usage": delta_usage}
    yield "message_stop", {"type": "message_stop"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def _send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self, body: Any = None) -> None:
        path = self.path
        self.fake.note_other(self.command, path, 404, body)
        rid = make_id("req_", self.fake.seed, "404", time.time_ns())
        self._send_json(404, {"type": "error", "error": {
            "type": "not_found_error", "message": f"Not found: {self.command} {path}"},
            "request_id": rid}, {"request-id": rid})

    def do_GET(self) -> None:
        self._not_found()

    do_PUT = do_DELETE = do_PATCH = do_GET

    def do_HEAD(self) -> None:
        self.fake.note_other("HEAD", self.path, 404)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if path == "/v1/messages/count_tokens" and isinstance(body, dict):
            n = sum(u.tokens for u in prompt_units(body))
            self.fake.note_other("POST", self.path, 200)
            rid = make_id("req_", self.fake.seed, "count", time.time_ns())
            self._send_json(200, {"input_tokens": n}, {"request-id": rid})
            return
        if path != "/v1/messages" or not isinstance(body, dict):
            self._not_found(body)
            return
        try:
            message, _record, request_id = self.fake.handle_messages(body, dict(self.headers))
        except Exception as exc:  # never hang the client: answer with an API error
            import traceback

            traceback.print_exc(file=sys.stderr)
            self._send_json(500, {"type": "error", "error": {"type": "api_error",
                                                               "message": repr(exc)}})
            return
        headers = {"request-id": request_id, "anthropic-organization-id": "fake-org"}
        if body.get("stream"):
            chunks = []
            for event, data in sse_events(message):
                chunks.append(f"event: {event}\ndata: {json.dumps(data)}\n\n")
            data = "".join(chunks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_json(200, message, headers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", default=None, help="ground-truth JSONL path")
    ap.add_argument("--seed", default="manual")
    ap.add_argument("--dump", default=None, help="directory to dump every request into")
    ap.add_argument("--force-1h", action="store_true")
    a = ap.parse_args(argv)
    fake = FakeAnthropic(a.log, seed=a.seed, host=a.host, port=a.port, force_1h=a.force_1h,
                         dump_dir=a.dump)
    with fake:
        print(f"fake Anthropic API listening on {fake.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
