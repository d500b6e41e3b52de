"""`spendtui export` and the budget flags: the team-facing part of the command line.

Kept out of ``cli.py`` so the exporters' imports (prometheus_client, the optional
OpenTelemetry SDK) load only when ``export`` runs, and so ``cli.py`` grows by a few
wiring lines only.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spendtui.core.model import SessionModel

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


def _err(msg: str) -> None:
    print(f"spendtui: {msg}", file=sys.stderr)


def add_budget_args(parser: argparse.ArgumentParser, sub: bool = False, notify: bool = True) -> None:
    """Budget flags; each overrides the config's ``[budget]`` value for its scope. ``sub``: a
    subcommand's copy, whose missing flag must not hide one given before the subcommand
    (``spendtui --daily-budget 20 watch``); ``notify``: offer ``--no-notify`` too."""
    default = argparse.SUPPRESS if sub else None
    g = parser.add_argument_group("budgets (override [budget] in the config file)")
    g.add_argument("--session-budget", metavar="USD", default=default,
                   help="warn at 50/80/100%% of this spend in one session")
    g.add_argument("--daily-budget", metavar="USD", default=default,
                   help="warn at 50/80/100%% of this spend per local day (all sessions)")
    g.add_argument("--monthly-budget", metavar="USD", default=default,
                   help="warn at 50/80/100%% of this spend per local month (all sessions)")
    if notify:
        g.add_argument("--no-notify", action="store_true", default=argparse.SUPPRESS if sub else False,
                       help="no desktop notification (notify-send) when a budget threshold is crossed")


def budget_flags(args: argparse.Namespace) -> dict[str, Any]:
    """``{"session"|"day"|"month": USD text}`` of the budget flags given (none: empty)."""
    given = {"session": getattr(args, "session_budget", None), "day": getattr(args, "daily_budget", None),
             "month": getattr(args, "monthly_budget", None)}
    return {k: v for k, v in given.items() if v is not None}


def check_budget_flags(args: argparse.Namespace) -> str | None:
    """The error of a budget flag that is not a positive amount of USD (None: all fine), so a
    command can stop with a usage error before it starts following anything."""
    from spendtui.core.limits import BudgetConfigError, parse_usd

    names = {"session": "--session-budget", "day": "--daily-budget", "month": "--monthly-budget"}
    for scope, value in budget_flags(args).items():
        try:
            parse_usd(value, names[scope])
        except BudgetConfigError as e:
            return str(e)
    return None


def add_export_parser(subparsers: Any, common_parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``export`` subcommand: Prometheus endpoint and/or OTLP push of the live sessions."""
    e = subparsers.add_parser(
        "export", parents=[common_parent],
        help="serve metrics for Prometheus (--prometheus) or push them over OTLP (--otlp)",
        description="Follow every session written in the last --active-minutes and publish cost, "
        "tokens, context and budget metrics. See docs/teams.md.")
    e.add_argument("--prometheus", action="store_true", help="serve /metrics for Prometheus to scrape")
    e.add_argument("--listen", default=None, metavar="HOST:PORT",
                   help="address of the /metrics endpoint (default 127.0.0.1:9464)")
    e.add_argument("--otlp", metavar="ENDPOINT",
                   help="push OTLP/HTTP metrics to ENDPOINT, e.g. http://127.0.0.1:4318 (needs spendtui[otel])")
    e.add_argument("--otlp-header", action="append", metavar="KEY=VALUE", default=None,
                   help="HTTP header for the OTLP push (repeatable), e.g. Authorization=Basic ...")
    e.add_argument("--interval", type=float, default=15.0, metavar="SECONDS",
                   help="OTLP push interval (default 15)")
    e.add_argument("--active-minutes", type=float, default=30.0, metavar="N",
                   help="follow sessions written in the last N minutes (default 30)")
    e.add_argument("--user", default=None,
                   help="value of the 'user' label (default: [export] user in the config, else the login name)")
    e.add_argument("--project-label", choices=("name", "path"), default=None,
                   help="'project' label: folder name (default) or full path")
    e.add_argument("--poll-seconds", type=float, default=0.5, help=argparse.SUPPRESS)
    e.add_argument("--once", action="store_true",
                   help="print the Prometheus text exposition once and exit (for a quick look or cron)")
    add_budget_args(e, sub=True)
    return e


def _config() -> dict[str, Any]:
    from spendtui.core.config import load_config

    return load_config()


def _tracker(cfg: dict[str, Any], args: argparse.Namespace, pricer: Any) -> Any:
    from spendtui.core.budget import tracker_from_config

    return tracker_from_config(
        cfg, getattr(args, "claude_dir", None) or None, pricer,
        session_usd=getattr(args, "session_budget", None),
        daily_usd=getattr(args, "daily_budget", None),
        monthly_usd=getattr(args, "monthly_budget", None),
        notify=not getattr(args, "no_notify", False),
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Follow the active sessions and publish them until SIGINT/SIGTERM."""
    from spendtui.core.budget import BudgetConfigError
    from spendtui.core.config import ConfigError
    from spendtui.core.pricing import PriceTable
    from spendtui.export.metrics import default_user
    from spendtui.export.runner import ExportRunner

    if not (args.prometheus or args.otlp or args.once):
        _err("export: choose --prometheus and/or --otlp ENDPOINT (or --once to print the metrics)")
        return EXIT_USAGE
    try:
        cfg = _config()
    except ConfigError as e:
        _err(str(e))
        return EXIT_ERROR
    export_cfg = cfg.get("export") if isinstance(cfg.get("export"), dict) else {}
    prices = PriceTable.default()
    try:
        tracker = _tracker(cfg, args, prices.cost)
    except BudgetConfigError as e:
        _err(str(e))
        return EXIT_USAGE
    style = args.project_label or export_cfg.get("project_label") or "name"
    if style not in ("name", "path"):
        _err(f"[export] project_label must be 'name' or 'path', got {style!r}")
        return EXIT_USAGE

    def on_alerts(alerts: list[Any]) -> None:
        for a in alerts:
            print(f"spendtui export: budget: {a.message()}", file=sys.stderr, flush=True)

    runner = ExportRunner(
        getattr(args, "claude_dir", None) or None, prices, args.user or default_user(cfg),
        active_minutes=args.active_minutes, poll_seconds=args.poll_seconds, budget=tracker,
        project_style=style, on_alerts=on_alerts)

    if args.once:
        from spendtui.export.prometheus import exposition, make_registry

        runner.refresh(rescan=True)
        sys.stdout.write(exposition(make_registry(runner.samples)))
        return EXIT_OK

    otlp = None
    if args.otlp:
        from spendtui.export.otlp import OtelMissingError, OtlpExporter, metrics_url, parse_headers

        try:
            metrics_url(args.otlp)
            headers = parse_headers(args.otlp_header)
        except ValueError as e:
            _err(str(e))
            return EXIT_USAGE
        try:
            otlp = OtlpExporter(runner.samples, args.otlp, interval_seconds=args.interval, headers=headers)
        except OtelMissingError as e:
            _err(str(e))
            return EXIT_ERROR

    server = None
    runner.start()
    try:
        if args.prometheus:
            from spendtui.export.prometheus import DEFAULT_LISTEN, make_registry, parse_listen, serve

            listen = args.listen or export_cfg.get("listen") or DEFAULT_LISTEN
            try:
                host, port = parse_listen(listen)
                server, _thread = serve(make_registry(runner.samples), listen)
            except (ValueError, OSError) as e:
                _err(f"cannot serve metrics on {listen}: {e}")
                return EXIT_ERROR
            port = server.server_port
            shown = f"[{host}]" if ":" in host else host
            print(f"spendtui export: serving http://{shown}:{port}/metrics", file=sys.stderr, flush=True)
        if otlp is not None:
            print(f"spendtui export: pushing OTLP to {args.otlp} every {args.interval:g}s",
                  file=sys.stderr, flush=True)
        print(f"spendtui export: following {len(runner.session_ids)} active session(s)", file=sys.stderr, flush=True)
        _wait_for_signal()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        runner.stop()
        if otlp is not None:
            otlp.shutdown()
    return EXIT_OK


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM; both end the export cleanly (final OTLP push included)."""
    stop = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread: rely on KeyboardInterrupt
            previous[sig] = signal.signal(sig, handler)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        return
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


# ------------------------------------------------------------------ watch --json
class _WatchBudget:
    """Budget state for one ``watch`` process: built on first use, None when no budget is set."""

    def __init__(self) -> None:
        self.ready = False
        self.tracker: Any = None


_WATCH = _WatchBudget()


def budget_events(model: SessionModel, args: argparse.Namespace | None = None,
                  now: float | None = None) -> list[dict[str, Any]]:
    """``{"event": "budget", ...}`` objects for thresholds the followed session just crossed.

    Each carries, when a day budget is set, ``day_budget``: the day's spend and when it runs
    out at the current burn rate (``projected_exhaustion``), whichever scope crossed.
    Cheap when no budget is configured (one config read, then nothing). After /clear the
    watch follows a new model: the old session stops counting as live but its spend stays
    in the day and month totals.
    """
    from spendtui.core.budget import BudgetConfigError
    from spendtui.core.config import ConfigError

    if not _WATCH.ready:
        _WATCH.ready = True
        try:
            pricer = model.pricer
            _WATCH.tracker = _tracker(_config(), args or argparse.Namespace(), pricer)
        except (BudgetConfigError, ConfigError) as e:
            _err(f"budgets disabled: {e}")
            _WATCH.tracker = None
    tracker = _WATCH.tracker
    if tracker is None:
        return []
    now = time.time() if now is None else now
    for other in [m for m in tracker.live.values() if m is not model]:
        tracker.retire(other, now)
    if tracker.live.get(model.session_id) is not model:
        tracker.track(model)
    alerts = tracker.check(now)
    if not alerts:
        return []
    day = next((st for st in tracker.states(now) if st.scope == "day"), None)
    extra = {"day_budget": {k: v for k, v in day.to_json().items() if k != "scope"}} if day is not None else {}
    return [
        {"event": "budget", "session_id": model.session_id, "observed": round(now, 6), **a.to_json(), **extra}
        for a in alerts
    ]


def reset_watch_budget() -> None:
    """Forget the watch's budget state (tests run several watches in one process)."""
    _WATCH.ready = False
    _WATCH.tracker = None
