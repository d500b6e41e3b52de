"""File-system faults (issue 6, part 1): what a live file system does to the files we
tail — truncation, replacement, deletion, a project folder that goes and comes back,
files we may not read, symlinked config dirs, Windows paths in ``cwd``.

Each case: nothing crashes, what happened is said (an event, a skipped line with its
reason), and the numbers equal a one-shot parse of what is on disk afterwards.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spendtui.core.jsonl as jsonl
from spendtui.core.follow import Event, SessionFollower, watch_loop
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from tests.hardening.conftest import (
    copy_scenario,
    fresh_call,
    lines_of,
    main_file,
    one_shot,
    run_cli,
    summary_json,
    totals,
    usage_lines,
    write_lines,
)

REPO = Path(__file__).resolve().parents[2]
PRICES = PriceTable.default()


def live(f: SessionFollower) -> dict[str, Any]:
    return session_summary(f.model, PRICES, now=0.0)


def follower(path: Path) -> SessionFollower:
    f = SessionFollower(scan_project(path.parent)[path.stem], PRICES.cost)
    f.load()
    return f


def same_numbers(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert totals(a) == totals(b)
    assert a["skipped_lines"] == b["skipped_lines"]


@pytest.fixture
def session(tmp_path: Path) -> Path:
    """The main file of a real 2.1.197 session with a sub-agent."""
    return main_file(copy_scenario("subagent", tmp_path / "claude"))


# ------------------------------------------------------------ truncation
def test_truncated_while_tailed(session: Path) -> None:
    lines = lines_of(session)
    f = follower(session)
    full = live(f)
    cut = usage_lines(lines)[0]  # keep the lines before the first API call
    with open(session, "r+b") as fh:  # same inode, shorter
        fh.truncate(sum(len(raw) + 1 for raw in lines[:cut]))
    events = f.poll()
    assert events[0].kind == "reset" and events[0].payload["why"] == "truncated"
    same_numbers(live(f), one_shot(session))
    assert live(f)["main_api_calls"] == 0
    with open(session, "ab") as fh:  # Claude Code writes on: counted once
        fh.write(b"".join(raw + b"\n" for raw in lines[cut:]))
    f.poll()
    same_numbers(live(f), full)


def test_truncated_and_rewritten_longer_between_two_polls(session: Path) -> None:
    """Truncated and written again (same inode) before we looked: the size alone does not
    tell, the bytes before our offset do. Reading on from the old offset would count the
    middle of a line and the new lines on top of the old ones."""
    lines = lines_of(session)
    f = follower(session)
    calls = usage_lines(lines)
    new = [json.dumps(fresh_call(lines[calls[0]], 100 + i)).encode() for i in range(6)]
    with open(session, "r+b") as fh:
        fh.truncate(0)
        fh.write(b"".join(raw + b"\n" for raw in [*lines[: calls[0]], *new]))
    assert session.stat().st_size > f.readers.readers[session][0].offset
    events = f.poll()
    assert [e.kind for e in events][:1] == ["reset"]
    same_numbers(live(f), one_shot(session))
    assert live(f)["skipped_lines"] == 0


def test_replaced_with_a_new_inode_while_tailed(session: Path) -> None:
    lines = lines_of(session)
    f = follower(session)
    tmp = session.with_name("rewrite.tmp")
    calls = usage_lines(lines)
    write_lines(tmp, [*lines[: calls[0] + 1], json.dumps(fresh_call(lines[calls[0]], 200)).encode()])
    ino = session.stat().st_ino
    os.replace(tmp, session)
    assert session.stat().st_ino != ino
    events = f.poll()
    assert events[0].kind == "reset" and events[0].payload["why"] == "replaced"
    same_numbers(live(f), one_shot(session))


# --------------------------------------------------------------- deletion
def test_deleted_while_tailed_keeps_the_numbers_and_says_so(session: Path) -> None:
    f = follower(session)
    before = live(f)
    session.unlink()
    events = f.poll()
    assert [e.kind for e in events] == ["file_gone"]
    assert events[0].payload["file"] == str(session)
    assert f.poll() == []  # said once
    same_numbers(live(f), before)  # what was spent stays spent
    lines = lines_of(main_file(copy_scenario("subagent", session.parents[3] / "again")))
    write_lines(session, lines[: usage_lines(lines)[1] + 1])  # it comes back, shorter
    events = f.poll()
    assert events[0].kind == "reset"
    same_numbers(live(f), one_shot(session))


def test_watch_json_says_a_file_is_gone() -> None:
    from spendtui.core.events import event_json

    assert event_json(Event("file_gone", {"file": "/x/s.jsonl"}, "s")) is not None


def test_subagent_file_deleted_while_tailed(session: Path) -> None:
    f = follower(session)
    before = live(f)
    agent = next(session.parent.glob("*/subagents/agent-*.jsonl"))
    agent.unlink()
    assert [e.kind for e in f.poll()] == ["file_gone"]
    same_numbers(live(f), before)


def test_file_vanishes_in_the_middle_of_a_read(session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """stat() said it was there, open() says it is not (deleted in between)."""
    f = follower(session)
    with open(session, "ab") as fh:
        fh.write(json.dumps(fresh_call(lines_of(session)[usage_lines(lines_of(session))[0]], 300)).encode() + b"\n")
    real_open = builtins.open

    def vanishing(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(session):
            raise FileNotFoundError(2, "No such file or directory", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", vanishing)
    f.poll()
    f.poll()
    s = live(f)
    assert s["skipped_lines"] == 1
    assert s["skipped"][0]["reason"] == "file disappeared while reading"
    monkeypatch.setattr(builtins, "open", real_open)
    f.poll()  # it was a glitch: the appended call is read
    assert live(f)["api_calls"] == one_shot(session)["api_calls"]


# ------------------------------------------------------- project folder
def _wait(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Loop:
    """``watch_loop`` in a thread, as the app and ``watch --json`` run it."""

    def __init__(self, f: SessionFollower, force_polling: bool) -> None:
        self.f = f
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(force_polling,), daemon=True)

    def _run(self, force_polling: bool) -> None:
        try:
            watch_loop(self.f, self.events.extend, self.stop, force_polling=force_polling, poll_interval_ms=50)
        except BaseException as e:  # the test fails on it below
            self.error = e

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@contextlib.contextmanager
def running(f: SessionFollower, force_polling: bool) -> Iterator[Loop]:
    loop = Loop(f, force_polling)
    loop.thread.start()
    time.sleep(0.3)  # let watchfiles set up its watch
    try:
        yield loop
    finally:
        loop.stop.set()
        loop.thread.join(10)
    assert not loop.thread.is_alive()
    assert loop.error is None, repr(loop.error)


@pytest.mark.parametrize("force_polling", [False, True], ids=["native", "polling"])
def test_project_folder_disappears_and_comes_back(session: Path, tmp_path: Path, force_polling: bool) -> None:
    proj = session.parent
    backup = tmp_path / "backup"
    shutil.copytree(proj, backup)
    f = follower(session)
    before = live(f)
    with running(f, force_polling) as loop:
        shutil.rmtree(proj)
        _wait(lambda: "file_gone" in loop.kinds(), "the follower to notice")
        time.sleep(0.3)
        assert loop.thread.is_alive()
        same_numbers(live(f), before)  # the numbers stay while the folder is away
        # restored (a sync tool, a backup): copytree keeps mtimes, and the freed inode
        # numbers may come back, so this is either a new file (re-read) or the same one
        shutil.copytree(backup, proj)
        time.sleep(0.5)
        same_numbers(live(f), before)
        lines = lines_of(session)
        with open(session, "ab") as fh:  # and Claude Code writes on
            fh.write(json.dumps(fresh_call(lines[usage_lines(lines)[0]], 400)).encode() + b"\n")
        _wait(lambda: live(f)["api_calls"] == before["api_calls"] + 1, "the call appended after the restore")
    same_numbers(live(f), one_shot(session))


# ---------------------------------------------------------- permissions
def _drop_dac() -> list[str] | None:
    """Root ignores file modes; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it obeys
    them like anyone else. None when we cannot run that way."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", "true"],
                           capture_output=True, check=False)
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"] if probe.returncode == 0 else None


DROP = _drop_dac()
needs_permissions = pytest.mark.skipif(
    DROP is None, reason="running as root without setpriv: chmod 000 cannot be enforced here")


def spendtui(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m spendtui ARGS` in a child that file modes apply to (see _drop_dac)."""
    assert DROP is not None
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*DROP, sys.executable, "-m", "spendtui", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


@needs_permissions
def test_unreadable_subagent_file(session: Path, tmp_path: Path) -> None:
    """chmod 000 on one file: the rest is counted, the file is named with the reason."""
    claude = session.parents[2]
    agent = next(session.parent.glob("*/subagents/agent-*.jsonl"))
    without = copy_scenario("subagent", tmp_path / "without-agent")
    for p in without.glob("projects/*/*/subagents/agent-*"):
        p.unlink()
    agent.chmod(0)
    try:
        r = spendtui("summary", "--claude-dir", str(claude), session.stem, "--json", "--no-cache")
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)
        assert s["skipped_lines"] == 1
        assert s["skipped"] == [{"file": str(agent), "line": 0, "reason": "cannot read file (Permission denied)"}]
        assert totals(s) == totals(summary_json(without, session.stem, "--no-cache"))
        r = spendtui("sessions", "--claude-dir", str(claude), "--json")
        assert r.returncode == 0, r.stderr
    finally:
        agent.chmod(0o600)


@needs_permissions
def test_unreadable_main_file_and_unlistable_project_folder(session: Path, tmp_path: Path) -> None:
    claude = session.parents[2]
    other = copy_scenario("tool_use", tmp_path / "other")
    shutil.copytree(next((other / "projects").iterdir()), claude / "projects" / "-other-project")
    other_sid = main_file(other).stem
    session.chmod(0)
    try:
        r = spendtui("sessions", "--claude-dir", str(claude), "--json")
        assert r.returncode == 0, r.stderr
        rows = {row["session_id"]: row for row in json.loads(r.stdout)}
        assert rows[other_sid]["api_calls"] > 0
        r = spendtui("summary", "--claude-dir", str(claude), session.stem, "--json", "--no-cache")
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)
        assert {"file": str(session), "line": 0, "reason": "cannot read file (Permission denied)"} in s["skipped"]
        r = spendtui("report", "--claude-dir", str(claude), "--json")
        assert r.returncode == 0, r.stderr
    finally:
        session.chmod(0o600)
    session.parent.chmod(0)
    try:
        r = spendtui("sessions", "--claude-dir", str(claude), "--json")
        assert r.returncode == 0, r.stderr
        assert [row["session_id"] for row in json.loads(r.stdout)] == [other_sid]
    finally:
        session.parent.chmod(0o755)


@needs_permissions
def test_unsearchable_config_dir(session: Path) -> None:
    """A config dir we may not even search: the usual 'no transcripts, looked in ...'."""
    claude = session.parents[2]
    claude.chmod(0)
    try:
        r = spendtui("sessions", "--claude-dir", str(claude), "--json")
        r2 = spendtui("summary", "--claude-dir", str(claude), "--json")
    finally:
        claude.chmod(0o755)
    for res in (r, r2):
        assert res.returncode == 3, res.stderr
        assert "Traceback" not in res.stderr and str(claude) in res.stderr


@needs_permissions
def test_unlistable_project_folder_is_named(session: Path) -> None:
    claude = session.parents[2]
    session.parent.chmod(0)
    try:
        r = spendtui("sessions", "--claude-dir", str(claude), "--json")
    finally:
        session.parent.chmod(0o755)
    assert str(session.parent) in r.stderr and "Permission denied" in r.stderr


@needs_permissions
def test_cached_summary_after_a_file_becomes_readable(session: Path) -> None:
    """The result cache must not keep a 'cannot read file' of an earlier run."""
    claude = session.parents[2]
    agent = next(session.parent.glob("*/subagents/agent-*.jsonl"))
    agent.chmod(0)
    try:
        r = spendtui("summary", "--claude-dir", str(claude), session.stem, "--json")
        assert json.loads(r.stdout)["skipped_lines"] == 1
    finally:
        agent.chmod(0o600)
    cached = json.loads(spendtui("summary", "--claude-dir", str(claude), session.stem, "--json").stdout)
    fresh = json.loads(spendtui("summary", "--claude-dir", str(claude), session.stem, "--json",
                                "--no-cache").stdout)
    assert totals(cached) == totals(fresh)
    assert cached["skipped_lines"] == fresh["skipped_lines"] == 0


@needs_permissions
def test_project_folder_unsearchable_while_tailed(session: Path) -> None:
    """chmod 000 on the project folder under a running follower: stat() itself fails
    with EACCES (not ENOENT); polls go on, and it reads on once the folder is back."""
    script = """
import json, os, sys
from pathlib import Path
from spendtui.core.follow import SessionFollower
from spendtui.core.paths import scan_project
p = Path(sys.argv[1])
f = SessionFollower(scan_project(p.parent)[p.stem])
f.load()
before = f.model.counted_calls
os.chmod(p.parent, 0)
try:
    kinds = [e.kind for _ in range(5) for e in f.poll()]
finally:
    os.chmod(p.parent, 0o755)
with open(p, "ab") as fh:
    fh.write(sys.argv[2].encode() + b"\\n")
f.poll()
print(json.dumps([before, f.model.counted_calls, kinds, f.model.skipped_lines]))
"""
    lines = lines_of(session)
    new = json.dumps(fresh_call(lines[usage_lines(lines)[0]], 800))
    assert DROP is not None
    r = subprocess.run([*DROP, sys.executable, "-c", script, str(session), new], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert r.returncode == 0, r.stderr
    before, after, kinds, skipped = json.loads(r.stdout)
    assert after == before + 1
    assert "reset" not in kinds
    assert skipped <= 1


def test_unreadable_file_while_tailed_is_reported_once(session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll every 200 ms must not add a skipped line every 200 ms."""
    f = follower(session)
    lines = lines_of(session)
    with open(session, "ab") as fh:
        fh.write(json.dumps(fresh_call(lines[usage_lines(lines)[0]], 500)).encode() + b"\n")
    real_open = builtins.open

    def denied(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(session):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    for _ in range(20):
        f.poll()
    s = live(f)
    assert s["skipped_lines"] == 1
    assert s["skipped"] == [{"file": str(session), "line": 0, "reason": "cannot read file (Permission denied)"}]
    monkeypatch.setattr(builtins, "open", real_open)
    f.poll()
    assert live(f)["api_calls"] == one_shot(session)["api_calls"]


# ------------------------------------------------------------- symlinks
def test_symlinked_config_dirs_count_once(session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """~/.claude a symlink to the real dir, ~/.config/claude another one to it, the
    real dir given too, a symlinked project folder, a symlink loop and a dangling link."""
    real = session.parents[2]
    sid = session.stem
    want = summary_json(real, sid, "--no-cache")
    home = Path(os.environ["HOME"])
    (home / ".claude").symlink_to(real, target_is_directory=True)
    (home / ".config").mkdir(exist_ok=True)
    (home / ".config" / "claude").symlink_to(home / ".claude", target_is_directory=True)
    (real / "projects" / "loop").symlink_to(real / "projects", target_is_directory=True)
    (session.parent / "dangling.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    (session.parent / sid / "subagents" / "agent-loop").symlink_to(session.parent, target_is_directory=True)

    for args in ([], ["--claude-dir", str(home / ".claude")],
                 ["--claude-dir", f"{home / '.claude'},{real},{home / '.config' / 'claude'}"]):
        code, out, err = run_cli("sessions", *args, "--json")
        assert code == 0, err
        ids = [row["session_id"] for row in json.loads(out)]
        assert ids.count(sid) == 1, ids
        code, out, err = run_cli("summary", *args, sid, "--json", "--no-cache")
        assert code == 0, err
        got = json.loads(out)
        assert totals(got) == totals(want)
        assert got["skipped_lines"] == 0
        code, out, err = run_cli("report", *args, "--by", "session", "--json")
        assert code == 0, err
        rows = json.loads(out)["rows"]
        assert sum(r["api_calls"] for r in rows) == want["api_calls"]


def test_symlinked_project_folder_is_not_counted_twice(session: Path) -> None:
    real = session.parents[2]
    (real / "projects" / "-alias").symlink_to(session.parent, target_is_directory=True)
    want = summary_json(real, session.stem, "--no-cache")
    code, out, err = run_cli("report", "--claude-dir", str(real), "--by", "session", "--json")
    assert code == 0, err
    assert sum(r["api_calls"] for r in json.loads(out)["rows"]) == want["api_calls"]
    assert json.loads(out)["rows"], out


# -------------------------------------------------------- Windows paths
@pytest.mark.parametrize("cwd", ["C:\\Users\\me\\proj", "\\\\server\\share\\proj", "C:/Users/me/proj",
                                 "D:\\", "proj\x00null"])
def test_windows_style_cwd(session: Path, cwd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Transcripts copied from Windows (or WSL) name a cwd we cannot resolve here."""
    claude = session.parents[2]
    want = summary_json(claude, session.stem, "--no-cache")
    for p in [session, *session.parent.glob("*/subagents/agent-*.jsonl")]:
        out = []
        for raw in lines_of(p):
            rec = json.loads(raw)
            if "cwd" in rec:
                rec["cwd"] = cwd
            out.append(json.dumps(rec).encode())
        write_lines(p, out)
    monkeypatch.chdir(session.parent)
    for args in (["summary", session.stem, "--json"], ["summary", "--json"], ["sessions", "--json"],
                 ["sessions", "--json", "--project", cwd if "\x00" not in cwd else "proj"],
                 ["report", "--by", "project", "--json"], ["statusline", "--transcript", str(session)]):
        code, out, err = run_cli("--claude-dir", str(claude), *args)
        assert code == 0, (args, err)
    s = summary_json(claude, session.stem)
    assert s["project"] == cwd
    assert totals(s) == totals(want)
    code, out, _ = run_cli("--claude-dir", str(claude), "report", "--by", "project", "--json")
    assert [r["key"] for r in json.loads(out)["rows"]] == [cwd]
    f = follower(session)
    assert f.model.project == cwd
    f.poll()


# ------------------------------------------------------- watch --json
def test_watch_json_survives_every_fault(session: Path, tmp_path: Path) -> None:
    """The CLI follower in a child process through replace, delete, recreate and a
    folder removal; at the end its events add up to a one-shot parse."""
    claude = session.parents[2]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "watch.jsonl"
    lines = lines_of(session)
    calls = usage_lines(lines)
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "spendtui", "watch", "--claude-dir", str(claude),
                                 session.stem, "--json"], stdout=fh, stderr=subprocess.PIPE, env=env)
    try:
        def seen(kind: str, n: int = 1) -> Callable[[], bool]:
            return lambda: out.read_text().count(f'"event":"{kind}"') >= n

        _wait(seen("api_call", 3), "the history", timeout=20)
        tmp = session.with_name("x.tmp")
        write_lines(tmp, lines[: calls[1] + 1])
        os.replace(tmp, session)
        _wait(seen("reset"), "the reset after a replace")
        backup = tmp_path / "backup"
        shutil.copytree(session.parent, backup)
        shutil.rmtree(session.parent)
        time.sleep(1.0)
        shutil.copytree(backup, session.parent)
        _wait(seen("reset", 2), "the reset after the folder came back")
        with open(session, "ab") as fh:
            fh.write(json.dumps(fresh_call(lines[calls[0]], 600)).encode() + b"\n")
        _wait(lambda: "msg_hardening_600" in out.read_text(), "the call written after all that")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    # replay the event stream the way a script would: a reset starts the session over
    cost: dict[tuple[str, str | None], float] = {}
    for raw in out.read_text().splitlines():
        ev = json.loads(raw)
        if ev["event"] in ("reset", "clear"):
            cost = {}
        elif ev["event"] in ("api_call", "call_updated") and not ev["billed_elsewhere"]:
            cost[(ev["message_id"], ev["request_id"])] = ev["cost_usd"]
    want = one_shot(session)
    assert len(cost) == want["api_calls"]
    assert round(sum(cost.values()), 9) == pytest.approx(want["cost_usd"], abs=1e-9)


def test_oversized_line_appended_in_pieces_while_tailed(session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A monster line written over several polls is dropped once, counted once, and the
    lines after it are read."""
    monkeypatch.setattr(jsonl, "MAX_LINE", 64 << 10)
    monkeypatch.setattr(jsonl, "BLOCK", 16 << 10)
    f = follower(session)
    lines = lines_of(session)
    for _ in range(10):
        with open(session, "ab") as fh:
            fh.write(b"q" * (16 << 10))
        f.poll()
    with open(session, "ab") as fh:
        fh.write(b"\n" + json.dumps(fresh_call(lines[usage_lines(lines)[0]], 700)).encode() + b"\n")
    f.poll()
    s = live(f)
    assert s["skipped_lines"] == 1
    assert s["skipped"][0]["reason"] == "line longer than 65,536 bytes (not read)"
    assert s["skipped"][0]["line"] == len(lines) + 1
    assert s["api_calls"] == one_shot(session)["api_calls"]
