from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.tools import require_program

# A run started in the background by a non-interactive shell (`pytest &`) has SIGINT ignored, and
# a child inherits an ignored signal: the tests that stop `watch --json` with SIGINT (as Ctrl+C
# would) then wait for a process that never hears it. A handled signal is reset for a child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "samples"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``tmux`` need a real tmux: a loud skip without it, a failure in CI."""
    if item.get_closest_marker("tmux") is not None:
        require_program("tmux", "apt-get install tmux")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's real ~/.claude or writes to their config/cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("SPENDTUI_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("SPENDTUI_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("SPENDTUI_CONFIG", str(home / "spendtui-config.toml"))


def make_project(root: Path, name: str = "-tmp-proj") -> Path:
    d = root / "projects" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def copy_sample(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLES / name, dest)
    return dest


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, in this process and the CLI runs it starts: local days and clock
    times shown are then fixed wherever the tests run."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
