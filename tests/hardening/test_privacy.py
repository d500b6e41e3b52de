"""Privacy and safety (issue 6, part 4).

One run of every command (summary, sessions, report, statusline, pricing, watch --json
and the app, headless) over real 2.1.197 transcripts whose prompts, tool inputs, tool
results and file contents all carry a unique marker string, with an API key in the
environment, under a socket guard. Then:

* the Claude config tree is byte-for-byte, mode-for-mode and mtime-for-mtime what it
  was (and the same commands also run on a read-only bind mount of it, in a mount and
  network namespace of their own, when this machine allows ``unshare -mn``);
* no socket went anywhere but loopback (and ``pricing --update`` does go out: the
  guard works);
* the marker is in no output, no cache file (pickles decompressed), no saved summary;
* every file spendtui wrote is 0600; the API key is printed nowhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.cache import MAGIC
from spendtui.core.context.tokens import ApiTokenCounter
from tests.hardening import run_headless
from tests.hardening.conftest import CC2197, run_cli, totals
from tests.hardening.netguard import guard

REPO = Path(__file__).resolve().parents[2]
MARKER = "PRIVATE-MARKER-6c1f0e9a"
API_KEY = "sk-ant-api03-HARDENING-TEST-KEY-4b7d2e-never-print-me"
SCENARIOS = ("subagent", "tool_use", "interactive", "auto_compact")

# string fields that hold what the user typed, what tools were given and what they
# returned; metadata (ids, paths, tool names, sub-agent descriptions) is left alone
_CONTENT_KEYS = {"content", "text", "thinking", "command", "prompt", "stdout", "stderr", "lastPrompt",
                 "originalFile", "newString", "oldString", "old_string", "new_string", "pattern", "query",
                 "result", "output", "display", "summary_text"}
_META_KEYS = {"description", "file_path", "filePath", "path", "notebook_path", "subagent_type", "model", "type",
              "id", "tool_use_id", "name", "uuid", "parentUuid", "sessionId", "cwd", "timestamp", "requestId",
              "agentId", "usage", "aiTitle", "customTitle", "summary", "version", "gitBranch"}


def _mark(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, str):
        return f"{obj} {MARKER}" if key in _CONTENT_KEYS else obj
    if isinstance(obj, list):
        return [_mark(v, key) for v in obj]
    if isinstance(obj, dict):
        return {k: (v if k in _META_KEYS else _mark(v, k)) for k, v in obj.items()}
    return obj


def _marked_tree(root: Path) -> Path:
    for name in SCENARIOS:
        shutil.copytree(CC2197 / name / "projects", root / "projects", dirs_exist_ok=True)
    n = 0
    for p in root.glob("projects/**/*.jsonl"):
        out = []
        for raw in p.read_bytes().splitlines():
            rec = _mark(json.loads(raw))
            out.append(json.dumps(rec, ensure_ascii=False).encode())
        p.write_bytes(b"\n".join(out) + b"\n")
        n += p.read_bytes().count(MARKER.encode())
    assert n > 80, "the marker should be all over the transcripts"
    return root


@dataclass
class Tree:
    """What a file tree looked like: path -> (mode, size, mtime_ns, sha256)."""

    entries: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, root: Path) -> Tree:
        t = cls()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in sorted(dirnames + filenames):
                p = Path(dirpath) / name
                st = p.lstat()
                digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
                t.entries[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
        st = root.lstat()
        t.entries["."] = (st.st_mode, 0, st.st_mtime_ns, "")
        return t


@dataclass
class Run:
    """Everything one full run produced."""

    claude: Path
    home: Path
    cache: Path
    data: Path
    before: Tree
    after: Tree
    outputs: dict[str, str] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    child_attempts: list[dict[str, Any]] = field(default_factory=list)
    update_attempts: list[dict[str, Any]] = field(default_factory=list)
    update_output: tuple[int, str, str] = (0, "", "")
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_result: dict[str, Any] = field(default_factory=dict)


def _env(run: Run) -> dict[str, str]:
    return {**os.environ, "HOME": str(run.home), "PYTHONPATH": str(REPO), "ANTHROPIC_API_KEY": API_KEY,
            "SPENDTUI_CACHE_DIR": str(run.cache), "SPENDTUI_DATA_DIR": str(run.data),
            "SPENDTUI_CONFIG": str(run.home / "spendtui.toml"), "XDG_CONFIG_HOME": str(run.home / ".config"),
            "CLAUDE_CONFIG_DIR": str(run.claude)}


def _sessions(claude: Path) -> list[str]:
    return sorted(p.stem for p in claude.glob("projects/*/*.jsonl"))


def _in_process(run: Run) -> None:
    """Every command, in this process, under the socket guard."""
    c = ["--claude-dir", str(run.claude)]
    commands: list[list[str]] = [["sessions"], ["sessions", "--json"], ["summary"], ["summary", "--json"],
                                 ["pricing"], ["pricing", "--json"], ["--help"]]
    for sid in _sessions(run.claude):
        commands += [["summary", sid], ["summary", sid, "--json"], ["summary", sid, "--json", "--no-cache"]]
    for by in ("day", "week", "month", "project", "model", "session"):
        commands += [["report", "--by", by], ["report", "--by", by, "--json"]]
    with guard() as attempts:
        for args in commands:
            argv = args if args[0].startswith("-") else [*c[:0], args[0], *c, *args[1:]]
            try:
                code, out, err = run_cli(*argv)
            except SystemExit as e:  # --help
                code, out, err = int(e.code or 0), "", ""
            assert code == 0, (argv, err)
            run.outputs[" ".join(argv)] = out + err
            if args[0] == "summary" and "--json" in args and len(args) > 2:
                run.summaries[args[1]] = json.loads(out)
        for sid in _sessions(run.claude):
            transcript = next(run.claude.glob(f"projects/*/{sid}.jsonl"))
            hook = json.dumps({"session_id": sid, "transcript_path": str(transcript), "model": {"id": "x"}})
            old = sys.stdin
            sys.stdin = io.StringIO(hook)
            try:
                code, out, err = run_cli("statusline")
            finally:
                sys.stdin = old
            assert code == 0, err
            run.outputs[f"statusline {sid}"] = out + err
        result = asyncio.run(run_headless.run(run.claude, None, seconds=0.5))
        run.app_result = result
        run.outputs["app"] = json.dumps(result)
    run.attempts += attempts


def _children(run: Run, tmp: Path) -> None:
    """watch --json and the app in child processes under the guard (their own threads)."""
    log = tmp / "net.log"
    env = _env(run)
    sid = _sessions(run.claude)[0]
    out_path = tmp / "watch.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.hardening.netguard", str(log), "spendtui", "watch",
                                 sid, "--json"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    try:
        deadline = time.monotonic() + 20
        while out_path.read_bytes().count(b"\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    run.outputs["watch --json"] = out_path.read_text()
    r = subprocess.run([sys.executable, "-m", "tests.hardening.netguard", str(log), "tests.hardening.run_headless",
                        str(run.claude), sid, "--seconds", "0.5"], capture_output=True, text=True, env=env,
                       timeout=60, cwd=tmp, check=False)
    assert r.returncode == 0, r.stderr
    run.outputs["app (child)"] = r.stdout + r.stderr
    if log.exists():
        run.child_attempts += [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("privacy")
    home = tmp / "home"
    home.mkdir()
    claude = _marked_tree(home / ".claude")
    run = Run(claude, home, tmp / "cache", tmp / "data", Tree.of(claude), Tree())
    with pytest.MonkeyPatch.context() as mp:
        for k, v in _env(run).items():
            if k.startswith(("HOME", "SPENDTUI", "XDG", "ANTHROPIC", "CLAUDE")):
                mp.setenv(k, v)
        _in_process(run)
        _children(run, tmp)
        # last: the one command that may use the network, because the user asked
        litellm = tmp / "litellm.json"
        litellm.write_text(json.dumps({"claude-zeta-1": {
            "litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 2e-06,
            "output_cost_per_token": 8e-06}}))
        with guard() as attempts:
            code, out, err = run_cli("pricing", "--update", "--from", str(litellm))
            assert code == 0, err
            run.outputs["pricing --update --from"] = out + err
        run.attempts += attempts
        with guard() as attempts:
            run.update_output = run_cli("pricing", "--update")
        run.update_attempts = attempts
        run.outputs["pricing --update"] = run.update_output[1] + run.update_output[2]
    run.after = Tree.of(claude)
    yield run


# ----------------------------------------------------------- no writes
def test_never_writes_inside_the_claude_config_dir(full_run: Run) -> None:
    assert full_run.after.entries == full_run.before.entries
    assert full_run.summaries, "the run did read sessions"
    assert full_run.app_result["summary"]["api_calls"] > 0


def _can_unshare() -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot bind-mount"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount missing"
    r = subprocess.run(["unshare", "-mn", "--", "sh", "-c", "mount -t tmpfs none /mnt 2>&1 && echo ok"],
                       capture_output=True, text=True, check=False)
    return None if r.stdout.strip().endswith("ok") else f"unshare -mn not allowed here: {r.stdout}{r.stderr}"


@pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))
def test_read_only_bind_mount_and_no_network_namespace(full_run: Run, tmp_path: Path) -> None:
    """The tree mounted read-only (a write would fail with EROFS, which a snapshot of a
    writable tree cannot tell from 'never tried'), in a namespace without network."""
    mnt = tmp_path / "ro-claude"
    mnt.mkdir()
    results = tmp_path / "results"
    results.mkdir()
    sid = _sessions(full_run.claude)[0]
    py = sys.executable
    script = f"""
set -e
mount --bind {full_run.claude} {mnt}
mount -o remount,bind,ro {mnt}
if touch {mnt}/probe 2>/dev/null; then echo "the mount is writable"; exit 9; fi
export CLAUDE_CONFIG_DIR={mnt}
{py} -m spendtui summary {sid} --json > {results}/summary.json
{py} -m spendtui summary {sid} --json > {results}/summary-warm.json
{py} -m spendtui sessions --json > {results}/sessions.json
{py} -m spendtui report --by session --json > {results}/report.json
{py} -m tests.hardening.run_headless {mnt} {sid} --seconds 0.3 > {results}/app.json
timeout -s INT 3 {py} -m spendtui watch {sid} --json > {results}/watch.jsonl || true
"""
    env = {**_env(full_run), "SPENDTUI_CACHE_DIR": str(tmp_path / "cache"), "SPENDTUI_DATA_DIR": str(tmp_path / "data")}
    r = subprocess.run(["unshare", "-mn", "--", "sh", "-c", script], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    want = totals(full_run.summaries[sid])
    for name in ("summary.json", "summary-warm.json"):
        assert totals(json.loads((results / name).read_text())) == want
    assert totals(json.loads((results / "app.json").read_text())["summary"]) == want
    assert (results / "watch.jsonl").read_text().count('"event":"api_call"') >= want["api_calls"]
    assert Tree.of(full_run.claude).entries == full_run.before.entries


# ------------------------------------------------------------- network
def test_no_network_unless_asked(full_run: Run) -> None:
    assert full_run.attempts == []
    assert full_run.child_attempts == []
    # the guard is not blind: `pricing --update` (asked for) does try, and fails cleanly
    assert full_run.update_attempts, "pricing --update should have tried the network"
    code, _, err = full_run.update_output
    assert code == 1 and "price update failed" in err


def test_exact_token_counts_are_opt_in(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"ANTHROPIC_API_KEY": API_KEY}
    assert ApiTokenCounter.create(False, env=env) is None  # a key alone is not consent
    assert ApiTokenCounter.create(True, env={}) is None  # consent without a key
    # opted in, against a port nobody listens on: fails quietly, says nothing of the key
    with guard() as attempts:
        counter = ApiTokenCounter.create(True, env={**env, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, timeout=2)
        assert counter is not None
        assert counter.count("word " * 500) is None
    assert counter.failed and attempts == []
    out = capsys.readouterr()
    assert API_KEY not in out.out + out.err
    assert API_KEY not in repr(counter) and API_KEY not in str(vars(counter).get("_cache"))


# ------------------------------------------------------------- content
def _spendtui_files(run: Run) -> list[Path]:
    return [p for root in (run.cache, run.data, run.home) for p in root.rglob("*")
            if p.is_file() and not p.is_relative_to(run.claude)]


def _readable(p: Path) -> bytes:
    blob = p.read_bytes()
    if blob.startswith(MAGIC):  # a result cache entry: zlib-compressed pickle
        blob = zlib.decompress(blob[len(MAGIC) + 4:])
    return blob


def test_prompts_and_file_contents_are_never_printed_or_saved(full_run: Run) -> None:
    files = [p for p in _spendtui_files(full_run) if p.suffix != ".pkl"]
    assert any(p.parent.name == "summaries" for p in files), "the app should have saved its summary"
    assert any(p.name == "index.json" for p in files), "the result cache should have its index of rows"
    assert [str(p) for p in files if MARKER.encode() in _readable(p)] == []
    assert [name for name, text in full_run.outputs.items() if MARKER in text] == []


def test_prompts_never_reach_the_result_cache(full_run: Run) -> None:
    pickles = [p for p in _spendtui_files(full_run) if p.suffix == ".pkl"]
    assert pickles, "the result cache should have entries"
    assert [str(p) for p in pickles if MARKER.encode() in _readable(p)] == []


def test_api_key_is_never_printed_or_saved(full_run: Run) -> None:
    printed = [name for name, text in full_run.outputs.items() if API_KEY in text]
    assert printed == []
    key = API_KEY.encode()
    assert [str(p) for p in _spendtui_files(full_run) if key in _readable(p)] == []


# --------------------------------------------------------------- modes
def test_cache_and_price_files_are_0600(full_run: Run) -> None:
    files = [p for p in _spendtui_files(full_run) if p.is_relative_to(full_run.cache)]
    assert any(p.suffix == ".pkl" for p in files) and any(p.name == "litellm-prices.json" for p in files)
    loose = {str(p): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}


def test_saved_summaries_are_0600(full_run: Run) -> None:
    saved = [p for p in _spendtui_files(full_run) if p.parent.name == "summaries"]
    assert saved
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in saved if p.stat().st_mode & 0o077} == {}
