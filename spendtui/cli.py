"""Command line entry point: `spendtui [sessions|summary|pricing|watch]`.

Kept thin: it parses arguments, asks the core for data and hands it to a view
(JSON, rich tables, or the Textual app). Heavy imports happen inside commands so
`spendtui --help` and scripted JSON calls start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spendtui import __version__
from spendtui.cli_export import (
    add_budget_args,
    add_export_parser,
    budget_events,
    budget_flags,
    check_budget_flags,
    cmd_export,
)
from spendtui.core.paths import (
    NoClaudeDataError,
    SessionFiles,
    discover,
    find_session,
    pick_default,
    sessions_for_project,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


def _common(p: argparse.ArgumentParser, sub: bool = False) -> None:
    # Subcommands repeat the option; SUPPRESS keeps their missing value from
    # overwriting one given before the subcommand.
    p.add_argument(
        "--claude-dir",
        action="append",
        metavar="DIR",
        default=argparse.SUPPRESS if sub else None,
        help="Claude config dir or its projects/ dir (repeatable, or comma-separated); "
        "default: $CLAUDE_CONFIG_DIR, else ~/.claude and ~/.config/claude",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        default=argparse.SUPPRESS if sub else False,
        help="parse every transcript again instead of reading on from the result cache",
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common(common, sub=True)
    p = argparse.ArgumentParser(
        prog="spendtui",
        description="What your Claude Code session costs, live, and why.",
    )
    _common(p)
    p.add_argument("--version", action="version", version=f"spendtui {__version__}")
    p.add_argument("--session", help="session id, id prefix or transcript path to show")
    p.add_argument("--project", help="prefer sessions of this project folder")
    p.add_argument("--poll", action="store_true",
                   help="poll for changes instead of native file events (network mounts, WSL)")
    add_budget_args(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("sessions", parents=[common], help="list sessions with their cost")
    s.add_argument("--json", action="store_true", help="one JSON array")
    s.add_argument("--project", dest="sub_project", metavar="PATH",
                   help="only sessions of this project (or below it)")
    s.add_argument("--limit", type=int, default=0, help="show only the N most recent")

    m = sub.add_parser("summary", parents=[common], help="cost summary of one session")
    m.add_argument("session", nargs="?", help="id, id prefix or transcript path "
                   "(default: latest session of this folder's project, else the latest)")
    m.add_argument("--json", action="store_true")
    m.add_argument("--top", type=int, default=5, help="how many costliest calls to list")
    m.add_argument("--no-context", action="store_true",
                   help="skip the context analysis (breakdown, staleness, cache misses, advice): faster")
    m.add_argument("--context", action="store_true",
                   help="analyse the context even of a session over 200 MB (slow, memory-hungry)")
    m.add_argument("--exact-counts", action="store_true",
                   help="count tokens with the API's free count_tokens endpoint (needs ANTHROPIC_API_KEY; "
                        "sends the context's text to Anthropic)")

    sl = sub.add_parser("statusline", parents=[common],
                        help="one status line for Claude Code's statusLine hook (reads its JSON on stdin)")
    sl.add_argument("--transcript", help="transcript path (instead of the hook JSON's transcript_path)")
    add_budget_args(sl, sub=True, notify=False)

    r = sub.add_parser("report", parents=[common], help="spend over your whole history")
    r.add_argument("--by", choices=["day", "week", "month", "project", "model", "session"], default="day")
    r.add_argument("--since", type=_date_arg, metavar="DATE", help="first day to include (YYYY-MM-DD)")
    r.add_argument("--until", type=_date_arg, metavar="DATE", help="last day to include (YYYY-MM-DD)")
    r.add_argument("--utc", action="store_true", help="bucket days in UTC instead of local time")
    r.add_argument("--json", action="store_true")

    w = sub.add_parser("watch", parents=[common], help="follow a session, one JSON object per event")
    w.add_argument("session", nargs="?", help="id, id prefix or path (default as for summary)")
    w.add_argument("--json", action="store_true", help="JSON lines (the only output format; for scripts)")
    w.add_argument("--poll", action="store_true", help="poll instead of native file events (network mounts, WSL)")
    w.add_argument("--no-history", action="store_true", help="skip calls already in the file at start")
    w.add_argument("--no-follow-clear", action="store_true", help="stay on this session after /clear")
    add_budget_args(w, sub=True)

    pr = sub.add_parser("pricing", parents=[common], help="show or update the price table")
    pr.add_argument("--json", action="store_true")
    pr.add_argument("--update", action="store_true",
                    help="import LiteLLM's model_prices_and_context_window.json (network only here)")
    pr.add_argument("--from", dest="source", metavar="FILE_OR_URL",
                    help="LiteLLM JSON to import (default: LiteLLM's GitHub raw URL)")
    add_export_parser(sub, common)
    return p


def _date_arg(text: str) -> Any:
    from datetime import date

    t = text.strip().replace("/", "-")
    if len(t) == 8 and t.isdigit():
        t = f"{t[:4]}-{t[4:6]}-{t[6:]}"
    try:
        return date.fromisoformat(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _claude_dirs(args: argparse.Namespace) -> list[str] | None:
    return args.claude_dir or None


def _prices() -> Any:
    from spendtui.core.pricing import PriceTable

    return PriceTable.default()


def _cache(args: argparse.Namespace, prices: Any) -> Any:
    if getattr(args, "no_cache", False):
        return None
    from spendtui.core.cache import SessionCache

    return SessionCache(prices=prices)


def _pricer(prices: Any) -> Any:
    return prices.cost if prices is not None else None


def _err(msg: str) -> None:
    print(f"spendtui: {msg}", file=sys.stderr)


def _resolve_session(spec: str | None, sessions: Sequence[SessionFiles],
                     project: str | None) -> SessionFiles | None:
    if spec:
        return find_session(spec, sessions)
    if project:
        cands = sessions_for_project(sessions, project)
        return cands[0] if cands else None
    return pick_default(sessions)


def cmd_summary(args: argparse.Namespace) -> int:
    from spendtui.core.loader import load_with_dedup
    from spendtui.core.summary import session_summary

    files, sessions, code = _pick_session(args)
    if files is None:
        return code
    prices = _prices()
    siblings = [s for s in sessions if s.project_dir == files.project_dir]
    if args.no_context:
        model = load_with_dedup(files, _pricer(prices), siblings=siblings or None, cache=_cache(args, prices))
        summary = session_summary(model, prices, top_calls=args.top, mtime=files.mtime())
    else:
        from spendtui.core.summary import analysed_summary

        summary = analysed_summary(files, prices, siblings=siblings or None, top_calls=args.top,
                                   exact_counts=args.exact_counts, force=args.context,
                                   plan=_plan_inputs(args, prices))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from spendtui.views.report import print_summary

        print_summary(summary)
    return EXIT_OK


def _plan_inputs(args: argparse.Namespace, prices: Any) -> dict[str, Any]:
    """The plan advice's inputs: the last 30 days' spend (from the result cache, kept between
    runs: see core/history.py) and ``[plan] current`` from the config."""
    from spendtui.core.config import ConfigError, load_config
    from spendtui.core.history import plan_inputs

    try:
        cfg = load_config()
    except ConfigError as e:
        _err(str(e))
        cfg = {}
    kwargs, problem = plan_inputs(_claude_dirs(args), prices, cfg, use_cache=not args.no_cache)
    if problem is not None:
        _err(f"{problem} (the plan advice assumes API prices)")
    return kwargs


def _discover(args: argparse.Namespace, visited: list[str] | None = None) -> list[SessionFiles]:
    """discover(), naming on stderr any folder it could not read (results stay partial)."""
    problems: list[str] = []
    sessions = discover(_claude_dirs(args), problems, visited)
    for p in problems:
        _err(p)
    if problems and visited is not None:
        visited.append("\0")  # not an answer to keep: the warning must be seen again
    return sessions


Compute = Callable[[list[SessionFiles], Any], Any]


def _memoized(args: argparse.Namespace, key: list[Any], compute: Compute) -> Any:
    """``compute(sessions, partial)``, or the answer kept from the last run if not one
    folder, transcript or price source changed since (tree.py). ``partial`` is None or,
    when only transcripts grew, the ``Lookup`` with the previous answer and what grew.
    Raises NoClaudeDataError."""
    from spendtui.core.tree import memoized

    return memoized(_claude_dirs(args), key, compute, discover=lambda visited: _discover(args, visited),
                    no_cache=getattr(args, "no_cache", False))


def cmd_sessions(args: argparse.Namespace) -> int:
    project = args.sub_project or getattr(args, "project", None)

    def compute(sessions: list[SessionFiles], partial: Any) -> list[dict[str, Any]]:
        from spendtui.core.batch import _unplain, row_order, session_rows

        kept: list[dict[str, Any]] = []
        if partial is not None:
            # rows depend only on the sessions of their own project (forks never cross
            # one): the projects where nothing grew keep their rows
            grown = partial.grown
            changed = {p[1] for p in partial.sessions
                       if p[2] in grown or any(a[1] in grown for a in p[3])}
            where = {p[2] or p[0]: p[1] for p in partial.sessions}
            if len(where) != len(partial.sessions):  # two sessions under one name: do them all
                return compute([_unplain(p) for p in partial.sessions], None)
            kept = [r for r in partial.previous if where.get(r["transcript"] or r["session_id"]) not in changed]
            sessions = [_unplain(p) for p in partial.sessions if p[1] in changed]
        if project:
            sessions = sessions_for_project(sessions, project)
        prices = _prices()
        rows = session_rows(sessions, prices, cache=_cache(args, prices))
        mtimes = {str(s.main): s.mtime() for s in sessions}
        for r in rows:  # when it was last written: `active` is worked out again on a kept answer
            r["_mtime"] = mtimes.get(str(r["transcript"]), 0.0)
        if kept:
            rows = sorted(kept + rows, key=row_order)
        return rows

    try:
        rows = _memoized(args, ["sessions", project], compute)
    except NoClaudeDataError as e:
        _err(str(e))
        return EXIT_NOT_FOUND
    from spendtui.core.batch import refresh_active

    rows = refresh_active(rows)
    if args.limit > 0:
        rows = rows[: args.limit]
    if args.json:
        from spendtui.core.jsonl import dumps_pretty

        sys.stdout.write(dumps_pretty(rows) + "\n")
        return EXIT_OK
    from rich.console import Console

    from spendtui.views.report import sessions_table

    if not rows:
        print("No sessions found" + (f" for project {project}" if project else "") + ".")
        return EXIT_OK
    console = Console()
    console.print(sessions_table(rows, width=console.width))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime, timezone

    from spendtui.core.report import build_report

    tz = timezone.utc if args.utc else None

    def compute(sessions: list[SessionFiles], partial: Any) -> dict[str, Any]:
        if partial is not None:
            from spendtui.core.batch import _unplain

            sessions = [_unplain(p) for p in partial.sessions]
        prices = _prices()
        return build_report(sessions, prices, by=args.by, since=args.since, until=args.until,
                            tz=tz, cache=_cache(args, prices))

    # local days depend on the zone (and its DST rules), so they are part of the key
    zone = "utc" if args.utc else [datetime.now().astimezone().tzname(), time.timezone, time.altzone]
    try:
        rep = _memoized(args, ["report", args.by, str(args.since), str(args.until), zone], compute)
    except NoClaudeDataError as e:
        _err(str(e))
        return EXIT_NOT_FOUND
    if args.json:
        from spendtui.core.jsonl import dumps_pretty

        sys.stdout.write(dumps_pretty(rep) + "\n")
        return EXIT_OK
    from rich.console import Console

    from spendtui.views.report import report_table

    console = Console()
    console.print(report_table(rep, width=console.width))
    return EXIT_OK


def cmd_statusline(args: argparse.Namespace) -> int:
    """Never fails loudly: Claude Code shows whatever we print under the prompt.
    (``spendtui.entry`` usually gets here first, without importing this module.)"""
    from spendtui.core.statusline import run_statusline

    return run_statusline(args.transcript, _claude_dirs(args), use_state=not args.no_cache,
                          budgets=budget_flags(args) or None)


def cmd_pricing(args: argparse.Namespace) -> int:
    from spendtui.core import pricing

    if args.update:
        try:
            path = pricing.update_from_litellm(args.source or pricing.LITELLM_URL)
        except Exception as e:
            _err(f"price update failed: {e}")
            return EXIT_ERROR
        print(f"Imported prices into {path}")
        return EXIT_OK
    table = pricing.PriceTable.default()
    if args.json:
        sys.stdout.write(table.to_json().rstrip("\n") + "\n")
        return EXIT_OK
    from rich.console import Console

    from spendtui.views.report import price_table

    console = Console()
    console.print(price_table(table.rows(), width=console.width))
    return EXIT_OK


def _pick_session(args: argparse.Namespace) -> tuple[SessionFiles | None, list[SessionFiles], int]:
    """The session SESSION / --project / the default names, the sessions found, and the
    exit code to use when there is none (the reason is already on stderr)."""
    spec = args.session
    sessions: list[SessionFiles] = []
    try:
        sessions = _discover(args)
    except NoClaudeDataError as e:
        if not (spec and Path(spec).expanduser().exists()):
            _err(str(e))
            return None, sessions, EXIT_NOT_FOUND
    try:
        files = _resolve_session(spec, sessions, getattr(args, "project", None))
    except LookupError as e:
        _err(str(e))
        return None, sessions, EXIT_USAGE
    if files is None:
        _err(f"no session matches {spec!r}" if spec else "no sessions found")
    return files, sessions, EXIT_NOT_FOUND


def cmd_watch(args: argparse.Namespace) -> int:
    import threading

    from spendtui.core.events import event_json
    from spendtui.core.follow import SessionFollower, watch_loop
    from spendtui.core.memory import Trimmer

    bad = check_budget_flags(args)
    if bad is not None:
        _err(bad)
        return EXIT_USAGE
    files, _sessions, code = _pick_session(args)
    if files is None:
        return code
    prices = _prices()
    # with the history, an event for every call already written (never made up from a cached
    # model that let go of the oldest calls' details)
    follower = SessionFollower(files, _pricer(prices), follow_clear=not args.no_follow_clear,
                               cache=_cache(args, prices), history=not args.no_history)
    out = sys.stdout
    trimmer = Trimmer(calls=lambda: follower.model.counted_calls)

    def emit(events: list[Any]) -> None:
        for ev in events:
            obj = event_json(ev)
            if obj is not None:
                out.write(json.dumps(obj, separators=(",", ":")) + "\n")
        for obj in budget_events(follower.model, args):
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
        out.flush()
        trimmer.maybe()

    if args.no_history:
        follower.load(on_events=lambda _batch: None)
    else:
        # streamed while the file is read: a huge session's events are never all in memory
        emit(follower.load(on_events=emit))
    emit([])  # an empty flush marks "caught up" for readers that wait on the pipe
    stop = threading.Event()
    try:
        watch_loop(follower, emit, stop, force_polling=True if args.poll else None)
    except KeyboardInterrupt:
        stop.set()
    return EXIT_OK


def app_session(args: argparse.Namespace) -> tuple[SessionFiles | None, int | None]:
    """The session the app opens with (``--session``, else the newest of ``--project``, else
    the default), or the exit code when it must not start: an unknown or ambiguous
    ``--session`` is an error, while no session at all opens the no-session screen."""
    try:
        files = _resolve_session(args.session, _discover(args), args.project)
    except NoClaudeDataError:
        return None, None  # the app shows where it looked and keeps looking
    except LookupError as e:
        _err(str(e))
        return None, EXIT_USAGE
    if files is None and args.session:
        _err(f"no session matches {args.session!r}")
        return None, EXIT_NOT_FOUND
    return files, None


def cmd_app(args: argparse.Namespace) -> int:
    """The live dashboard; on quit, the session summary is printed (and saved by the app)."""
    bad = check_budget_flags(args)
    if bad is not None:
        _err(bad)
        return EXIT_USAGE
    files, code = app_session(args)
    if code is not None:
        return code
    from spendtui.views.app import run_app
    from spendtui.views.report import print_summary

    summary = run_app(files, claude_dirs=_claude_dirs(args), prices=_prices(),
                      force_polling=True if args.poll else None, use_cache=not args.no_cache,
                      budgets=budget_flags(args), notify=not args.no_notify, project=args.project)
    if summary:
        print_summary(summary)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sessions":
            return cmd_sessions(args)
        if args.command == "summary":
            return cmd_summary(args)
        if args.command == "statusline":
            return cmd_statusline(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "watch":
            return cmd_watch(args)
        if args.command == "pricing":
            return cmd_pricing(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command is None:
            return cmd_app(args)
    except BrokenPipeError:
        # `spendtui sessions | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return EXIT_USAGE
