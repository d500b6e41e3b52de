"""Shared pieces of the hardening tests: real 2.1.197 transcripts copied into a temp
Claude config dir, `spendtui ... --json` run in-process, and the totals to compare."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spendtui.cli import main
from spendtui.core.loader import load_with_dedup
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from tests.conftest import FIXTURES

CC2197 = FIXTURES / "cc2197"

# What "the totals of the good lines" means: every number a user is billed on.
TOTAL_KEYS = (
    "api_calls",
    "main_api_calls",
    "copied_api_calls",
    "turns",
    "tokens",
    "cost_usd",
    "cost_complete",
    "cost_by_model",
    "calls_by_model",
    "cost_by_kind",
    "main_cost_usd",
    "subagent_cost_usd",
    "subagents",
    "compactions",
    "model_switches",
    "web_search_requests",
)


def screen_text(app: Any) -> str:
    """What a running app shows, as text (its SVG screenshot without the markup)."""
    svg = app.export_screenshot()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", svg)).replace("&#160;", " ")


def one_shot(path: Path) -> dict[str, Any]:
    """``summary --json``'s dict of the session whose main file is ``path``, read in one go."""
    files = scan_project(path.parent)[path.stem]
    prices = PriceTable.default()
    return session_summary(load_with_dedup(files, prices.cost), prices, now=0.0)


def totals(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: summary[k] for k in TOTAL_KEYS}
    out["context_peak"] = summary["context"]["peak"]
    return out


def run_cli(*args: str) -> tuple[int, str, str]:
    """`spendtui ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def summary_json(claude_dir: Path, session: str, *extra: str) -> dict[str, Any]:
    code, out, err = run_cli("summary", "--claude-dir", str(claude_dir), session, "--json", *extra)
    assert code == 0, err
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def copy_scenario(name: str, dest: Path) -> Path:
    """A real 2.1.197 scenario as a Claude config dir under ``dest``; returns the dir."""
    shutil.copytree(CC2197 / name / "projects", dest / "projects")
    return dest


def main_file(claude_dir: Path, session: str | None = None) -> Path:
    files = sorted((claude_dir / "projects").glob("*/*.jsonl"))
    if session is not None:
        files = [f for f in files if f.stem == session]
    assert files, f"no transcript in {claude_dir}"
    return files[0]


def lines_of(path: Path) -> list[bytes]:
    """The file's lines without their newlines (the file ends with one)."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def write_lines(path: Path, lines: Sequence[bytes], newline_at_end: bool = True) -> None:
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))


def usage_lines(lines: Sequence[bytes]) -> list[int]:
    return [i for i, raw in enumerate(lines) if b'"usage"' in raw and b'"type":"assistant"' in raw]


def fresh_call(template: bytes, n: int) -> dict[str, Any]:
    """A copy of a real API call line with new ids (a call of its own, not a dedup copy)."""
    rec: dict[str, Any] = json.loads(template)
    rec["message"]["id"] = f"msg_hardening_{n}"
    rec["requestId"] = f"req_hardening_{n}"
    rec["uuid"] = f"00000000-0000-4000-8000-{n:012d}"
    return rec
