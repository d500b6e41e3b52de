"""A real Prometheus server on loopback scrapes ``spendtui export --prometheus`` every second
while a transcript is appended; what Prometheus stored must equal ``summary --json``.

Both processes are started by the test on free loopback ports with temporary config and
storage, and stopped by their own handles at the end (spendtui by SIGTERM, which must
exit 0: that is the clean-shutdown check).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.export.helpers import free_port
from tests.records import append_jsonl, assistant, tool_use, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
TIMEOUT = 45.0  # seconds for any one condition; a 1 s scrape interval normally needs 2-3


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what: str, check: Any, timeout: float = TIMEOUT, procs: tuple[subprocess.Popen, ...] = ()) -> Any:
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{p.args[0]} exited with {p.returncode} while waiting for {what}")
        try:
            last = check()
        except (OSError, ValueError, KeyError, IndexError) as e:
            last = e
        else:
            if last is not None and last is not False:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", (expr, body)
    return data["data"]["result"]


def summary(root: Path, session: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "spendtui", "summary", session, "--json", "--claude-dir", str(root)],
                         capture_output=True, text=True, cwd=ROOT, check=True, timeout=60)
    return json.loads(out.stdout)


def test_real_prometheus_scrapes_summary_totals(tmp_path: Path, prometheus_bin: str) -> None:
    root = tmp_path / "claude"
    proj = root / "projects" / "-work-alpha"
    main = write_jsonl(proj / "live1.jsonl", [
        user("start", session="live1", cwd="/work/alpha"),
        assistant("m0", "r0", usage(inp=1200, out=300, cw5=5000), session="live1", cwd="/work/alpha",
                  when=now_iso()),
    ])
    spend_port, prom_port = free_port(), free_port()
    while prom_port == spend_port:
        prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {CONTRIB / 'prometheus-alerts.yml'}\n"
        "scrape_configs:\n  - job_name: spendtui\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{spend_port}']\n")
    export_log = open(tmp_path / "export.log", "w")  # noqa: SIM115 - closed in finally
    prom_log = open(tmp_path / "prometheus.log", "w")  # noqa: SIM115
    export = subprocess.Popen(
        [sys.executable, "-m", "spendtui", "export", "--prometheus", "--listen", f"127.0.0.1:{spend_port}",
         "--claude-dir", str(root), "--poll-seconds", "0.2", "--user", "ci"],
        cwd=ROOT, stdout=export_log, stderr=subprocess.STDOUT)
    prom = None
    try:
        metrics_url = f"http://127.0.0.1:{spend_port}/metrics"
        wait_for("spendtui's /metrics", lambda: http_get(metrics_url)[0] == 200, procs=(export,))
        prom = subprocess.Popen(
            [prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            cwd=tmp_path, stdout=prom_log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{prom_port}"
        wait_for("Prometheus ready", lambda: http_get(f"{base}/-/ready")[0] == 200, procs=(prom,))
        wait_for("target up", lambda: [r for r in query(base, 'up{job="spendtui"}') if r["value"][1] == "1"],
                 procs=(prom, export))

        def scraped_equals_summary() -> None:
            want = summary(root, "live1")

            def check() -> bool:
                res = query(base, 'sum(spendtui_cost_usd_total{job="spendtui"})')
                if not res or abs(float(res[0]["value"][1]) - want["cost_usd"]) > 1e-9:
                    return False
                kinds = {r["metric"]["kind"]: float(r["value"][1])
                         for r in query(base, 'sum by (kind) (spendtui_tokens_total{job="spendtui"})')}
                return kinds == {k: float(v) for k, v in want["tokens"].items()}

            wait_for(f"scraped cost == summary cost_usd {want['cost_usd']}", check, procs=(prom, export))

        scraped_equals_summary()
        # append while both run: more main-chain calls, one written as two block lines, and
        # a sub-agent file that appears mid-session
        for i in range(1, 4):
            append_jsonl(main, [
                user(f"turn {i}", session="live1", cwd="/work/alpha"),
                assistant(f"m{i}", f"r{i}", usage(inp=50, out=1, cr=6000 * i), session="live1", cwd="/work/alpha",
                          when=now_iso()),
                assistant(f"m{i}", f"r{i}", usage(inp=50, out=400 * i, cr=6000 * i), session="live1",
                          cwd="/work/alpha", when=now_iso(),
                          content=[tool_use(f"t{i}", "Agent", subagent_type="Explore")]),
            ])
            if i == 2:
                write_jsonl(proj / "live1" / "subagents" / "agent-e1.jsonl", [
                    assistant("ma", "ra", usage(inp=3000, out=700), model="claude-haiku-4-5-20251001",
                              session="live1", sidechain=True, agent_id="e1", cwd="/work/alpha", when=now_iso()),
                ])
            scraped_equals_summary()

        want = summary(root, "live1")
        assert want["subagent_cost_usd"] > 0 and want["api_calls"] == 5
        sub = query(base, 'sum(spendtui_cost_usd_total{agent="subagent"})')
        assert abs(float(sub[0]["value"][1]) - want["subagent_cost_usd"]) < 1e-9
        # labels as documented, and no session id anywhere in the stored series
        series = query(base, '{__name__=~"spendtui_.+", job="spendtui"}')
        assert series
        for s in series:
            labels = {k: v for k, v in s["metric"].items() if k not in ("__name__", "job", "instance")}
            assert set(labels) <= {"user", "project", "model", "agent", "kind", "scope"}, s["metric"]
            assert "live1" not in json.dumps(s["metric"])
        ctx = query(base, "spendtui_context_tokens")
        assert int(float(ctx[0]["value"][1])) == want["context"]["current"]

        # the contrib alert rules load and evaluate without errors in a real server
        def rules_healthy() -> bool:
            groups = json.loads(http_get(f"{base}/api/v1/rules")[1])["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return len(rules) == 3 and all(r.get("health") == "ok" for r in rules)

        wait_for("alert rules evaluated with health ok", rules_healthy, procs=(prom,))
        # every dashboard query parses and runs against real data
        from tests.export.test_contrib import dashboard_exprs

        for expr in dashboard_exprs():
            if expr.startswith("label_values"):
                continue
            q = expr.replace("$user", ".*").replace("$project", ".*").replace("$__range", "5m")
            query(base, q)
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(15)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait(5)
        if export.poll() is None:
            export.send_signal(signal.SIGTERM)
        try:
            rc = export.wait(15)
        except subprocess.TimeoutExpired:
            export.kill()
            export.wait(5)
            rc = None
        export_log.close()
        prom_log.close()
    assert rc == 0, (tmp_path / "export.log").read_text()
    assert "serving http://127.0.0.1:" in (tmp_path / "export.log").read_text()
