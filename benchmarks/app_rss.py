"""Benchmark: the app's memory and idle CPU while it follows one very large session.

    python benchmarks/app_rss.py [--size-mb 1024] [--root DIR] [--idle 60] [--calls 200] [--record]

Issue #3 asks for RSS under 200 MB on a 1 GB session file and idle CPU under 2 %;
issue #5 for at most 150 MB while following a single 1 GB session. This runs the real
app (``python -m spendtui``) in a real terminal (a tmux pane) on one session of
``--size-mb`` MiB (benchmarks/replicate.py --single, real 2.1.197 records; or the
session under ``--root``), its files' mtimes set to now so it is the live session, twice:

* cold: an empty result cache (the whole file is read and analysed);
* warm: the cache the cold run left (the app starts from its snapshot).

Each time it samples the process's RSS until its CPU time stops moving (settled), then
appends ``--calls`` API calls at 5 a second, then measures ``--idle`` seconds with
nothing written, and quits with ``q``. Peak RSS is the kernel's high-water mark (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from app_latency import _line  # noqa: E402
from replicate import generate  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB, from /proc."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=False).stdout


def one_run(root: Path, sid: str, transcript: Path, cache: Path, calls: int, idle: float,
            label: str) -> dict[str, Any]:
    sock = f"spendtui-rss-{os.getpid()}-{label}"
    env_prefix = f"SPENDTUI_CACHE_DIR={cache} SPENDTUI_DATA_DIR={cache}/data TERM=xterm-256color"
    cmd = f"exec env {env_prefix} {sys.executable} -m spendtui --claude-dir {root} --session {sid}"
    tmux(sock, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-s", "rss", cmd)
    try:
        pid = int(tmux(sock, "display", "-p", "-t", "rss", "#{pane_pid}").strip())
        t0 = time.monotonic()
        last_cpu, still = -1.0, 0.0
        peak_seen = 0
        while time.monotonic() - t0 < 600:
            time.sleep(0.5)
            st = status(pid)
            peak_seen = max(peak_seen, st["VmRSS"])
            c = cpu_seconds(pid)
            still = still + 0.5 if c - last_cpu < 0.02 else 0.0
            last_cpu = c
            if still >= 3.0 and "$" in tmux(sock, "capture-pane", "-p", "-t", "rss"):
                break
        settled_s = time.monotonic() - t0 - still
        settled = status(pid)
        cpu_load = cpu_seconds(pid)
        # calls appended at 5 a second, as a person never would: the app keeps up
        with transcript.open("a") as f:
            for i in range(calls):
                f.write(_line(10_000_000 + i, sid) + "\n")
                f.flush()
                time.sleep(0.2)
        time.sleep(2.0)
        after_calls = status(pid)
        c0, w0 = cpu_seconds(pid), time.monotonic()
        time.sleep(idle)
        idle_cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        end = status(pid)
        screen = tmux(sock, "capture-pane", "-p", "-t", "rss")
        tmux(sock, "send-keys", "-t", "rss", "q")
        for _ in range(100):
            time.sleep(0.1)
            if not Path(f"/proc/{pid}").exists():
                break
        return {
            "settled_s": settled_s, "cpu_to_settle_s": cpu_load,
            "rss_settled_mb": settled["VmRSS"] / 1024, "rss_after_calls_mb": after_calls["VmRSS"] / 1024,
            "rss_end_mb": end["VmRSS"] / 1024, "peak_mb": end["VmHWM"] / 1024,
            "idle_cpu_pct": 100 * idle_cpu, "screen_has_cost": "$" in screen,
        }
    finally:
        tmux(sock, "kill-server")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--root", type=Path, help="a Claude config dir holding one session (else generated)")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    a = ap.parse_args()
    if shutil.which("tmux") is None:
        print("app_rss: tmux is needed (a real terminal for the app)", file=sys.stderr)
        return 2
    root = a.root
    if root is None:
        root = Path(tempfile.gettempdir()) / f"spendtui-single-{a.size_mb}mb"
        if not (root / "projects").exists():
            print(f"generating a {a.size_mb} MiB session in {root} ...", file=sys.stderr)
            generate(root, a.size_mb, single=True)
    mains = sorted((root / "projects").glob("*/*.jsonl"), key=lambda p: -p.stat().st_size)
    transcript = mains[0]
    sid = transcript.stem
    files = [transcript, *transcript.with_suffix("").rglob("*.jsonl")]
    size = sum(p.stat().st_size for p in files)
    now = time.time()
    for p in files:
        os.utime(p, (now, now))
    cache = Path(tempfile.mkdtemp(prefix="spendtui-rss-cache-"))
    results = {}
    for label in ("cold", "warm"):
        r = one_run(root, sid, transcript, cache, a.calls, a.idle, label)
        results[label] = r
        print(f"{label}: settled in {r['settled_s']:.1f} s ({r['cpu_to_settle_s']:.1f} s CPU); RSS settled "
              f"{r['rss_settled_mb']:.0f} MiB, after {a.calls} calls {r['rss_after_calls_mb']:.0f} MiB, "
              f"end {r['rss_end_mb']:.0f} MiB, peak {r['peak_mb']:.0f} MiB; idle CPU {r['idle_cpu_pct']:.2f} %")
    shutil.rmtree(cache, ignore_errors=True)
    if a.record:
        lines = [
            f"\n### {time.strftime('%Y-%m-%d')} — the app following one {size / 2**20:.0f} MiB session "
            f"(`benchmarks/app_rss.py`), {platform.machine()}, {os.cpu_count()} CPUs\n",
            "| result cache | settled after | RSS settled | after "
            f"{a.calls} calls | peak (VmHWM) | idle CPU ({a.idle:.0f} s) |",
            "|---|---|---|---|---|---|",
        ]
        for label, r in results.items():
            lines.append(f"| {label} | {r['settled_s']:.1f} s | {r['rss_settled_mb']:.0f} MiB | "
                         f"{r['rss_after_calls_mb']:.0f} MiB | {r['peak_mb']:.0f} MiB | {r['idle_cpu_pct']:.2f} % |")
        with (HERE / "RESULTS.md").open("a") as f:
            f.write("\n".join(lines) + "\n")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
