"""The exporters' context gauges on a real Claude Code session with stale reads and advice:
`spendtui export --once` publishes what `summary --json` says of the same session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-m", "spendtui", *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=True).stdout


def _gauge(text: str, name: str) -> float:
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name]
    assert len(samples) == 1, samples
    assert samples[0].labels["agent"] == "main" and samples[0].labels["project"] == "project"
    return float(samples[0].value)


def test_export_once_gauges_equal_summary_on_a_read_edit_read_session(harness_cases: Any) -> None:
    """Claude Code 2.1.197 read two ~22K-token files, edited both and read them again: the
    first reads are stale (a large share of the context) and a /compact would pay for
    itself (context_pruning advice). Both gauges carry summary --json's figures."""
    case = harness_cases["read_edit_read"]
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(case.config_dir), "HOME": str(case.home)}
    summary: dict[str, Any] = {}
    exposition = ""
    for _ in range(3):  # the advice's cache countdown moves with the clock: agree on one moment
        before = json.loads(_run(["summary", case.session_id, "--json"], env))
        exposition = _run(["export", "--once", "--active-minutes", "100000", "--user", "alice"], env)
        summary = json.loads(_run(["summary", case.session_id, "--json"], env))
        if [a["key"] for a in before["advice"]] == [a["key"] for a in summary["advice"]]:
            break
    assert summary["stale"]["share"] > 0.2 and summary["stale"]["by_reason"]["superseded"] > 40_000
    assert "context_pruning" in {a["kind"] for a in summary["advice"]}
    assert _gauge(exposition, "spendtui_stale_context_ratio") == summary["stale"]["share"]
    # the plan advice (this config dir is the whole history: its one session) is the user's
    # monthly saving, not the session's: left out of the gauge
    saving = sum(a["saving_usd"] for a in summary["advice"] if a["kind"] != "plan")
    assert saving > 0
    assert _gauge(exposition, "spendtui_advice_open_savings_usd") == pytest.approx(saving, abs=1e-9)
