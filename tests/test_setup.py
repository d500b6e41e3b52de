"""The README's two commands on machines unlike this one, for real.

* A bare Debian: a PATH without npm, node, tmux, apt-get or sudo, and the distribution's own
  python3, which refuses pip installs (PEP 668). `scripts/setup_tests.sh` must warn loudly
  about each missing tool and go on, and the dev tools must land where that python3 finds them.
* Tests that need a missing tool (tmux, the pinned real clients) skip with a loud reason, and
  fail under SPENDTUI_REQUIRE_E2E=1, as `.ci/run` sets.
* The install-and-run command on an externally managed python3: the old `pip install .` is
  refused there; the README's command installs into a venv and starts the app (in tmux).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
# what a bare machine lacks (python3 is put back as the one under test)
HIDDEN = {"npm", "npx", "node", "nodejs", "corepack", "tmux", "apt-get", "apt", "sudo", "prometheus", "promtool",
          "python3", "python", "pip", "pip3"}


def readme_block(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    return text.split(marker, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0].strip()


def externally_managed(python: Path) -> bool:
    """PEP 668's marker, asked of that interpreter (outside a venv)."""
    code = ("import os, sys, sysconfig; print(sys.prefix == sys.base_prefix and "
            "os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def bare_bin(tmp: Path, python: Path | None) -> Path:
    """A folder of links to /usr/bin's programs, less HIDDEN: on PATH alone, a machine without them."""
    d = tmp / "bare-bin"
    d.mkdir()
    for e in os.scandir("/usr/bin"):
        if e.name not in HIDDEN:
            (d / e.name).symlink_to(e.path)
    if python is not None:
        (d / "python3").symlink_to(python)
    return d


def checkout(dest: Path) -> Path:
    """The working tree as a fresh clone of it would be: its files, not what git ignores (no .e2e/,
    no caches, no build output). New files not yet committed come too, as the suite sees them."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout
    for name in names.decode().split("\0"):
        src = REPO / name
        if name and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def clean_env(home: Path, path: str, **extra: str) -> dict[str, str]:
    """Only what a login shell would have: no pyenv, no venv, nothing of this test run."""
    keep = {k: v for k, v in os.environ.items()
            if k.startswith(("PIP_", "LANG", "LC_")) or k in ("TERM", "TZ", "TMPDIR")}
    return {**keep, "HOME": str(home), "PATH": path, **extra}


def run_pytest(args: list[str], env: dict[str, str], python: str = sys.executable,
               cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- missing tools: loud skip, CI failure
@pytest.mark.parametrize("required", [False, True])
def test_tmux_tests_skip_loudly_or_fail_in_ci_without_tmux(tmp_path: Path, required: bool) -> None:
    env = clean_env(tmp_path / "home", str(bare_bin(tmp_path, None)), PYTHONPATH=str(REPO))
    if required:
        env["SPENDTUI_REQUIRE_E2E"] = "1"
    for module in ("tests/app/test_tmux.py", "tests/hardening/test_exits.py"):
        r = run_pytest([module], env)
        out = r.stdout + r.stderr
        assert "TMUX MISSING" in out, out[-3000:]
        if required:
            # pytest.fail in setup is reported as an error: either way the run fails
            assert r.returncode == 1 and re.search(r"\d+ (failed|errors?)\b", out) and " passed" not in out, \
                out[-3000:]
            assert "SPENDTUI_REQUIRE_E2E=1, so this is a failure" in out
        else:
            assert r.returncode == 0 and re.search(r"\d+ skipped", out) and "failed" not in out, out[-3000:]


@pytest.mark.parametrize("required", [False, True])
def test_e2e_tests_skip_loudly_or_fail_in_ci_without_the_clients(tmp_path: Path, required: bool) -> None:
    empty = tmp_path / "no-clients"
    empty.mkdir()
    env = clean_env(tmp_path / "home", os.environ["PATH"], SPENDTUI_E2E_BIN=str(empty), PYTHONPATH=str(REPO))
    if required:
        env["SPENDTUI_REQUIRE_E2E"] = "1"
    r = run_pytest(["tests/e2e/test_accounting.py", "-k", "fresh_real_client_run_equals_truth and tool_use"], env)
    out = r.stdout + r.stderr
    assert "E2E CLIENTS MISSING: claude" in out, out[-3000:]
    if required:
        assert r.returncode == 1 and "1 failed" in out, out[-3000:]
    else:
        assert r.returncode == 0 and "1 skipped" in out, out[-3000:]
        assert "REAL-CLIENT E2E SCENARIOS SKIPPED" in out


# ---------------------------------------------------------------- setup on a bare machine
def test_setup_on_a_bare_debian_warns_and_goes_on(tmp_path: Path) -> None:
    if not SYSTEM_PYTHON.exists() or not externally_managed(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is not an externally managed (PEP 668) python on this machine")
    repo = checkout(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, str(bare_bin(tmp_path, SYSTEM_PYTHON)))
    r = subprocess.run(["bash", "scripts/setup_tests.sh"], cwd=repo, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    err = r.stderr
    for loud in ("externally managed (PEP 668): installing into the user site",
                 "tmux is missing and there is no apt-get here",
                 "Node.js/npm is missing and there is no apt-get here",
                 "npm not found",
                 "the pinned Claude Code and ccusage are NOT installed",
                 "Prometheus/promtool are NOT installed"):
        assert loud in err, f"{loud!r} not in:\n{err[-3000:]}"
    assert err.count("!" * 78) == 2 * 4  # tmux, Node.js, the clients, Prometheus: each framed
    # the dev tools went to the user's site, where the README's `python3 -m pytest` finds them
    assert list((home / ".local" / "lib").glob("python3*/site-packages/pytest"))
    r = run_pytest(["tests/test_readme.py"], env, python="python3", cwd=repo)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]


# ---------------------------------------------------------------- the install-and-run command
@pytest.mark.tmux
def test_install_command_runs_the_app_on_an_externally_managed_python(tmp_path: Path) -> None:
    python = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys.executable)
    repo = checkout(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, str(bare_bin(tmp_path, python)), TERM="xterm-256color")
    if externally_managed(python):
        # what the README used to say is refused here
        old = subprocess.run(["python3", "-m", "pip", "install", "--dry-run", "."], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
        assert old.returncode != 0 and "externally-managed-environment" in old.stderr
    command = readme_block("<!-- install-command -->")
    socket = f"spendtui-install-{uuid.uuid4().hex[:8]}"
    tmux_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")}

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=True, timeout=10, env=tmux_env).stdout

    (tmp_path / "run.sh").write_text(f"{command}\necho INSTALL-EXITED=$?\nsleep 600\n")
    exports = " ".join(f"{k}={shlex_quote(v)}" for k, v in env.items())
    tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "inst", "-c", str(repo),
         f"env -i {exports} bash {shlex_quote(str(tmp_path / 'run.sh'))}")
    try:
        screen = wait_screen(tmux, lambda s: "No Claude Code session to follow" in s or "INSTALL-EXITED" in s,
                             timeout=600)
        assert "No Claude Code session to follow" in screen, screen
        tmux("send-keys", "-t", "inst", "q")
        screen = wait_screen(tmux, lambda s: "INSTALL-EXITED" in s, timeout=30)
        assert "INSTALL-EXITED=0" in screen, screen
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10, env=tmux_env)
    assert (home / ".local" / "share" / "spendtui-venv" / "bin" / "spendtui").exists()


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def wait_screen(tmux, cond, timeout: float) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", "inst")
        if cond(screen):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s; the screen:\n{screen}")
