"""Deterministic generator of a realistic Claude Code history from real transcripts.

Templates are the genuine Claude Code 2.1.197 transcripts in tests/fixtures/cc2197
(main files and their sub-agent files). Each generated session strings together
"episodes", copies of a template session with every id made fresh (session id,
uuids, msg_/req_/toolu_ ids, agent ids), timestamps moved forward and the project
path changed, and tool results padded to realistic sizes. Session sizes follow a
long-tailed distribution (most sessions small, a few tens of MB), so a 1 GB
history has on the order of a thousand sessions, like real ones.

    python benchmarks/replicate.py OUT_DIR --size-mb 1024 [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "tests" / "fixtures" / "cc2197"
_IDS = re.compile(rb"\b(msg|req|toolu)_[A-Za-z0-9]{8,}")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TS = re.compile(rb'"timestamp":"([0-9T:.\-]+)Z"')
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"
_AGENT = re.compile(rb'"agentId":"([0-9a-z]+)"')


class Template:
    def __init__(self, main: Path) -> None:
        self.main_lines = main.read_bytes().splitlines()
        self.cwd = self._cwd()
        self.agents: list[tuple[str, list[bytes], bytes | None]] = []
        sub = main.with_suffix("") / "subagents"
        if sub.is_dir():
            for f in sorted(sub.glob("agent-*.jsonl")):
                meta = f.with_name(f.name[: -len(".jsonl")] + ".meta.json")
                self.agents.append((f.name[len("agent-"):-len(".jsonl")], f.read_bytes().splitlines(),
                                    meta.read_bytes() if meta.exists() else None))
        stamps = [m.group(1) for line in self.main_lines for m in _TS.finditer(line)]
        self.t0 = _parse(min(stamps)) if stamps else datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.t1 = _parse(max(stamps)) if stamps else self.t0

    def _cwd(self) -> bytes:
        for line in self.main_lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec.get("cwd"), str):
                return json.dumps(rec["cwd"])[1:-1].encode()
        return b"/tmp/project"


def _parse(ts: bytes) -> datetime:
    return datetime.fromisoformat(ts.decode() + "+00:00")


def load_templates(long_context: bool = False) -> list[Template]:
    """The template sessions. The >200K-token scenario is left out unless asked for:
    ccusage prices it differently on purpose (docs/pricing.md), which would hide
    real disagreements in the benchmark's totals check."""
    out = []
    for d in sorted(TEMPLATES.iterdir()):
        if d.is_dir() and (long_context or d.name != "long_context_1m"):
            for main in sorted((d / "projects").glob("*/*.jsonl")):
                t = Template(main)
                if any(b'"usage"' in line for line in t.main_lines):
                    out.append(t)
    if not out:
        raise SystemExit(f"no templates in {TEMPLATES}")
    return out


class Rewriter:
    """Fresh ids for one episode; the same old id maps to the same new id within it."""

    def __init__(self, rng: random.Random, sid: bytes, cwd_from: bytes, cwd_to: bytes, shift: timedelta,
                 pad: int) -> None:
        self.rng = rng
        self.sid = sid
        self.cwd_from, self.cwd_to = cwd_from, cwd_to
        self.shift = shift
        self.pad = pad
        self.map: dict[bytes, bytes] = {}

    def _fresh(self, old: bytes, prefix: bytes) -> bytes:
        new = self.map.get(old)
        if new is None:
            if prefix:
                new = prefix + b"_" + "".join(self.rng.choices(_ALPHABET, k=24)).encode()
            else:
                new = str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).encode()
            self.map[old] = new
        return new

    def line(self, raw: bytes, session_ids: set[bytes]) -> bytes:
        raw = _IDS.sub(lambda m: self._fresh(m.group(0), m.group(1)), raw)
        raw = _UUID.sub(lambda m: self.sid if m.group(0) in session_ids else self._fresh(m.group(0), b""), raw)
        raw = _TS.sub(lambda m: b'"timestamp":"' + (_parse(m.group(1)) + self.shift).isoformat(
            timespec="milliseconds").replace("+00:00", "").encode() + b'Z"', raw)
        raw = _AGENT.sub(lambda m: b'"agentId":"' + self._agent(m.group(1)) + b'"', raw)
        if self.cwd_from:
            raw = raw.replace(self.cwd_from, self.cwd_to)
        if self.pad and b'"tool_result"' in raw:
            raw = _pad_tool_result(raw, self.pad)
        return raw

    def _agent(self, old: bytes) -> bytes:
        new = self.map.get(b"agent:" + old)
        if new is None:
            new = self.map[b"agent:" + old] = f"a{self.rng.getrandbits(64):016x}".encode()
        return new


def _pad_tool_result(raw: bytes, pad: int) -> bytes:
    """Make a tool result as big as real ones (file reads are KBs): grow its text content."""
    try:
        rec = json.loads(raw)
    except ValueError:
        return raw
    content = rec.get("message", {}).get("content")
    if not isinstance(content, list):
        return raw
    filler = ("    return compute(x) + 1  # padding line\n" * (pad // 44 + 1))[:pad]
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            if isinstance(block.get("content"), str):
                block["content"] += filler
            elif isinstance(block.get("content"), list):
                block["content"].append({"type": "text", "text": filler})
    return json.dumps(rec, separators=(",", ":")).encode()


def session_sizes(rng: random.Random, total: int) -> list[int]:
    """Long-tailed sizes (log-normal, median ~150 KB, clipped to 40 MB) summing to total."""
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(min(40 << 20, max(8 << 10, rng.lognormvariate(11.9, 1.6)))))
    return sizes


def generate(out: Path, size_mb: int, seed: int = 1, projects: int = 40,
             long_context: bool = False, single: bool = False) -> dict[str, Any]:
    """Write the history; with ``single`` it is one session of ``size_mb``."""
    rng = random.Random(seed)
    templates = load_templates(long_context)
    # fixed (deterministic) and long past: file times in the future would look "active"
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    sizes = [size_mb << 20] if single else session_sizes(rng, size_mb << 20)
    written = calls = 0
    clock = start
    for n, target in enumerate(sizes):
        proj_no = rng.randrange(projects)
        cwd = f"/home/dev/work/project-{proj_no}".encode()
        proj = out / "projects" / f"-home-dev-work-project-{proj_no}"
        proj.mkdir(parents=True, exist_ok=True)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
        main = proj / f"{sid.decode()}.jsonl"
        clock += timedelta(minutes=rng.randint(5, 120))
        size = 0
        with open(main, "wb") as f:
            while size < target:
                t = rng.choice(templates)
                pad = rng.choice((0, 2000, 6000, 12000))
                shift = clock - t.t0
                rw = Rewriter(rng, sid, t.cwd, cwd, shift, pad)
                old_sids = {m.group(0) for line in t.main_lines[:5] for m in _UUID.finditer(line)
                            if b'"sessionId":"' + m.group(0) in line}
                for line in t.main_lines:
                    out_line = rw.line(line, old_sids)
                    f.write(out_line + b"\n")
                    size += len(out_line) + 1
                    if b'"usage"' in line and b'"type":"assistant"' in line:
                        calls += 1
                for agent_id, lines, meta in t.agents:
                    new_id = rw._agent(agent_id.encode()).decode()
                    sub = main.with_suffix("") / "subagents"
                    sub.mkdir(parents=True, exist_ok=True)
                    with open(sub / f"agent-{new_id}.jsonl", "ab") as af:
                        for line in lines:
                            af.write(rw.line(line, old_sids) + b"\n")
                    if meta is not None:
                        (sub / f"agent-{new_id}.meta.json").write_bytes(rw.line(meta, old_sids))
                clock += (t.t1 - t.t0) + timedelta(seconds=rng.randint(30, 300))
        written += size
        # like a real history: a file was last written at its last record
        ts = clock.timestamp()
        os.utime(main, (ts, ts))
        sub = main.with_suffix("")
        if sub.is_dir():
            for p in sub.rglob("*"):
                os.utime(p, (ts, ts))
        if n % 200 == 0:
            print(f"  {n} sessions, {written >> 20} MiB", flush=True)
    return {"root": str(out), "sessions": len(sizes), "bytes": written, "approx_calls": calls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-long-context", action="store_true", help="include the >200K-token template")
    ap.add_argument("--single", action="store_true", help="one session of --size-mb instead of a history")
    args = ap.parse_args()
    print(json.dumps(generate(args.out, args.size_mb, args.seed, long_context=args.with_long_context,
                              single=args.single)))


if __name__ == "__main__":
    main()
