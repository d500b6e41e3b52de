"""The calls and compositions the context analysis keeps for a whole session, as columns.

Why columns: the avoidable-spend replay and the advice rules walk every call of the session,
so the analysis keeps every call. As Python objects that cost about 1.4 KB a call once the
live model had let go of them (a ``CallFacts`` with its ``Usage``, datetime and key tuple, a
``CallComposition`` with its floats, two dict entries): a day-long live session grew the app
by megabytes an hour. Here a call the model let go of is a row of fixed-width columns (about
100 bytes with its composition), and the rules get short-lived objects built from it.

Rows are numbered in the order the analysis first saw the calls, and only ever appended:
what the analysis keeps about a call for good (a sub-agent's calls, a file's calls, a
fan-out's spawning call, a cache miss) is its row, not its key. The newest calls stay full
objects (the live model still holds them and may still update their usage); the rows let go
of are always the oldest ones, so the columns cover rows ``[0, base)`` and the full objects
``[base, len)``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from spendtui.core.model import ApiCall
from spendtui.core.usage import Usage

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NO_TS = -(2**63)
_US = timedelta(microseconds=1)
_INT_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
               "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", "web_search_requests",
               "web_fetch_requests")
_STR_FIELDS = ("speed", "inference_geo", "service_tier")
_W = len(_INT_FIELDS)
_SLIM: dict[str, tuple[float, int]] = {}
"""The per-category and per-tool parts of a composition let go of (only the newest call's
breakdown reads them); shared, never written to."""

_BILLED, _READ_ONLY = 1, 2


@dataclass(slots=True)
class CallFacts:
    """What the analysis reads of a call the live model let go of: the ``ApiCall`` attribute
    names the rules read, so they take either; built from a row when asked for."""

    row: int
    model: str
    usage: Usage
    timestamp: datetime | None
    agent_id: str | None
    billed_elsewhere: bool
    tools: tuple[str, ...]
    cost_pico: int
    read_only: bool  # all its tool uses read-only (model routing): its tool ids are not kept

    @property
    def tool_use_ids(self) -> tuple[str, ...]:
        return ()


class _Table:
    """Interned values (models, agent ids, tool tuples): the columns hold their numbers."""

    __slots__ = ("_index", "values")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}

    def number(self, v: Any) -> int:
        n = self._index.get(v)
        if n is None:
            n = self._index[v] = len(self.values)
            self.values.append(v)
        return n


class _Times:
    """Timestamps as microseconds since the epoch; one not in UTC (Claude Code writes UTC)
    is kept as it was, so it prints as written."""

    __slots__ = ("_odd", "_us")

    def __init__(self) -> None:
        self._us = array("q")
        self._odd: dict[int, datetime] = {}

    def append(self, ts: datetime | None) -> None:
        if ts is None:
            self._us.append(NO_TS)
            return
        if ts.tzinfo is not timezone.utc:
            self._odd[len(self._us)] = ts
        self._us.append((ts - EPOCH) // _US)

    def drop(self, n: int) -> None:
        """Forget the first ``n`` (what was ``i`` is ``i - n`` after)."""
        del self._us[:n]
        if self._odd:
            self._odd = {i - n: ts for i, ts in self._odd.items() if i >= n}

    def __getitem__(self, i: int) -> datetime | None:
        us = self._us[i]
        if us == NO_TS:
            return None
        odd = self._odd.get(i)
        return odd if odd is not None else EPOCH + timedelta(microseconds=us)


class _Prefixed(Sequence[Any]):
    """Rows ``[gone, base)`` as columns (``_slim`` builds one), ``[base, len)`` as full objects;
    rows before ``gone`` left the analysis window (``drop_before``) and are no longer kept.
    Row numbers stay absolute: nothing kept about a row changes when older ones go."""

    def __init__(self) -> None:
        self.gone = 0
        self.base = 0
        self._full: list[Any] = []

    def __len__(self) -> int:
        return self.base + len(self._full)

    @property
    def full(self) -> int:
        """Rows still held as full objects."""
        return len(self._full)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]  # no slices: nothing reads any
        if i < 0:
            i += len(self)
        if i >= self.base:
            return self._full[i - self.base]
        if i < self.gone:
            raise IndexError(i)
        return self._slim(i)

    def __iter__(self) -> Iterator[Any]:
        """Every row still kept (from ``gone`` on)."""
        for i in range(self.gone, self.base):
            yield self._slim(i)
        yield from list(self._full)

    def drop_before(self, row: int) -> None:
        """Let go of rows ``[gone, row)`` for good (they left the analysis window)."""
        row = min(row, len(self))
        if row <= self.gone:
            return
        in_cols = min(row, self.base) - self.gone
        if in_cols > 0:
            self._drop_columns(in_cols)
        if row > self.base:
            self._drop_full(self._full[: row - self.base])
            del self._full[: row - self.base]
            self.base = row
        self.gone = row

    def _drop_columns(self, n: int) -> None:
        raise NotImplementedError

    def _drop_full(self, objs: list[Any]) -> None:
        return

    def _slim(self, i: int) -> Any:
        raise NotImplementedError


class CallLog(_Prefixed):
    """Every call the analysis indexed, main chain and sub-agents, by row (the model's
    ``ApiCall`` while it holds the call, a ``CallFacts`` built from the columns after)."""

    def __init__(self) -> None:
        super().__init__()
        self._row_of: dict[tuple[str, str], int] = {}  # full rows only
        self._main_index = array("i")  # every row: its position among the main calls, or -1
        # the columns, rows [0, base)
        self._usage = array("q")  # _W counters a row
        self._extra = array("I")  # the usage's string fields, interned
        self._ts = _Times()
        self._model = array("I")
        self._agent = array("i")  # -1: the main chain
        self._tools = array("I")
        self._cost = array("q")
        self._flags = bytearray()
        self._models = _Table()
        self._agents = _Table()
        self._tool_sets = _Table()
        self._extras = _Table()

    def add(self, call: ApiCall) -> int:
        """Index a call (again: the same key keeps its row and takes the newer object)."""
        row = self._row_of.get(call.key)
        if row is not None:
            self._full[row - self.base] = call
            return row
        row = len(self)
        self._full.append(call)
        self._row_of[call.key] = row
        self._main_index.append(-1)
        return row

    def set_main(self, row: int, index: int) -> None:
        self._main_index[row - self.gone] = index

    def main_index(self, row: int) -> int:
        """The row's position among the main calls; -1 for a sub-agent's call (or one let go of)."""
        return self._main_index[row - self.gone] if row >= self.gone else -1

    def timestamp(self, row: int) -> datetime | None:
        """A kept row's time, without building its ``CallFacts``."""
        if row >= self.base:
            return self._full[row - self.base].timestamp
        return self._ts[row - self.gone]

    def _drop_columns(self, n: int) -> None:
        del self._usage[: n * _W]
        del self._extra[:n]
        self._ts.drop(n)
        del self._model[:n]
        del self._agent[:n]
        del self._tools[:n]
        del self._cost[:n]
        del self._flags[:n]
        del self._main_index[:n]
        if len(self._agents.values) > 2 * len(self._agent) + 64:
            # sub-agent ids come and go with the window: keep only those still referenced
            old, self._agents = self._agents.values, _Table()
            self._agent = array("i", [self._agents.number(old[a]) if a >= 0 else -1 for a in self._agent])

    def _drop_full(self, objs: list[Any]) -> None:
        del self._main_index[: len(objs)]
        for call in objs:
            self._row_of.pop(call.key, None)

    def row_of(self, call: ApiCall | CallFacts | tuple[str, str]) -> int | None:
        if isinstance(call, CallFacts):
            return call.row
        return self._row_of.get(call if isinstance(call, tuple) else call.key)

    def _slim(self, row: int) -> CallFacts:
        c = row - self.gone
        u = self._usage[c * _W:(c + 1) * _W]
        usage = Usage(*u, *self._extras.values[self._extra[c]])
        a = self._agent[c]
        flags = self._flags[c]
        return CallFacts(row, self._models.values[self._model[c]], usage, self._ts[c],
                         self._agents.values[a] if a >= 0 else None, bool(flags & _BILLED),
                         self._tool_sets.values[self._tools[c]], self._cost[c], bool(flags & _READ_ONLY))

    def let_go(self, held: Container[tuple[str, str]], read_only: Callable[[ApiCall], bool],
               forget: Callable[[ApiCall], None]) -> int:
        """Turn the oldest full rows whose keys the model no longer ``held`` into columns
        (stopping at the first it still holds, so the columns stay a prefix); how many."""
        n = 0
        full = self._full
        while n < len(full) and full[n].key not in held:
            call = full[n]
            u = call.usage
            self._usage.extend([getattr(u, f) for f in _INT_FIELDS])
            self._extra.append(self._extras.number(tuple(getattr(u, f) for f in _STR_FIELDS)))
            self._ts.append(call.timestamp)
            self._model.append(self._models.number(call.model))
            self._agent.append(self._agents.number(call.agent_id) if call.agent_id is not None else -1)
            self._tools.append(self._tool_sets.number(tuple(call.tools)))
            self._cost.append(call.cost_pico)
            self._flags.append((_BILLED if call.billed_elsewhere else 0) | (_READ_ONLY if read_only(call) else 0))
            forget(call)
            del self._row_of[call.key]
            n += 1
        if n:
            del full[:n]
            self.base += n
        return n


class MainCalls(Sequence[Any]):
    """The main chain's calls in order, read through the log (``analyzer.main_calls``).

    Indexed like ``analyzer.main``: by position among all the session's main calls, of which
    those before ``start`` left the analysis window; ``len`` counts them all, iteration and
    negative indexes cover the kept ones."""

    __slots__ = ("_log", "_rows", "start")

    def __init__(self, log: CallLog, rows: array[int], start: int = 0) -> None:
        self._log = log
        self._rows = rows
        self.start = start

    def __len__(self) -> int:
        return self.start + len(self._rows)

    def __getitem__(self, i: int) -> ApiCall | CallFacts:  # type: ignore[override]  # no slices
        return self._log[self.row(i)]

    def __iter__(self) -> Iterator[ApiCall | CallFacts]:
        log = self._log
        for r in self._rows:
            yield log[r]

    def row(self, i: int) -> int:
        if i < 0:
            return self._rows[i]
        if i < self.start:
            raise IndexError(i)
        return self._rows[i - self.start]


class CompLog(_Prefixed):
    """Per main call, the ledger when it was sent (``analyzer.main``): full objects for the
    newest ``keep`` (the app draws their parts), columns without the parts for the rest."""

    _FLOATS = ("est", "stale_est", "cold_est", "memory_est")
    _INTS = ("segment", "prompt", "turn", "exact", "stale_exact", "cold_exact", "memory_exact")

    def __init__(self) -> None:
        super().__init__()
        self._f = array("d")
        self._i = array("q")
        self._ts = _Times()
        self._model = array("I")
        self._models = _Table()

    def append(self, c: Any) -> None:
        self._full.append(c)

    def keep(self, n: int) -> None:
        """Turn all but the newest ``n`` into columns."""
        cut = len(self._full) - n
        if cut <= 0:
            return
        for c in self._full[:cut]:
            self._f.extend([getattr(c, f) for f in self._FLOATS])
            self._i.extend([getattr(c, f) for f in self._INTS])
            self._ts.append(c.ts)
            self._model.append(self._models.number(c.model))
        del self._full[:cut]
        self.base += cut

    def _slim(self, i: int) -> Any:
        from spendtui.core.context.composition import CallComposition

        c = i - self.gone
        est, s_est, c_est, m_est = self._f[c * 4:c * 4 + 4]
        segment, prompt, turn, exact, s_exact, c_exact, m_exact = self._i[c * 7:c * 7 + 7]
        return CallComposition(None, i, segment, prompt, self._models.values[self._model[c]], self._ts[c], turn,
                               est, exact, _SLIM, _SLIM, s_est, s_exact, c_est, c_exact, m_est, m_exact)

    def _drop_columns(self, n: int) -> None:
        del self._f[: n * 4]
        del self._i[: n * 7]
        self._ts.drop(n)
        del self._model[:n]
