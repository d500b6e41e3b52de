"""spendtui's numbers on genuine Claude Code 2.1.197 transcripts, against the usage
the fake API reported (the independent truth) and against ccusage on the same files.

Two sources of transcripts: the committed fixtures in tests/fixtures/cc2197 (always
run; ccusage comparisons need ccusage) and fresh runs of the real `claude` CLI
through the harness (`e2e_scenario`, skipped loudly when the client is missing).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from spendtui.cli import main
from tests.e2e.scenarios import ScenarioResult
from tests.harness.tools import client_path, require_clients

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cc2197"
SCENARIOS = ["tool_use", "subagent", "continue", "fork", "cache_1h", "long_context_1m", "interactive",
             "auto_compact"]
LOGGED = ("main", "subagent")  # kinds Claude Code writes to transcripts (compact/title/quota: never)

# Published list prices, USD per million tokens (platform.claude.com pricing page), written
# out here so the test does not depend on spendtui's price table:
# (input, output, 5m cache write, 1h cache write, cache read)
PRICES = {
    "claude-sonnet-4-5-20250929": (Decimal(3), Decimal(15), Decimal("3.75"), Decimal(6), Decimal("0.30")),
    "claude-haiku-4-5-20251001": (Decimal(1), Decimal(5), Decimal("1.25"), Decimal(2), Decimal("0.10")),
}
# Sonnet 4.5 above 200K prompt tokens: the whole request at 2x input and 1.5x output
SONNET_LONG = (Decimal(6), Decimal("22.5"), Decimal("7.5"), Decimal(12), Decimal("0.60"))


TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def tokens_of(u: dict) -> dict[str, int]:
    cc = u.get("cache_creation") or {}
    return {
        "input": u.get("input_tokens", 0),
        "output": u.get("output_tokens", 0),
        "cache_write_5m": cc.get("ephemeral_5m_input_tokens", 0),
        "cache_write_1h": cc.get("ephemeral_1h_input_tokens", 0),
        "cache_read": u.get("cache_read_input_tokens", 0),
    }


def expected_cost(entry: dict) -> Decimal:
    t = tokens_of(entry["usage"])
    rates = PRICES[entry["model"]]
    prompt = t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"]
    if entry["model"].startswith("claude-sonnet-4-5") and prompt > 200_000:
        rates = SONNET_LONG
    i, o, w5, w1, r = rates
    usd = (t["input"] * i + t["output"] * o + t["cache_write_5m"] * w5 + t["cache_write_1h"] * w1
           + t["cache_read"] * r) / Decimal(10**6)
    return usd


def truth_for(truth: list[dict], session_id: str) -> list[dict]:
    return [e for e in truth if e["kind"] in LOGGED and e.get("session_id") == session_id]


def summary_json(capsys: pytest.CaptureFixture[str], config_dir: Path, sid: str) -> dict:
    assert main(["summary", "--no-cache", "--json", "--claude-dir", str(config_dir), sid]) == 0
    return json.loads(capsys.readouterr().out)


def sessions_json(capsys: pytest.CaptureFixture[str], config_dir: Path) -> list[dict]:
    assert main(["sessions", "--no-cache", "--json", "--claude-dir", str(config_dir)]) == 0
    return json.loads(capsys.readouterr().out)


def check_against_truth(capsys: pytest.CaptureFixture[str], config_dir: Path, truth: list[dict],
                        session_ids: list[str]) -> None:
    grand = Decimal(0)
    for sid in session_ids:
        mine = truth_for(truth, sid)
        s = summary_json(capsys, config_dir, sid)
        want_tokens = {k: sum(tokens_of(e["usage"])[k] for e in mine) for k in TOKEN_KINDS}
        assert s["tokens"] == want_tokens, sid
        assert s["api_calls"] == len(mine), sid
        assert s["main_api_calls"] == sum(1 for e in mine if e["kind"] == "main"), sid
        want = sum((expected_cost(e) for e in mine), Decimal(0))
        # "to a hundredth of a cent": we are exact, so allow only float representation error
        assert abs(Decimal(str(s["cost_usd"])) - want) < Decimal("0.000001"), sid
        assert s["unpriced_models"] == [] and s["skipped_lines"] == 0
        want_sub = sum((expected_cost(e) for e in mine if e["kind"] == "subagent"), Decimal(0))
        assert abs(Decimal(str(s["subagent_cost_usd"])) - want_sub) < Decimal("0.000001")
        grand += want
        # the context is the last main-chain request's prompt
        main_calls = [e for e in mine if e["kind"] == "main"]
        if main_calls:
            t = tokens_of(main_calls[-1]["usage"])
            assert s["context"]["current"] == t["input"] + t["cache_write_5m"] + t["cache_write_1h"] + t["cache_read"]
    rows = sessions_json(capsys, config_dir)
    assert abs(sum(Decimal(str(r["cost_usd"])) for r in rows) - grand) < Decimal("0.00001")
    assert sum(r["api_calls"] for r in rows) == sum(len(truth_for(truth, sid)) for sid in session_ids)
    # each row on its own: every token kind, calls and cost of that session's requests (sums
    # could hide two sessions' errors cancelling out)
    by_id = {r["session_id"]: r for r in rows}
    assert set(by_id) == set(session_ids)
    for sid in session_ids:
        mine, row = truth_for(truth, sid), by_id[sid]
        assert row["tokens"] == {k: sum(tokens_of(e["usage"])[k] for e in mine) for k in TOKEN_KINDS}, sid
        assert (row["api_calls"], row["main_api_calls"]) == (len(mine), sum(e["kind"] == "main" for e in mine)), sid
        want = sum((expected_cost(e) for e in mine), Decimal(0))
        assert abs(Decimal(str(row["cost_usd"])) - want) < Decimal("0.000001"), sid


def _fixture(name: str) -> tuple[Path, list[dict], list[str], dict]:
    d = FIXTURES / name
    truth = [json.loads(line) for line in (d / "truth.jsonl").read_text().splitlines() if line.strip()]
    meta = json.loads((d / "scenario.json").read_text())
    return d, truth, meta["session_ids"], meta


@pytest.mark.parametrize("name", SCENARIOS)
def test_committed_fixture_equals_truth(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    d, truth, sids, _meta = _fixture(name)
    check_against_truth(capsys, d, truth, sids)


@pytest.mark.e2e
@pytest.mark.parametrize("name", SCENARIOS)
def test_fresh_real_client_run_equals_truth(name: str, e2e_scenario: Callable[[str], ScenarioResult],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    r = e2e_scenario(name)
    check_against_truth(capsys, r.config_dir, r.truth, r.session_ids)


def test_fork_counts_only_what_it_added(capsys: pytest.CaptureFixture[str]) -> None:
    d, truth, _sids, meta = _fixture("fork")
    parent, fork = meta["info"]["parent_session_id"], meta["info"]["fork_session_id"]
    p = summary_json(capsys, d, parent)
    f = summary_json(capsys, d, fork)
    assert f["copied_api_calls"] == p["api_calls"] > 0
    assert f["api_calls"] == len(truth_for(truth, fork))
    assert p["api_calls"] == len(truth_for(truth, parent))


def test_long_context_request_priced_whole_at_premium(capsys: pytest.CaptureFixture[str]) -> None:
    d, truth, sids, _ = _fixture("long_context_1m")
    long = [e for e in truth_for(truth, sids[0]) if sum(tokens_of(e["usage"]).values()) -
            e["usage"]["output_tokens"] > 200_000]
    assert long, "the scenario must contain a request over 200K"
    s = summary_json(capsys, d, sids[0])
    assert s["context"]["window"] == 1_000_000
    assert s["context"]["peak"] > 200_000


# ------------------------------------------------------------------ ccusage
def ccusage(config_dir: Path, *args: str) -> dict:
    exe = client_path("ccusage")
    out = subprocess.run([str(exe), *args, "--json", "--offline"], capture_output=True, text=True, check=True,
                         env={**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), "TZ": "UTC"}, timeout=120)
    return json.loads(out.stdout)


# Where ccusage is wrong, and why (docs/pricing.md, "Differences from ccusage"):
#  * long_context_1m: ccusage tiers each token kind separately at 200K; Anthropic prices the
#    whole request at the premium once its prompt exceeds 200K.
#  * fork: ccusage counts the fork's copied calls in the fork (first-wins by timestamp; the
#    copies carry the parent's timestamps), we count them once, in the parent; totals agree.
CCUSAGE_TOTAL_DIFFERS = {"long_context_1m"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_totals_equal_ccusage_where_it_prices_correctly(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    require_clients("ccusage")
    d, truth, sids, _ = _fixture(name)
    theirs = ccusage(d, "session")
    rows = sessions_json(capsys, d)
    ours_total = sum(Decimal(str(r["cost_usd"])) for r in rows)
    their_total = Decimal(str(theirs["totals"]["totalCost"]))
    our_tokens = {k: sum(r["tokens"][k] for r in rows) for k in rows[0]["tokens"]}
    assert theirs["totals"]["inputTokens"] == our_tokens["input"]
    assert theirs["totals"]["outputTokens"] == our_tokens["output"]
    assert theirs["totals"]["cacheReadTokens"] == our_tokens["cache_read"]
    assert theirs["totals"]["cacheCreationTokens"] == our_tokens["cache_write_5m"] + our_tokens["cache_write_1h"]
    truth_total = sum((expected_cost(e) for sid in sids for e in truth_for(truth, sid)), Decimal(0))
    assert abs(ours_total - truth_total) < Decimal("0.00001")
    if name in CCUSAGE_TOTAL_DIFFERS:
        assert their_total < truth_total - Decimal("0.0001"), "ccusage now prices long context per request?"
    else:
        assert abs(ours_total - their_total) < Decimal("0.0001")
