"""The benchmark suite, one command:

    python benchmarks/run.py [--sizes 50,250,1000] [--runs 3] [--out /tmp/spendtui-bench]

For each history size (MiB) it generates (once, deterministically) a history from
real Claude Code transcripts (benchmarks/replicate.py), then times, in the same run
and on the same files, several runs each, medians reported:

* ccusage 20.0.24 `session --json --offline` (the reference users compare against);
* `spendtui sessions --json` cold (empty result cache), warm (nothing changed), and
  after one session grew by 1 MB;
* `spendtui report --json` warm;
* `spendtui statusline` on the largest transcript, cold and warm;

and checks that spendtui's and ccusage's totals agree. Then the live benchmarks:
latency.py (a written call to `watch --json`, native events and polling; idle CPU) and
app_latency.py (a written call to the app's table; first paint on a 100 MiB session).
Results with machine details are appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CCUSAGE = ROOT / ".e2e" / "node_modules" / ".bin" / "ccusage"
sys.path.insert(0, str(HERE))

from replicate import generate  # noqa: E402


def run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, float, int, str]:
    """(wall s, cpu s, peak RSS MiB, stdout) of one child run, via GNU time."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], capture_output=True, text=True, env=env,
                       input=stdin, check=True)
    wall = time.perf_counter() - t0
    user, sys_, rss = p.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(sys_), int(rss) // 1024, p.stdout


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs: a VM's hypervisor may give our CPUs to others,
    which slows a run that uses both cores far more than a single-threaded one."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def median_of(n: int, fn) -> tuple[float, float, int, str]:  # type: ignore[no-untyped-def]
    results = [fn() for _ in range(n)]
    walls = sorted(r[0] for r in results)
    best = min(results, key=lambda r: abs(r[0] - statistics.median(walls)))
    return statistics.median(walls), best[1], max(r[2] for r in results), best[3]


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}")


def bench_size(size_mb: int, runs: int, base: Path) -> list[str]:
    root = base / f"{size_mb}mb"
    if not (root / "projects").exists():
        print(f"generating {size_mb} MiB history in {root} ...", flush=True)
        generate(root, size_mb)
    files = list(root.rglob("*.jsonl"))
    nbytes = sum(p.stat().st_size for p in files)
    mains = [p for p in files if "subagents" not in p.parts]
    biggest = max(mains, key=lambda p: p.stat().st_size)
    cache = Path(tempfile.mkdtemp(prefix="spendtui-bench-cache-"))
    env = {**os.environ, "SPENDTUI_CACHE_DIR": str(cache), "CLAUDE_CONFIG_DIR": str(root), "TZ": "UTC"}
    py = [sys.executable, "-m", "spendtui"]

    def cold() -> tuple[float, float, int, str]:
        shutil.rmtree(cache, ignore_errors=True)
        return run([*py, "sessions", "--json"], env)

    def cc() -> tuple[float, float, int, str]:
        return run([str(CCUSAGE), "session", "--json", "--offline"], env)

    # cold runs and ccusage's alternate, so both meet the same machine
    steal0 = cpu_ticks()
    ours_runs, cc_runs = [], []
    for _ in range(runs):
        ours_runs.append(cold())
        if CCUSAGE.exists():
            cc_runs.append(cc())
    steal1 = cpu_ticks()
    c_wall, c_cpu, c_rss, out = median_of(runs, iter(ours_runs).__next__)
    ours = json.loads(out)
    rc_wall, _, rc_rss, _ = median_of(runs, lambda: (shutil.rmtree(cache, ignore_errors=True),
                                                     run([*py, "report", "--json", "--utc"], env))[1])
    run([*py, "sessions", "--json"], env)  # the result cache again, after the report's cold runs
    w_wall, w_cpu, w_rss, _ = median_of(runs, lambda: run([*py, "sessions", "--json"], env))
    r_wall, _, r_rss, rep = median_of(runs, lambda: run([*py, "report", "--json", "--utc"], env))
    # one session grows by 1 MB (a copy of its own last lines with fresh ids would be more
    # realistic; appending whole records of a known call keeps the totals checkable)
    grown = max((p for p in mains if p != biggest), key=lambda p: p.stat().st_size)
    tail = [ln for ln in grown.read_bytes().splitlines() if b'"type":"user"' in ln][-1]
    with open(grown, "ab") as f:
        written = 0
        while written < 1 << 20:
            f.write(tail + b"\n")
            written += len(tail) + 1
    g_wall, _, g_rss, _ = run([*py, "sessions", "--json"], env)

    hook = json.dumps({"transcript_path": str(biggest), "session_id": biggest.stem})
    shutil.rmtree(cache, ignore_errors=True)
    s_cold, _, s_rss, line = run([*py, "statusline"], env, stdin=hook)
    s_warm, _, _, _ = median_of(runs, lambda: run([*py, "statusline"], env, stdin=hook))

    steal_pct = 100.0 * (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
    lines = [
        f"### {time.strftime('%Y-%m-%d')} — {nbytes / 2**20:.0f} MiB history, {len(mains)} sessions, "
        f"{len(files) - len(mains)} sub-agent files, {sum(r['api_calls'] for r in ours)} API calls",
        "",
        f"Machine: {machine()}. Median of {runs} runs; RSS is the peak of the process tree's largest process. "
        f"CPU steal while the cold runs and ccusage's ran: {steal_pct:.0f} % (the share of this VM's CPU time "
        "its hypervisor gave to others).",
        "",
        "| what | wall | CPU | peak RSS |",
        "|---|---:|---:|---:|",
    ]
    total_ours = sum(r["cost_usd"] for r in ours)
    if cc_runs:
        cc_wall, cc_cpu, cc_rss, cc_out = median_of(runs, iter(cc_runs).__next__)
        cc_total = json.loads(cc_out)["totals"]["totalCost"]
        lines.append(f"| ccusage 20.0.24 `session --json --offline` | {cc_wall:.2f} s | {cc_cpu:.2f} s | "
                     f"{cc_rss} MiB |")
    else:
        cc_wall = cc_total = None
        lines.append("| ccusage | not installed (bash scripts/install_e2e.sh) | | |")
    ratio = f" ({c_wall / cc_wall:.2f}x ccusage)" if cc_wall else ""
    cc_part = (f", ccusage ${cc_total:,.4f}, difference ${abs(total_ours - cc_total):.6f}"
               if cc_total is not None else "")
    rep_total = json.loads(rep)["totals"]["cost_usd"]
    lines += [
        f"| spendtui `sessions --json`, cold{ratio} | {c_wall:.2f} s | {c_cpu:.2f} s | {c_rss} MiB |",
        f"| spendtui `report --json`, cold | {rc_wall:.2f} s | | {rc_rss} MiB |",
        f"| spendtui `sessions --json`, warm | {w_wall:.3f} s | {w_cpu:.2f} s | {w_rss} MiB |",
        f"| spendtui `sessions --json`, one session grew by 1 MB | {g_wall:.3f} s | | {g_rss} MiB |",
        f"| spendtui `report --json`, warm | {r_wall:.3f} s | | {r_rss} MiB |",
        f"| spendtui `statusline`, {biggest.stat().st_size / 2**20:.0f} MiB transcript, cold | {s_cold:.3f} s | "
        f"| {s_rss} MiB |",
        f"| spendtui `statusline`, warm | {s_warm:.3f} s | | |",
        "",
        f"Totals: spendtui ${total_ours:,.4f}{cc_part}; report total ${rep_total:,.4f} "
        f"(after the 1 MB growth, which adds no API calls). Statusline: `{line.strip()}`",
        "",
    ]
    shutil.rmtree(cache, ignore_errors=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="50,250,1000", help="history sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "spendtui-bench")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--skip-live", action="store_true", help="only the history benchmarks")
    args = ap.parse_args()
    # bytecode as an installed package has it (pip compiles at install): with
    # PYTHONDONTWRITEBYTECODE set, a module edited since its .pyc is compiled on every run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "spendtui")], check=False,
                   capture_output=True)
    text: list[str] = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        section = bench_size(size, args.runs, args.out)
        print("\n".join(section), flush=True)
        text += section
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + "\n".join(text) + "\n")
    if not args.skip_live:
        extra = ["--no-record"] if args.no_record else []
        for script, opts in (("latency.py", ["--calls", "200", "--rate", "20"]),
                             ("latency.py", ["--calls", "100", "--rate", "10", "--poll"]),
                             ("app_latency.py", ["--calls", "60", "--big-mb", "100"])):
            subprocess.run([sys.executable, str(HERE / script), *opts, *extra], check=True)


if __name__ == "__main__":
    main()
