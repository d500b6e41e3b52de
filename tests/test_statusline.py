"""`spendtui statusline`: the line Claude Code shows under its prompt."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from spendtui.cli import main
from spendtui.core.loader import load_session
from spendtui.core.pricing import PriceTable
from spendtui.core.statusline import files_for_transcript, render
from tests.records import assistant, usage, user, write_jsonl

T_LAST = "2026-11-20T12:00:00.000Z"


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"),
        assistant("m1", "r1", usage(inp=10, out=1000, cw5=40_000), when="2026-11-20T11:59:00.000Z"),
        assistant("m2", "r2", usage(inp=10, out=1000, cw5=10_000, cr=40_000), when=T_LAST),
    ])


def test_render_numbers(transcript: Path) -> None:
    prices = PriceTable.default()
    model = load_session(files_for_transcript(transcript), prices.cost)
    now = datetime.fromisoformat(T_LAST.replace("Z", "+00:00")).timestamp() + 70
    line = render(model, prices, {"model": {"display_name": "Sonnet 4.5"}}, now=now)
    # Sonnet 4.5: 2 x (10 in x $3 + 1000 out x $15) + 50,000 5m writes x $3.75 + 40,000 reads x $0.30
    cost = (2 * (10 * 3 + 1000 * 15) + 50_000 * Decimal("3.75") + 40_000 * Decimal("0.3")) / 10**6
    assert f"${cost:.3f}" == "$0.230"
    ctx = 10 + 10_000 + 40_000  # the last call's prompt
    assert line == f"Sonnet 4.5 · ${cost:.3f} · ctx 50K {100 * ctx / 167_000:.0f}% of 167K · cache 3:50"
    cold = render(model, prices, {}, now=now + 300)
    # resending the 50,010-token prompt: written again at $3.75 instead of read at $0.30
    penalty = 50_010 * (Decimal("3.75") - Decimal("0.30")) / 10**6
    assert cold.endswith(f"cache cold (+${penalty:.3f} next)")
    # a clock behind the transcript's (written on a machine running ahead): a full TTL, not hours
    assert render(model, prices, {}, now=now - 86400).endswith("cache 5:00")
    assert cold.startswith("Sonnet 4.5 · ")  # named from the model id when the hook gives no name


def test_the_compact_advice_in_dollars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Past 150K tokens of context, a /compact that pays for itself within 10 calls is
    the line's advice, with what it saves per call: everything but the first prompt and
    a 4K summary, no longer read from the cache on each call."""
    first = 20_000
    ctx = 10 + 1_000 + 179_000
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"),
        assistant("m1", "r1", usage(inp=10, out=100, cw5=first - 10), when="2026-11-20T11:00:00.000Z"),
        assistant("m2", "r2", usage(inp=10, out=100, cw5=1_000, cr=179_000), when=T_LAST),
    ])
    hook = {"session_id": "s1", "transcript_path": str(path), "model": {"display_name": "Sonnet 4.5"}}
    for _ in range(2):  # built, then from the statusline state
        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(hook)))
        assert main(["statusline"]) == 0
        line = capsys.readouterr().out.strip()
        saving = (ctx - first - 4_000) * Decimal("0.30") / 10**6  # Sonnet 4.5 cache reads: $0.30/MTok
        assert line.endswith(f" · /compact saves ${saving:.3f}/call"), line
    # a small context: no advice
    prices = PriceTable.default()
    small = render(load_session(files_for_transcript(tmp_path / "projects" / "-p" / "s1.jsonl"), prices.cost),
                   prices, {}, now=0)
    assert "/compact" in small
    write_jsonl(path, [user("a"), assistant("m1", "r1", usage(inp=10, out=100, cw5=50_000), when=T_LAST)])
    assert "/compact" not in render(load_session(files_for_transcript(path), prices.cost), prices, {}, now=0)


@pytest.mark.parametrize(("model_id", "name"), [
    ("claude-opus-4-6", "Opus 4.6"), ("claude-3-5-haiku-20241022", "Haiku 3.5"),
    ("claude-sonnet-4-5[1m]", "Sonnet 4.5"), ("claude-haiku-4-5-20251001", "Haiku 4.5")])
def test_model_names(model_id: str, name: str) -> None:
    from spendtui.core.statusline import _short_model

    assert _short_model(model_id, None) == name


def test_cli_reads_hook_json(transcript: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    hook = {"session_id": "s1", "transcript_path": str(transcript), "model": {"display_name": "Sonnet 4.5"}}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(hook)))
    assert main(["statusline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sonnet 4.5 · $0.230 · ctx 50K") and out.count("\n") == 1
    # warm: from the cache, same line
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(hook)))
    assert main(["statusline"]) == 0
    assert capsys.readouterr().out.split(" · cache")[0] == out.split(" · cache")[0]


@pytest.mark.parametrize("stdin", ["", "not json", "[1]", '{"transcript_path": "/nope/x.jsonl"}'])
def test_cli_never_fails_loudly(stdin: str, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["statusline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("spendtui: ") and out.count("\n") == 1


def test_budget_in_the_line(transcript: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[budget]\nsession_usd = 0.5\n")
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    hook = {"session_id": "s1", "transcript_path": str(transcript)}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(hook)))
    assert main(["statusline", "--claude-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # $0.230 of a $0.50 session budget
    assert out.rstrip().endswith(" · session 46% of $0.500")


# ------------------------------------------------------------------ budget flags
def _line(argv: list[str], hook: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          through_cli: bool = False) -> str:
    from spendtui.entry import main as entry_main

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(hook)))
    assert (main if through_cli else entry_main)(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return out.rstrip("\n")


@pytest.mark.parametrize("through_cli", [False, True])
def test_session_budget_flag_on_the_fast_path(transcript: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], through_cli: bool) -> None:
    """$0.230 (see test_render_numbers) of a $0.50 flag budget; the flag wins over the config's $0.10.
    A session budget needs no session model: the state's numbers are enough."""
    Path(os.environ["SPENDTUI_CONFIG"]).write_text("[budget]\nsession_usd = 0.1\n")

    def full(*_a: object, **_k: object) -> str:
        raise AssertionError("a session budget needs no session model")

    monkeypatch.setattr("spendtui.core.statusline.full_text", full)
    hook = {"transcript_path": str(transcript)}
    for argv in (["statusline", "--session-budget", "0.5"], ["--session-budget=0.5", "statusline"]):
        assert _line(argv, hook, monkeypatch, capsys, through_cli).endswith(" · session 46% of $0.500")
    assert _line(["statusline"], hook, monkeypatch, capsys, through_cli).endswith(" · !session 230% of $0.100")


def test_daily_budget_flag_counts_the_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A call made just now: 1,000 output tokens on Sonnet 4.5 = $0.015, 75 % of a $0.02 day."""
    now = datetime.now().astimezone().isoformat().replace("+00:00", "Z")
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [user("a"), assistant("m1", "r1", usage(out=1000),
                                                                                           when=now)])
    line = _line(["statusline", "--claude-dir", str(tmp_path), "--daily-budget", "0.02"],
                 {"transcript_path": str(path)}, monkeypatch, capsys)
    assert line.startswith("Sonnet 4.5 · $0.015") and " · day 75% of $0.020" in line


def test_bad_budget_flag_says_so_in_the_line(transcript: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    line = _line(["statusline", "--session-budget", "abc"], {"transcript_path": str(transcript)}, monkeypatch,
                 capsys)
    assert line == "spendtui: --session-budget: expected a number of USD, got 'abc'"
    line = _line(["statusline", "--daily-budget", "0"], {"transcript_path": str(transcript)}, monkeypatch, capsys)
    assert line == "spendtui: --daily-budget: a budget must be a positive amount of USD, got '0'"


def test_a_session_budget_flag_costs_no_import(transcript: Path) -> None:
    """`--session-budget 0.5` is read by hand on the fast path: neither decimal nor the budget
    module (nor the CLI) is imported for it once the state exists."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    code = ("import sys\nfrom spendtui.entry import main\nmain(['statusline', '--session-budget', '0.5'])\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    hook = json.dumps({"transcript_path": str(transcript)})
    for _ in range(2):  # the first run builds the state
        p = subprocess.run([sys.executable, "-c", code], input=hook, capture_output=True, text=True, env=env,
                           check=True, timeout=60)
    assert p.stdout.rstrip().endswith(" · session 46% of $0.500")
    assert not {"decimal", "spendtui.core.budget", "spendtui.cli", "argparse"} & set(p.stderr.split())
