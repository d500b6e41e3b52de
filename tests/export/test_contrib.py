"""contrib/: the alert rules validate and behave (promtool), the example config is valid,
and the Grafana dashboard only queries metrics spendtui exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from spendtui.export.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_rules(promtool: str) -> None:
    r = run([promtool, "check", "rules", str(CONTRIB / "prometheus-alerts.yml")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 3 rules found" in r.stdout + r.stderr


def test_promtool_check_config(promtool: str) -> None:
    r = run([promtool, "check", "config", str(CONTRIB / "prometheus.yml")])
    assert r.returncode == 0, r.stdout + r.stderr


def test_alert_rules_fire_when_they_should(promtool: str) -> None:
    """Unit tests of the rules in alerts_test.yml: spend > $20/h, context > 80 % for 10 min."""
    r = run([promtool, "test", "rules", str(HERE / "alerts_test.yml")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bspendtui_[a-z_]+\b", expr))


def test_alert_rules_use_exported_metrics() -> None:
    exposed = {m.exposed_name for m in METRICS}
    text = (CONTRIB / "prometheus-alerts.yml").read_text()
    used = _metric_names(text)
    assert used and used <= exposed, used - exposed


def dashboard_exprs() -> list[str]:
    dash = json.loads((CONTRIB / "grafana-dashboard.json").read_text())
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append(t["expr"])
    for v in dash["templating"]["list"]:
        out.append(v["definition"])
    return out


def test_dashboard_is_importable_json_over_exported_metrics() -> None:
    dash = json.loads((CONTRIB / "grafana-dashboard.json").read_text())
    assert dash["uid"] == "spendtui-spend" and dash["panels"]
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exposed = {m.exposed_name for m in METRICS}
    used: set[str] = set()
    for expr in dashboard_exprs():
        names = _metric_names(expr)
        assert names, expr
        used |= names
    assert used <= exposed, used - exposed
    # the headline metrics all have a panel
    assert {"spendtui_cost_usd_total", "spendtui_tokens_total", "spendtui_context_used_ratio",
            "spendtui_budget_used_ratio", "spendtui_stale_context_ratio",
            "spendtui_advice_open_savings_usd"} <= used


def test_dashboard_panels_do_not_overlap() -> None:
    dash = json.loads((CONTRIB / "grafana-dashboard.json").read_text())
    cells: set[tuple[int, int]] = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not (mine & cells), p["title"]
        cells |= mine
