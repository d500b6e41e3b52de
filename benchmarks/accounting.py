"""Benchmark: summarise a large history with spendtui and with ccusage.

    python benchmarks/accounting.py [--size-mb 1024] [--root /tmp/spendtui-bench]

Generates the history once (benchmarks/make_history.py), then measures wall time
and peak RSS of `spendtui sessions --json`, `spendtui summary --json` on the
largest session, and `ccusage session --json --offline` on the same files, and
checks that the totals agree. Appends a row to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MiB (of the child, via GNU time), stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, rss_kb // 1024, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--root", type=Path, default=Path("/tmp/spendtui-bench"))
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    root = args.root / f"{args.size_mb}mb"
    if not (root / "projects").exists():
        subprocess.run([sys.executable, str(HERE / "make_history.py"), str(root), "--size-mb", str(args.size_mb),
                        "--sessions", str(args.sessions)], check=True)
    size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
    biggest = max(root.rglob("*.jsonl"), key=lambda p: p.stat().st_size)

    py = [sys.executable, "-m", "spendtui", "--claude-dir", str(root)]
    w_sessions, rss_sessions, out = measure([*py, "sessions", "--json"])
    ours = json.loads(out)
    w_summary, rss_summary, out = measure([*py, "summary", "--json", str(biggest)])
    one = json.loads(out)

    ccusage = ROOT / ".e2e" / "node_modules" / ".bin" / "ccusage"
    cc_line = "ccusage not installed (bash scripts/install_e2e.sh)"
    cc_total = None
    if ccusage.exists():
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root)}
        w_cc, rss_cc, out = measure([str(ccusage), "session", "--json", "--offline"], env=env)
        cc_total = json.loads(out)["totals"]["totalCost"]
        cc_line = f"ccusage 20.0.24 session --json --offline: {w_cc:.2f} s, {rss_cc} MiB, total ${cc_total:.4f}"
    our_total = sum(r["cost_usd"] for r in ours)
    lines = [
        f"### {time.strftime('%Y-%m-%d')} — {size / 2**20:.0f} MiB, {len(ours)} sessions, "
        f"{sum(r['api_calls'] for r in ours)} API calls ({platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs)",
        "",
        f"* spendtui sessions --json: {w_sessions:.2f} s, peak RSS {rss_sessions} MiB, total ${our_total:.4f}",
        f"* spendtui summary --json (largest session, {biggest.stat().st_size / 2**20:.0f} MiB, "
        f"{one['api_calls']} calls): {w_summary:.2f} s, peak RSS {rss_summary} MiB",
        f"* {cc_line}",
    ]
    if cc_total is not None:
        lines.append(f"* totals differ by ${abs(our_total - cc_total):.6f}")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
