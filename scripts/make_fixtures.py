#!/usr/bin/env python3
"""Regenerate ``tests/fixtures/cc2197/``: real Claude Code 2.1.197 transcripts + ground truth.

Runs every scenario of ``tests/e2e/scenarios.py`` (the real ``claude`` against the loopback fake
API, see ``tests/harness/``) under ``/tmp/spendtui-e2e/<scenario>/`` and copies, per scenario:

* ``projects/<encoded project path>/…`` – the session files with their ``<session>/subagents/``
  dirs (``agent-*.jsonl`` + ``agent-*.meta.json``), i.e. a config-dir-shaped tree that can be
  used as ``CLAUDE_CONFIG_DIR``;
* ``truth.jsonl`` – the fake API's ground-truth log (one line per request served);
* ``scenario.json`` – session ids, project path and scenario facts.

Usage::

    bash scripts/install_e2e.sh            # once: pinned claude + ccusage in .e2e/
    python scripts/make_fixtures.py        # all scenarios
    python scripts/make_fixtures.py fork   # just some
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.scenarios import SCENARIOS, ScenarioResult, run_scenario  # noqa: E402
from tests.harness.tools import CLAUDE_VERSION, claude_bin  # noqa: E402

WORK_BASE = Path("/tmp/spendtui-e2e")
OUT = REPO / "tests" / "fixtures" / "cc2197"

README = """\
# Claude Code {version} transcript fixtures

Genuine transcripts written by the real `@anthropic-ai/claude-code@{version}` CLI, driven against
the loopback fake Anthropic API of `tests/harness/fake_api.py`, plus the ground-truth log of the
usage that fake reported for every request. **Generated – do not edit by hand.** Regenerate with

```sh
bash scripts/install_e2e.sh
python scripts/make_fixtures.py          # or: python scripts/make_fixtures.py <scenario> ...
```

Each `<scenario>/` directory is config-dir-shaped (usable as `CLAUDE_CONFIG_DIR`):

| path | what |
|---|---|
| `projects/<encoded cwd>/<session>.jsonl` | main session transcripts |
| `projects/<encoded cwd>/<session>/subagents/agent-<id>.jsonl`, `.meta.json` | sub-agent transcripts |
| `truth.jsonl` | one line per `/v1/messages` request the fake served (fields below) |
| `scenario.json` | `session_ids` (main sessions in creation order), `project_cwd`, scenario facts (`info`) |

`truth.jsonl` fields: `request_id`, `message_id`, `model` (the dated id the fake answered
with), `request_model` (what claude sent), `usage` (exactly what was reported), `stream`,
`kind` (`main`/`subagent`/`compact`/`title`/`quota`/`side`/`other`), `session_id` (claude's
`X-Claude-Code-Session-Id` header), `context_1m` (the `context-1m-*` beta was sent), `plan`,
`step`, `cache_ttls`, `tool_uses`, … (see `tests/harness/fake_api.py`).

The project directory was `/tmp/spendtui-e2e/<scenario>/project` (a throw-away dir holding one
`notes.txt`), so no personal data is in here. Timestamps, session ids and uuids change on every
regeneration; `msg_…`/`req_…`/`toolu_…` ids are deterministic per scenario.

Ground-truth kinds `compact`, `title` and `quota` are real API calls that Claude Code {version}
does **not** write to any transcript (see `docs/claude-code-format-notes.md`).

| scenario | what it exercises |
|---|---|
{table}
"""


def _doc_line(fn: object) -> str:
    doc = (getattr(fn, "__doc__", "") or "").strip().splitlines()
    return doc[0] if doc else ""


def copy_scenario(res: ScenarioResult, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    src_projects = res.config_dir / "projects"
    for f in sorted(src_projects.rglob("*")):
        if f.is_file() and (f.suffix == ".jsonl" or f.name.endswith(".meta.json")):
            target = dest / "projects" / f.relative_to(src_projects)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
    assert res.truth_path is not None
    shutil.copy2(res.truth_path, dest / "truth.jsonl")
    info = {k: v for k, v in res.info.items() if k != "keys"}
    (dest / "scenario.json").write_text(json.dumps({
        "scenario": res.name,
        "claude_code_version": CLAUDE_VERSION,
        "project_cwd": str(res.project_cwd),
        "session_ids": res.session_ids,
        "info": info,
    }, indent=2) + "\n")


def check_no_personal_data(dest: Path) -> None:
    home = str(Path.home())
    bad = [home + "/", str(REPO)]
    for f in dest.rglob("*"):
        if f.is_file():
            text = f.read_text(errors="replace")
            for b in bad:
                if b in text:
                    raise SystemExit(f"{f} mentions {b!r}; refusing to write fixtures")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--work", type=Path, default=WORK_BASE)
    a = ap.parse_args(argv)
    names = a.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {unknown}")
    claude_bin()  # fail early when the client is missing
    a.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.monotonic()
        res = run_scenario(name, a.work)
        dest = a.out / name
        copy_scenario(res, dest)
        check_no_personal_data(dest)
        size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
        print(f"{name:18s} {time.monotonic() - t0:5.1f}s  sessions={len(res.session_ids)} "
              f"requests={len(res.truth)}  {size / 1024:.0f} KiB -> {dest.relative_to(REPO)}")
    table = "\n".join(f"| `{n}` | {_doc_line(fn)} |" for n, fn in SCENARIOS.items())
    (a.out / "README.md").write_text(README.format(version=CLAUDE_VERSION, table=table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
