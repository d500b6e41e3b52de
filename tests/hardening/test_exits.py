"""Clean exits (issue 6, part 5): `python -m spendtui` in a real terminal (tmux), left by
every path — `q`, Ctrl+C, SIGTERM, SIGINT, an exception in the follower — and the
terminal checked afterwards: cooked mode (`stty -a` from the same pane: icanon, echo,
isig, icrnl, opost), the alternate screen left, the cursor shown, mouse reporting off.

And an exception in the follower worker: the app stays up, says so, keeps the last
good numbers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerState

from tests.hardening.conftest import copy_scenario, fresh_call, lines_of, main_file, usage_lines

REPO = Path(__file__).resolve().parents[2]
EXIT_MARK = "HARDENING-EXITED"
STTY_SANE = ("icanon", "echo", "isig", "icrnl", "opost", "iexten")
# tmux's view of the terminal modes the program left behind
PANE_FLAGS = ("alternate_on", "cursor_flag", "mouse_any_flag", "mouse_all_flag", "mouse_button_flag",
              "mouse_sgr_flag", "mouse_standard_flag", "mouse_utf8_flag", "insert_flag", "origin_flag",
              "keypad_cursor_flag")
WANT_FLAGS = {"alternate_on": "0", "cursor_flag": "1", "mouse_any_flag": "0", "mouse_all_flag": "0",
              "mouse_button_flag": "0", "mouse_sgr_flag": "0", "mouse_standard_flag": "0", "mouse_utf8_flag": "0",
              "insert_flag": "0", "origin_flag": "0", "keypad_cursor_flag": "0"}

pytestmark = [
    pytest.mark.tmux,
]


class Pane:
    """One detached tmux session on a private server socket (no user's tmux is touched)."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"spendtui-hardening-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, check=check, timeout=10, env=self.env)

    def start(self, argv: list[str], width: int = 140, height: int = 45) -> None:
        env = {"PYTHONPATH": str(REPO), "TZ": "UTC", "TERM": "xterm-256color", "COLORTERM": "truecolor",
               **{k: os.environ[k] for k in ("HOME", "PATH", "SPENDTUI_DATA_DIR", "SPENDTUI_CACHE_DIR",
                                             "SPENDTUI_CONFIG", "XDG_CONFIG_HOME") if k in os.environ}}
        stty = self.tmp / "stty.txt"
        # sh -c, not an interactive shell: no readline fixes the modes up before stty runs
        cmd = (f"cd {shlex.quote(str(self.tmp))} && {shlex.join(argv)}; echo {EXIT_MARK}=$?; "
               f"stty -a > {shlex.quote(str(stty))}; echo STTY-DONE; sleep 600")
        self("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "app", "sleep 600")
        self("resize-window", "-t", "app", "-x", str(width), "-y", str(height))
        args = ["respawn-pane", "-k", "-t", "app"]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        self(*args, f"sh -c {shlex.quote(cmd)}")

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app", check=False).stdout

    def wait_for(self, cond: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if cond(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")

    def flags(self) -> dict[str, str]:
        fmt = "\t".join(f"#{{{f}}}" for f in PANE_FLAGS)
        values = self("display", "-p", "-t", "app", fmt).stdout.rstrip("\n").split("\t")
        return dict(zip(PANE_FLAGS, values, strict=True))

    def app_pid(self) -> int:
        """The python process running in the pane (the child of its sh)."""
        shell = int(self("display", "-p", "-t", "app", "#{pane_pid}").stdout.strip())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                kids = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            time.sleep(0.05)
        raise AssertionError("no process in the pane")

    def assert_restored(self) -> str:
        """After the program exited: its exit code, and the terminal as it found it."""
        out = self.wait_for(lambda s: "STTY-DONE" in s, "the program to exit", timeout=20)
        stty = (self.tmp / "stty.txt").read_text()
        words = set(re.split(r"[\s;]+", stty))
        assert not [w for w in STTY_SANE if f"-{w}" in words], stty
        assert all(w in words for w in STTY_SANE), stty
        assert self.flags() == WANT_FLAGS
        m = re.search(rf"{EXIT_MARK}=(\d+)", out)
        assert m, out
        return m.group(1)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    p = Pane(tmp_path)
    yield p
    p("kill-server", check=False)


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    return copy_scenario("subagent", tmp_path / "claude")


def _spendtui(claude: Path) -> list[str]:
    return [sys.executable, "-m", "spendtui", "--claude-dir", str(claude)]


def _dashboard(pane: Pane) -> str:
    return pane.wait_for(lambda s: "API calls" in s and "$0.1404" in s, "the dashboard")


def _in_app(pane: Pane) -> None:
    flags = pane.flags()
    assert flags["alternate_on"] == "1", flags  # the check below is only worth something if it was on


def test_quit_with_q(pane: Pane, claude: Path) -> None:
    pane.start(_spendtui(claude))
    _dashboard(pane)
    _in_app(pane)
    pane("send-keys", "-t", "app", "q")
    assert pane.assert_restored() == "0"
    assert "4 API calls" in re.sub(r"\s+", " ", pane.screen())  # the printed summary


def test_ctrl_c(pane: Pane, claude: Path) -> None:
    pane.start(_spendtui(claude))
    _dashboard(pane)
    _in_app(pane)
    pane("send-keys", "-t", "app", "C-c")
    assert pane.assert_restored() == "0"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal(pane: Pane, claude: Path, sig: signal.Signals) -> None:
    pane.start(_spendtui(claude))
    _dashboard(pane)
    _in_app(pane)
    os.kill(pane.app_pid(), sig)
    code = pane.assert_restored()
    assert code in ("0", str(128 + sig), "130"), code


def test_exception_in_the_follower_keeps_the_numbers_and_the_terminal(pane: Pane, claude: Path,
                                                                       tmp_path: Path) -> None:
    trigger = tmp_path / "break-now"
    session = main_file(claude)
    pane.start([sys.executable, "-m", "tests.hardening.faulty_follower", str(trigger), "--claude-dir", str(claude)])
    _dashboard(pane)
    lines = lines_of(session)
    with open(session, "ab") as fh:  # one more good call, shown before the fault
        fh.write(json.dumps(fresh_call(lines[usage_lines(lines)[0]], 900)).encode() + b"\n")
    good = pane.wait_for(lambda s: "$0.2490" in s or "$0.249" in s, "the appended call")
    assert "$0.249" in good
    trigger.touch()
    shown = pane.wait_for(lambda s: "injected follower fault" in s, "the error to be shown")
    assert "$0.249" in shown  # the last good numbers stay on screen
    time.sleep(1.0)
    assert pane.flags()["alternate_on"] == "1"  # the app is still up
    assert "$0.249" in pane.screen()
    pane("send-keys", "-t", "app", "q")
    assert pane.assert_restored() == "0"


async def test_follower_error_stays_on_screen(claude: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spendtui.core.follow import SessionFollower
    from spendtui.core.paths import discover
    from spendtui.core.pricing import PriceTable
    from spendtui.views.app import SpendApp

    broken = {"now": False}
    real_poll = SessionFollower.poll

    def poll(self: SessionFollower) -> list[Any]:
        if broken["now"]:
            raise RuntimeError("injected follower fault")
        return real_poll(self)

    monkeypatch.setattr(SessionFollower, "poll", poll)
    app = SpendApp(discover([claude])[0], [claude], PriceTable.default(), force_polling=True)
    async with app.run_test(size=(140, 45)) as pilot:
        while app.updates == 0:
            await pilot.pause(0.05)
        before = app.snapshot
        broken["now"] = True
        for _ in range(100):
            await pilot.pause(0.05)
            if any(w.state == WorkerState.ERROR for w in app.workers) or not app.workers:
                break
        await pilot.pause(0.2)
        assert app.is_running and app.snapshot is before  # alive, last good numbers kept
        app.clear_notifications()  # what the toast's timeout does, 20 s later
        await pilot.pause(0.2)
        text = re.sub(r"<[^>]+>", " ", app.export_screenshot()).replace("&#160;", " ")
        assert "injected follower fault" in text or "not following" in text.lower()


async def test_a_follower_that_keeps_failing_is_retried_less_and_less_often(
        claude: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each restart reads the whole session again: a follower that fails on every poll after a
    good reload must not be restarted every 5 s for good. The wait doubles until the follower
    has run FOLLOW_HEALTHY_SECONDS; a failure after that starts from the first wait again."""
    from spendtui.core.follow import SessionFollower
    from spendtui.core.paths import discover
    from spendtui.core.pricing import PriceTable
    from spendtui.views.app import SpendApp
    from spendtui.views.app import app as app_mod

    monkeypatch.setattr(app_mod, "FOLLOW_RETRY_SECONDS", 0.05)
    loads = {"n": 0}
    real_load = SessionFollower.load

    def load(self: SessionFollower, *a: Any, **k: Any) -> Any:
        loads["n"] += 1
        return real_load(self, *a, **k)

    def poll(self: SessionFollower, *a: Any, **k: Any) -> list[Any]:
        raise RuntimeError("injected follower fault")

    monkeypatch.setattr(SessionFollower, "load", load)
    monkeypatch.setattr(SessionFollower, "poll", poll)
    app = SpendApp(discover([claude])[0], [claude], PriceTable.default(), force_polling=True)
    async with app.run_test(size=(140, 45)) as pilot:
        for _ in range(600):  # a loaded machine: each cycle reads the session again
            await pilot.pause(0.05)
            if app._follow_failures >= 4:
                break
        n = app._follow_failures
        assert n >= 4 and loads["n"] >= 4  # each failure came after a good reload
        assert app.follow_retry_in == pytest.approx(0.05 * 2 ** (n - 1))
        assert app.is_running
        # a follower that ran long enough: its next failure waits the first wait again
        monkeypatch.setattr(app_mod, "FOLLOW_HEALTHY_SECONDS", 0.0)
        seen = app._follow_failures
        for _ in range(600):
            await pilot.pause(0.05)
            if app._follow_failures != seen:
                break
        assert app._follow_failures == 1 and app.follow_retry_in == pytest.approx(0.05)
