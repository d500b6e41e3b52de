"""Following every active session at once for the exporters.

One background thread polls the followed sessions' files (a ``stat`` per file, then only
the appended bytes) and, less often, rescans the Claude dirs for sessions written in the
last ``active_minutes``. One loop rather than a watcher per session: an exporter may
follow a dozen sessions, and a scrape every 15 s does not need sub-second wake-ups.

Counters must never go down while the exporter runs (Prometheus would read a reset and
``increase()`` would double count), so a session that goes quiet is *retired*: its model
is dropped to free memory, but its totals stay in the counters. If it becomes active
again it is re-read from disk and replaces its retired totals.

With a context provider (the default), each followed session gets a ``ContextAnalyzer``
attached before it is read, as ``summary --json`` does, so the stale-share and
open-savings gauges carry the same numbers; sessions over the analysis size limit
(``summary.ANALYSE_MAX_BYTES``) are followed without one and have no such gauges.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendtui.core.budget import BudgetAlert, BudgetTracker
from spendtui.core.follow import SessionFollower
from spendtui.core.model import SessionModel
from spendtui.core.paths import NoClaudeDataError, SessionFiles, discover
from spendtui.export.metrics import (
    ContextProvider,
    Samples,
    SessionAggregate,
    aggregate_session,
    build_samples,
    default_context_provider,
    project_label,
)

FACTS_SECONDS = 60.0
"""The advice's TTL countdown moves with the clock, not the session: a quiet session's
context facts are worked out again at least this often."""


@dataclass(slots=True)
class _Followed:
    follower: SessionFollower
    project: str
    version: tuple[int, ...] = (0, 0, 0, 0, 0)
    aggregate: SessionAggregate | None = None


class ExportRunner:
    """The set of followed sessions, kept current by ``refresh()`` or a background thread."""

    def __init__(
        self,
        claude_dirs: Sequence[str | Path] | None,
        prices: Any | None,
        user: str,
        active_minutes: float = 30.0,
        poll_seconds: float = 0.5,
        rescan_seconds: float = 5.0,
        budget: BudgetTracker | None = None,
        project_style: str = "name",
        context_provider: ContextProvider | None = default_context_provider,
        on_alerts: Callable[[list[BudgetAlert]], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.claude_dirs = claude_dirs
        self.prices = prices
        self.pricer = prices.cost if prices is not None else None
        self.user = user
        self.active_seconds = active_minutes * 60.0
        self.poll_seconds = poll_seconds
        self.rescan_seconds = rescan_seconds
        self.budget = budget
        self.project_style = project_style
        self.context_provider = context_provider
        self.on_alerts = on_alerts
        self.log = log or (lambda msg: print(f"spendtui export: {msg}", file=sys.stderr))
        self.followed: dict[str, _Followed] = {}
        self.retired: dict[str, SessionAggregate] = {}
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_scan = 0.0
        self._warned_no_data = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Read the active sessions now (so the first scrape has data), then follow in a thread."""
        self.refresh(rescan=True)
        self._thread = threading.Thread(target=self._run, name="spendtui-export", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh(rescan=time.time() - self._last_scan >= self.rescan_seconds)
            except Exception as e:  # a bad file must not kill the exporter
                self.log(f"refresh failed: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ following
    def refresh(self, rescan: bool = True, now: float | None = None) -> None:
        """Poll followed sessions; with ``rescan``, also add new active ones and retire quiet ones."""
        now = time.time() if now is None else now
        if rescan:
            self._rescan(now)
        with self.lock:
            for sid, f in self.followed.items():
                f.follower.poll()
                # a truncated or replaced file makes the follower rebuild a new model
                if self.budget is not None and self.budget.live.get(sid) is not f.follower.model:
                    self.budget.track(f.follower.model)
        if self.budget is not None:
            alerts = self.budget.check(now)
            if alerts and self.on_alerts is not None:
                self.on_alerts(alerts)

    def _rescan(self, now: float) -> None:
        self._last_scan = now
        try:
            sessions = discover(self.claude_dirs)
        except NoClaudeDataError as e:
            if not self._warned_no_data:
                self.log(f"{e} (still looking)")
                self._warned_no_data = True
            sessions = []
        active: dict[str, SessionFiles] = {}
        for s in sessions:
            if now - s.mtime() <= self.active_seconds:
                active.setdefault(s.session_id, s)
        with self.lock:
            for sid, files in active.items():
                if sid not in self.followed:
                    self._follow(files, sessions)
            for sid in [sid for sid, f in self.followed.items()
                        if sid not in active and now - f.follower.files.mtime() > self.active_seconds]:
                self._retire(sid, now)

    def _follow(self, files: SessionFiles, sessions: Sequence[SessionFiles]) -> None:
        siblings = [s for s in sessions if s.project_dir == files.project_dir]
        # /clear is followed by the rescan (the new file is a new active session); the
        # follower switching models itself would make this session's counters drop
        follower = SessionFollower(files, self.pricer, follow_clear=False, siblings=siblings or None)
        if self.context_provider is not None:
            self._analyse(follower)
        follower.load()
        self.followed[files.session_id] = _Followed(
            follower, project_label(follower.model, files.project_dir, self.project_style))
        self.retired.pop(files.session_id, None)  # its live totals replace the frozen ones
        if self.budget is not None:
            self.budget.track(follower.model)

    def _analyse(self, follower: SessionFollower) -> None:
        """Attach a context analyser to each model the follower reads (a reset re-reads into a
        new one), unless the session is over the size limit the summary applies."""
        from spendtui.core.summary import analysis_skipped

        if analysis_skipped(follower.files) is not None:
            return
        prices = self.prices

        def attach(model: SessionModel) -> None:
            try:
                from spendtui.core.context import ContextAnalyzer

                ContextAnalyzer(model, prices)  # it registers itself as the model's record observer
            except Exception as e:  # the gauges are then absent; the session is still counted
                self.log(f"no context analysis for {model.session_id[:8]}: {type(e).__name__}: {e}")

        follower.on_model = attach

    def _retire(self, sid: str, now: float) -> None:
        f = self.followed.pop(sid)
        self.retired[sid] = self._aggregate(f).frozen()
        if self.budget is not None:
            self.budget.retire(f.follower.model, now)

    # ------------------------------------------------------------------ metrics
    def _aggregate(self, f: _Followed) -> SessionAggregate:
        """Re-summed when the session changed since the last scrape (or, for the advice's
        countdown, once every ``FACTS_SECONDS``)."""
        m = f.follower.model
        version = (id(m), m.lines_read, m.cost_pico, m.context_current, int(time.time() // FACTS_SECONDS))
        if f.aggregate is None or version != f.version:
            f.project = project_label(m, f.follower.files.project_dir, self.project_style)
            f.aggregate = aggregate_session(m, self.prices, f.project, self.context_provider)
            f.version = version
        return f.aggregate

    def samples(self, now: float | None = None) -> Samples:
        """A consistent snapshot of every metric (taken under the follower lock)."""
        with self.lock:
            live = [self._aggregate(f) for f in self.followed.values()]
            retired = list(self.retired.values())
            # keep the follower's model stable while the budget walks its calls
            states = self.budget.states(now) if self.budget is not None else []
        return build_samples(self.user, live, retired, states)

    @property
    def session_ids(self) -> list[str]:
        with self.lock:
            return sorted(self.followed)
