"""``ContextAnalyzer``: the session model's observer that feeds every context analysis.

It sees each raw record once, right after ``SessionModel.ingest`` applied it,
and keeps all state incremental. Main-chain records go into the composition
ledger in *graph* order: Claude Code 2.1 sometimes writes a turn's prompt
after the first reply of that turn (interactive mode), so a record whose
parent has not been seen yet waits until the parent arrives. Sub-agent records
only feed the per-agent facts the sub-agent rules need; they never enter the
parent's context.
"""

from __future__ import annotations

import os
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from spendtui.core.context import composition as comp_mod
from spendtui.core.context.cache import CacheAnalyzer, Events, Miss
from spendtui.core.context.calllog import CallFacts, CallLog, CompLog, MainCalls
from spendtui.core.context.composition import (
    MEMORY_HEAD,
    REMINDER_HEAD,
    REMINDER_TAIL,
    CallComposition,
    Item,
    Ledger,
    MemoryFile,
    discover_memory,
    dumps,
    is_memory_path,
    memory_paths_in_text,
    snapshot,
    strip_images,
)
from spendtui.core.context.readonly import EDIT_TOOLS, FILE_TOOLS, is_read_only
from spendtui.core.context.staleness import COLD_TURNS, StaleTracker
from spendtui.core.context.tokens import (
    PRIOR_RATIO,
    ApiTokenCounter,
    Calibration,
    Estimator,
    default_estimator,
    scale_parts,
)
from spendtui.core.digests import DigestSet, digest64
from spendtui.core.model import ApiCall, SessionModel, Source, is_real_prompt, parse_ts

SUMMARY_PREAMBLE = "This session is being continued from a previous conversation"
MAX_PENDING = 256
"""Records waiting for a parent; beyond this we stop waiting. Claude Code writes a turn's
prompt after its first reply at most a few records late; a parent that never comes (a lost
line) would otherwise keep every record after it, whole, until the next query."""
REWIND_WALK = 4000
KEEP_PARTS = 100
WINDOW_MAIN_CALLS = 5_000
"""The analysis covers the newest this many main-chain calls (and the sub-agent calls made
since the first of them); older ones leave it a batch at a time, at a point where the context
restarted (a compaction, /clear's new file, a rewind or a model switch), so every per-segment
figure stays exact. The advice, the avoidable-spend replay and the hit ratios then describe
that window: what the user can still act on. It bounds the analysis' memory, and the time a
refresh takes, however long a session runs (the accounting is never windowed)."""
"""Main calls whose composition keeps its parts in a live session (roughly 2 KB each, estimated
from their two dicts); only the
newest call's are shown, the rest keep their totals (``CompLog``)."""


def _key_digest(key: tuple[str, str]) -> int:
    return digest64(f"{key[0]}\0{key[1]}")


def _before(ts: datetime | None, cut: datetime | None) -> bool:
    """Is ``ts`` strictly before the window's start? An undated call stays in."""
    if ts is None or cut is None:
        return False
    try:
        return ts < cut
    except TypeError:  # naive against aware: cannot tell, keep it
        return False


def summary_body(text: str) -> str:
    """The model-written part of a compaction summary (what the summarising call output)."""
    if text.startswith(SUMMARY_PREAMBLE):
        cut = text.find("\n\n")
        text = text[cut + 2:] if cut >= 0 else text
    for tail in ("\n\nPlease continue the conversation", "\nPlease continue the conversation",
                 "\n\nIf you need specific details"):
        cut = text.find(tail)
        if cut >= 0:
            text = text[:cut]
    return text


@dataclass(slots=True)
class AgentFacts:
    """What the sub-agent rules need about one sub-agent."""

    agent_id: str
    tools: dict[str, int] = field(default_factory=dict)
    read_only: bool = True
    calls: array[int] = field(default_factory=lambda: array("i"))  # rows in the call log
    started: datetime | None = None  # its first call's time: it is in the window if that is


class GrowthLog:
    """Per main call, how much its prompt grew over the previous call's, (measured, estimated,
    exact) or None (a restart): three arrays, 25 bytes a call instead of a tuple's ~150."""

    __slots__ = ("_est", "_exact", "_known", "_real", "gone")

    def __init__(self) -> None:
        self.gone = 0  # entries before this left the analysis window
        self._real = array("q")
        self._est = array("d")
        self._exact = array("q")
        self._known = bytearray()

    def drop_before(self, i: int) -> None:
        n = i - self.gone
        if n > 0:
            for a in (self._real, self._est, self._exact, self._known):
                del a[:n]
            self.gone = i

    def append(self, g: tuple[int, float, int] | None) -> None:
        real, est, exact = g if g is not None else (0, 0.0, 0)
        self._real.append(real)
        self._est.append(est)
        self._exact.append(exact)
        self._known.append(g is not None)

    def __getitem__(self, i: int) -> tuple[int, float, int] | None:
        if i < 0:
            i += len(self)
        if i < self.gone:
            raise IndexError(i)
        j = i - self.gone
        return (self._real[j], self._est[j], self._exact[j]) if self._known[j] else None

    def __len__(self) -> int:
        return self.gone + len(self._known)

    def __iter__(self) -> Iterator[tuple[int, float, int] | None]:
        """The kept entries (from ``gone`` on), aligned with iterating ``analyzer.main``."""
        for i in range(self.gone, len(self)):
            yield self[i]


@dataclass(slots=True)
class CompactionInfo:
    timestamp: datetime | None
    prev_call: ApiCall | None
    summary_est: float = 0.0
    pre_tokens: int | None = None
    next_prompt: int | None = None


class ContextAnalyzer:
    """Context composition, staleness, cache misses, unlogged calls and advice for one session.

    Attach it *before* loading so it sees every record::

        model = SessionModel(session_id)
        analyzer = ContextAnalyzer(model, prices)
        load_session(files, pricer, model=model)
        summary = session_summary(model, prices)
        analyzer.merge_into(summary)
    """

    def __init__(
        self,
        model: SessionModel,
        prices: Any = None,
        *,
        estimator: Estimator | None = None,
        memory: list[MemoryFile] | None = None,
        read_memory: bool = True,
        home: str | os.PathLike[str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        exact_counts: bool = False,
        token_counter: Any = None,
        history: list[tuple[date, float]] | None = None,
        current_plan: str | None = None,
        history_until: date | None = None,
        cold_turns: int = COLD_TURNS,
        window: int | None = WINDOW_MAIN_CALLS,
    ) -> None:
        self.model = model
        self.window = window
        self.prices = prices
        self.estimator = estimator or default_estimator()
        self.counter = token_counter if token_counter is not None else ApiTokenCounter.create(exact_counts)
        self.calibration = Calibration(prior=PRIOR_RATIO.get(self.estimator.name, 1.0))
        self._memory = memory
        self._read_memory = read_memory
        self._home = home
        self._config_dir = config_dir
        self.history = list(history or [])  # (local day, USD) of the user's spend, for the plan advice
        self.current_plan = current_plan  # "api", "pro", "max5x", "max20x" or None (not said: API)
        self.history_until = history_until  # the history's last day (default: the session's)

        self.ledger = Ledger()
        self.stale = StaleTracker(cold_turns)
        self.cache = CacheAnalyzer(prices)
        # every call we saw, main and sub-agent, by row: the live follower retires old calls
        # from model.calls to bound memory, but the replay and the sub-agent rules need them all
        self.calls = CallLog()
        self.main = CompLog()  # per main call, its composition
        self.main_rows = array("i")  # per main call kept (from main.gone on), its row in the call log
        # the analysis window: main calls before main.gone and the rows before calls.gone
        # left it; so did any sub-agent call made before window_from (see WINDOW_MAIN_CALLS)
        self.window_from: datetime | None = None
        self._restarts: deque[int] = deque()  # main indices where the context restarted, in the window
        self._gone_agents = DigestSet()  # sub-agents that started before the window
        self._first_call: tuple[datetime | None, str] | None = None  # the session's first main call
        self._first_prompt: tuple[int, int, float] | None = None  # its (prompt, exact, est), for the baseline
        self.agents: dict[str, AgentFacts] = {}
        self.compactions: list[CompactionInfo] = []
        self.turn_tools: dict[int, list[int]] = {}  # turn -> [tool uses, edit tool uses]
        self.last_files: dict[str, tuple[float, int]] = {}
        self.memory_in_transcript: set[str] = set()
        self.memory_edits: list[tuple[datetime | None, str]] = []
        self.turn = 0
        self.segment = 0
        self.records = 0
        self.observed_baseline: int | None = None
        self.entrypoint: str | None = None
        self.first_prompt_est: float | None = None
        self.model_probes: list[datetime | None] = []

        # digests (8-12 bytes each) of the main-chain uuids processed, calls started and
        # sub-agent calls seen: a long session holds one per record, strings cost ~130
        self._seen = DigestSet()
        self._pending: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._pending_n = 0
        self._arrival = 0
        self._nodes: dict[str, tuple[str | None, list[Item], bool]] = {}  # uuid -> (parent, items, boundary)
        self._children: dict[str, list[str]] = {}
        self._last_uuid: str | None = None
        self._last_call_node: str | None = None
        self._events = Events()
        self._segment_hidden: list[Item] = []
        self._segment_has_memory = False
        self._started = DigestSet()
        self._read_partial: dict[str, bool] = {}
        self._tool_items: dict[str, Item] = {}
        self._agent_seen_calls = DigestSet()
        self._growth = GrowthLog()  # per main call, vs the previous one

        from spendtui.core.context.advisor import Advisor

        self.advisor = Advisor(self)
        model.record_observers.append(self.observe)

    # ================================================================ memory
    @property
    def memory_files(self) -> list[MemoryFile]:
        if self._memory is None:
            if not self._read_memory:
                self._memory = []
            else:
                cwd = self.model.project
                self._memory = discover_memory(cwd, self._home, self._config_dir) if cwd else []
        return self._memory

    def memory_mtimes(self) -> list[tuple[str, float]]:
        """Current modification times of the memory files (looked at only when a miss needs a cause)."""
        out = []
        for mf in self.memory_files:
            try:
                out.append((mf.path, Path(mf.path).stat().st_mtime))
            except OSError:
                continue
        return out

    # ================================================================ estimation
    def _weigh(self, obj: Any, plain: str | None = None) -> tuple[float, int]:
        """(raw estimate, exact tokens) of one block as sent."""
        stripped, images = strip_images(obj)
        wire = stripped if isinstance(stripped, str) else dumps(stripped)
        if self.counter is not None and plain is not None:
            n = self.counter.count(plain)
            if n is not None:
                return 0.0, n + images
        return float(self.estimator.count(wire)), images

    # ================================================================ observer
    def observe(self, rec: dict[str, Any], src: Source, line: int) -> None:
        """The ``SessionModel.record_observers`` hook."""
        self.records += 1
        if src.agent_id is not None or rec.get("isSidechain"):
            self._observe_agent(rec, src)
            return
        uuid = rec.get("uuid")
        if not isinstance(uuid, str):
            return  # metadata (titles, snapshots, queue operations): nothing is sent
        parent = rec.get("parentUuid")
        self._arrival += 1
        if isinstance(parent, str) and digest64(parent) not in self._seen:
            self._pending.setdefault(parent, []).append((self._arrival, rec))
            self._pending_n += 1
            if self._pending_n > MAX_PENDING:
                self.flush()
            return
        self._process(rec)
        self._release(uuid)

    def _release(self, uuid: str) -> None:
        stack = [uuid]
        while stack:
            u = stack.pop()
            kids = self._pending.pop(u, None)
            if not kids:
                continue
            self._pending_n -= len(kids)
            for _, child in kids:
                self._process(child)
            for _, child in reversed(kids):
                cu = child.get("uuid")
                if isinstance(cu, str):
                    stack.append(cu)

    def flush(self) -> None:
        """Stop waiting for parents that never came: process the waiting records in arrival order."""
        if not self._pending:
            return
        waiting = sorted((a, r) for kids in self._pending.values() for a, r in kids)
        self._pending.clear()
        self._pending_n = 0
        for _, rec in waiting:
            u = rec.get("uuid")
            if isinstance(u, str) and digest64(u) in self._seen:
                continue
            self._process(rec)
            u = rec.get("uuid")
            if isinstance(u, str):
                self._release(u)

    # ================================================================ main chain
    def _process(self, rec: dict[str, Any]) -> None:
        uuid: str = rec["uuid"]
        parent = rec.get("parentUuid") if isinstance(rec.get("parentUuid"), str) else None
        self._seen.add(digest64(uuid))
        rtype = rec.get("type")
        items: list[Item] = []
        boundary = False
        if self.entrypoint is None and isinstance(rec.get("entrypoint"), str):
            self.entrypoint = rec["entrypoint"]
        real_prompt = rtype == "user" and is_real_prompt(rec)
        if real_prompt:
            if parent is not None and self._is_rewind(parent):
                self._rebuild(parent)
            elif parent is None and self._last_call_node is not None and self.main \
                    and self.main[-1].segment == self.segment:
                self._rebuild(None)  # a new root mid-segment: rewound to the very start
            self.turn += 1
            self.stale.on_turn()
        if rtype == "system":
            st = rec.get("subtype")
            if st == "compact_boundary":
                self._on_compaction(rec)
                boundary = True
            elif st == "microcompact_boundary":
                self._on_microcompaction(rec)
            elif st == "local_command":
                c = rec.get("content")
                if isinstance(c, str) and c:
                    items.append(self._item("conversation", {"type": "text", "text": c}, c, rec))
        elif rtype == "user":
            items = self._user_items(rec)
            if real_prompt and self.first_prompt_est is None:
                self.first_prompt_est = sum(it.est for it in items) + sum(it.exact for it in items)
            self._note_probe(rec)
        elif rtype == "assistant":
            items = self._assistant_items(rec)
        elif rtype == "attachment":
            items = self._attachment_items(rec)
        self._nodes[uuid] = (parent, items, boundary)
        if parent is not None:
            self._children.setdefault(parent, []).append(uuid)
        self._last_uuid = uuid

    def _note_probe(self, rec: dict[str, Any]) -> None:
        """``/model`` answered "Set model to ...": Claude Code probes the new model once."""
        msg = rec.get("message")
        c = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(c, str) and c.startswith("<local-command-stdout>Set model to"):
            self.model_probes.append(parse_ts(rec.get("timestamp")))

    def _item(self, cat: str, block: Any, plain: str | None, rec: dict[str, Any], **kw: Any) -> Item:
        est, exact = self._weigh(block, plain)
        return Item(cat, est, exact, turn=self.turn, ts=parse_ts(rec.get("timestamp")), **kw)

    def _add(self, it: Item) -> Item:
        self.ledger.add(it)
        self.stale.add(it)
        return it

    # ---------------------------------------------------------------- user
    def _user_items(self, rec: dict[str, Any]) -> list[Item]:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return []
        content = msg.get("content")
        if rec.get("isCompactSummary"):
            text = content if isinstance(content, str) else dumps(content)
            it = self._add(self._item("compaction_summary", {"type": "text", "text": text}, text, rec))
            if self.compactions:
                self.compactions[-1].summary_est = float(self.estimator.count(summary_body(text)))
            return [it]
        if rec.get("isVisibleInTranscriptOnly"):
            return []
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            return []
        out: list[Item] = []
        tur = rec.get("toolUseResult")
        for b in blocks:
            if not isinstance(b, dict):
                continue
            bt = b.get("type")
            if bt == "text" and isinstance(b.get("text"), str):
                out.extend(self._text_items(b["text"], rec))
            elif bt == "tool_result":
                it = self._tool_result_item(b, rec, tur)
                if it is not None:
                    out.append(it)
            else:
                out.append(self._add(self._item("conversation", b, None, rec)))
        return out

    def _text_items(self, text: str, rec: dict[str, Any]) -> list[Item]:
        """A user text block; a claudeMd reminder is split into memory files and framing."""
        sections = memory_paths_in_text(text) if "<system-reminder>" in text else []
        if not sections:
            return [self._add(self._item("conversation", {"type": "text", "text": text}, text, rec))]
        out = []
        rest = text
        for path, start, end in sections:
            part = text[start:end]
            rest = rest.replace(part, "", 1)
            out.append(self._add(self._item("memory", part, part, rec, path=path)))
            self.memory_in_transcript.add(path)
        self._segment_has_memory = True
        out.append(self._add(self._item("attachments", {"type": "text", "text": rest}, rest, rec)))
        return out

    def _tool_result_item(self, b: dict[str, Any], rec: dict[str, Any], tur: Any) -> Item | None:
        tid = b.get("tool_use_id")
        tu = self.model.tools.get(tid) if isinstance(tid, str) else None
        # popped: a tool's result comes once, and a long session reads many files
        partial = self._read_partial.pop(tid, False) if isinstance(tid, str) else False
        name = tu.name if tu is not None else "unknown"
        path = tu.paths[0] if tu is not None and tu.paths and name in FILE_TOOLS else None
        c = b.get("content")
        plain = c if isinstance(c, str) else dumps(c)
        it = self._item("tools", b, plain, rec, tool=name, path=path,
                        tool_use_id=tid if isinstance(tid, str) else None, is_result=True)
        error = bool(b.get("is_error"))
        if path is not None and not error:
            if name in EDIT_TOOLS:
                self.stale.on_modified(path, "edited" if name != "Write" else "written")
                self._note_memory_edit(path, rec)
            if name in ("Read", "NotebookRead"):
                unchanged = isinstance(tur, dict) and tur.get("type") == "file_unchanged"
                rr = tu.read_range if tu is not None else None
                full = (rr[0] <= 1 and rr[1] >= rr[2]) if rr is not None else not partial
                self._add(it)
                self.stale.on_read(it, full, unchanged)
                return it
        return self._add(it)

    def _note_memory_edit(self, path: str, rec: dict[str, Any]) -> None:
        known = [m.path for m in self.memory_files] + list(self.memory_in_transcript)
        if is_memory_path(path, known):
            self._events.memory_edits.append(path)
            self.memory_edits.append((parse_ts(rec.get("timestamp")), path))

    # ---------------------------------------------------------------- assistant
    def _assistant_items(self, rec: dict[str, Any]) -> list[Item]:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return []
        mid = msg.get("id")
        rid = rec.get("requestId")
        key = (mid, rid if isinstance(rid, str) else "") if isinstance(mid, str) else None
        call = self.model.calls.get(key) if key is not None else None
        if call is None or call.agent_id is not None:
            return []  # synthetic/API-error lines are not sent back; sidechain copies are not ours
        if _key_digest(call.key) not in self._started:
            diag = msg.get("diagnostics")
            if isinstance(diag, dict):
                self._events.diagnostics = diag
            self._start_call(call, rec)
        out: list[Item] = []
        blocks = msg.get("content")
        for b in blocks if isinstance(blocks, list) else []:
            if not isinstance(b, dict):
                continue
            bt = b.get("type")
            if bt == "tool_use":
                name = b.get("name") if isinstance(b.get("name"), str) else "unknown"
                inp = b.get("input") if isinstance(b.get("input"), dict) else {}
                path = next((inp[k] for k in ("file_path", "notebook_path") if isinstance(inp.get(k), str)), None)
                it = self._add(self._item("tools", b, f"{name} {dumps(inp)}", rec, tool=name,
                                          path=path if name in FILE_TOOLS else None,
                                          tool_use_id=b.get("id") if isinstance(b.get("id"), str) else None))
                tid = it.tool_use_id or ""
                if name in ("Read", "NotebookRead"):
                    self._read_partial[tid] = "offset" in inp or "limit" in inp
                for k in ("file_path", "notebook_path", "path"):
                    if isinstance(inp.get(k), str):
                        self.stale.on_ref(inp[k])
                counts = self.turn_tools.setdefault(self.turn, [0, 0])
                counts[0] += 1
                if name in EDIT_TOOLS:
                    counts[1] += 1
                self.advisor.on_tool_use(it.tool_use_id, name, inp, call)
                out.append(it)
            else:
                text = b.get("text") if bt == "text" else b.get("thinking") if bt == "thinking" else None
                out.append(self._add(self._item("conversation", b, text if isinstance(text, str) else None, rec)))
                if bt == "text" and isinstance(text, str):
                    self.stale.on_text(text)
        return out

    # ---------------------------------------------------------------- attachments
    def _attachment_items(self, rec: dict[str, Any]) -> list[Item]:
        att = rec.get("attachment")
        if not isinstance(att, dict):
            return []
        t = att.get("type")
        fname = att.get("filename") or att.get("path")
        fname = fname if isinstance(fname, str) else None
        if t == "nested_memory":
            self.memory_in_transcript.add(fname or "")
            self._segment_has_memory = True
            return [self._add(self._item("memory", att, dumps(att), rec, path=fname))]
        if t in ("file", "compact_file_reference", "already_read_file") and fname:
            it = self._add(self._item("tools", att, dumps(att), rec, tool=f"attachment:{t}", path=fname,
                                      is_result=True))
            if t != "already_read_file":
                self.stale.on_read(it, full=True)
            return [it]
        if t == "edited_text_file" and fname:
            self.stale.on_modified(fname, "changed on disk")
            self._note_memory_edit(fname, rec)
            return [self._add(self._item("tools", att, dumps(att), rec, tool="attachment:edited_text_file",
                                         path=fname, is_result=True))]
        if t in ("deferred_tools_delta", "mcp_instructions_delta"):
            self._events.tools_delta = True
        return [self._add(self._item("attachments", att, dumps(att), rec))]

    # ---------------------------------------------------------------- segments
    def _on_compaction(self, rec: dict[str, Any]) -> None:
        meta = rec.get("compactMetadata") if isinstance(rec.get("compactMetadata"), dict) else {}
        pre = meta.get("preTokens")
        self.compactions.append(CompactionInfo(
            parse_ts(rec.get("timestamp")), self.main_calls[-1] if self.main_calls else None,
            pre_tokens=pre if isinstance(pre, int) else None))
        self.segment += 1
        self.ledger.reset()
        self.stale.reset()
        self._nodes.clear()  # nothing before the boundary can come back: keep memory per segment
        self._children.clear()
        self._segment_hidden = []
        self._segment_has_memory = False
        self._events.compaction = True

    def _on_microcompaction(self, rec: dict[str, Any]) -> None:
        meta = rec.get("microcompactMetadata")
        ids = set(meta.get("compactedToolIds") or []) if isinstance(meta, dict) else set()
        if ids:
            gone = self.ledger.remove(lambda it: it.is_result and it.tool_use_id in ids)
            self.stale.remove(gone)
            self._events.compaction = True

    def _is_rewind(self, parent: str) -> bool:
        """A prompt whose parent does not descend from the latest call's record branches off."""
        target = self._last_call_node
        if target is None or parent == self._last_uuid:
            return False
        node: str | None = parent
        for _ in range(REWIND_WALK):
            if node is None or node == target:
                return node is None
            entry = self._nodes.get(node)
            if entry is None or entry[2]:
                return False  # unknown ground or a compaction boundary: not a rewind we can prove
            node = entry[0]
        return False

    def _rebuild(self, parent: str | None) -> None:
        """Re-create the ledger for the branch ending at ``parent`` (a rewind)."""
        path: list[str] = []
        node: str | None = parent
        while node is not None and len(path) < REWIND_WALK * 10:
            entry = self._nodes.get(node)
            if entry is None:
                break
            path.append(node)
            if entry[2]:
                break
            node = entry[0]
        on_path = set(path)
        items: list[Item] = list(self._segment_hidden)
        for u in reversed(path):
            items.extend(self._nodes[u][1])
            for kid in self._children.get(u, ()):
                if kid not in on_path:
                    kitems = self._nodes.get(kid, (None, [], False))[1]
                    if kitems and all(it.is_result for it in kitems):
                        items.extend(kitems)  # parallel tool results hang off the tool_use line
        self.ledger.reset(it for it in items if it.stale != "removed")
        self.stale.reset(self.ledger.items)
        self._events.rewind = True

    def _hidden_memory(self, rec: dict[str, Any]) -> None:
        """Add what Claude Code sends at the start of a segment but does not log."""
        if self._segment_has_memory:
            return
        self._segment_has_memory = True
        files = [m for m in self.memory_files if m.path not in self.memory_in_transcript]
        hidden: list[Item] = []
        for i, mf in enumerate(files):
            text = (MEMORY_HEAD if i == 0 else "") + mf.rendered()
            it = self._item("memory", text, text, rec, path=mf.path)
            it.hidden = True
            hidden.append(it)
        framing = REMINDER_HEAD + REMINDER_TAIL
        it = self._item("attachments", {"type": "text", "text": framing}, framing, rec)
        it.hidden = True
        hidden.append(it)
        for it in hidden:
            self._add(it)
        self._segment_hidden = hidden

    # ---------------------------------------------------------------- calls
    def _start_call(self, call: ApiCall, rec: dict[str, Any]) -> None:
        self._started.add(_key_digest(call.key))
        row = self._index_call(call)
        self._hidden_memory(rec)
        prev = self.main_calls[-1] if self.main_calls else None
        prev_comp = self.main[-1] if self.main else None
        c = snapshot(self.ledger, call.key, len(self.main), self.segment, call.usage.prompt_tokens, call.model,
                     call.timestamp, self.turn, self.stale.sums())
        if self._events.compaction and self.compactions and self.compactions[-1].next_prompt is None:
            self.compactions[-1].next_prompt = c.prompt
        miss = self.cache.on_call(call, prev, self._events, self.baseline(),
                                  self.memory_mtimes() if self._may_miss(call, prev) else None)
        if miss is not None:
            miss.row = row
        self._observe_baseline(call, c, miss)
        hidden_changed = miss is not None and miss.reason in ("system_or_memory_changed", "tools_changed")
        growth: tuple[int, float, int] | None = None
        if (prev_comp is not None and prev_comp.segment == c.segment and not self._events.rewind
                and not self._events.compaction and prev_comp.model == c.model):
            growth = (c.prompt - prev_comp.prompt, c.est - prev_comp.est, c.exact - prev_comp.exact)
            if not hidden_changed:
                # the growth between two calls is known exactly: one calibration pair
                self.calibration.add(*growth[:2], growth[2])
        self._growth.append(growth)
        if growth is None:
            self._restarts.append(len(self.main))
        self._events = Events()
        self.calls.set_main(row, len(self.main))
        if self._first_call is None:
            self._first_prompt = (c.prompt, c.exact, c.est)
            self._first_call = (call.timestamp, call.model)
        self.main.append(c)
        self.main_rows.append(row)
        if self.model.retain is not None:
            # a live session: the parts of older calls are never shown (only the newest call's)
            self.main.keep(KEEP_PARTS)
        self.last_files = {p: (s.est, s.exact) for p, s in self.ledger.files.items()}
        self._last_call_node = rec.get("uuid")
        self.advisor.on_main_call(call, c, miss)
        if self.window is not None and len(self.main) - self.main.gone > self.window + self.window // 8:
            self._slide()

    # ---------------------------------------------------------------- window
    def _slide(self) -> None:
        """Let the oldest main calls (and what hangs off them) leave the analysis window.

        Decided on main-chain calls only, which a live follower and a one-shot read see in the
        same order, so both end with the same window. The cut is the newest restart at least
        ``window`` calls back (batched by an eighth of the window, so a call costs O(1))."""
        target = len(self.main) - (self.window or 0)
        j = -1
        while self._restarts and self._restarts[0] <= target:
            j = self._restarts.popleft()
        if j <= self.main.gone:
            return  # no restart in between (one context segment longer than the window)
        ts = self.calls.timestamp(self.main_row(j))
        if ts is None:
            return
        if self.window_from is not None and _before(ts, self.window_from):
            ts = self.window_from  # the cut's time never goes back (a skewed clock)
        self.window_from = ts
        old = self.main.gone
        self.main.drop_before(j)
        self._growth.drop_before(j)
        del self.main_rows[: j - old]
        self.cache.drop_before(lambda row: self.calls.main_index(row) < j, j - old)
        # rows: the leading run that left the window goes for good; a later row that left
        # (a sub-agent's call read late) is skipped by in_window until the run reaches it
        log = self.calls
        first = log.gone
        while first < len(log) and not self.in_window(first):
            first += 1
        log.drop_before(first)
        for aid, facts in list(self.agents.items()):
            if _before(facts.started, ts):
                del self.agents[aid]
                self._gone_agents.add(digest64(aid))
            elif facts.calls and facts.calls[0] < first:
                facts.calls = array("i", (r for r in facts.calls if r >= first))
        self.compactions = [ci for ci in self.compactions if not _before(ci.timestamp, ts)]
        self.model_probes = [t for t in self.model_probes if not _before(t, ts)]
        self.memory_edits = [m for m in self.memory_edits if not _before(m[0], ts)]
        first_turn = self.main[j].turn
        for t in [t for t in self.turn_tools if t < first_turn]:
            del self.turn_tools[t]
        self.advisor.drop_before(j, first)

    def in_window(self, row: int) -> bool:
        """Is the call at ``row`` inside the analysis window?"""
        log = self.calls
        if row < log.gone:
            return False
        i = log.main_index(row)
        if i >= 0:
            return i >= self.main.gone
        return self.window_from is None or not _before(log.timestamp(row), self.window_from)

    def agent_rows(self, facts: AgentFacts) -> list[int]:
        """A sub-agent's calls in the window, by row."""
        if self.window_from is None:
            return list(facts.calls)
        return [r for r in facts.calls if self.in_window(r)]

    def main_row(self, i: int) -> int:
        """The call-log row of main call ``i`` (kept: ``i >= main.gone``)."""
        return self.main_rows[i - self.main.gone]

    def _observe_baseline(self, call: ApiCall, c: CallComposition, miss: Miss | None) -> None:
        """The first call after a compaction reads back exactly the system + tools prefix.

        Claude Code caches at the end of the system prompt and at the last message; after a
        compaction the messages are all new while the system prompt (with its snapshot of the
        environment) is unchanged, so that read measures the baseline. Reads at other misses
        are not used: a new run of the session may have a different system prompt tail.
        """
        read = call.usage.cache_read_input_tokens
        if (self.observed_baseline is None and self._events.compaction and self.main
                and self._first_call is not None and call.model == self._first_call[1] and 0 < read < c.prompt):
            self.observed_baseline = read

    @staticmethod
    def _may_miss(call: ApiCall, prev: ApiCall | None) -> bool:
        if prev is None:
            return False
        pu = prev.usage
        return call.usage.cache_read_input_tokens < pu.cache_read_input_tokens + pu.cache_creation_input_tokens

    @property
    def first_call(self) -> tuple[datetime | None, str] | None:
        """(time, model) of the session's first main call (the title call comes before it)."""
        return self._first_call

    def _index_call(self, call: ApiCall) -> int:
        row = self.calls.add(call)
        if self.model.retain is not None and self.calls.full > len(self.model.calls) + 16:
            # the calls the live model retired (oldest first) become rows of columns
            self.calls.let_go(self.model.calls, self.advisor.call_read_only, self.advisor.forget_tools)
        return row

    # ---------------------------------------------------------------- sub-agents
    def _observe_agent(self, rec: dict[str, Any], src: Source) -> None:
        """Sub-agent calls: which tools each agent used (its reads stay out of our ledger)."""
        msg = rec.get("message")
        rtype = rec.get("type")
        if rtype == "assistant" and isinstance(msg, dict):
            mid, rid = msg.get("id"), rec.get("requestId")
            call = self.model.calls.get((mid, rid if isinstance(rid, str) else "")) if isinstance(mid, str) else None
            if call is None or call.agent_id is None:
                return
            row = None
            digest = _key_digest(call.key)
            if digest not in self._agent_seen_calls:
                self._agent_seen_calls.add(digest)
                row = self._index_call(call)  # every call is indexed: the replay counts it by its time
            facts = self.agents.get(call.agent_id)
            if facts is None:
                aid = digest64(call.agent_id)
                if aid in self._gone_agents or _before(call.timestamp, self.window_from):
                    self._gone_agents.add(aid)  # it started before the analysis window
                else:
                    facts = self.agents[call.agent_id] = AgentFacts(call.agent_id, started=call.timestamp)
            if facts is not None and row is not None:
                facts.calls.append(row)
            for b in msg.get("content") or []:
                if isinstance(b, dict) and b.get("type") == "tool_use":
                    name = b.get("name") if isinstance(b.get("name"), str) else "unknown"
                    if facts is not None:
                        facts.tools[name] = facts.tools.get(name, 0) + 1
                        if not is_read_only(name, b.get("input")):
                            facts.read_only = False
                    tid = b.get("id") if isinstance(b.get("id"), str) else None
                    self.advisor.on_tool_use(tid, name, b.get("input") if isinstance(b.get("input"), dict) else {},
                                             call)

    # ================================================================ queries
    @property
    def main_calls(self) -> MainCalls:
        """The main chain's calls in order (those the model let go of as ``CallFacts``)."""
        return MainCalls(self.calls, self.main_rows, self.main.gone)

    def counted_calls(self) -> Iterator[tuple[int, ApiCall | CallFacts]]:
        """Every call in the window this session is billed for (retired ones included), with
        its row; one at a time (a list of them all would be built per refresh, the app's peak)."""
        held = self.model.calls
        windowed = self.window_from is not None
        for row, call in enumerate(self.calls, self.calls.gone):
            if call.billed_elsewhere:
                continue  # a fork's copy
            if windowed and not self.in_window(row):
                continue
            if isinstance(call, ApiCall) and held.get(call.key, call) is not call:
                continue  # a sidechain copy the model replaced by the main one
            yield row, call

    def composition_of(self, row: int) -> CallComposition | None:
        i = self.calls.main_index(row)
        return self.main[i] if i >= self.main.gone else None

    @property
    def ratio(self) -> float:
        return self.calibration.ratio

    def baseline(self) -> float | None:
        """System prompt + tool definitions: the first call's prompt minus its (calibrated)
        messages, or, once a compaction happened, the prefix the next call read back."""
        if self.observed_baseline is not None:
            return float(self.observed_baseline)
        if self._first_prompt is None:
            return None
        prompt, exact, est = self._first_prompt
        return max(0.0, prompt - (exact + self.ratio * est))

    def calibrated(self, c: CallComposition) -> float:
        return (self.baseline() or 0.0) + c.calibrated(self.ratio)

    def _residual(self, g: tuple[int, float, int] | None) -> float:
        """Growth the transcript does not explain (a reminder Claude Code appended to a tool
        result, a changed memory file): zero for pairs the calibration counts as noise."""
        if g is None:
            return 0.0
        real, est, exact = g
        rem = real - exact
        lo, hi = self.calibration.band()
        if est >= 8 and rem > 0 and lo <= rem / est <= hi:
            return 0.0
        return rem - self.ratio * est

    def _restart_hidden(self, c: CallComposition) -> float:
        """At a segment start (or after a rewind or model switch) all that the baseline and
        the transcript do not explain: chiefly the memory reminder of the first message when
        its files could not be read. Zero for the first call when the baseline is estimated."""
        return c.prompt - (self.baseline() or 0.0) - c.calibrated(self.ratio)

    def hidden_tokens(self, c: CallComposition) -> float:
        """Unlogged content in a call's context: the restart residue plus unexplained growth."""
        total = 0.0
        i = c.index
        while i > 0 and self._growth[i] is not None:
            total += self._residual(self._growth[i])
            i -= 1
        return total + self._restart_hidden(self.main[i])

    def estimate_errors(self) -> list[float]:
        """Per main call: (baseline + calibrated messages + unlogged) / measured - 1, unscaled.

        Zero at restarts by construction; in between it measures how well the calibrated
        estimate follows the exact growth."""
        b = self.baseline() or 0.0
        r = self.ratio
        out = []
        hidden = 0.0
        for c, g in zip(self.main, self._growth, strict=True):
            hidden = hidden + self._residual(g) if g is not None else self._restart_hidden(c)
            if c.prompt > 0:
                out.append((b + c.calibrated(r) + hidden) / c.prompt - 1)
        return out

    def parts_for(self, c: CallComposition) -> tuple[dict[str, int], float]:
        """Calibrated parts of a call, scaled to add up to its measured prompt; and the scale.

        ``unlogged`` holds what was sent but never written down (reminders Claude Code
        appends to tool results, memory it could not read from disk)."""
        r = self.ratio
        b = min(float(c.prompt), self.baseline() or 0.0)
        raw = {cat: 0.0 for cat in comp_mod.MESSAGE_CATEGORIES}
        for cat, (est, exact) in c.cats.items():
            raw[cat] = raw.get(cat, 0.0) + exact + r * est
        raw["unlogged"] = max(0.0, self.hidden_tokens(c))
        msg_total = sum(raw.values())
        target = c.prompt - round(b)
        scaled = scale_parts(raw, max(0, target))
        factor = target / msg_total if msg_total > 0 else 1.0
        parts = {"baseline": round(b), **scaled}
        return parts, factor

    def breakdown_for_call(self, call: ApiCall | tuple[str, str]) -> dict[str, Any] | None:
        """Composition of one main-chain call for the app's bar: parts summing to its prompt."""
        key = call if isinstance(call, tuple) else call.key
        self.calibration.fit()
        row = self.calls.row_of(key)
        c = self.composition_of(row) if row is not None else None
        if c is None or c.key is None:
            return None  # not a main call, or one whose parts a live session let go of
        parts, f = self.parts_for(c)
        r = self.ratio
        tools = {k: round(f * (ex + r * est)) for k, (est, ex) in c.tools.items()}
        return {
            "measured_tokens": c.prompt,
            "parts": parts,
            "tools_by_name": dict(sorted(tools.items(), key=lambda kv: -kv[1])),
            "stale_tokens": round(f * c.stale_tokens(r)),
        }

    def advice(self, now: float | datetime | None = None) -> list[Any]:
        """Current advice, biggest saving first (``now`` enables the live TTL countdown)."""
        self.flush()
        self.calibration.fit()
        return self.advisor.current(now)

    def new_advice(self, now: float | datetime | None = None, current: list[Any] | None = None) -> list[Any]:
        """Advice that appeared (or grew a lot) since the last call: for toasts. ``current``:
        ``advice(now)`` just computed, if the caller has it (it walks every call)."""
        self.flush()
        self.calibration.fit()
        return self.advisor.pop_new(now, current)

    def summary_fields(self, now: float | datetime | None = None) -> dict[str, Any]:
        from spendtui.core.context.report import summary_fields

        self.flush()
        self.calibration.fit()
        return summary_fields(self, now)

    def merge_into(self, summary: dict[str, Any], now: float | datetime | None = None) -> dict[str, Any]:
        """Add our keys to ``session_summary(...)``'s dict (``context`` is merged, not replaced)."""
        fields = self.summary_fields(now)
        ctx = fields.pop("context")
        summary.setdefault("context", {}).update(ctx)
        summary.update(fields)
        return summary

