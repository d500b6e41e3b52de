"""What fills the context: a ledger of everything sent on the main chain.

Each transcript record that Claude Code sends to the model (prompts, replies,
tool calls and results, attachments, the compaction summary) becomes an
``Item`` with an estimated token count and a category. The ledger holds the
items of the current context segment: it resets at a compaction boundary
(everything before it has left the context) and is rebuilt from the record
graph on a rewind. A call's composition is a snapshot of the ledger when the
call starts, plus the *baseline* (system prompt + tool definitions), which is
not in the transcript at all: it is the first call's prompt minus its messages.

Memory files (CLAUDE.md & friends) are the other invisible part: Claude Code
2.1 sends them as a ``<system-reminder>`` inside the first user message but
does not write that reminder to the transcript. We read them from disk
(``discover_memory``) the way Claude Code does: managed, user, then every
directory from the filesystem root down to the cwd, each file followed by its
``@imports``. When a transcript does carry them (older versions; ``nested_memory``
attachments) the transcript wins.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

CATEGORIES = ("baseline", "memory", "attachments", "conversation", "tools", "compaction_summary", "unlogged")
MESSAGE_CATEGORIES = CATEGORIES[1:]
MEMORY_NAMES = frozenset({"CLAUDE.md", "CLAUDE.local.md"})
IMAGE_TOKENS = 1600  # a typical screenshot ((w*h)/750 at ~1.15 MP); the data itself is not text
MAX_MEMORY_BYTES = 1 << 20
MAX_IMPORT_DEPTH = 5

# the claudeMd reminder's fixed text (Claude Code 2.1.197, observed on the wire)
REMINDER_HEAD = (
    "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n"
)
MEMORY_HEAD = (
    "# claudeMd\nCodebase and user instructions are shown below. Be sure to adhere to these "
    "instructions. IMPORTANT: These instructions OVERRIDE any default behavior and you MUST follow "
    "them exactly as written.\n\n"
)
REMINDER_TAIL = (
    "# currentDate\nToday's date is 2026-01-01.\n\n      IMPORTANT: this context may or may not be "
    "relevant to your tasks. You should not respond to this context unless it is highly relevant "
    "to your task.\n</system-reminder>\n\n"
)
_KIND_LABEL = {
    "managed": "managed policy instructions",
    "user": "user's private global instructions for all projects",
    "project": "project instructions, checked into the codebase",
    "local": "user's private project instructions, not checked in",
}
_CONTENTS_RE = re.compile(r"Contents of (\S+?) \(([^)]*)\):\n\n")


@dataclass(slots=True)
class MemoryFile:
    path: str
    text: str
    kind: str  # managed | user | project | local (imports take their parent's kind)
    mtime: float = 0.0
    imported_by: str | None = None

    def rendered(self) -> str:
        """The file as Claude Code puts it in the reminder."""
        return f"Contents of {self.path} ({_KIND_LABEL.get(self.kind, 'instructions')}):\n\n{self.text}\n\n"


def _read_text(p: Path) -> tuple[str, float] | None:
    try:
        st = p.stat()
        if not p.is_file() or st.st_size > MAX_MEMORY_BYTES:
            return None
        data = p.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:4096]:
        return None
    return data.decode("utf-8", "replace"), st.st_mtime


_IMPORT_RE = re.compile(r"(?:^|\s)@((?:[^\s\\]|\\ )+)")


def find_imports(text: str) -> list[str]:
    """``@path`` references outside code fences and inline code spans."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for m in _IMPORT_RE.finditer(line):
            ref = m.group(1).replace("\\ ", " ").rstrip(".,;:)")
            if ref:
                out.append(ref)  # only files that exist are loaded, so no further filtering
    return out


def discover_memory(cwd: str | os.PathLike[str] | None, home: str | os.PathLike[str] | None = None,
                    config_dir: str | os.PathLike[str] | None = None,
                    managed: str | os.PathLike[str] | None = "/etc/claude-code/CLAUDE.md") -> list[MemoryFile]:
    """The memory files Claude Code loads for a session started in ``cwd``, in its order."""
    home_p = Path(home) if home else Path(os.environ.get("HOME") or Path.home())
    cfg = Path(config_dir) if config_dir else Path(os.environ.get("CLAUDE_CONFIG_DIR") or home_p / ".claude")
    seen: set[str] = set()
    out: list[MemoryFile] = []

    def add(p: Path, kind: str, depth: int = 0, parent: str | None = None) -> None:
        try:
            key = str(p.resolve())
        except OSError:
            return
        if key in seen:
            return
        got = _read_text(p)
        if got is None:
            return
        seen.add(key)
        text, mtime = got
        out.append(MemoryFile(str(p), text, kind, mtime, parent))
        if depth >= MAX_IMPORT_DEPTH:
            return
        for ref in find_imports(text):
            if ref.startswith("~/"):
                target = home_p / ref[2:]
            elif ref.startswith("/"):
                target = Path(ref)
            else:
                target = p.parent / ref
            add(Path(os.path.normpath(target)), kind, depth + 1, str(p))

    if managed:
        add(Path(managed), "managed")
    add(cfg / "CLAUDE.md", "user")
    if cwd:
        c = Path(cwd)
        chain = [c, *c.parents]
        for d in reversed(chain):
            if d == Path(d.anchor):
                continue  # Claude Code stops below the filesystem root
            add(d / "CLAUDE.md", "project")
            add(d / ".claude" / "CLAUDE.md", "project")
            add(d / "CLAUDE.local.md", "local")
    return out


def memory_paths_in_text(text: str) -> list[tuple[str, int, int]]:
    """(path, start, end) of each ``Contents of <path> (...)`` section of a claudeMd reminder."""
    ms = list(_CONTENTS_RE.finditer(text))
    out = []
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(text)
        tail = text.find("# currentDate", m.end(), end)
        out.append((m.group(1), m.start(), tail if tail >= 0 else end))
    return out


def is_memory_path(path: str, known: Iterable[str] = ()) -> bool:
    return os.path.basename(path) in MEMORY_NAMES or path in set(known)


# ------------------------------------------------------------------ estimation
def dumps(obj: Any) -> str:
    """What a block weighs on the wire: compact JSON (keys sorted for stability)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def strip_images(block: Any) -> tuple[Any, int]:
    """A copy of ``block`` without base64 image/document data, and the images' token allowance."""
    if isinstance(block, dict):
        bt = block.get("type")
        if bt in ("image", "document") and isinstance(block.get("source"), dict):
            return {"type": bt}, IMAGE_TOKENS
        total = 0
        out: dict[str, Any] = {}
        for k, v in block.items():
            if isinstance(v, (dict, list)):
                v, n = strip_images(v)
                total += n
            out[k] = v
        return out, total
    if isinstance(block, list):
        total = 0
        items = []
        for v in block:
            v, n = strip_images(v)
            total += n
            items.append(v)
        return items, total
    return block, 0


# ------------------------------------------------------------------ ledger
@dataclass(slots=True, eq=False)
class Item:
    """One piece of the context, with its raw estimate (``est``, to be calibrated)
    and the part known exactly (``exact``: image allowances, API counts)."""

    cat: str
    est: float
    exact: int = 0
    tool: str | None = None
    path: str | None = None
    tool_use_id: str | None = None
    turn: int = 0
    ts: datetime | None = None
    is_result: bool = False
    stale: str | None = None  # None, "superseded" (edited/re-read/changed on disk), "removed"
    stale_why: str | None = None
    last_ref_turn: int = 0
    hidden: bool = False  # sent but not in the transcript (the claudeMd reminder)


@dataclass(slots=True)
class Sums:
    est: float = 0.0
    exact: int = 0

    def add(self, it: Item, sign: int = 1) -> None:
        self.est += sign * it.est
        self.exact += sign * it.exact

    def add_sums(self, other: Sums, sign: int = 1) -> None:
        self.est += sign * other.est
        self.exact += sign * other.exact


@dataclass(slots=True)
class Ledger:
    """The items of the current context segment and running sums over them."""

    items: list[Item] = field(default_factory=list)
    total: Sums = field(default_factory=Sums)
    cats: dict[str, Sums] = field(default_factory=dict)
    tools: dict[str, Sums] = field(default_factory=dict)
    files: dict[str, Sums] = field(default_factory=dict)

    def add(self, it: Item) -> None:
        self.items.append(it)
        self._apply(it, +1)

    def remove(self, pred: Any) -> list[Item]:
        gone = [it for it in self.items if pred(it)]
        if gone:
            ids = {id(it) for it in gone}
            self.items = [it for it in self.items if id(it) not in ids]
            for it in gone:
                self._apply(it, -1)
        return gone

    def _apply(self, it: Item, sign: int) -> None:
        self.total.add(it, sign)
        self.cats.setdefault(it.cat, Sums()).add(it, sign)
        if it.tool:
            self.tools.setdefault(it.tool, Sums()).add(it, sign)
        if it.path and it.cat == "tools":
            self.files.setdefault(it.path, Sums()).add(it, sign)

    def reset(self, items: Iterable[Item] = ()) -> None:
        self.items = []
        self.total = Sums()
        self.cats = {}
        self.tools = {}
        self.files = {}
        for it in items:
            self.add(it)


@dataclass(slots=True)
class CallComposition:
    """The ledger at the moment one main-chain call was sent (raw, uncalibrated)."""

    key: tuple[str, str]
    index: int  # position among the analysed main calls
    segment: int
    prompt: int  # measured: input + cache writes + cache reads
    model: str
    ts: datetime | None
    turn: int
    est: float
    exact: int
    cats: dict[str, tuple[float, int]]
    tools: dict[str, tuple[float, int]]
    stale_est: float = 0.0
    stale_exact: int = 0
    cold_est: float = 0.0
    cold_exact: int = 0
    memory_est: float = 0.0
    memory_exact: int = 0

    def calibrated(self, ratio: float) -> float:
        return self.exact + ratio * self.est

    def stale_tokens(self, ratio: float) -> float:
        return self.stale_exact + ratio * self.stale_est + self.cold_exact + ratio * self.cold_est


def snapshot(ledger: Ledger, key: tuple[str, str], index: int, segment: int, prompt: int, model: str,
             ts: datetime | None, turn: int, stale: tuple[Sums, Sums]) -> CallComposition:
    mem = ledger.cats.get("memory", Sums())
    return CallComposition(
        key=key, index=index, segment=segment, prompt=prompt, model=model, ts=ts, turn=turn,
        est=ledger.total.est, exact=ledger.total.exact,
        cats={k: (v.est, v.exact) for k, v in ledger.cats.items()},
        tools={k: (v.est, v.exact) for k, v in ledger.tools.items()},
        stale_est=stale[0].est, stale_exact=stale[0].exact,
        cold_est=stale[1].est, cold_exact=stale[1].exact,
        memory_est=mem.est, memory_exact=mem.exact,
    )
