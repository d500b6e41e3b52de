"""Benchmark: how fast the Textual app shows a written API call, and its first paint.

    python benchmarks/app_latency.py [--calls 60] [--big-mb 100]

Runs the real app headlessly (``App.run_test``: the real follower thread and
watchfiles, a real transcript in a temp dir), appends API calls one at a time and
measures the time from the flushed write to the calls table holding the new row.
Then it measures the first paint on an active session of ``--big-mb`` MiB (a
replicated real transcript: benchmarks/replicate.py). Appends the figures to
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from replicate import generate  # noqa: E402

from spendtui.core.paths import discover  # noqa: E402
from spendtui.core.pricing import PriceTable  # noqa: E402
from spendtui.views.app import SpendApp  # noqa: E402
from spendtui.views.app.widgets import CallsTable  # noqa: E402


def _line(i: int, sid: str) -> str:
    usage = {"input_tokens": 4, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 20_000 + 40 * i,
             "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0},
             "output_tokens": 90}
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return json.dumps({"parentUuid": None, "isSidechain": False, "type": "assistant", "sessionId": sid,
                       "cwd": "/tmp/bench", "uuid": f"u{i}", "timestamp": ts, "requestId": f"req_app_{i}",
                       "message": {"id": f"msg_app_{i}", "type": "message", "role": "assistant",
                                   "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text", "text": "ok"}],
                                   "stop_reason": "end_turn", "usage": usage}})


async def append_latency(calls: int) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="spendtui-app-bench-"))
    proj = tmp / "projects" / "-tmp-bench"
    proj.mkdir(parents=True)
    transcript = proj / "app-bench.jsonl"
    transcript.write_text(json.dumps({"type": "user", "sessionId": "app-bench", "cwd": "/tmp/bench",
                                      "timestamp": "2026-11-24T00:00:00.000Z",
                                      "message": {"role": "user", "content": "go"}}) + "\n")
    (files,) = discover([tmp])
    app = SpendApp(files, [tmp], PriceTable.default())
    out: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.updates == 0:
            await pilot.pause(0.01)
        await pilot.pause(0.5)
        table = app.dashboard.query_one(CallsTable)
        for i in range(calls):
            before = table.row_count
            with open(transcript, "a") as f:
                f.write(_line(i, "app-bench") + "\n")
            t0 = time.perf_counter()
            while table.row_count == before:
                await asyncio.sleep(0.002)
                if time.perf_counter() - t0 > 5:
                    break
            out.append((time.perf_counter() - t0) * 1000)
            await pilot.pause(0.05)
    return out


async def first_paint(big_mb: int, use_cache: bool) -> tuple[float, int]:
    root = Path(tempfile.gettempdir()) / f"spendtui-app-bench-{big_mb}mb"
    if not (root / "projects").exists():
        generate(root, big_mb, single=True)
    (files,) = discover([root])
    if time.time() - files.mtime() > 3600:
        now = time.time()
        os.utime(files.main, (now, now))  # an active session (written lately)
    t0 = time.perf_counter()
    app = SpendApp(files, [root], PriceTable.default(), use_cache=use_cache)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.updates == 0:
            await pilot.pause(0.01)
        paint = time.perf_counter() - t0
    return paint, files.size()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    lat = sorted(asyncio.run(append_latency(args.calls)))
    os.environ["SPENDTUI_CACHE_DIR"] = tempfile.mkdtemp(prefix="spendtui-app-bench-cache-")
    paint, size = asyncio.run(first_paint(args.big_mb, use_cache=False))
    asyncio.run(first_paint(args.big_mb, use_cache=True))  # leaves the snapshot, like a first run
    warm, _ = asyncio.run(first_paint(args.big_mb, use_cache=True))

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))]

    text = "\n".join([
        f"### {time.strftime('%Y-%m-%d')} — the app ({os.cpu_count()} CPUs)",
        "",
        f"* write → row in the calls table, {len(lat)} calls: p50 {pct(50):.0f} ms, p95 {pct(95):.0f} ms, "
        f"max {lat[-1]:.0f} ms, mean {statistics.fmean(lat):.0f} ms",
        f"* first paint on an active {size / 2**20:.0f} MiB session: {paint:.2f} s without the result cache, "
        f"{warm:.2f} s from the cache's snapshot (any run before, e.g. the previous app start)",
    ]) + "\n"
    print(text)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
