"""Soak test: a long run of realistic appends while spendtui follows them live.

    python scripts/soak.py --minutes 10 --rate 5 [--no-app] [--report benchmarks/SOAK.md]

A writer plays Claude Code: it copies real 2.1.197 records (tests/fixtures/cc2197),
gives them fresh ids, the current time and a varied usage, and appends them to a session
in a throw-away Claude config dir — prompts with their attachments, responses written
as several block lines (each line itself in pieces, so readers see half lines), tool
results, sub-agents in their own files (with .meta.json), compact_boundary records, and
halfway a /clear into a new session file — at ``--rate`` API calls per second.
With ``--history N`` the session first gets N calls written at full speed before anyone
follows it: the followers start past every window (the app's 1,000 kept call details,
the analysis' 5,000 main calls), so a slow rate shows what a long session costs per call.

Meanwhile ``spendtui watch --json`` (and, unless --no-app, the Textual app in a tmux
pane) follow the session; their RSS and CPU are sampled every ``--sample`` seconds.

At the end the totals are compared with the truth (what the writer wrote, priced with
the same price table): the watch event stream (api_call/call_updated per call), the
app's saved summary after `q`, and ``spendtui summary --json`` (cold and warm cache)
for each session. The figures go to the report file (markdown), the raw samples to
``--samples`` (JSON) if given.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spendtui.core.pricing import PriceTable  # noqa: E402
from spendtui.core.usage import Usage  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "cc2197"
CWD = "/tmp/spendtui-soak/project"
PROJECT = "-tmp-spendtui-soak-project"
TICK = os.sysconf("SC_CLK_TCK")
PICO = 10**12
KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")

_ID_RES = [
    re.compile(r"msg_[A-Za-z0-9]{10,}"),
    re.compile(r"req_[A-Za-z0-9]{10,}"),
    re.compile(r"toolu_[A-Za-z0-9]{10,}"),
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    re.compile(r"\ba[0-9a-f]{16}\b"),
]


# ------------------------------------------------------------------ templates
def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines() if raw.strip()]


def _main(scenario: str, sid: str | None = None) -> Path:
    proj = next((FIX / scenario / "projects").iterdir())
    return next(p for p in sorted(proj.glob("*.jsonl")) if sid in (None, p.stem))


@dataclass
class Templates:
    """Real records, grouped into the pieces a session is made of."""

    prompt: list[dict[str, Any]]  # file-history-snapshot, user prompt, attachments
    tool_call: list[dict[str, Any]]  # one response in two block lines (text + tool_use)
    tool_result: list[dict[str, Any]]
    answer: list[dict[str, Any]]  # a one-line final response
    turn_end: list[dict[str, Any]]  # turn_duration, last-prompt
    spawn: list[dict[str, Any]]  # a response with an Agent tool_use
    agent: list[dict[str, Any]]  # the sub-agent's file
    agent_meta: dict[str, Any]
    agent_result: list[dict[str, Any]]  # the tool_result that ends the Agent call
    compact: list[dict[str, Any]]  # compact_boundary and the continuation lines
    clear: list[dict[str, Any]]  # what a session started by /clear begins with

    @classmethod
    def load(cls) -> Templates:
        inter = _records(_main("interactive", "fc86a3c8-89f7-4870-9251-d1cb5a27a97b"))
        after_clear = _records(_main("interactive", "7ce3ae49-a0db-47d1-bc5c-a7472d1b099f"))
        sub = _records(_main("subagent"))
        sub_dir = _main("subagent").with_suffix("") / "subagents"
        agent_file = next(sub_dir.glob("agent-*.jsonl"))

        def typ(r: dict[str, Any]) -> str:
            return f"{r.get('type')}/{r.get('subtype') or ''}"

        first_user = next(i for i, r in enumerate(inter) if typ(r) == "user/")
        prompt = [inter[first_user - 1], *inter[first_user:first_user + 3]]
        calls = [i for i, r in enumerate(inter) if typ(r) == "assistant/"]
        tool_call = [inter[calls[0]], inter[calls[1]]]
        tool_result = [inter[calls[1] + 1]]
        answer = [inter[calls[2]]]
        end = next(i for i, r in enumerate(inter) if typ(r) == "system/turn_duration")
        turn_end = [inter[end], inter[end + 1]]
        sub_calls = [i for i, r in enumerate(sub) if typ(r) == "assistant/"]
        spawn = [sub[i] for i in sub_calls if any(
            b.get("type") == "tool_use" and b.get("name") == "Agent" for b in sub[i]["message"]["content"])]
        agent_result = [r for r in sub if typ(r) == "user/" and isinstance(r.get("toolUseResult"), dict)
                        and r["toolUseResult"].get("agentId")]
        cb = next(i for i, r in enumerate(inter) if typ(r) == "system/compact_boundary")
        compact = inter[cb:cb + 2]
        clear = after_clear[:5]
        meta = json.loads(agent_file.with_name(agent_file.stem + ".meta.json").read_text())
        return cls(prompt, tool_call, tool_result, answer, turn_end, spawn, _records(agent_file), meta,
                   agent_result, compact, clear)


# ---------------------------------------------------------------------- truth
@dataclass
class Call:
    session: str
    key: tuple[str, str]
    model: str
    usage: dict[str, Any]
    agent: str | None
    written: float  # when its last line was complete on disk
    pico: int = 0
    usd: Decimal = Decimal(0)


@dataclass
class Truth:
    calls: dict[tuple[str, str, str], Call] = field(default_factory=dict)
    compactions: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    bytes: int = 0
    sessions: list[str] = field(default_factory=list)
    agents: int = 0

    def of(self, session: str) -> list[Call]:
        return [c for c in self.calls.values() if c.session == session]


def usd(pico: int) -> Decimal:
    return round(Decimal(pico) / PICO, 9)


def tokens_of(u: Usage) -> dict[str, int]:
    return {"input": u.input_tokens, "output": u.output_tokens, "cache_write_5m": u.ephemeral_5m_input_tokens,
            "cache_write_1h": u.ephemeral_1h_input_tokens, "cache_read": u.cache_read_input_tokens}


# --------------------------------------------------------------------- writer
class Writer:
    """Appends re-id'd real records at a given rate of API calls per second."""

    def __init__(self, root: Path, t: Templates, rate: float, prices: PriceTable, rnd: random.Random) -> None:
        self.proj = root / "projects" / PROJECT
        self.proj.mkdir(parents=True, exist_ok=True)
        self.t = t
        self.last_uuid: str | None = None  # the main chain's newest record
        self.rate = rate
        self.prices = prices
        self.rnd = rnd
        self.truth = Truth()
        self.sid = str(uuid.uuid4())
        self.truth.sessions.append(self.sid)
        self.n = 0
        self.calls_written = 0
        self.started = time.monotonic()
        self.unpaced = False  # --history: written at full speed
        self.paced_from = 0  # calls written before the pace started
        self.context = 20_000

    # ------------------------------------------------------------- re-id
    def _fresh(self, recs: list[dict[str, Any]], mapping: dict[str, str], agent: str | None = None) -> list[
            dict[str, Any]]:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        def new_id(old: str) -> str:
            if old not in mapping:
                self.n += 1
                if old.startswith(("msg_", "req_", "toolu_")):
                    mapping[old] = f"{old.split('_')[0]}_soak{self.n:08d}"
                elif re.fullmatch(r"a[0-9a-f]{16}", old):
                    mapping[old] = f"a{self.n:016x}"
                else:
                    mapping[old] = str(uuid.uuid4())
            return mapping[old]

        def walk(v: Any, key: str | None = None) -> Any:
            if isinstance(v, dict):
                return {k: walk(x, k) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x, key) for x in v]
            if isinstance(v, str):
                if key == "cwd":
                    return CWD
                if key == "timestamp":
                    return now
                if key == "sessionId":
                    return self.sid
                for rx in _ID_RES:
                    v = rx.sub(lambda m: new_id(m.group(0)), v)
                return v
            return v

        return [walk(r) for r in recs]

    def _usage(self, u: dict[str, Any]) -> dict[str, Any]:
        """The template's usage, varied: the context grows, then drops after a compaction."""
        u = json.loads(json.dumps(u))
        self.context += self.rnd.randint(50, 2_000)
        write = self.rnd.randint(0, 3_000)
        u["input_tokens"] = self.rnd.randint(1, 12)
        u["cache_read_input_tokens"] = max(0, self.context - write)
        u["cache_creation_input_tokens"] = write
        one_hour = self.rnd.random() < 0.2
        u["cache_creation"] = {"ephemeral_5m_input_tokens": 0 if one_hour else write,
                               "ephemeral_1h_input_tokens": write if one_hour else 0}
        u["output_tokens"] = self.rnd.randint(5, 1_500)
        return u

    # ------------------------------------------------------------ writing
    def _append(self, path: Path, recs: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for rec in recs:
            raw = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            cuts = sorted(self.rnd.sample(range(1, len(raw)), k=min(2, len(raw) - 1))) if self.rnd.random() < 0.3 \
                else []
            with open(path, "ab") as f:
                for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
                    f.write(raw[a:b])
                    f.flush()
                    if b < len(raw):
                        time.sleep(0.002)  # a reader may see this half line
            self.truth.lines += 1
            self.truth.bytes += len(raw)

    def _response(self, path: Path, recs: list[dict[str, Any]], agent: str | None) -> None:
        """One API response (its block lines), counted in the truth once."""
        u = self._usage(recs[0]["message"]["usage"])
        for r in recs:
            r["message"]["usage"] = u
        self._append(path, recs)
        m = recs[0]["message"]
        key = (m["id"], recs[0].get("requestId") or "")
        cost = self.prices.cost(m["model"], Usage.from_json(u), None)
        self.truth.calls[(self.sid, *key)] = Call(self.sid, key, m["model"], u, agent, time.time(),
                                                  cost.total_pico, usd(cost.total_pico))
        self.calls_written += 1
        self._pace()

    def _pace(self) -> None:
        if self.unpaced:
            return
        due = self.started + (self.calls_written - self.paced_from) / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    @property
    def main(self) -> Path:
        return self.proj / f"{self.sid}.jsonl"

    def _chain(self, recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Main-chain records hang off the one written before, as Claude Code writes them (each
        piece is re-id'd on its own, which would leave its first record's parent unknown)."""
        own = {r.get("uuid") for r in recs}
        for r in recs:
            if "uuid" not in r:
                continue  # snapshots and other metadata: not in the chain
            parent = r.get("parentUuid")
            if isinstance(parent, str) and parent not in own:
                r["parentUuid"] = self.last_uuid
            self.last_uuid = r["uuid"]
        return recs

    def turn(self) -> None:
        t, mp = self.t, {}
        self._append(self.main, self._chain(self._fresh(t.prompt, mp)))
        for _ in range(self.rnd.randint(1, 4)):
            mp = {}
            self._response(self.main, self._chain(self._fresh(t.tool_call, mp)), None)
            self._append(self.main, self._chain(self._fresh(t.tool_result, mp)))
        mp = {}
        self._response(self.main, self._chain(self._fresh(t.answer, mp)), None)
        self._append(self.main, self._chain(self._fresh(t.turn_end, mp)))

    def subagent(self) -> None:
        t, mp = self.t, {}
        spawn = self._fresh(t.spawn, mp)
        agent = self._fresh(t.agent, mp)
        meta = self._fresh([t.agent_meta], mp)[0]
        result = self._fresh(t.agent_result, mp)
        agent_id = next(r["agentId"] for r in agent if r.get("agentId"))
        self._response(self.main, self._chain(spawn), None)
        path = self.main.with_suffix("") / "subagents" / f"agent-{agent_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(f"agent-{agent_id}.meta.json").write_text(json.dumps(meta))
        self.truth.agents += 1
        i = 0
        while i < len(agent):
            r = agent[i]
            if r.get("type") == "assistant":
                group = [r]
                while i + 1 < len(agent) and agent[i + 1].get("type") == "assistant" and \
                        agent[i + 1]["message"]["id"] == r["message"]["id"]:
                    i += 1
                    group.append(agent[i])
                self._response(path, group, agent_id)
            else:
                self._append(path, [r])
            i += 1
        self._append(self.main, self._chain(result))

    def compaction(self) -> None:
        self._append(self.main, self._chain(self._fresh(self.t.compact, {})))
        self.truth.compactions[self.sid] = self.truth.compactions.get(self.sid, 0) + 1
        self.context = 15_000

    def clear(self) -> None:
        self.sid = str(uuid.uuid4())
        self.truth.sessions.append(self.sid)
        self.context = 20_000
        self.last_uuid = None
        self._append(self.main, self._chain(self._fresh(self.t.clear, {})))


# ------------------------------------------------------------------- watchers
@dataclass
class Sample:
    t: float
    rss_kb: int
    cpu_s: float


@dataclass
class Watched:
    name: str
    pid: int
    samples: list[Sample] = field(default_factory=list)

    def sample(self, t0: float) -> None:
        try:
            rss = next(int(line.split()[1]) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, StopIteration, IndexError, ValueError):
            return
        self.samples.append(Sample(time.monotonic() - t0, rss, cpu))


def _env(root: Path, state: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(state / "home"), "CLAUDE_CONFIG_DIR": str(root),
            "SPENDTUI_CACHE_DIR": str(state / "cache"), "SPENDTUI_DATA_DIR": str(state / "data"),
            "SPENDTUI_CONFIG": str(state / "spendtui.toml"), "XDG_CONFIG_HOME": str(state / "home" / ".config"),
            "TZ": "UTC"}


class TmuxApp:
    def __init__(self, root: Path, state: Path, sid: str, memstats: Path | None = None) -> None:
        self.sock = f"spendtui-soak-{uuid.uuid4().hex[:8]}"
        self.state = state
        env = _env(root, state)
        if memstats is not None:
            env["SPENDTUI_MEMSTATS"] = str(memstats)
        self.env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")}
        cmd = (f"{shlex.quote(sys.executable)} -m spendtui --claude-dir {shlex.quote(str(root))} "
               f"--session {sid}; echo SOAK-APP-EXIT=$?; sleep 3600")
        self("new-session", "-d", "-x", "160", "-y", "50", "-s", "soak", "sleep 3600")
        args = ["respawn-pane", "-k", "-t", "soak"]
        for k, v in self.env.items():
            if k in ("PYTHONPATH", "HOME", "CLAUDE_CONFIG_DIR", "TZ", "PATH", "PYTHONTRACEMALLOC") \
                    or k.startswith(("SPENDTUI", "XDG")):
                args += ["-e", f"{k}={v}"]
        args += ["-e", "TERM=xterm-256color"]
        self(*args, f"sh -c {shlex.quote(cmd)}")

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=10, env=self.env, check=False)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "soak").stdout

    def pid(self) -> int | None:
        try:
            shell = int(self("display", "-p", "-t", "soak", "#{pane_pid}").stdout.strip())
        except ValueError:
            return None
        for _ in range(200):
            try:
                kids = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            time.sleep(0.05)
        return None

    def quit(self, timeout: float = 60) -> str:
        self("send-keys", "-t", "soak", "q")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if "SOAK-APP-EXIT=" in s:
                return s
            time.sleep(0.2)
        return self.screen()

    def close(self) -> None:
        self("kill-server")


# ----------------------------------------------------------------- compare
def watch_totals(path: Path) -> tuple[dict[str, dict[tuple[str, str], dict[str, Any]]], list[float]]:
    """Per session, per call: the last api_call/call_updated event (a reset starts over)."""
    per: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    observed: list[float] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        kind = ev.get("event")
        if kind == "reset":
            per[ev["session_id"]] = {}
        elif kind in ("api_call", "call_updated") and not ev.get("billed_elsewhere"):
            per.setdefault(ev["session_id"], {})[(ev["message_id"], ev.get("request_id") or "")] = ev
    return per, observed


def compare(truth: Truth, got: dict[str, Any], sid: str) -> dict[str, Any]:
    calls = truth.of(sid)
    want_tokens = dict.fromkeys(KINDS, 0)
    for c in calls:
        for k, v in tokens_of(Usage.from_json(c.usage)).items():
            want_tokens[k] += v
    want_usd = usd(sum(c.pico for c in calls))
    return {
        "calls": (len(calls), got["api_calls"]),
        "tokens": (want_tokens, got["tokens"]),
        "cost_usd": (float(want_usd), got["cost_usd"]),
        "compactions": (truth.compactions.get(sid, 0), len(got.get("compactions", []))),
        "equal": (len(calls) == got["api_calls"] and want_tokens == got["tokens"]
                  and Decimal(str(got["cost_usd"])) == want_usd
                  and truth.compactions.get(sid, 0) == len(got.get("compactions", []))),
    }


def summary_json(root: Path, state: Path, sid: str, *extra: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "spendtui", "summary", sid, "--json", *extra], capture_output=True,
                       text=True, env=_env(root, state), timeout=300, check=True)
    out: dict[str, Any] = json.loads(r.stdout)
    return out


# -------------------------------------------------------------------- main
def _machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    mem = "?"
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {"os": f"{platform.system()} {platform.release()}", "cpu": f"{cpu} × {os.cpu_count()}", "ram": mem,
            "python": platform.python_version(), "fs": _fs_type(Path(tempfile.gettempdir()))}


def _fs_type(path: Path) -> str:
    try:
        best, fstype = "", "?"
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path.resolve()).startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], parts[2]
        return fstype
    except OSError:
        return "?"


def _memstats(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        for raw in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(raw))
    except OSError:
        pass
    return out


MEM_PARTS = (("rss", "RSS"), ("py_used", "Python blocks in use"), ("py_free", "free in Python's arenas"),
             ("glibc_used", "glibc in use"), ("glibc_free", "glibc free"))


def memstats_slopes(lines: list[dict[str, Any]], since: float, rate: float) -> dict[str, float]:
    """Least-squares slope of each part over the lines from ``since`` seconds on, in bytes a
    call at the written ``rate`` (by time: the app's call count starts again after a /clear)."""
    out: dict[str, float] = {}
    for key, _label in MEM_PARTS:
        pts = [(x["t"], x[key]) for x in lines if x.get("t", 0) >= since and isinstance(x.get(key), int)]
        if len(pts) < 3:
            continue
        mt = statistics.fmean(t for t, _ in pts)
        mv = statistics.fmean(v for _, v in pts)
        den = sum((t - mt) ** 2 for t, _ in pts)
        if den:
            out[key] = sum((t - mt) * (v - mv) for t, v in pts) / den / rate
    return out


def _slope_mb_per_hour(samples: list[Sample], skip: float) -> float:
    pts = [(s.t, s.rss_kb / 1024) for s in samples if s.t >= skip]
    if len(pts) < 3:
        return 0.0
    mt = statistics.fmean(t for t, _ in pts)
    mr = statistics.fmean(r for _, r in pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 0.0 if den == 0 else sum((t - mt) * (r - mr) for t, r in pts) / den * 3600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=5.0, help="API calls per second")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between RSS/CPU samples")
    ap.add_argument("--clear-at", type=float, default=0.5,
                    help="when to /clear, as a fraction of the run (>= 1: never)")
    ap.add_argument("--no-app", action="store_true", help="only watch --json, not the app in tmux")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--history", type=int, default=0,
                    help="API calls written at full speed before the followers start (a session past every window)")
    ap.add_argument("--report", type=Path, default=None, help="write the figures here (markdown)")
    ap.add_argument("--samples", type=Path, default=None, help="write the raw samples here (JSON)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()

    prices = PriceTable.default()
    rnd = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="spendtui-soak-"))
    root, state = tmp / "claude", tmp / "state"
    (state / "home").mkdir(parents=True)
    w = Writer(root, Templates.load(), a.rate, prices, rnd)
    use_app = not a.no_app and shutil.which("tmux") is not None
    w.turn()  # the session exists before anyone follows it
    turns = 1
    if a.history:
        w.unpaced = True
        while w.calls_written < a.history:
            turns += 1
            play(w, turns)
        w.unpaced = False
    w.started, w.paced_from = time.monotonic(), w.calls_written
    history, paced_wall = w.calls_written, time.time()
    first = w.sid
    watch_out = tmp / "watch.jsonl"
    with open(watch_out, "wb") as fh:
        watch = subprocess.Popen([sys.executable, "-m", "spendtui", "watch", first, "--json"], stdout=fh,
                                 stderr=subprocess.PIPE,
                                 env={**_env(root, state), "SPENDTUI_MEMSTATS": str(tmp / "mem-watch.jsonl")})
    watched = [Watched("watch --json", watch.pid)]
    app = TmuxApp(root, state, first, memstats=tmp / "mem-app.jsonl") if use_app else None
    if app is not None:
        pid = app.pid()
        if pid is not None:
            watched.append(Watched("app (tmux)", pid))
    t0 = time.monotonic()
    end = t0 + a.minutes * 60
    clear_at = t0 + a.minutes * 60 * a.clear_at if a.clear_at < 1 else float("inf")
    cleared = False
    next_sample = t0
    print(f"soak: {a.minutes} min at {a.rate} calls/s in {tmp}", flush=True)
    while time.monotonic() < end:
        if time.monotonic() >= next_sample:
            for x in watched:
                x.sample(t0)
            next_sample += a.sample
            if watch.poll() is not None:
                print("soak: watch --json died", file=sys.stderr)
                break
        turns += 1
        play(w, turns)
        if not cleared and time.monotonic() >= clear_at:
            w.clear()
            cleared = True
        if turns % 50 == 0:
            done = (time.monotonic() - t0) / 60
            print(f"  {done:5.1f} min  {w.calls_written} calls  {w.truth.bytes / 1e6:.1f} MB  "
                  f"watch RSS {watched[0].samples[-1].rss_kb / 1024 if watched[0].samples else 0:.0f} MB",
                  flush=True)
    wrote_s = time.monotonic() - t0
    # catch-up: wait until the stream holds every call
    want = len(w.truth.calls)
    deadline = time.monotonic() + 120
    caught = None
    while time.monotonic() < deadline:
        per, _ = watch_totals(watch_out)
        if sum(len(v) for v in per.values()) >= want:
            caught = time.monotonic() - (t0 + wrote_s)
            break
        time.sleep(0.2)
    for x in watched:
        x.sample(t0)
    app_summary: dict[str, Any] | None = None
    app_screen = ""
    if app is not None:
        time.sleep(1.0)
        app_screen = app.quit()
        saved = state / "data" / "summaries" / f"{w.sid}.json"
        if saved.exists():
            app_summary = json.loads(saved.read_text())
        app.close()
    watch.send_signal(signal.SIGINT)
    try:
        watch.wait(30)
    except subprocess.TimeoutExpired:
        watch.kill()

    # ---- compare with the truth
    per, _ = watch_totals(watch_out)
    latencies: list[float] = []
    for raw in watch_out.read_text().splitlines():
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        if ev.get("event") == "api_call":
            c = w.truth.calls.get((ev["session_id"], ev["message_id"], ev.get("request_id") or ""))
            if c is not None and c.written >= paced_wall:  # not the history, read at start
                latencies.append(ev["observed"] - c.written)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for sid in w.truth.sessions:
        events = per.get(sid, {})
        toks = dict.fromkeys(KINDS, 0)
        for ev in events.values():
            for k in KINDS:
                toks[k] += ev["tokens"][k]
        stream = {"api_calls": len(events), "tokens": toks,
                  "cost_usd": float(sum((Decimal(str(ev["cost_usd"])) for ev in events.values()), Decimal(0))),
                  "compactions": [None] * w.truth.compactions.get(sid, 0)}
        rows.append(("watch --json events", sid, compare(w.truth, stream, sid)))
        rows.append(("summary --json --no-cache", sid, compare(w.truth, summary_json(root, state, sid, "--no-cache"),
                                                                 sid)))
        rows.append(("summary --json (cold cache)", sid, compare(w.truth, summary_json(root, state, sid), sid)))
        rows.append(("summary --json (warm cache)", sid, compare(w.truth, summary_json(root, state, sid), sid)))
    if app_summary is not None:
        rows.append(("app summary after q", app_summary["session_id"],
                     compare(w.truth, app_summary, app_summary["session_id"])))
    elif app is not None:
        rows.append(("app summary after q", "-", {"calls": (0, 0), "tokens": ({}, {}), "cost_usd": (0, 0),
                                                   "compactions": (0, 0), "equal": False}))
    all_equal = all(r[2]["equal"] for r in rows)
    result = {
        "machine": _machine(), "minutes": a.minutes, "rate": a.rate, "clear_at": a.clear_at,
        "wrote_seconds": round(wrote_s, 1), "history": history,
        "calls": len(w.truth.calls), "lines": w.truth.lines, "bytes": w.truth.bytes, "agents": w.truth.agents,
        "compactions": sum(w.truth.compactions.values()), "sessions": w.truth.sessions, "caught_up_s": caught,
        "latency": latencies, "rows": rows, "all_equal": all_equal,
        "watched": {x.name: [(s.t, s.rss_kb, s.cpu_s) for s in x.samples] for x in watched},
        "app_exit": re.search(r"SOAK-APP-EXIT=(\d+)", app_screen).group(1)  # type: ignore[union-attr]
        if "SOAK-APP-EXIT=" in app_screen else None,
        "watch_stderr": (watch.stderr.read().decode(errors="replace")[-2000:] if watch.stderr else ""),
        # where each process' memory sat every 10 s (SPENDTUI_MEMSTATS, spendtui/core/memory.py)
        "memstats": {name: _memstats(tmp / f"mem-{key}.jsonl")
                     for name, key in (("watch --json", "watch"), ("app (tmux)", "app"))},
    }
    text = render(result, watched)
    print(text)
    if a.report:
        a.report.write_text(text, encoding="utf-8")
    if a.samples:
        a.samples.write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all_equal else 1


def play(w: Writer, turns: int) -> None:
    """One turn, and the session's cadence of sub-agents and compactions."""
    w.turn()
    if turns % 7 == 0:
        w.subagent()
    if turns % 40 == 0:
        w.compaction()


def render(r: dict[str, Any], watched: list[Watched]) -> str:
    m = r["machine"]
    lat = sorted(r["latency"])

    def pct(p: float) -> str:
        return f"{lat[min(len(lat) - 1, int(p * len(lat)))] * 1000:.0f} ms" if lat else "-"

    out = [
        "# Soak test",
        "",
        f"`python scripts/soak.py --minutes {r['minutes']:g} --rate {r['rate']:g} --clear-at {r['clear_at']:g}"
        + (f" --history {r['history']}" if r.get("history") else "") + "` — "
        f"run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "A writer replays real Claude Code 2.1.197 records (tests/fixtures/cc2197) with fresh ids and the",
        "current time: prompts with attachments, responses as several block lines each written in pieces,",
        "tool results, sub-agents in their own files (+ .meta.json), compact_boundary records"
        + (f", and at {100 * r['clear_at']:.0f} % of the run a `/clear` into a new session file."
           if r["clear_at"] < 1 else " (no `/clear`: one session).")
        + " `spendtui watch --json` and the app (in a tmux pane) follow it.",
        "",
        "## Machine",
        "",
        f"* {m['os']}, {m['cpu']}, {m['ram']} RAM, Python {m['python']}, temp dir on {m['fs']}",
        "",
        "## Load",
        "",
        f"* {r['minutes']:g} minutes of writing ({r['wrote_seconds']} s), target {r['rate']:g} API calls/s",
        f"* written: {r['calls']} API calls, {r['lines']} lines, {r['bytes'] / 1e6:.1f} MB, "
        f"{r['agents']} sub-agent files, {r['compactions']} compactions, {len(r['sessions'])} sessions "
        f"({len(r['sessions']) - 1} /clear)"
        + (f"; the first {r['history']} calls written at full speed before the followers started"
           if r.get("history") else ""),
        f"* `watch --json` had every call {r['caught_up_s'] * 1000:.0f} ms after the writer stopped"
        if r["caught_up_s"] is not None else "* `watch --json` never caught up (see below)",
        f"* write → `watch --json` event latency: p50 {pct(0.5)}, p95 {pct(0.95)}, p99 {pct(0.99)}, "
        f"max {pct(1.0)} (n={len(lat)})",
        "",
        "## Memory and CPU",
        "",
        "RSS *start* is the first sample after one minute (imports done, history read, caches warm);",
        "the slope is a least-squares fit over every sample from then on.",
        "",
        "| process | RSS at launch | RSS start (1 min) | RSS end | RSS max | RSS slope after 1 min "
        "| CPU, mean over the run |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in watched:
        s = x.samples
        if len(s) < 2:
            out.append(f"| {x.name} | - | - | - | - | - | - |")
            continue
        warm = next((p for p in s if p.t >= 60), s[-1])
        cpu = (s[-1].cpu_s - s[0].cpu_s) / max(1e-9, s[-1].t - s[0].t) * 100
        out.append(f"| {x.name} | {s[0].rss_kb / 1024:.1f} MB | {warm.rss_kb / 1024:.1f} MB | "
                   f"{s[-1].rss_kb / 1024:.1f} MB | {max(p.rss_kb for p in s) / 1024:.1f} MB | "
                   f"{_slope_mb_per_hour(s, 60):+.1f} MB/h | {cpu:.1f} % of one core |")
    out += ["", "RSS (MB) each minute:", "", "| minute | " + " | ".join(x.name for x in watched) + " |",
            "|---|" + "---|" * len(watched)]
    minutes = int(r["minutes"]) + 1
    for mi in range(minutes + 1):
        cells = []
        for x in watched:
            near = [p for p in x.samples if abs(p.t - mi * 60) <= 5 or (mi == minutes and p is x.samples[-1])]
            cells.append(f"{near[0].rss_kb / 1024:.1f}" if near else "")
        if any(cells):
            out.append(f"| {mi} | " + " | ".join(cells) + " |")
    mem = r.get("memstats") or {}
    since = r["minutes"] * 60 / 3
    if any(mem.values()):
        out += ["", f"Where the memory sat (`SPENDTUI_MEMSTATS`, every 10 s): least-squares slopes from "
                f"minute {since / 60:.0f} on, in bytes a call at {r['rate']:g} calls/s; the last sample in MB.", "",
                "| process | " + " | ".join(label for _k, label in MEM_PARTS) + " |",
                "|---|" + "---|" * len(MEM_PARTS)]
        for name, lines in mem.items():
            if not lines:
                continue
            sl = memstats_slopes(lines, since, r["rate"])
            last = lines[-1]
            out.append(f"| {name} | " + " | ".join(
                (f"{sl[k]:+.0f} B ({last[k] / 2**20:.1f} MB)" if k in sl and isinstance(last.get(k), int) else "-")
                for k, _label in MEM_PARTS) + " |")
    out += ["", "## Totals against the truth", "",
            "| reader | session | calls (truth / read) | cost USD (truth / read) | tokens equal | "
            "compactions | equal |",
            "|---|---|---|---|---|---|---|"]
    for name, sid, c in r["rows"]:
        out.append(f"| {name} | {sid[:8]} | {c['calls'][0]} / {c['calls'][1]} | {c['cost_usd'][0]:.6f} / "
                   f"{c['cost_usd'][1]:.6f} | {'yes' if c['tokens'][0] == c['tokens'][1] else 'NO'} | "
                   f"{c['compactions'][0]} / {c['compactions'][1]} | {'yes' if c['equal'] else '**NO**'} |")
    out += ["", f"**All totals equal the truth: {'yes' if r['all_equal'] else 'NO'}.**", ""]
    if r.get("app_exit") is not None:
        out.append(f"The app exited with status {r['app_exit']} after `q`.")
        out.append("")
    if r.get("watch_stderr"):
        out += ["`watch --json` stderr (tail):", "", "```", r["watch_stderr"].strip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
