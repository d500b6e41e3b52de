"""Smoke test in a real terminal: `python -m spendtui` inside tmux, a real API call line
appended while it runs, read back with capture-pane, then `q` and the printed summary."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spendtui.core.loader import load_with_dedup
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from spendtui.views.report import money
from tests.app.conftest import make_session, project_dir
from tests.conftest import SAMPLES
from tests.records import assistant, ts, usage, user

REPO = Path(__file__).resolve().parents[2]
EXIT_MARK = "SPENDTUI-EXITED"


pytestmark = [
    pytest.mark.tmux,
]


class Tmux:
    """One detached session on a private server socket, so no user's tmux is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket
        # The server copies the environment of whoever starts it. Under pytest the inherited
        # (C-level) environment was seen to hold COLUMNS=80 LINES=24 that os.environ did not
        # show; Textual honours them over the real pane size. Hand tmux os.environ, cleaned.
        self.env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=check, timeout=10, env=self.env)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "spend", check=False).stdout

    def wait_for_size(self, target: str, width: int, height: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        want = f"{width}x{height}"
        while time.monotonic() < deadline:
            size = self("display", "-p", "-t", target, "#{window_width}x#{window_height}").stdout.strip()
            if size == want:
                return
            time.sleep(0.02)
        raise AssertionError(f"the tmux window never became {want}")

    def wait_for(self, cond: Callable[[str], bool], what: str, timeout: float = 15.0,
                 fail_on: str | None = EXIT_MARK) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if cond(text):
                return text
            if fail_on is not None and fail_on in text:
                break  # the program already exited: no point waiting
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(f"spendtui-test-{uuid.uuid4().hex[:8]}")
    yield t
    t("kill-server", check=False)


def test_real_terminal_follow_and_quit_summary(tmux: Tmux, tmp_path: Path) -> None:
    root = tmp_path / "claude"
    files = make_session(root, [
        user("hello", when=ts(0, 0)),
        assistant("m1", "r1", usage(10, 100, cw5=1000), when=ts(0, 0)),
    ])
    assert files.main is not None
    env = {
        "PYTHONPATH": str(REPO), "TZ": "UTC", "TERM": "xterm-256color", "COLORTERM": "truecolor",
        **{k: os.environ[k] for k in ("HOME", "PATH", "SPENDTUI_DATA_DIR", "SPENDTUI_CACHE_DIR",
                                      "SPENDTUI_CONFIG", "XDG_CONFIG_HOME") if k in os.environ},
    }
    cmd = (f"cd {shlex.quote(str(tmp_path))} && "
           f"{shlex.quote(sys.executable)} -m spendtui --claude-dir {shlex.quote(str(root))}; "
           f"echo {EXIT_MARK}=$?; sleep 60")
    # The pane starts at tmux's default 80x24 and is resized just after; a program started
    # with the session can read the old size. So size the window first, then start the app.
    tmux("new-session", "-d", "-x", "160", "-y", "50", "-s", "spend", "sleep 600")
    tmux("resize-window", "-t", "spend", "-x", "160", "-y", "50")
    tmux.wait_for_size("spend", 160, 50)
    args = ["respawn-pane", "-k", "-t", "spend"]
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    tmux(*args, cmd)

    tmux.wait_for(lambda s: "API calls" in s and "$0.0053" in s, "the dashboard with the first call")

    line = next(raw for raw in (SAMPLES / "marot_spotter_short.jsonl").read_text().splitlines()
                if '"usage"' in raw and '"type":"assistant"' in raw)
    with open(files.main, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    tmux.wait_for(lambda s: "opus-4-6" in s and "21:11:59" in s, "the appended call's row")

    tmux("send-keys", "-t", "spend", "q")
    out = tmux.wait_for(lambda s: EXIT_MARK in s, "the app to exit and print its summary", fail_on=None)
    assert f"{EXIT_MARK}=0" in out
    prices = PriceTable.default()
    expected = session_summary(load_with_dedup(files, prices.cost), prices)
    assert expected["api_calls"] == 2
    flat = re.sub(r"\s+", " ", out)
    assert "spendtui summary" in flat
    assert files.session_id in flat
    assert money(expected["cost_usd"]) in flat
    assert "2 API calls" in flat
    saved = Path(env["SPENDTUI_DATA_DIR"]) / "summaries" / f"{files.session_id}.json"
    assert saved.exists()
    assert project_dir(root).exists()
