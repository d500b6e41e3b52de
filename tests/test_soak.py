"""The soak harness itself, in a run short enough for CI (benchmarks/SOAK.md has the long runs).

scripts/soak.py plays Claude Code (real 2.1.197 records, sub-agents, compactions, a /clear)
while `spendtui watch --json` and the app in a real tmux pane follow; at the end every reader's
totals must equal what it wrote. This pins that the harness runs end to end and that its
verdict means something: both sessions are there, every reader is compared, and a reader that
is off makes the run fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import soak  # noqa: E402

READERS = {"watch --json events", "summary --json --no-cache", "summary --json (cold cache)",
           "summary --json (warm cache)", "app summary after q"}


@pytest.mark.tmux
def test_a_short_soak_ends_with_every_total_equal(tmp_path: Path) -> None:
    report, samples = tmp_path / "soak.md", tmp_path / "soak.json"
    r = subprocess.run([sys.executable, "scripts/soak.py", "--minutes", "0.5", "--rate", "10", "--clear-at", "0.5",
                        "--history", "150", "--sample", "2", "--report", str(report), "--samples", str(samples)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    doc = json.loads(samples.read_text())
    assert doc["all_equal"] is True and doc["app_exit"] == "0"
    assert len(doc["sessions"]) == 2  # the /clear moved the writer to a new session file
    assert doc["calls"] >= 200 + 150 and doc["agents"] >= 1
    # the history was there before the followers started (every reader counts it: the totals
    # below); the latency is of the calls written while they followed
    assert doc["history"] >= 150 and 0 < len(doc["latency"]) <= doc["calls"] - doc["history"]
    by_reader: dict[str, set[str]] = {}
    for reader, sid, cmp in doc["rows"]:
        by_reader.setdefault(reader, set()).add(sid)
        truth, read = cmp["calls"]
        assert truth == read and truth > 0, (reader, sid, cmp)
        assert cmp["tokens"][0] == cmp["tokens"][1] and cmp["equal"] is True
    assert set(by_reader) == READERS
    for reader in READERS - {"app summary after q"}:  # the app follows /clear: it saves the newest
        assert by_reader[reader] == set(doc["sessions"]), reader
    assert doc["calls"] == sum(cmp["calls"][0] for reader, _sid, cmp in doc["rows"] if reader == "watch --json events")
    for name, rows in doc["watched"].items():  # RSS sampled all along, for both processes
        assert len(rows) >= 10 and all(rss > 0 for _t, rss, _cpu in rows), name
    text = report.read_text()
    assert "**All totals equal the truth: yes.**" in text and "exited with status 0" in text


def test_the_verdict_fails_on_any_difference() -> None:
    """compare() against a hand-made truth: equal when every figure is, unequal when a single
    token, a nano-dollar, a call or a compaction is off."""
    truth = soak.Truth()
    u1 = {"input_tokens": 3, "output_tokens": 50, "cache_read_input_tokens": 1000,
          "cache_creation_input_tokens": 200, "cache_creation": {"ephemeral_5m_input_tokens": 200}}
    u2 = {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 0}
    for sid, mid, u, pico in [("s", "m1", u1, 1_234_000_000), ("s", "m2", u2, 5_000_001), ("t", "m3", u2, 9)]:
        truth.calls[(sid, mid, "r")] = soak.Call(sid, (mid, "r"), "claude-sonnet-4-5", u, None, 0.0, pico=pico)
    truth.compactions["s"] = 1
    good = {"api_calls": 2, "cost_usd": 0.001239000,  # 1,239,000,001 pico rounds to the nano-dollar
            "tokens": {"input": 8, "output": 57, "cache_write_5m": 200, "cache_write_1h": 0, "cache_read": 1000},
            "compactions": [{}]}
    assert soak.compare(truth, good, "s")["equal"] is True
    for key, bad in [("api_calls", 3), ("cost_usd", 0.001239001), ("compactions", []),
                     ("tokens", {**good["tokens"], "cache_read": 1001}),
                     ("tokens", {**good["tokens"], "cache_write_5m": 0, "cache_write_1h": 200})]:
        assert soak.compare(truth, {**good, key: bad}, "s")["equal"] is False, (key, bad)
