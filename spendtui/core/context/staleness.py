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

Work is O(1) amortised per event: items waiting to go cold sit in buckets by
the turn they were last referred to, and a new turn drains one bucket.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable

from spendtui.core.context.composition import Item, Sums

COLD_TURNS = 3
_WORD_RE = re.compile(r"[\w.\-/]+")


class StaleTracker:
    def __init__(self, cold_turns: int = COLD_TURNS) -> None:
        self.cold_turns = cold_turns
        self.turn = 0
        self.stale = Sums()
        self.cold = Sums()
        self._reads: dict[str, list[Item]] = defaultdict(list)  # path -> file-content items
        self._by_path: dict[str, list[Item]] = defaultdict(list)  # path -> any tool item
        self._basenames: dict[str, set[str]] = defaultdict(set)
        self._buckets: dict[int, list[Item]] = defaultdict(list)
        self.events: dict[str, int] = defaultdict(int)  # why items went stale, for evidence

    # ------------------------------------------------------------ lifecycle
    def reset(self, items: Iterable[Item] = ()) -> None:
        """Start over on a new ledger (compaction: empty; rewind: the surviving items)."""
        self.stale = Sums()
        self.cold = Sums()
        self._reads.clear()
        self._by_path.clear()
        self._basenames.clear()
        self._buckets.clear()
        for it in items:
            self._index(it)
            if it.stale == "cold":
                it.stale = None
            if it.stale is not None:
                self.stale.add(it)
            elif self._coldable(it):
                if self.turn - it.last_ref_turn >= self.cold_turns:
                    it.stale = "cold"
                    self.cold.add(it)
                else:
                    self._buckets[it.last_ref_turn].append(it)

    def remove(self, items: Iterable[Item]) -> None:
        """Items cleared from the context (microcompaction)."""
        for it in items:
            if it.stale == "cold":
                self.cold.add(it, -1)
            elif it.stale is not None:
                self.stale.add(it, -1)
            it.stale = "removed"

    @staticmethod
    def _coldable(it: Item) -> bool:
        return it.cat == "tools" and it.is_result

    def _index(self, it: Item) -> None:
        if it.path:
            self._by_path[it.path].append(it)
            self._basenames[os.path.basename(it.path)].add(it.path)
            if it.is_result and it.tool in ("Read", "attachment:file", "attachment:compact_file_reference"):
                self._reads[it.path].append(it)

    # ------------------------------------------------------------ events
    def add(self, it: Item) -> None:
        it.last_ref_turn = self.turn
        self._index(it)
        if self._coldable(it):
            self._buckets[self.turn].append(it)

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
        if it.stale in ("superseded", "removed"):
            return
        if it.stale == "cold":
            self.cold.add(it, -1)
        it.stale = "superseded"
        it.stale_why = why
        self.stale.add(it)
        self.events[why] += 1

    def on_ref(self, path: str) -> None:
        """Something referred to ``path``: its live items are warm again."""
        for it in self._by_path.get(path, ()):
            if it.stale == "cold":
                self.cold.add(it, -1)
                it.stale = None
            if it.stale is None and it.last_ref_turn != self.turn:
                it.last_ref_turn = self.turn
                if self._coldable(it):
                    self._buckets[self.turn].append(it)

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
            for it in self._buckets.pop(t):
                if it.stale is None and it.last_ref_turn == t:
                    it.stale = "cold"
                    it.stale_why = f"not referred to for {self.cold_turns} turns"
                    self.cold.add(it)

    # ------------------------------------------------------------ queries
    def sums(self) -> tuple[Sums, Sums]:
        return Sums(self.stale.est, self.stale.exact), Sums(self.cold.est, self.cold.exact)
