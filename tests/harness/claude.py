"""Drive the real ``claude`` CLI against the fake API.

* :func:`run_print` – one ``claude -p`` run (non-interactive).
* :class:`InteractiveSession` – an interactive ``claude`` inside a private tmux server, for slash
  commands (``/compact``, ``/model``, ``/clear``).
* :func:`prepare_config` – writes ``<CLAUDE_CONFIG_DIR>/.claude.json`` so that no first-run screen
  (theme picker, trust dialog, API-key confirmation, bypass-permissions warning) appears.

Every run gets a clean environment (nothing inherited but ``PATH``/``LANG``/``TERM``): a private
``HOME`` (default ``<config_dir>-home``), ``CLAUDE_CONFIG_DIR``, ``ANTHROPIC_BASE_URL``,
``ANTHROPIC_API_KEY=test``, ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``, ``IS_SANDBOX=1``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .tools import claude_bin

API_KEY = "test"
DEFAULT_MODEL = "claude-sonnet-4-5"


def encode_project_dir(cwd: str | Path) -> str:
    """Claude Code's ``projects/<encoded>`` directory name for a working directory."""
    return re.sub(r"[^a-zA-Z0-9]", "-", str(Path(cwd).resolve()))


def default_home(config_dir: Path) -> Path:
    return config_dir.parent / f"{config_dir.name}-home"


def prepare_config(config_dir: str | Path, project_cwds: Iterable[str | Path] = (),
                   api_key: str = API_KEY) -> Path:
    """Write/merge ``<config_dir>/.claude.json`` so interactive first-run screens are skipped.

    What 2.1.197 needs (found by removing one key at a time):

    * ``hasCompletedOnboarding`` – else the onboarding flow starts with a connectivity check to
      api.anthropic.com (ignores ``ANTHROPIC_BASE_URL``) and exits "Unable to connect";
    * ``customApiKeyResponses.approved`` holding the key's last 20 characters – else "Detected a
      custom API key in your environment. Do you want to use this API key?" (default: No);
    * ``projects[<cwd>].hasTrustDialogAccepted`` – else the "Accessing workspace … trust this
      folder?" dialog;
    * ``bypassPermissionsModeAccepted`` – else the "Bypass Permissions mode" warning for
      ``--dangerously-skip-permissions`` (``IS_SANDBOX=1`` does not skip it);
    * ``theme`` is *not* required (no theme picker once onboarding is complete).

    Returns the path of the file. Idempotent; keeps whatever Claude Code already wrote there.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / ".claude.json"
    data: dict = {}
    if path.exists():
        try:
            data = json.loads(path.read_text() or "{}")
        except ValueError:
            data = {}
    data.update({
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.197",
        "theme": "dark",
        "bypassPermissionsModeAccepted": True,
        "hasSeenTasksHint": True,
        "autoUpdates": False,
        "numStartups": max(int(data.get("numStartups", 0)), 5),
    })
    responses = data.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
    approved = responses.setdefault("approved", [])
    if api_key[-20:] not in approved:
        approved.append(api_key[-20:])
    projects = data.setdefault("projects", {})
    for cwd in project_cwds:
        p = projects.setdefault(str(Path(cwd).resolve()), {})
        p.update({
            "hasTrustDialogAccepted": True,
            "hasCompletedProjectOnboarding": True,
            "projectOnboardingSeenCount": 1,
            "hasClaudeMdExternalIncludesApproved": False,
            "allowedTools": p.get("allowedTools", []),
        })
    path.write_text(json.dumps(data, indent=2))
    settings = config_dir / "settings.json"
    if not settings.exists():
        settings.write_text(json.dumps({"autoUpdates": False}, indent=2))
    return path


def build_env(config_dir: str | Path, base_url: str | None = None,
              env_extra: Mapping[str, str] | None = None, home: str | Path | None = None
              ) -> dict[str, str]:
    config_dir = Path(config_dir)
    home = Path(home) if home else default_home(config_dir)
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "xterm-256color",
        "HOME": str(home),
        "SHELL": "/bin/bash",
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_API_KEY": API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "IS_SANDBOX": "1",
    }
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    env.update(env_extra or {})
    if "ANTHROPIC_BASE_URL" not in env:
        raise ValueError("base_url (or ANTHROPIC_BASE_URL in env_extra) is required")
    return env


@dataclass
class PrintResult:
    returncode: int
    stdout: str
    stderr: str
    argv: list[str]
    duration: float
    #: parsed ``--output-format json`` result (None for other formats / unparsable output)
    json: dict | None = None

    @property
    def session_id(self) -> str | None:
        return (self.json or {}).get("session_id")

    def check(self) -> PrintResult:
        if self.returncode != 0 or (self.json or {}).get("is_error"):
            raise RuntimeError(
                f"claude failed (rc={self.returncode}): {shlex.join(self.argv)}\n"
                f"stdout: {self.stdout[-3000:]}\nstderr: {self.stderr[-3000:]}")
        return self


def run_print(prompt: str, cwd: str | Path, config_dir: str | Path,
              env_extra: Mapping[str, str] | None = None, args: Sequence[str] = (), *,
              base_url: str | None = None, model: str | None = DEFAULT_MODEL,
              timeout: float = 90.0, output_format: str = "json", check: bool = True,
              home: str | Path | None = None) -> PrintResult:
    """Run ``claude -p PROMPT`` in ``cwd`` against the fake API and wait for it.

    ``args`` are appended (e.g. ``["--continue"]``, ``["--resume", sid, "--fork-session"]``).
    With ``check`` (default) a non-zero exit or an ``is_error`` result raises ``RuntimeError``.
    """
    argv = [str(claude_bin()), "-p", prompt, "--dangerously-skip-permissions",
            "--output-format", output_format]
    if model:
        argv += ["--model", model]
    argv += list(args)
    env = build_env(config_dir, base_url, env_extra, home)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"claude timed out after {timeout}s: {shlex.join(argv)}\n"
                           f"stdout: {exc.stdout!r}\nstderr: {exc.stderr!r}") from exc
    res = PrintResult(proc.returncode, proc.stdout, proc.stderr, argv, time.monotonic() - t0)
    if output_format == "json":
        try:
            res.json = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res.json = None
    return res.check() if check else res


@dataclass
class InteractiveSession:
    """An interactive ``claude`` in a private tmux server (``tmux -L <socket>``).

    ::

        with InteractiveSession(cwd, config_dir, base_url=api.url) as s:
            s.wait_for(s.PROMPT_READY)
            s.submit("[[plan:read]] hi"); s.wait_idle()
            s.submit("/compact"); s.wait_for("Compacted")
    """

    cwd: Path
    config_dir: Path
    base_url: str | None = None
    model: str | None = DEFAULT_MODEL
    env_extra: Mapping[str, str] | None = None
    args: Sequence[str] = ()
    width: int = 200
    height: int = 50
    home: Path | None = None
    socket: str = field(default_factory=lambda: f"spendtui-{uuid.uuid4().hex[:10]}")
    session: str = "claude"
    log: list[str] = field(default_factory=list)

    #: text shown once the input box is ready (the footer hint line)
    PROMPT_READY = re.compile(r"\? for shortcuts|bypass permissions|accept edits|shortcuts")

    def _tmux(self, *a: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *a], capture_output=True, text=True,
                              check=check)

    def start(self) -> InteractiveSession:
        if not shutil.which("tmux"):
            raise FileNotFoundError("tmux not found")
        prepare_config(self.config_dir, [self.cwd])
        env = build_env(self.config_dir, self.base_url, self.env_extra, self.home)
        argv = [str(claude_bin()), "--dangerously-skip-permissions"]
        if self.model:
            argv += ["--model", self.model]
        argv += list(self.args)
        cmd = "exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        cmd += " " + shlex.join(argv)
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", self.session,
                   "-x", str(self.width), "-y", str(self.height), "-c", str(self.cwd), cmd)
        self._tmux("set-option", "-t", self.session, "remain-on-exit", "on", check=False)
        return self

    def __enter__(self) -> InteractiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def screen(self) -> str:
        r = self._tmux("capture-pane", "-p", "-t", self.session, check=False)
        return r.stdout

    def alive(self) -> bool:
        r = self._tmux("display-message", "-p", "-t", self.session, "#{pane_dead}", check=False)
        return r.returncode == 0 and r.stdout.strip() == "0"

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 30.0,
                 interval: float = 0.2) -> str:
        """Wait until the screen matches ``pattern`` (regex or plain substring)."""
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < deadline:
            scr = self.screen()
            if rx.search(scr):
                return scr
            if not self.alive():
                break
            time.sleep(interval)
        raise TimeoutError(f"waiting for {rx.pattern!r} timed out; screen:\n{scr}")

    def wait_gone(self, pattern: str | re.Pattern, timeout: float = 30.0) -> str:
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < deadline:
            scr = self.screen()
            if not rx.search(scr):
                return scr
            time.sleep(0.2)
        raise TimeoutError(f"{rx.pattern!r} still on screen; screen:\n{scr}")

    def send_keys(self, *keys: str) -> None:
        self.log.append(" ".join(keys))
        self._tmux("send-keys", "-t", self.session, *keys)

    def type_text(self, text: str) -> None:
        self.log.append(f"type {text!r}")
        self._tmux("send-keys", "-t", self.session, "-l", text)

    def submit(self, text: str, settle: float = 0.4) -> None:
        """Type ``text`` and press Enter (a pause in between lets autocomplete settle)."""
        self.type_text(text)
        time.sleep(settle)
        self.send_keys("Enter")

    def wait_stable(self, quiet: float = 1.0, timeout: float = 30.0) -> str:
        """Wait until the screen stops changing for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last = self.screen()
        since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            cur = self.screen()
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return cur
        return last

    def quit(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.send_keys("Escape")
        self.submit("/exit")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.2)
        if self.alive():
            self.send_keys("C-c")
            time.sleep(0.3)
            self.send_keys("C-c")
            time.sleep(1.0)

    def close(self) -> None:
        try:
            self.quit()
        finally:
            self._tmux("kill-server", check=False)
            sock = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / self.socket
            sock.unlink(missing_ok=True)
