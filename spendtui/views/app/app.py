"""``SpendApp``: follows one session in a thread and paints what it costs.

Data flow (see ../shared/reference/textual-practices.md, section b):

* a ``@work(thread=True)`` worker loads the session, then blocks in
  ``watch_loop``; after each poll it folds the events into a ``LiveStats`` and
  posts one ``LiveUpdate`` carrying an immutable snapshot plus any toasts;
* the UI keeps only the newest snapshot and a dirty flag and paints at most once
  per 0.1 s (leading edge: a lone update paints at once, the rest of a burst waits
  for one timer), and an idle app has no redraw timer at all;
* the model is only ever touched under ``self.model_lock`` (the worker's polls,
  and the exit summary), never by widgets.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, cast

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from spendtui.core.config import data_dir
from spendtui.core.follow import Event, SessionFollower, watch_loop
from spendtui.core.live import LiveSnapshot, LiveStats, Notice, notice_for
from spendtui.core.memory import Trimmer
from spendtui.core.paths import SessionFiles
from spendtui.core.summary import session_summary
from spendtui.views.app import format as fmt
from spendtui.views.app import leaks
from spendtui.views.app.messages import CacheExpired, LiveUpdate
from spendtui.views.app.screens import DashboardScreen, HelpScreen, NoSessionScreen, SessionSwitcher

REDRAW_SECONDS = 0.1
FOLLOWER_GROUP = "follower"
REFRESH_GROUP = "analysis-refresh"
LOCK_TIMEOUT = 30.0
APP_RETAIN_CALLS = 1_000
"""Calls whose details the app's follower keeps (``watch --json`` keeps 5,000). The app shows the
newest 60, and every total, the budgets and the context analysis cover all the calls. A call's
details (its usage and price objects, tool uses, turn) weigh roughly 2 KB (estimated from the
objects, not measured alone), so the window of full objects is about 2 MB instead of about 10."""
FOLLOW_RETRY_SECONDS = 5.0
"""After the follower fails, it is started again this long after (doubling, up to a minute)..."""
FOLLOW_HEALTHY_SECONDS = 120.0
"""... unless it ran this long since its last start: then it is a new trouble, not the same one
again. (Counting from the reload that succeeded, a follower failing on every poll after it
read a big session again every 5 s.)"""
PLAN_WAIT_SECONDS = 3.0
"""How long a quit waits for the plan advice's history when the analysis thread had not read it."""
ANALYSIS_DUTY = 0.1
"""The live context analysis (advice, breakdown, avoidable spend) walks the whole history
each time; it is refreshed at most this share of the time, so a long session's analysis
does not use up the CPU (and the lock the follower needs): 2 ms of work after every batch
while the session is small, 400 ms every 4 s when it holds 20,000 calls."""


def summaries_dir() -> Path:
    """``<user data dir>/summaries`` (``SPENDTUI_DATA_DIR`` moves the data dir)."""
    return data_dir() / "summaries"


def save_summary(summary: dict[str, Any], directory: Path | None = None) -> Path:
    """Write ``<session_id>.json`` atomically, so a crash never leaves half a file."""
    directory = directory or summaries_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{summary['session_id']}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # 0600 from the start: a summary names projects and what they cost
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, path)
    return path


class _LockedFollower:
    """What ``watch_loop`` sees: the follower, with every poll holding the model lock."""

    def __init__(self, follower: SessionFollower, lock: threading.Lock) -> None:
        self._follower = follower
        self._lock = lock

    def poll(self, hint: Collection[str] | None = None) -> list[Event]:
        with self._lock:
            return self._follower.poll(hint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._follower, name)


class SpendApp(App[dict[str, Any] | None]):
    """The live dashboard. ``run()`` returns the final session summary (or None)."""

    # Layout only; widgets carry their own look in DEFAULT_CSS. Inline rather than a .tcss
    # file so a wheel built without extra package-data still has it.
    CSS = """
    #middle { height: 5; }
    #gauge { width: 3fr; }
    #cache { width: 2fr; }
    #bottom { height: 1fr; }
    #calls { width: 5fr; }
    #side { width: 2fr; min-width: 40; }
    #agents { height: 1fr; }
    #advice { height: 1fr; }
    Screen.-narrow #bottom { layout: vertical; }
    Screen.-narrow #calls { width: 1fr; }
    Screen.-narrow #side { width: 1fr; min-width: 0; height: 12; }
    Screen.-narrow #agents { height: 6; }
    Screen.-narrow #advice { height: 6; }
    Screen.-short Sparks, Screen.-short SparkPanel { height: 3; }
    Screen.-short SparkPanel Label { display: none; }
    Screen.-short SparkPanel Sparkline { height: 1; }
    Screen.-tiny Sparks { display: none; }
    Screen.-short HeaderStats, Screen.-short Stat, Screen.-tiny HeaderStats, Screen.-tiny Stat { height: 3; }
    Screen.-tiny.-narrow #side { height: 10; }
    Screen.-tiny.-narrow #agents { height: 5; }
    Screen.-tiny.-narrow #advice { height: 5; }
    """
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]
    # 80x24 is still many terminals' default: below 30 rows the sparklines go, below 36 they
    # shrink to one line and the headline boxes lose their second line
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-tiny"), (30, "-short"), (36, "-tall")]
    TITLE = "spendtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit and print the session summary"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit-ctrl-c"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("s", "switch_session", "Sessions", id="switch-session"),
        Binding("t", "toggle_theme", "Theme", id="toggle-theme"),
    ]

    def __init__(
        self,
        files: SessionFiles | None,
        claude_dirs: Sequence[str | Path] | None = None,
        prices: Any = None,
        force_polling: bool | None = None,
        clock: Callable[[], float] | None = None,
        watch: bool = True,
        poll_for_sessions: bool = True,
        use_cache: bool = False,
        analyse: bool = True,
        budgets: Mapping[str, Any] | None = None,
        notify: bool = True,
        project: str | None = None,
    ) -> None:
        super().__init__()
        self.project = project  # --project: without a session yet, the no-session screen waits for one of it
        self.budget_flags = dict(budgets or {})  # the budget flags, over the config's [budget]
        self.budget_notify = notify
        self.use_cache = use_cache  # start from the result cache's snapshot (fast first paint)
        # the context analysis (breakdown, staleness, advice) reads the whole history
        self.analyse = analyse
        self.analyzer: Any = None
        self.files = files
        self.claude_dirs = list(claude_dirs) if claude_dirs else None
        self.prices = prices
        self.force_polling = force_polling
        self.clock: Callable[[], float] = clock or time.time
        self.watch = watch
        """False: load once and never tail (screenshots)."""
        self.poll_for_sessions = poll_for_sessions
        self.model_lock = threading.Lock()
        self.follower: SessionFollower | None = None
        self.snapshot: LiveSnapshot | None = None
        self.generation = 0
        self.summary: dict[str, Any] | None = None
        self.summary_path: Path | None = None
        self.updates = 0
        """How many snapshots were painted (tests wait on it)."""
        self._dirty = False
        self._redraw_timer: Timer | None = None
        self._last_paint = -REDRAW_SECONDS
        self._quitting = False
        self._follow_failures = 0
        self._follow_started = time.monotonic()
        self.follow_retry_in: float | None = None  # the wait before the last follower restart (tests)
        self._pending_analysis: tuple[Any, ...] | None = None
        self.analysis_note: str | None = None
        # the live analysis, refreshed apart from the batches (see ANALYSIS_DUTY)
        self._live: tuple[SessionFollower, LiveStats, Any, int] | None = None
        self._analysis_extra: dict[str, Any] = {}
        self._analysis_of: Any = None  # the analyzer _analysis_extra came from
        # hands freed memory back after batches and refreshes (core/memory.py); with
        # SPENDTUI_MEMSTATS set, it also logs where the memory sits
        self.trimmer = Trimmer(calls=self._counted_calls)
        self._analysis_done = -1e9  # monotonic time the last refresh ended
        self._analysis_took = 0.0
        self._analysis_owed = False
        self._analysis_timer: Timer | None = None
        self._analysis_running = False
        self.analysis_refreshes = 0
        """How many times the live analysis was computed (tests hold it to the duty cycle)."""
        self.plan_kwargs: dict[str, Any] | None = None
        """The plan advice's inputs (``history.plan_inputs``), once read after the first analysis."""

    # ----------------------------------------------------------- screens
    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.clock)

    @property
    def dashboard(self) -> DashboardScreen:
        return cast(DashboardScreen, self.screen_stack[0])

    def on_mount(self) -> None:
        # SIGTERM (kill, a closing tmux pane) and SIGHUP quit like `q`: the terminal is
        # restored and the summary saved, instead of dying with the screen in raw mode
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            # not possible off the main thread (tests) or without signals (Windows)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, lambda: self.call_next(self.action_quit))
        # removed widgets (each notification's toast) would keep their rendered lines
        self.set_interval(leaks.FORGET_SECONDS, leaks.forget_removed_widgets, name="forget removed widgets")
        if self.files is None:
            self._show_no_session()
        else:
            self.follow(self.files)

    def _show_no_session(self) -> None:
        self.sub_title = "no session"
        self.push_screen(NoSessionScreen(self.claude_dirs, poll=self.poll_for_sessions, project=self.project),
                         callback=self._chosen)

    def _chosen(self, files: SessionFiles | None) -> None:
        if files is not None:
            self.follow(files)

    # ----------------------------------------------------------- following
    def follow(self, files: SessionFiles) -> None:
        """(Re)start the follower on ``files``; updates of the previous one are dropped."""
        self.generation += 1
        self.files = files
        self.snapshot = None
        self.sub_title = f"{files.session_id[:8]} · loading…"
        self._follow_started = time.monotonic()
        self._follow(files, self.generation)

    @work(thread=True, exclusive=True, group=FOLLOWER_GROUP, exit_on_error=False,
          name="follower", description="Following the session transcript")
    def _follow(self, files: SessionFiles, generation: int) -> None:
        worker = get_current_worker()
        pricer = self.prices.cost if self.prices is not None else None
        cache = None
        if self.use_cache:
            from spendtui.core.cache import SessionCache

            cache = SessionCache(prices=self.prices)
        # the app wants the model, not an event per call of the history: the cache's snapshot is enough
        follower = SessionFollower(files, pricer, follow_clear=True, cache=cache, history=False)
        follower.retain = APP_RETAIN_CALLS
        stats = LiveStats(self.prices)
        # nobody else sees this follower yet: no lock while reading the history; its
        # events are dropped as they come (the snapshot is built from the model)
        follower.load(on_events=lambda _batch: None)
        stats.rebuild(follower.model)
        budget = self._budget_tracker(pricer)
        if budget is not None:
            budget.track(follower.model)
            budget.check(self.clock())  # thresholds already passed before we started are not news
        snap = self._snapshot(stats, follower, budget)
        if worker.is_cancelled:
            return
        with self.model_lock:
            self.follower = follower
            self._live = (follower, stats, budget, generation)
        from spendtui.core.summary import analysis_skipped

        skipped = analysis_skipped(files) if self.analyse else None
        if skipped is not None:
            self.analysis_note = f"context analysis off: {skipped.split(' (')[0]}"
        elif self.analyse:  # started once the first paint is on screen (it competes for the GIL)
            self._pending_analysis = (follower, stats, generation, budget)
        self.post_message(LiveUpdate(generation, snap, initial=True))
        if not self.watch:
            return

        def on_events(events: list[Event]) -> None:
            with self.model_lock:
                notices = stats.apply(follower.model, events)
                if budget is not None:
                    budget.track(follower.model)  # after /clear the follower has a new model
                    notices = [*notices, *[Notice("budget", "Budget", a.message(),
                                                  "error" if a.threshold >= 100 else "warning")
                                           for a in budget.check(self.clock())]]
                # The analysis shown is the newest refresh's. When a refresh is due now (cheap: a
                # small session) it is made here, so the batch costs one paint, not two; else it
                # is owed, and made apart from the batches (see ANALYSIS_DUTY).
                a = self.analyzer
                owed = a is not None and a.model is follower.model
                if owed and self._analysis_due():
                    notices = [*notices, *self._refresh_or_let_go(a, follower)]
                    owed = False
                snap = self._snapshot(stats, follower, budget)
                reanalyse = self.analyse and any(e.kind in ("clear", "reset") for e in events)
                if not worker.is_cancelled:
                    self.post_message(LiveUpdate(generation, snap, notices, analysis_owed=owed))
            self.trimmer.maybe()
            if not worker.is_cancelled and reanalyse:
                self.call_from_thread(self._maybe_analyse, follower, stats, generation, budget)

        locked = cast(SessionFollower, _LockedFollower(follower, self.model_lock))
        watch_loop(locked, on_events, worker.cancelled_event, force_polling=self.force_polling)

    @work(thread=True, group="analysis", exit_on_error=False, name="analysis",
          description="Analysing what fills the context")
    def _analyse(self, follower: SessionFollower, stats: LiveStats, generation: int, budget: Any) -> None:
        """The context analysis reads the whole history once more, after the first paint
        (which came from the model, or the cache's snapshot of it), then goes live."""
        from spendtui.core.context import ContextAnalyzer

        analyzers: list[Any] = []
        plan = self.plan_kwargs or {}
        model, events = follower.rebuild_with(
            lambda m: analyzers.append(ContextAnalyzer(m, self.prices, **plan)), self.model_lock)
        if generation != self.generation:
            return  # the user switched sessions meanwhile
        with self.model_lock:  # posted under the lock, so it cannot overtake a newer update
            swapped = bool(analyzers) and analyzers[0].model is model and follower.model is model
            if swapped:
                self.analyzer = analyzers[0]
                stats.rebuild(model)
                notices = [n for n in (notice_for(e) for e in events) if n is not None]
            else:  # no swap (a /clear or reset came first): the poll's events, as any batch
                notices = stats.apply(follower.model, events)
            if budget is not None:  # the swapped-in model may hold calls no poll announced
                budget.track(follower.model)
                notices += [Notice("budget", "Budget", a.message(), "error" if a.threshold >= 100 else "warning")
                            for a in budget.check(self.clock())]
            if swapped:
                self._refresh_extras(self.analyzer, follower)
            self.post_message(LiveUpdate(generation, self._snapshot(stats, follower, budget), notices))
        if not swapped:
            # analyse the session we are on now (after /clear, the new one)
            self.call_from_thread(self._maybe_analyse, follower, stats, generation, budget)
        elif self.plan_kwargs is None:
            self._load_plan_inputs()

    def _load_plan_inputs(self) -> None:
        """(In the analysis worker's thread, once.) The plan advice's inputs: the user's spend
        per day over 30 days, from the result cache's kept totals (core/history.py), and their
        plan from the config; given to the live analyser, whose next refresh shows the advice."""
        kwargs, problem = self._read_plan_inputs()
        if problem is not None:
            self.call_from_thread(self.notify, problem, title="Plan advice", severity="warning", timeout=10)
        self.plan_kwargs = kwargs
        with self.model_lock:
            a = self.analyzer
            if a is not None and kwargs:
                a.history, a.history_until, a.current_plan = (list(kwargs["history"]), kwargs["history_until"],
                                                              kwargs["current_plan"])
        self.call_from_thread(self._owe_analysis)

    def _read_plan_inputs(self) -> tuple[dict[str, Any], str | None]:
        from spendtui.core.config import ConfigError, load_config
        from spendtui.core.history import plan_inputs

        try:
            cfg = load_config()
        except ConfigError:
            cfg = {}  # the budgets' loading already said what is wrong with it
        today = datetime.fromtimestamp(self.clock()).astimezone().date()
        try:
            return plan_inputs(self.claude_dirs, self.prices, cfg, today=today, use_cache=self.use_cache,
                               workers=1, one_shot=False)
        except Exception as e:  # the plan advice is a nicety: never a crash
            return {}, f"history not read ({type(e).__name__}: {e})"

    def _plan_for_exit(self) -> dict[str, Any] | None:
        """The plan advice's inputs for the exit summary. The analysis thread reads them after
        the first paint; a quit within seconds of the start comes before, and would leave out
        the plan comparison ``summary --json`` has: read them now, for at most PLAN_WAIT_SECONDS
        (from the result cache's kept totals, usually a fraction of a second)."""
        if self.plan_kwargs is not None or not self.analyse:
            return self.plan_kwargs
        box: list[dict[str, Any]] = []
        reader = threading.Thread(target=lambda: box.append(self._read_plan_inputs()[0]), daemon=True,
                                  name="plan-at-exit")
        reader.start()
        reader.join(PLAN_WAIT_SECONDS)
        return box[0] if box else None

    def _owe_analysis(self) -> None:
        self._analysis_owed = True
        self._schedule_analysis()

    def _maybe_analyse(self, follower: SessionFollower, stats: LiveStats, generation: int, budget: Any) -> None:
        """Start the analysis of the follower's (possibly new) session, if it is not too big."""
        from spendtui.core.summary import analysis_skipped

        skipped = analysis_skipped(follower.files)
        if skipped is not None:
            self.analyzer = None
            self.analysis_note = f"context analysis off: {skipped.split(' (')[0]}"
            return
        self.analysis_note = None
        self._analyse(follower, stats, generation, budget)

    def _budget_tracker(self, pricer: Any) -> Any:
        """Budgets from the config file and the flags (None when none are set or the config is
        bad). On the app's clock, like everything else it shows."""
        from spendtui.core.budget import BudgetConfigError, tracker_from_config
        from spendtui.core.config import ConfigError, load_config

        flags = self.budget_flags
        try:
            return tracker_from_config(load_config(), self.claude_dirs, pricer, session_usd=flags.get("session"),
                                       daily_usd=flags.get("day"), monthly_usd=flags.get("month"),
                                       notify=self.budget_notify, now=self.clock())
        except (ConfigError, BudgetConfigError) as e:
            self.call_from_thread(self.notify, str(e), title="Budgets not loaded", severity="error", timeout=15)
            return None

    def _snapshot(self, stats: LiveStats, follower: SessionFollower, budget: Any) -> LiveSnapshot:
        """The live numbers now, with the newest analysis refresh's advice and breakdown."""
        snap = stats.snapshot(follower.previous)
        extra: dict[str, Any] = {}
        if self.analysis_note:
            extra["avoidable_headline"] = self.analysis_note
        a = self.analyzer
        if a is not None and a.model is follower.model and self._analysis_of is a:
            extra.update(self._analysis_extra)
        return replace(snap, budget=tuple(budget.states(self.clock())) if budget is not None else (),
                       skipped_lines=follower.model.skipped_lines,
                       skipped_reasons=tuple(follower.model.skipped_reasons.most_common(3)), **extra)

    def _refresh_extras(self, a: Any, follower: SessionFollower) -> list[Notice]:
        """Compute the analysis the dashboard shows (under the model lock); returns the toasts
        for advice that is new. Only what is shown: the advice, the newest call's breakdown,
        the stale tokens and the avoidable-spend headline, not the whole summary."""
        from spendtui.core.context.avoidable import replay
        from spendtui.core.context.report import stale

        t0 = time.monotonic()
        extra: dict[str, Any] = {}
        notices: list[Notice] = []
        try:
            now = self.clock()
            advice = a.advice(now=now)
            extra["advice"] = tuple(advice)
            notices = [Notice("advice", f"Advice: save ${x.saving_usd:.2f}", x.message)
                       for x in a.new_advice(now=now, current=advice)]
            last = follower.model.main_calls[-1] if follower.model.main_calls else None
            bd = a.breakdown_for_call(last) if last is not None else None
            if bd:
                parts = dict(bd.get("parts", {}))
                stale_tokens = stale(a).get("tokens", 0)
                if stale_tokens and parts.get("tools", 0) >= stale_tokens:
                    parts["tools"] -= stale_tokens  # the stale tool output, shown as its own part
                    parts["stale"] = stale_tokens
                extra["breakdown"] = parts
            extra["avoidable_headline"] = replay(a).headline()
        except Exception as e:  # the analysis must never stop the live numbers
            extra["avoidable_headline"] = f"analysis failed: {type(e).__name__}"
        self._analysis_extra, self._analysis_of = extra, a
        self._analysis_took = time.monotonic() - t0
        self._analysis_done = time.monotonic()
        self.analysis_refreshes += 1
        self.trimmer.maybe()
        return notices

    def _counted_calls(self) -> int | None:
        return self.follower.model.counted_calls if self.follower is not None else None

    @property
    def analysis_settled(self) -> bool:
        """Is the screen final for now: the analysis came in (the first read, then with the plan
        advice's history), nothing more is owed or under way, and it is painted? The first paint
        comes before the analysis; what pictures the screen (snapshots, screenshots) waits for this."""
        return (self.updates > 0 and self.analyzer is not None and self.plan_kwargs is not None
                and self.analysis_refreshes >= 2 and not self._analysis_owed and not self._analysis_running
                and self._analysis_timer is None and not self._dirty and self._redraw_timer is None)

    def _analysis_due(self) -> bool:
        """May the analysis be refreshed right now (no refresh under way or waiting, and its
        share of the time allows)? Read from the follower thread: at worst one refresh too many."""
        if self._analysis_running or self._analysis_timer is not None:
            return False
        return time.monotonic() >= self._analysis_done + self._analysis_took * (1 / ANALYSIS_DUTY - 1)

    def _schedule_analysis(self) -> None:
        """Refresh the live analysis once its share of the time allows (ANALYSIS_DUTY): at
        once after a cheap refresh, later after a costly one; never two at a time."""
        if self._analysis_running or self._analysis_timer is not None or not self._analysis_owed:
            return
        wait = self._analysis_done + self._analysis_took * (1 / ANALYSIS_DUTY - 1) - time.monotonic()
        if wait <= 0:
            self._start_analysis_refresh()
        else:
            self._analysis_timer = self.set_timer(wait, self._start_analysis_refresh, name="analysis-refresh")

    def _start_analysis_refresh(self) -> None:
        self._analysis_timer = None
        if self._quitting or self._analysis_running or not self._analysis_owed:
            return
        self._analysis_owed = False
        self._analysis_running = True
        self._refresh_analysis(self.generation)

    @work(thread=True, group=REFRESH_GROUP, exit_on_error=False, name="analysis-refresh",
          description="Refreshing the live context analysis")
    def _refresh_analysis(self, generation: int) -> None:
        with self.model_lock:
            live = self._live
            if live is None or live[3] != generation or generation != self.generation:
                return
            follower, stats, budget, _gen = live
            a = self.analyzer
            if a is None or a.model is not follower.model:
                return
            notices = self._refresh_or_let_go(a, follower)
            self.post_message(LiveUpdate(generation, self._snapshot(stats, follower, budget), notices))

    def _refresh_or_let_go(self, a: Any, follower: SessionFollower) -> list[Notice]:
        """Refresh the live analysis, or, past the size limit, let go of it: its memory is
        bounded by that limit (under the model lock)."""
        return [] if self._over_analysis_limit(follower) else self._refresh_extras(a, follower)

    def _over_analysis_limit(self, follower: SessionFollower) -> bool:
        """A session that grew past the analysis size limit while we watched loses its analysis,
        as `summary --json` would skip it: the analysis keeps state for every call, so its memory
        is bounded only by that limit (under the model lock)."""
        from spendtui.core import summary as summary_mod

        read = sum(reader.offset for reader, _src in follower.readers.readers.values())
        if read <= summary_mod.ANALYSE_MAX_BYTES:
            return False
        skipped = summary_mod.analysis_skipped(follower.files)
        if skipped is None:
            return False
        a = self.analyzer
        if a is not None:
            with contextlib.suppress(ValueError):
                a.model.record_observers.remove(a.observe)
        self.analyzer = None
        self._analysis_extra, self._analysis_of = {}, None
        self.analysis_note = f"context analysis off: {skipped.split(' (')[0]}"
        return True

    def on_live_update(self, message: LiveUpdate) -> None:
        if message.generation != self.generation or not self.screen_stack:
            return
        if self._follow_failures and message.initial:
            self.dashboard.show_error(None)  # following again (the backoff goes on: FOLLOW_HEALTHY_SECONDS)
        self.snapshot = message.snapshot
        self._dirty = True
        for n in message.notices:
            self._toast(n)
        self._schedule_paint()
        if message.analysis_owed:
            self._analysis_owed = True
            self._schedule_analysis()

    def _schedule_paint(self) -> None:
        """Leading-edge throttle: paint now if the last paint is 0.1 s old, else arm one timer
        for when it will be. A lone call shows at once, a burst costs at most ten paints a
        second, and an idle app has no timer waking it up."""
        if not self._dirty or self._redraw_timer is not None:
            return
        wait = self._last_paint + REDRAW_SECONDS - time.monotonic()
        if wait <= 0:
            self._paint_snapshot()
            if not self._dirty:
                return
            wait = REDRAW_SECONDS  # the dashboard was not composed yet: retry shortly
        self._redraw_timer = self.set_timer(wait, self._redraw, name="redraw")

    def _redraw(self) -> None:
        self._redraw_timer = None
        self._schedule_paint()

    def _paint_snapshot(self) -> None:
        """Paint the newest snapshot if it changed since the last paint. (Not ``_flush``: that
        name is Textual's, called with ``stderr=`` whenever anything prints while the app runs.)"""
        if not self._dirty or self.snapshot is None or not self.screen_stack:
            return  # nothing new, or the app is shutting down and its screens are gone
        snap = self.snapshot
        try:
            with self.batch_update():
                self.dashboard.show(snap)
        except NoMatches:
            return  # the dashboard is still composing its panels: the armed timer retries
        self._dirty = False
        self._last_paint = time.monotonic()
        title = f" · {snap.title}" if snap.title else ""
        self.sub_title = f"{snap.session_id[:8]} · {snap.project or '?'}{title}"
        self.updates += 1
        pending, self._pending_analysis = self._pending_analysis, None
        if pending is not None:
            self.set_timer(0.2, lambda: self._analyse(*pending), name="start-analysis")

    def _toast(self, n: Notice) -> None:
        severity = n.severity if n.severity in ("information", "warning", "error") else "information"
        self.notify(n.message, title=n.title, severity=severity,  # type: ignore[arg-type]
                    timeout=6)

    @on(CacheExpired)
    def _cache_expired(self, message: CacheExpired) -> None:
        info = message.info
        extra = f" (+{fmt.usd(info.penalty_pico)})" if info.penalty_pico is not None else ""
        self.notify(f"The next call rewrites {fmt.tokens(info.prompt_tokens)} tokens: "
                    f"{fmt.usd(info.cold_pico)} instead of {fmt.usd(info.warm_pico)}{extra}",
                    title=f"Prompt cache expired ({fmt.ttl_label(info.ttl)} TTL)", severity="warning", timeout=8)

    def _fatal_error(self) -> None:
        """Print a crash without the frames' local variables. Textual shows them, and ours hold
        the user's prompts, task descriptions and tool output (snapshots, records): a crash report
        pasted into a bug tracker must not carry them."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        trace = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(trace, self.console.options)))
        self._close_messages_no_wait()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        w = event.worker
        if w.group == REFRESH_GROUP and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                         WorkerState.CANCELLED):
            self._analysis_running = False
            self._schedule_analysis()  # batches that came meanwhile owe one more
            return
        if w.group == FOLLOWER_GROUP and event.state == WorkerState.ERROR:
            # keep the last good numbers on screen, say so where it stays visible, retry
            if time.monotonic() - self._follow_started >= FOLLOW_HEALTHY_SECONDS:
                self._follow_failures = 0
            self._follow_failures += 1
            delay = self.follow_retry_in = min(60.0, FOLLOW_RETRY_SECONDS * 2 ** (self._follow_failures - 1))
            msg = f"{type(w.error).__name__}: {w.error}"
            self.dashboard.show_error(f"Not following the session ({msg}); numbers as of the last update. "
                                      f"Retrying in {delay:.0f} s.")
            self.notify(msg, title="Stopped following the session", severity="error", timeout=20)
            files = self.follower.files if self.follower is not None else self.files
            if files is not None and not self._quitting:
                self.set_timer(delay, lambda: self._retry_follow(files), name="follow-retry")

    def _retry_follow(self, files: SessionFiles) -> None:
        """The retry timer fired: follow again, unless the app is on its way out (a worker
        started then would outlive the screen it reports to)."""
        if self._quitting or self._exit or not self.is_running:
            return
        self.follow(files)

    # ----------------------------------------------------------- summary / quit
    def final_summary(self) -> dict[str, Any] | None:
        """The same dict as ``spendtui summary --json`` for the session on screen."""
        follower = self.follower
        if follower is None:
            return None
        plan = self._plan_for_exit()  # before the lock: the follower goes on meanwhile
        # a poll holds the lock for as long as the appended bytes take; a reset re-reads
        # the whole transcript, so do not wait forever on a huge one
        if not self.model_lock.acquire(timeout=LOCK_TIMEOUT):
            return None
        try:
            from spendtui.core.summary import analysed_summary, analysis_skipped

            skipped = analysis_skipped(follower.files) if self.analyse else None
            if skipped is not None:  # too big to analyse (perhaps grown so as we watched): as `summary --json`
                summary = session_summary(follower.model, self.prices, now=self.clock(),
                                          mtime=follower.files.mtime())
                summary["context_analysis"] = f"skipped: {skipped}"
                return summary
            a = self.analyzer
            if a is not None and a.model is follower.model:
                if self.plan_kwargs is None and plan:  # read at exit: the analysis thread had not yet
                    a.history, a.history_until, a.current_plan = (list(plan["history"]), plan["history_until"],
                                                                  plan["current_plan"])
                summary = session_summary(follower.model, self.prices, now=self.clock(),
                                          mtime=follower.files.mtime())
                a.merge_into(summary, now=self.clock())
                return summary
            if self.analyse:  # quit before the live analysis was ready: the same summary, from the files
                return analysed_summary(follower.files, self.prices, now=self.clock(), plan=plan)
            return session_summary(follower.model, self.prices, now=self.clock(), mtime=follower.files.mtime())
        finally:
            self.model_lock.release()

    def action_save_summary(self) -> None:
        summary = self.final_summary()
        if summary is None:
            self.notify("No session yet", severity="warning")
            return
        path = save_summary(summary)
        self.notify(str(path), title="Summary saved")

    async def action_quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self.workers.cancel_group(self, FOLLOWER_GROUP)
        summary = self.final_summary()
        if summary is not None:
            try:
                self.summary_path = save_summary(summary)
            except OSError as e:  # a read-only data dir must not eat the summary
                self.summary_path = None
                summary = {**summary, "save_error": str(e)}
        self.summary = summary
        self.exit(summary)

    # ----------------------------------------------------------- other actions
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_switch_session(self) -> None:
        if isinstance(self.screen, SessionSwitcher):
            return
        # after /clear the follower moved on: the snapshot knows the session on screen
        current = self.snapshot.session_id if self.snapshot else (self.files.session_id if self.files else None)
        self.push_screen(SessionSwitcher(self.claude_dirs, current, self.clock), callback=self._switched)

    def _switched(self, files: SessionFiles | None) -> None:
        if files is None:
            return
        if isinstance(self.screen, NoSessionScreen):
            self.screen.dismiss(files)  # its callback starts following
            return
        self.follow(files)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Switch session", "Follow another Claude Code session", self.action_switch_session)
        yield SystemCommand("Toggle light/dark", "Switch between the light and dark theme",
                            self.action_toggle_theme)
        yield SystemCommand("Help", "What each panel means, and the keys", self.action_help)
        yield SystemCommand("Save summary now", "Write the session summary JSON to the data dir",
                            self.action_save_summary)
