"""Budgets: per session, per local day and per local month, with 50/80/100 % warnings.

Why here and not in a view: the app's toast and gauge, the statusline, ``watch --json``
and the metrics exporter all need the same numbers and must fire each warning exactly
once, so the arithmetic and the "already fired" memory live in one Textual-free place.

Money stays integer pico-dollars (``PICO`` per USD) until it leaves as a JSON/metric
number, like everywhere else in the core.

Where spend comes from:

* **session**: the followed session's own running total (``SessionModel.cost_pico``).
* **day / month**: every call of every session whose timestamp falls in the current
  *local* day / month ("today" is the user's day, not UTC's), i.e. the history read
  once at start (``SpendHistory.load``) plus the live sessions, which replace their
  own history entry so nothing is counted twice.

Projection ("when does the budget run out at the current burn rate"): the burn rate is
the spend of the last ``window`` seconds (1 h) divided by the time those calls span,
at least ``MIN_WINDOW`` (5 min) so a single expensive call does not project an instant
exhaustion. The day's projection stops at local midnight and the month's at the end of
the month: past them the budget does not run out in that period, so it is ``None``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from spendtui.core.limits import BudgetConfigError, parse_usd  # defined apart for the status line
from spendtui.core.model import ApiCall, SessionModel

PICO = 10**12
SCOPES = ("session", "day", "month")
THRESHOLDS = (50, 80, 100)  # percent of the budget
BURN_WINDOW = 3600.0  # seconds of recent spend that define "the current burn rate"
MIN_WINDOW = 300.0  # never divide recent spend by less than this many seconds
RECENT_KEEP = 2 * BURN_WINDOW  # history keeps per-call detail this far back, for the burn rate

CONFIG_KEYS = {"session": "session_usd", "day": "daily_usd", "month": "monthly_usd"}


def usd(pico: int) -> float:
    return float(round(Decimal(pico) / PICO, 9))


@dataclass(frozen=True, slots=True)
class Budgets:
    """The configured limits in pico-dollars; ``None`` means no budget for that scope."""

    session_pico: int | None = None
    day_pico: int | None = None
    month_pico: int | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> Budgets:
        """Read ``[budget] session_usd / daily_usd / monthly_usd`` from the parsed config."""
        section = (cfg or {}).get("budget") or {}
        if not isinstance(section, Mapping):
            raise BudgetConfigError("[budget] must be a table")
        vals: dict[str, int | None] = {}
        for scope, key in CONFIG_KEYS.items():
            raw = section.get(key)
            vals[scope] = None if raw is None else parse_usd(raw, f"[budget] {key}")
        return cls(vals["session"], vals["day"], vals["month"])

    def override(
        self,
        session_usd: Any = None,
        daily_usd: Any = None,
        monthly_usd: Any = None,
    ) -> Budgets:
        """Command-line flags win over the config file, scope by scope."""
        return Budgets(
            parse_usd(session_usd, "--session-budget") if session_usd is not None else self.session_pico,
            parse_usd(daily_usd, "--daily-budget") if daily_usd is not None else self.day_pico,
            parse_usd(monthly_usd, "--monthly-budget") if monthly_usd is not None else self.month_pico,
        )

    def limit(self, scope: str) -> int | None:
        return {"session": self.session_pico, "day": self.day_pico, "month": self.month_pico}[scope]

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.session_pico, self.day_pico, self.month_pico))

    @property
    def needs_history(self) -> bool:
        """Day and month spend include other sessions; the session budget does not."""
        return self.day_pico is not None or self.month_pico is not None


# --------------------------------------------------------------------------- spend index
def _local(ts: datetime, tz: tzinfo | None) -> datetime:
    return ts.astimezone(tz) if tz is not None else ts.astimezone()


@dataclass(slots=True)
class SpendIndex:
    """One session's spend by local day, plus its recent calls for the burn rate."""

    by_day: Counter[date] = field(default_factory=Counter)
    recent: list[tuple[float, int]] = field(default_factory=list)  # (epoch, pico), oldest first
    total_pico: int = 0

    @classmethod
    def of_calls(
        cls,
        calls: Iterable[ApiCall],
        tz: tzinfo | None,
        now: float,
        keep_recent: float | None = None,
        undated_at: float | None = None,
    ) -> SpendIndex:
        """Index counted calls; ``undated_at`` places calls without a timestamp (live ones: now)."""
        idx = cls()
        for c in calls:
            if c.billed_elsewhere:
                continue
            pico = c.cost_pico
            if pico == 0:
                continue
            idx.total_pico += pico
            if c.timestamp is not None:
                when = c.timestamp
            elif undated_at is not None:
                when = datetime.fromtimestamp(undated_at, timezone.utc)
            else:
                continue
            idx.by_day[_local(when, tz).date()] += pico
            epoch = when.timestamp()
            if keep_recent is None or epoch >= now - keep_recent:
                idx.recent.append((epoch, pico))
        idx.recent.sort()
        return idx

    @classmethod
    def of_model(
        cls,
        model: SessionModel,
        tz: tzinfo | None,
        now: float,
        keep_recent: float | None = RECENT_KEEP,
        undated_at: float | None = None,
    ) -> SpendIndex:
        """Index a model from its spend by minute: every counted call, those a long live session
        let go of the details of included, in work proportional to the minutes, not the calls.
        The burn rate then sees calls at the start of their minute."""
        idx = cls(total_pico=model.cost_pico)
        quarters: Counter[int] = Counter()  # every zone's midnight falls on a quarter hour
        for minute, pico in model.cost_by_minute.items():
            quarters[minute // 15] += pico
            epoch = minute * 60.0
            if keep_recent is None or epoch >= now - keep_recent:
                idx.recent.append((epoch, pico))
        for quarter, pico in quarters.items():
            if pico:
                idx.by_day[_local(datetime.fromtimestamp(quarter * 900.0, timezone.utc), tz).date()] += pico
        if model.cost_undated and undated_at is not None:
            idx.by_day[_local(datetime.fromtimestamp(undated_at, timezone.utc), tz).date()] += model.cost_undated
            idx.recent.append((undated_at, model.cost_undated))
        idx.recent.sort()
        return idx


def _period(scope: str, day: date) -> str:
    return day.isoformat() if scope == "day" else f"{day.year:04d}-{day.month:02d}"


def _in_period(scope: str, d: date, today: date) -> bool:
    return d == today if scope == "day" else (d.year, d.month) == (today.year, today.month)


def _period_end(scope: str, now_local: datetime, tz: tzinfo | None) -> datetime:
    """Local midnight after today, or the first instant of next month (DST-correct)."""
    start = now_local.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    first_of_next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    nxt = start + timedelta(days=1) if scope == "day" else first_of_next_month
    # a naive wall-clock time takes the zone's offset on that date, not today's
    return nxt.replace(tzinfo=tz) if tz is not None else nxt.astimezone()


def period_start(scope: str, now: float, tz: tzinfo | None = None) -> datetime:
    """Start of the current local day or month (history older than this is not needed)."""
    local = _local(datetime.fromtimestamp(now, timezone.utc), tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if scope == "month" else start


def burn_rate(recent: Sequence[tuple[float, int]], now: float, window: float = BURN_WINDOW) -> float:
    """Pico-dollars per second over the last ``window`` seconds (see module doc)."""
    spent = 0
    earliest = None
    for epoch, pico in recent:
        if now - window < epoch <= now:
            spent += pico
            earliest = epoch if earliest is None else min(earliest, epoch)
    if spent <= 0 or earliest is None:
        return 0.0
    span = min(window, max(MIN_WINDOW, now - earliest))
    return spent / span


def project_exhaustion(
    spent_pico: int, budget_pico: int, rate_pico_per_s: float, now: float, horizon: datetime | None
) -> datetime | None:
    """When ``spent`` reaches ``budget`` at ``rate``; None if never in the horizon or already spent."""
    if spent_pico >= budget_pico or rate_pico_per_s <= 0:
        return None
    at = now + (budget_pico - spent_pico) / rate_pico_per_s
    when = datetime.fromtimestamp(at, timezone.utc)
    if horizon is not None and when >= horizon:
        return None
    return when


# --------------------------------------------------------------------------- history
@dataclass(slots=True)
class SpendHistory:
    """Spend of sessions not being followed live: read once, keyed by session id."""

    sessions: dict[str, SpendIndex] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        claude_dirs: Sequence[str | Path] | None,
        pricer: Callable[..., Any] | None,
        since: datetime,
        tz: tzinfo | None = None,
        now: float | None = None,
        cache: Any = None,
    ) -> SpendHistory:
        """Index every session written since ``since`` (older files cannot hold newer calls).

        Cross-session dedup (forks) is load_all's: a copied call counts in its first session.
        A missing Claude dir is an empty history, not an error: budgets still work live.
        """
        from spendtui.core.loader import load_all
        from spendtui.core.paths import NoClaudeDataError, discover

        now = time.time() if now is None else now
        hist = cls()
        try:
            sessions = discover(claude_dirs)
        except NoClaudeDataError:
            return hist
        cutoff = since.timestamp()
        recent = [s for s in sessions if s.mtime() >= cutoff]
        since_day = since.date()

        def keep(model: SessionModel) -> None:
            idx = SpendIndex.of_calls(model.calls.values(), tz, now, keep_recent=RECENT_KEEP)
            for d in [d for d in idx.by_day if d < since_day]:
                del idx.by_day[d]
            if idx.by_day or idx.recent:
                hist.sessions[model.session_id] = idx

        load_all(recent, pricer, on_session=keep, cache=cache)
        return hist


# --------------------------------------------------------------------------- tracker
@dataclass(frozen=True, slots=True)
class BudgetState:
    """Where one scope stands now (what a gauge or the statusline shows)."""

    scope: str
    period: str  # "2026-11-20", "2026-11" or the session id
    spent_pico: int
    budget_pico: int
    burn_pico_per_hour: float
    projected_exhaustion: datetime | None
    session_id: str | None = None

    @property
    def ratio(self) -> float:
        return self.spent_pico / self.budget_pico

    @property
    def spent_usd(self) -> float:
        return usd(self.spent_pico)

    @property
    def budget_usd(self) -> float:
        return usd(self.budget_pico)

    def to_json(self) -> dict[str, Any]:
        """Where the scope stands and when it runs out at the current burn rate (``null``:
        not within its period, or no recent spend)."""
        return {
            "scope": self.scope,
            "period": self.period,
            "spent_usd": self.spent_usd,
            "budget_usd": self.budget_usd,
            "ratio": round(self.ratio, 6),
            "burn_usd_per_hour": round(self.burn_pico_per_hour / PICO, 6),
            "projected_exhaustion": _iso(self.projected_exhaustion),
        }


def _iso(ts: datetime | None) -> str | None:
    """summary.iso, which this module does not import (the status line loads it)."""
    return ts.isoformat().replace("+00:00", "Z") if ts else None


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold crossed for the first time in its period."""

    scope: str
    threshold: int  # 50, 80 or 100 (percent)
    spent_usd: float
    budget_usd: float
    projected_exhaustion: datetime | None
    period: str = ""
    session_id: str | None = None

    def message(self) -> str:
        what = {"session": "Session", "day": "Today's", "month": "This month's"}[self.scope]
        text = f"{what} spend ${self.spent_usd:.2f} passed {self.threshold}% of the ${self.budget_usd:.2f} budget"
        if self.projected_exhaustion is not None:
            local = self.projected_exhaustion.astimezone()
            text += f"; at the current rate it runs out at {local:%H:%M}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "threshold": self.threshold,
            "spent_usd": self.spent_usd,
            "budget_usd": self.budget_usd,
            "ratio": round(self.spent_usd / self.budget_usd, 6) if self.budget_usd else None,
            "projected_exhaustion": _iso(self.projected_exhaustion),
            "period": self.period,
            "message": self.message(),
        }


class BudgetTracker:
    """Spend against budgets for a set of live sessions plus the history around them.

    ``check()`` returns each (scope, period, threshold) crossing once; a new day,
    month or session re-arms its thresholds. Thread-safe: the exporter's scrape
    thread reads ``states()`` while the follower thread calls ``track()``.
    """

    def __init__(
        self,
        budgets: Budgets,
        history: SpendHistory | None = None,
        tz: tzinfo | None = None,
        window: float = BURN_WINDOW,
        notify: bool = False,
    ) -> None:
        self.budgets = budgets
        self.history = history or SpendHistory()
        self.tz = tz
        self.window = window
        self.notify = notify
        self.live: dict[str, SessionModel] = {}
        self._fired: set[tuple[str, str, int]] = set()
        self._cache: dict[str, tuple[tuple[int, int, int, int], SpendIndex]] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ sessions
    def track(self, model: SessionModel) -> None:
        """Count this session live (it replaces its own history entry)."""
        with self._lock:
            self.live[model.session_id] = model

    def retire(self, model: SessionModel, now: float | None = None) -> None:
        """A session no longer followed keeps counting for the day/month from a frozen index."""
        now = time.time() if now is None else now
        with self._lock:
            if self.live.get(model.session_id) is model:
                del self.live[model.session_id]
                self.history.sessions[model.session_id] = SpendIndex.of_model(model, self.tz, now)
                self._cache.pop(model.session_id, None)

    def _live_index(self, model: SessionModel, now: float) -> SpendIndex:
        """Rebuilt only when the model changed (lines read, cost or call count moved), from its
        spend by minute: all of its calls (not only those whose details it keeps), in work that
        grows with the session's minutes, not its calls. Two hours back are enough for the burn
        rate (its window is one): ``now`` only moves on."""
        version = (id(model), model.lines_read, model.cost_pico, model.counted_calls)
        hit = self._cache.get(model.session_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        idx = SpendIndex.of_model(model, self.tz, now, keep_recent=max(RECENT_KEEP, self.window), undated_at=now)
        self._cache[model.session_id] = (version, idx)
        return idx

    # ------------------------------------------------------------ state
    def states(self, now: float | None = None) -> list[BudgetState]:
        """One state per configured scope; the session scope has one per live session."""
        now = time.time() if now is None else now
        out: list[BudgetState] = []
        with self._lock:
            live = {sid: self._live_index(m, now) for sid, m in self.live.items()}
            session_budget = self.budgets.session_pico
            if session_budget is not None:
                for sid, idx in live.items():
                    rate = burn_rate(idx.recent, now, self.window)
                    spent = self.live[sid].cost_pico
                    out.append(BudgetState(
                        "session", sid, spent, session_budget, rate * 3600,
                        project_exhaustion(spent, session_budget, rate, now, None), session_id=sid))
            now_local = _local(datetime.fromtimestamp(now, timezone.utc), self.tz)
            today = now_local.date()
            for scope in ("day", "month"):
                budget = self.budgets.limit(scope)
                if budget is None:
                    continue
                spent = 0
                recent: list[tuple[float, int]] = []
                indexes = list(live.values()) + [
                    idx for sid, idx in self.history.sessions.items() if sid not in live]
                for idx in indexes:
                    spent += sum(p for d, p in idx.by_day.items() if _in_period(scope, d, today))
                    recent.extend(
                        (e, p) for e, p in idx.recent
                        if _in_period(scope, _local(datetime.fromtimestamp(e, timezone.utc), self.tz).date(), today))
                rate = burn_rate(recent, now, self.window)
                horizon = _period_end(scope, now_local, self.tz)
                out.append(BudgetState(
                    scope, _period(scope, today), spent, budget, rate * 3600,
                    project_exhaustion(spent, budget, rate, now, horizon)))
        return out

    def check(self, now: float | None = None) -> list[BudgetAlert]:
        """Thresholds crossed since the last check, lowest first, each once per period."""
        alerts: list[BudgetAlert] = []
        states = self.states(now)
        with self._lock:
            for st in states:
                for pct in THRESHOLDS:
                    key = (st.scope, st.period, pct)
                    # integer test: spent/budget >= pct/100 without float rounding
                    if key in self._fired or st.spent_pico * 100 < st.budget_pico * pct:
                        continue
                    self._fired.add(key)
                    alerts.append(BudgetAlert(
                        st.scope, pct, st.spent_usd, st.budget_usd, st.projected_exhaustion,
                        period=st.period, session_id=st.session_id))
        if alerts and self.notify:
            # one desktop notification per scope: the highest threshold just crossed
            top: dict[tuple[str, str], BudgetAlert] = {}
            for a in alerts:
                top[(a.scope, a.period)] = a
            for a in top.values():
                notify_desktop(a)
        return alerts


# --------------------------------------------------------------------------- desktop
def notify_desktop(alert: BudgetAlert) -> bool:
    """Best effort ``notify-send``; returns whether it was started. Never raises, never blocks."""
    exe = shutil.which("notify-send")
    if exe is None:
        return False
    urgency = "critical" if alert.threshold >= 100 else "normal"
    argv = [exe, "--app-name=spendtui", f"--urgency={urgency}", "spendtui budget", alert.message()]

    def run() -> None:
        with contextlib.suppress(Exception):
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=5, check=False)

    try:
        threading.Thread(target=run, name="spendtui-notify", daemon=True).start()
    except Exception:
        return False
    return True


def tracker_from_config(
    cfg: Mapping[str, Any] | None,
    claude_dirs: Sequence[str | Path] | None = None,
    pricer: Callable[..., Any] | None = None,
    session_usd: Any = None,
    daily_usd: Any = None,
    monthly_usd: Any = None,
    notify: bool = True,
    tz: tzinfo | None = None,
    now: float | None = None,
    cache: Any = None,
) -> BudgetTracker | None:
    """The tracker for the config plus flags, with history read when a day/month budget needs it."""
    budgets = Budgets.from_config(cfg).override(session_usd, daily_usd, monthly_usd)
    if not budgets.any:
        return None
    now = time.time() if now is None else now
    history = None
    if budgets.needs_history:
        scope = "month" if budgets.month_pico is not None else "day"
        history = SpendHistory.load(claude_dirs, pricer, period_start(scope, now, tz), tz=tz, now=now,
                                    cache=cache)
    return BudgetTracker(budgets, history, tz=tz, notify=notify)
