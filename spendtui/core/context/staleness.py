"""Dead weight in the context: stale file reads and cold tool output.

Rules (transcript-format.md §3.4):

* a Read result (or a file re-attached after compaction) is **superseded** once
  the same file is edited or written later (Edit, Write, MultiEdit,
  NotebookEdit, succeeded), changed on disk (an ``edited_text_file`` notice), or
  read again in full: the model now holds a newer copy, the old one is paid for
  on every call and useful for nothing;
* tool output nobody referred to for ``COLD_TURNS`` user turns is **cold**: a
  later tool call on the same path or a reply naming the file counts as a
  reference, anything else does not;
* everything before a compaction boundary has left the context (the ledger is
  reset, so it is neither counted here nor in the context);
* reads inside a sub-agent never enter the parent's context (only main-chain
  records reach this tracker).

Work is O(1) per event: output is grouped by file (one group per path, or per
item when it has none), a reference touches only its group, and groups waiting
to go cold sit in buckets by the turn they were last referred to.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from spendtui.core.context.composition import Item, Sums

COLD_TURNS = 3
_WORD_RE = re.compile(r"[\w.\-/]+")
READ_TOOLS = ("Read", "NotebookRead", "attachment:file", "attachment:compact_file_reference")


@dataclass(slots=True, eq=False)
class Group:
    """The live, coldable output about one file (or one path-less item)."""

    last_ref_turn: int
    sums: Sums = field(default_factory=Sums)
    cold: bool = False


class StaleTracker:
    def __init__(self, cold_turns: int = COLD_TURNS) -> None:
        self.cold_turns = cold_turns
        self.turn = 0
        self.stale = Sums()
        self.cold = Sums()
        self._reads: dict[str, list[Item]] = defaultdict(list)  # path -> file-content items
        self._groups: dict[str, Group] = {}
        self._item_group: dict[int, Group] = {}
        self._basenames: dict[str, set[str]] = defaultdict(set)
        self._buckets: dict[int, list[Group]] = defaultdict(list)
        self.events: dict[str, int] = defaultdict(int)  # why items went stale, for evidence

    # ------------------------------------------------------------ lifecycle
    def reset(self, items: Iterable[Item] = ()) -> None:
        """Start over on a new ledger (compaction: empty; rewind: the surviving items)."""
        self.stale = Sums()
        self.cold = Sums()
        self._reads.clear()
        self._groups.clear()
        self._item_group.clear()
        self._basenames.clear()
        self._buckets.clear()
        for it in items:
            if it.stale is not None:
                self.stale.add(it)
                self._index_read(it)
            else:
                self.add(it, it.last_ref_turn)

    def remove(self, items: Iterable[Item]) -> None:
        """Items cleared from the context (microcompaction)."""
        for it in items:
            if it.stale is not None:
                self.stale.add(it, -1)
            else:
                self._ungroup(it)
            it.stale = "removed"

    @staticmethod
    def _coldable(it: Item) -> bool:
        return it.cat == "tools" and it.is_result

    def _index_read(self, it: Item) -> None:
        if it.path and it.is_result and it.tool in READ_TOOLS:
            self._reads[it.path].append(it)

    def _ungroup(self, it: Item) -> None:
        g = self._item_group.pop(id(it), None)
        if g is not None:
            g.sums.add(it, -1)
            if g.cold:
                self.cold.add(it, -1)

    # ------------------------------------------------------------ events
    def add(self, it: Item, turn: int | None = None) -> None:
        it.last_ref_turn = self.turn if turn is None else turn
        self._index_read(it)
        if it.path:
            self._basenames[os.path.basename(it.path)].add(it.path)
        if not self._coldable(it):
            return
        key = it.path or f"#{id(it)}"
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = Group(it.last_ref_turn)
            self._buckets[g.last_ref_turn].append(g)
        if g.cold:
            self.cold.add(it)
        g.sums.add(it)
        self._item_group[id(it)] = g

    def on_read(self, it: Item, full: bool, unchanged: bool = False) -> None:
        """A new Read result; a full re-read supersedes the earlier copies of the file."""
        if it.path is None:
            return
        if full and not unchanged:
            for old in self._reads[it.path]:
                if old is not it:
                    self._supersede(old, "read again")
        self.on_ref(it.path)

    def on_modified(self, path: str, why: str) -> None:
        """The file changed (edit/write/notebook edit succeeded, or changed on disk)."""
        for old in self._reads.get(path, ()):
            self._supersede(old, why)
        self.on_ref(path)

    def _supersede(self, it: Item, why: str) -> None:
        if it.stale is not None:
            return
        self._ungroup(it)
        it.stale = "superseded"
        it.stale_why = why
        self.stale.add(it)
        self.events[why] += 1

    def on_ref(self, path: str) -> None:
        """Something referred to ``path``: its output is warm again."""
        g = self._groups.get(path)
        if g is None:
            return
        if g.cold:
            g.cold = False
            self.cold.add_sums(g.sums, -1)
        if g.last_ref_turn != self.turn:
            g.last_ref_turn = self.turn
            self._buckets[self.turn].append(g)

    def on_text(self, text: str) -> None:
        """A reply naming a file by its base name refers to it."""
        if not self._basenames or not text:
            return
        for w in set(_WORD_RE.findall(text)):
            name = os.path.basename(w.rstrip(".,:;"))
            for p in self._basenames.get(name, ()):
                self.on_ref(p)

    def on_turn(self) -> None:
        """A new user prompt: output last referred to ``cold_turns`` turns ago turns cold."""
        self.turn += 1
        due = self.turn - self.cold_turns
        for t in [t for t in self._buckets if t <= due]:
            for g in self._buckets.pop(t):
                if not g.cold and g.last_ref_turn == t:
                    g.cold = True
                    self.cold.add_sums(g.sums)

    # ------------------------------------------------------------ queries
    def state(self, it: Item) -> str | None:
        """"superseded", "cold" or None (live) for an item of the current ledger."""
        if it.stale is not None:
            return it.stale
        g = self._item_group.get(id(it))
        return "cold" if g is not None and g.cold else None

    def why(self, it: Item) -> str | None:
        s = self.state(it)
        if s == "cold":
            return f"not referred to for {self.cold_turns} turns"
        return it.stale_why if s else None

    def sums(self) -> tuple[Sums, Sums]:
        return Sums(self.stale.est, self.stale.exact), Sums(self.cold.est, self.cold.exact)
