"""Generate a large, realistic Claude Code history for benchmarks.

Each session is a chain of turns shaped like Claude Code 2.1 writes them: a
prompt, an assistant response split into thinking / text / tool_use lines that
repeat the usage, a tool_result carrying a file body, a final answer; every
tenth turn spawns a sub-agent in `<session>/subagents/`. Sizes are chosen to
reach a target byte count (default 1 GiB).

    python benchmarks/make_history.py /tmp/bench-claude --size-mb 1024
"""

from __future__ import annotations

import argparse
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODELS = ["claude-opus-4-6", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]


def _env(sid: str, cwd: str, when: datetime, parent: str | None, **extra: object) -> dict:
    rec = {
        "parentUuid": parent,
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": sid,
        "version": "2.1.197",
        "gitBranch": "main",
        "uuid": str(uuid.uuid4()),
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    rec.update(extra)
    return rec


def _usage(rng: random.Random, ctx: int) -> dict:
    write = rng.randint(200, 4000)
    return {
        "input_tokens": rng.randint(1, 12),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": ctx,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": rng.randint(20, 900),
        "service_tier": "standard",
    }


def write_session(path: Path, sid: str, cwd: str, start: datetime, turns: int, result_bytes: int,
                  rng: random.Random) -> int:
    """Write one session; returns the number of API calls in it."""
    calls = 0
    t = start
    parent = None
    ctx = 12_000
    body = ("def f(x):\n    return x * 2\n" * (result_bytes // 30 + 1))[:result_bytes]
    with open(path, "w", encoding="utf-8") as f:
        def w(rec: dict) -> None:
            nonlocal parent
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            parent = rec["uuid"]

        for i in range(turns):
            t += timedelta(seconds=rng.randint(20, 200))
            w(_env(sid, cwd, t, parent, type="user", message={"role": "user", "content": f"task {i}: fix it"}))
            model = MODELS[i % 7 == 0 and 1 or 0]
            for step in range(2):
                calls += 1
                mid = f"msg_{uuid.uuid4().hex[:24]}"
                req = f"req_{uuid.uuid4().hex[:24]}"
                u = _usage(rng, ctx)
                ctx += u["cache_creation_input_tokens"]
                t += timedelta(seconds=rng.randint(2, 20))
                blocks = [{"type": "thinking", "thinking": "Let me look.", "signature": "x" * 64},
                          {"type": "text", "text": "Reading the file."}]
                if step == 0:
                    tid = f"toolu_{uuid.uuid4().hex[:24]}"
                    blocks.append({"type": "tool_use", "id": tid, "name": "Read",
                                   "input": {"file_path": f"{cwd}/src/mod{i % 50}.py"}})
                for b in blocks:
                    msg = {"id": mid, "type": "message", "role": "assistant", "model": model, "content": [b],
                           "stop_reason": None, "usage": u}
                    w(_env(sid, cwd, t, parent, type="assistant", message=msg, requestId=req))
                if step == 0:
                    t += timedelta(seconds=1)
                    w(_env(sid, cwd, t, parent, type="user",
                           message={"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                                 "content": body}]},
                           toolUseResult={"type": "text", "file": {"filePath": f"{cwd}/src/mod{i % 50}.py",
                                                                    "content": body, "numLines": 1,
                                                                    "startLine": 1, "totalLines": 1}}))
            if ctx > 150_000:
                ctx = 20_000
    return calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path, help="config dir to create (projects/ goes inside)")
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    target = args.size_mb << 20
    per_session = target // args.sessions
    result_bytes = 6000
    per_turn = 2 * result_bytes + 9 * 700  # tool_result + toolUseResult copy + ~9 other lines
    turns = max(1, per_session // per_turn)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    total_calls = 0
    for s in range(args.sessions):
        proj = args.root / "projects" / f"-work-app{s % 5}"
        proj.mkdir(parents=True, exist_ok=True)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        path = proj / f"{sid}.jsonl"
        total_calls += write_session(path, sid, f"/work/app{s % 5}", start + timedelta(hours=3 * s), turns,
                                     result_bytes, rng)
        # like a real history: a file was last written when its last record was
        last = json.loads(path.read_bytes().rsplit(b"\n", 2)[-2])["timestamp"]
        t = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
        os.utime(path, (t, t))
    size = sum(p.stat().st_size for p in args.root.rglob("*.jsonl"))
    print(json.dumps({"root": str(args.root), "bytes": size, "sessions": args.sessions, "calls": total_calls}))
    os.sync()


if __name__ == "__main__":
    main()
