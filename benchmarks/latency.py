"""Benchmark: how fast a written API call reaches `spendtui watch --json`, and idle CPU.

    python benchmarks/latency.py [--calls 200] [--rate 20] [--poll]

Starts `spendtui watch --json` on a fresh transcript, appends realistic API-call
lines (each response as thinking/text/tool_use lines, like Claude Code writes
them) at the given rate, and matches every `api_call` event to the moment its
first line was flushed. Then it leaves the watcher idle and reads its CPU time
from /proc. Appends the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TICK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT))

from spendtui.core.follow import DROWSY_AFTER_SECONDS  # noqa: E402


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def record(kind: str, i: int, sid: str, **extra: object) -> dict:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/tmp/bench",
            "sessionId": sid, "version": "2.1.197", "type": kind, "uuid": f"u{i}-{kind}-{time.time_ns()}",
            "timestamp": ts, **extra}


def call_lines(i: int, sid: str) -> list[str]:
    usage = {"input_tokens": 4, "cache_creation_input_tokens": 900, "cache_read_input_tokens": 20_000 + i * 50,
             "cache_creation": {"ephemeral_5m_input_tokens": 900, "ephemeral_1h_input_tokens": 0},
             "output_tokens": 120, "service_tier": "standard"}
    out = []
    for block in ({"type": "thinking", "thinking": "hm", "signature": "s" * 40},
                  {"type": "tool_use", "id": f"toolu_{i}", "name": "Read", "input": {"file_path": f"/tmp/f{i}.py"}}):
        msg = {"id": f"msg_bench_{i}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
               "content": [block], "stop_reason": None, "usage": usage}
        out.append(json.dumps(record("assistant", i, sid, message=msg, requestId=f"req_bench_{i}")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="API calls per second")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle to measure CPU over")
    ap.add_argument("--poll", action="store_true", help="force watchfiles polling mode")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="spendtui-latency-"))
    sid = "bench-session"
    proj = tmp / "projects" / "-tmp-bench"
    proj.mkdir(parents=True)
    transcript = proj / f"{sid}.jsonl"
    with open(transcript, "w") as f:
        f.write(json.dumps(record("user", 0, sid, message={"role": "user", "content": "go"})) + "\n")

    cmd = [sys.executable, "-m", "spendtui", "watch", "--json", "--claude-dir", str(tmp), sid]
    if args.poll:
        cmd.append("--poll")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, bufsize=1)
    received: dict[str, float] = {}
    done = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            t = time.time()
            ev = json.loads(line)
            if ev.get("event") == "api_call":
                received.setdefault(ev["message_id"], t)
                if len(received) >= args.calls:
                    done.set()

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(1.5)  # startup: import, load, arm the watcher
    written: dict[str, float] = {}
    with open(transcript, "a") as f:
        for i in range(args.calls):
            first, second = call_lines(i, sid)
            f.write(first + "\n")
            f.flush()
            written[f"msg_bench_{i}"] = time.time()
            time.sleep(0.002)
            f.write(second + "\n")
            f.flush()
            time.sleep(max(0.0, 1 / args.rate - 0.002))
    done.wait(30)
    lat = sorted((received[k] - written[k]) * 1000 for k in written if k in received)
    missing = len(written) - len(lat)
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(args.idle)
    idle_cpu = (cpu_seconds(proc.pid) - cpu0) / args.idle * 100
    # after a quiet spell the watcher looks for changes less often (follow.DROWSY_AFTER_SECONDS):
    # idle CPU then, and how fast the first call after it arrives
    time.sleep(max(0.0, DROWSY_AFTER_SECONDS + 2 - args.idle))
    cpu0 = cpu_seconds(proc.pid)
    time.sleep(args.idle)
    drowsy_cpu = (cpu_seconds(proc.pid) - cpu0) / args.idle * 100
    wake: list[float] = []
    with open(transcript, "a") as f:
        for i in range(args.calls, args.calls + 3):
            first, second = call_lines(i, sid)
            f.write(first + "\n" + second + "\n")
            f.flush()
            t = time.time()
            deadline = t + 5
            while f"msg_bench_{i}" not in received and time.time() < deadline:
                time.sleep(0.001)
            wake.append((received.get(f"msg_bench_{i}", float("nan")) - t) * 1000)
            time.sleep(DROWSY_AFTER_SECONDS + 1 if i < args.calls + 2 else 0)
    rss = rss_mib(proc.pid)
    proc.terminate()
    proc.wait(10)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))] if lat else float("nan")

    mode = "polling" if args.poll else "native events"
    text = "\n".join([
        f"### {time.strftime('%Y-%m-%d')} — watch --json latency ({mode}), {args.calls} calls at {args.rate:g}/s "
        f"({os.cpu_count()} CPUs)",
        "",
        f"* write → event: p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, max {lat[-1] if lat else float('nan'):.1f} ms;"
        f" mean {statistics.fmean(lat) if lat else float('nan'):.1f} ms; missing {missing}",
        f"* idle CPU over {args.idle:g} s: {idle_cpu:.2f} % just after the writes, {drowsy_cpu:.2f} % after "
        f"{DROWSY_AFTER_SECONDS:g} s of quiet; peak RSS {rss:.0f} MiB",
        f"* the first call after a quiet spell: {', '.join(f'{x:.0f}' for x in wake)} ms (3 spells)",
    ]) + "\n"
    print(text)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
