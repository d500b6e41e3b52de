"""`spendtui export` options and errors, and `{"event": "budget"}` lines in `watch --json`."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from spendtui.cli import main
from spendtui.cli_export import budget_events, reset_watch_budget
from tests.export.helpers import LiveModel
from tests.export.test_metrics import make_claude, now_iso
from tests.records import append_jsonl, assistant, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def config(text: str) -> Path:
    p = Path(os.environ["SPENDTUI_CONFIG"])
    p.write_text(text)
    return p


def test_export_needs_a_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 2
    assert "--prometheus and/or --otlp" in capsys.readouterr().err


def test_export_once_prints_the_exposition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_claude(tmp_path)
    config('[export]\nuser = "dana"\n[budget]\ndaily_usd = 1\n')
    assert main(["export", "--once", "--claude-dir", str(root), "--session-budget", "0.05", "--no-notify"]) == 0
    out = capsys.readouterr().out
    assert 'spendtui_cost_usd_total{agent="main",model="claude-sonnet-4-5-20250929",project="beta",user="dana"}' in out
    assert 'spendtui_budget_usd{scope="day",user="dana"} 1.0' in out
    assert 'spendtui_budget_usd{scope="session",user="dana"} 0.05' in out


@pytest.mark.parametrize(("argv", "code", "msg"), [
    (["--once", "--daily-budget", "-5"], 2, "positive amount"),
    (["--once", "--session-budget", "lots"], 2, "expected a number"),
    (["--project-label", "path", "--otlp", "not-a-url"], 2, "http(s) URL"),
    (["--prometheus", "--listen", "nohost"], 1, "cannot serve metrics"),
])
def test_export_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                                msg: str) -> None:
    root = make_claude(tmp_path)
    assert main(["export", "--claude-dir", str(root), *argv]) == code
    assert msg in capsys.readouterr().err


def test_export_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config("[budget\n")
    assert main(["export", "--once", "--claude-dir", str(make_claude(tmp_path))]) == 1
    assert "invalid TOML" in capsys.readouterr().err


def test_export_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["export", "--prometheus", "--listen", f"127.0.0.1:{port}", "--claude-dir",
                     str(make_claude(tmp_path))]) == 1
    assert "cannot serve metrics" in capsys.readouterr().err


def test_export_otlp_without_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)
    assert main(["export", "--otlp", "http://127.0.0.1:4318", "--claude-dir", str(make_claude(tmp_path))]) == 1
    assert "pip install 'spendtui[otel]'" in capsys.readouterr().err


# ---------------------------------------------------------------- watch --json
def test_budget_events_from_config() -> None:
    reset_watch_budget()
    try:
        config("[budget]\nsession_usd = 2\n")
        live = LiveModel()
        from tests.export.test_budget import at

        live.spend(150, at(11))  # $1.50 of $2 = 75 %
        events = budget_events(live.model, None)
        assert [(e["event"], e["scope"], e["threshold"]) for e in events] == [("budget", "session", 50)]
        assert events[0]["session_id"] == "s1" and events[0]["budget_usd"] == 2.0
        assert budget_events(live.model, None) == []
        # after /clear the watch follows another model: its thresholds start afresh
        other = LiveModel("s2")
        other.spend(200, at(11, 30))
        assert [e["threshold"] for e in budget_events(other.model, None)] == [50, 80, 100]
    finally:
        reset_watch_budget()


def test_budget_events_without_budget_are_free() -> None:
    reset_watch_budget()
    try:
        live = LiveModel()
        assert budget_events(live.model, None) == []
        assert budget_events(live.model, None) == []
    finally:
        reset_watch_budget()


def _reader(proc: subprocess.Popen[str]) -> queue.Queue[dict[str, Any]]:
    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                q.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()
    return q


def _next_budget(q: queue.Queue[dict[str, Any]], timeout: float = 20.0) -> dict[str, Any]:
    while True:
        ev = q.get(timeout=timeout)
        if ev["event"] == "budget":
            return ev


def test_watch_json_emits_budget_events(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    # Sonnet 4.5: 1000 output tokens = $0.015; budget $0.05 per session
    p = write_jsonl(proj / "s1.jsonl", [user("a", session="s1"),
                                        assistant("m1", "r1", usage(inp=0, out=2000), when=now_iso())])  # $0.03
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendtui", "watch", "--json", "--poll", "--no-notify", "--session-budget", "0.05",
         "--claude-dir", str(tmp_path), "s1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        q = _reader(proc)
        first = _next_budget(q)  # 60 % at start
        assert (first["scope"], first["threshold"], first["spent_usd"], first["budget_usd"]) == (
            "session", 50, 0.03, 0.05)
        assert first["session_id"] == "s1" and "projected_exhaustion" in first
        append_jsonl(p, [assistant("m2", "r2", usage(inp=0, out=1500), when=now_iso())])  # $0.0525 = 105 %
        second, third = _next_budget(q), _next_budget(q)
        assert [second["threshold"], third["threshold"]] == [80, 100]
        assert third["spent_usd"] == 0.0525 and third["ratio"] == 1.05
    finally:
        proc.terminate()
        proc.wait(10)


def test_budget_events_carry_when_the_days_budget_runs_out(utc: None) -> None:
    """$2 at 08:00, then $2 + $1 + $1 at 11:10/11:30/11:50 (UTC-5); now 12:00. Session budget
    $5, day budget $10. The last hour's $4 was spent over 11:10 -> 12:00 = 50 min: $4.80/h.
    The day's $10 - $6 = $4 left lasts 50 min: it runs out at 12:50 (17:50Z). Every event,
    the session's too, says so in ``day_budget``."""
    from tests.export.test_budget import NOON, at

    reset_watch_budget()
    try:
        config("[budget]\nsession_usd = 5\ndaily_usd = 10\n")
        live = LiveModel()
        for cents, when in [(200, at(8)), (200, at(11, 10)), (100, at(11, 30)), (100, at(11, 50))]:
            live.spend(cents, when)
        events = budget_events(live.model, None, now=NOON.timestamp())
        assert [(e["scope"], e["threshold"]) for e in events] == [
            ("session", 50), ("session", 80), ("session", 100), ("day", 50)]
        day = {"period": "2026-11-20", "spent_usd": 6.0, "budget_usd": 10.0, "ratio": 0.6,
               "burn_usd_per_hour": 4.8, "projected_exhaustion": "2026-11-20T17:50:00Z"}
        assert all(e["day_budget"] == day for e in events)
        assert events[3]["projected_exhaustion"] == "2026-11-20T17:50:00Z"  # the day's own event agrees
        assert json.loads(json.dumps(events)) == events  # plain JSON, as watch --json writes it
    finally:
        reset_watch_budget()


def test_budget_events_without_a_day_budget_have_no_day_field() -> None:
    reset_watch_budget()
    try:
        config("[budget]\nsession_usd = 1\n")
        live = LiveModel()
        from tests.export.test_budget import at

        live.spend(150, at(11))
        (event, *_rest) = budget_events(live.model, None)
        assert "day_budget" not in event
    finally:
        reset_watch_budget()


# ---------------------------------------------------------------- budget flags on every command
@pytest.mark.parametrize(("argv", "want"), [
    ([], {}),
    (["--daily-budget", "20"], {"day": "20"}),  # the app
    (["--daily-budget", "20", "watch"], {"day": "20"}),  # before the subcommand still counts
    (["watch", "--daily-budget", "20"], {"day": "20"}),
    (["--daily-budget", "5", "watch", "--daily-budget", "20", "--session-budget", "1"], {"day": "20", "session": "1"}),
    (["--monthly-budget", "300", "statusline"], {"month": "300"}),
    (["statusline", "--session-budget=0.5", "--daily-budget", "4"], {"session": "0.5", "day": "4"}),
    (["export", "--once", "--session-budget", "2"], {"session": "2"}),
])
def test_budget_flags_on_every_command(argv: list[str], want: dict[str, str]) -> None:
    from spendtui.cli import build_parser
    from spendtui.cli_export import budget_flags
    from spendtui.entry import statusline_args

    args = build_parser().parse_args(argv)
    assert budget_flags(args) == want
    if "statusline" in argv:  # the fast path reads them as argparse does
        fast = statusline_args(argv)
        assert fast is not None and fast.get("budgets", {}) == want


def test_no_notify_before_or_after_the_subcommand() -> None:
    from spendtui.cli import build_parser

    p = build_parser()
    assert p.parse_args(["--no-notify"]).no_notify is True
    assert p.parse_args(["--no-notify", "watch"]).no_notify is True
    assert p.parse_args(["watch", "--no-notify"]).no_notify is True
    assert p.parse_args(["watch"]).no_notify is False


@pytest.mark.parametrize("argv", [["--session-budget", "abc"], ["--daily-budget", "0"],
                                  ["watch", "--json", "--monthly-budget", "-3"]])
def test_bad_budget_flag_is_a_usage_error_before_anything_starts(argv: list[str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("spendtui: --") and "budget" in err and err.count("\n") == 1
