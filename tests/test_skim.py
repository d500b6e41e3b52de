"""The history scan (core/skim.py) against the full session model.

`sessions` and `report` read an old session by parsing only the lines that carry
usage, prompts and titles. Every figure they show must be the one the full model
(``load_session`` + ``session_summary``, which parses every line) computes, so
each test here builds both from the same files and compares them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendtui.core import skim as skim_mod
from spendtui.core.batch import ROW_KEYS
from spendtui.core.cache import light_doc
from spendtui.core.loader import load_session
from spendtui.core.paths import SessionFiles, discover
from spendtui.core.pricing import PriceTable
from spendtui.core.skim import NotCompact, Skim, skim
from spendtui.core.summary import session_summary
from tests import records as R
from tests.conftest import FIXTURES, SAMPLES

ROOT = Path(__file__).resolve().parents[1]
FIELDS = [k for k in ROW_KEYS if k != "active"] + ["ended"]
OLD = 1_700_000_000  # 2023: any file this old is read by the skim, not the full reader


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.default()


NATIVE = skim_mod._native


@pytest.fixture(autouse=True, params=["native", "python"])
def scan_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the compiled byte searches (core/_scan.c) and with the
    Python ones: the two must give the same figures. Where a C compiler exists the
    compiled module must have been built (a silent fallback would test one path twice)."""
    if request.param == "native":
        if NATIVE is None:
            if shutil.which("cc") or shutil.which("gcc"):
                pytest.fail("spendtui.core._scan was not built although a C compiler exists: pip install -e .")
            pytest.skip("no C compiler here: only the Python path runs")
        monkeypatch.setattr(skim_mod, "_native", NATIVE)
        monkeypatch.delenv("SPENDTUI_PURE_SCAN", raising=False)
    else:
        monkeypatch.setattr(skim_mod, "_native", None)
        monkeypatch.setenv("SPENDTUI_PURE_SCAN", "1")
    return str(request.param)


def _full(files: SessionFiles, prices: PriceTable) -> tuple[dict[str, Any], dict[str, Any]]:
    model = load_session(files, prices.cost)
    return session_summary(model, prices, now=0.0, top_calls=0), light_doc(model, prices, files)


def _calls(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    c = doc["calls"]
    models = doc["models"]
    return sorted(zip(c["h"], c["ts"], [models[i] for i in c["m"]], map(tuple, c["tok"]), c["cost"],
                      c["priced"], c["agent"], strict=True))


def assert_same(files: SessionFiles, prices: PriceTable) -> None:
    sk = skim(files, prices.cost)
    assert sk is not None, f"{files.main} fell back to the full reader"
    full, full_doc = _full(files, prices)
    mine = sk.summary(prices, str(files.main) if files.main else None)
    assert {k: mine[k] for k in FIELDS} == {k: full[k] for k in FIELDS}
    doc = sk.light_doc(prices, files)
    assert _calls(doc) == _calls(full_doc)
    assert doc["order"] == full_doc["order"] and doc["project"] == full_doc["project"]


def _sessions(root: Path) -> list[SessionFiles]:
    found = discover([root], [])
    assert found
    return found


# ------------------------------------------------------------ real files
SCENARIOS = sorted(p.parent.name for p in (FIXTURES / "cc2197").glob("*/scenario.json"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_equal_to_the_full_model_on_real_claude_code_transcripts(scenario: str, prices: PriceTable) -> None:
    for files in _sessions(FIXTURES / "cc2197" / scenario):
        assert_same(files, prices)


def test_equal_on_the_public_samples_or_read_in_full(tmp_path: Path, prices: PriceTable) -> None:
    proj = tmp_path / "projects" / "p"
    proj.mkdir(parents=True)
    for f in SAMPLES.glob("*.jsonl"):
        shutil.copyfile(f, proj / f.name)
    skimmed = 0
    for files in _sessions(tmp_path):
        if skim(files, prices.cost) is None:
            # not compact JSON (hand-made): the caller reads these in full
            assert files.main is not None and b'": ' in files.main.read_bytes()
            continue
        assert_same(files, prices)
        skimmed += 1
    assert skimmed >= 8


def _replicate() -> Any:
    spec = importlib.util.spec_from_file_location("replicate", ROOT / "benchmarks" / "replicate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history")
    _replicate().generate(root, 6, seed=7)
    return root


def test_equal_on_a_generated_history(history: Path, prices: PriceTable) -> None:
    sessions = _sessions(history)
    assert len(sessions) > 10 and any(s.agents for s in sessions)
    for files in sessions:
        assert_same(files, prices)


def _cli(root: Path, cache: Path, *args: str) -> list[dict[str, Any]]:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root), "SPENDTUI_CACHE_DIR": str(cache), "TZ": "UTC"}
    out = subprocess.run([sys.executable, "-m", "spendtui", *args, "sessions", "--json"], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)


def test_sessions_cold_equals_the_full_reader_including_forks(tmp_path: Path, history: Path) -> None:
    root = tmp_path / "claude"
    shutil.copytree(history, root)
    fork = FIXTURES / "cc2197" / "fork" / "projects"
    shutil.copytree(fork, root / "projects", dirs_exist_ok=True)
    for p in root.rglob("*"):
        os.utime(p, (OLD, OLD))
    cold = _cli(root, tmp_path / "cache")
    assert cold == _cli(root, tmp_path / "cache", "--no-cache")
    assert cold == _cli(root, tmp_path / "cache")  # warm, from the index
    assert any(r["copied_api_calls"] for r in cold), "the fork's copies count in its parent"


# ---------------------------------------------------------- edge records
def _compact(path: Path, recs: list[dict[str, Any] | str], end: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r, separators=(",", ":")) for r in recs]
    path.write_text("\n".join(lines) + end)
    return path


def _one(tmp_path: Path, recs: list[dict[str, Any] | str], end: str = "\n",
         agents: dict[str, list[dict[str, Any] | str]] | None = None) -> SessionFiles:
    proj = tmp_path / "projects" / "-tmp-proj"
    _compact(proj / "s1.jsonl", recs, end)
    for aid, arecs in (agents or {}).items():
        _compact(proj / "s1" / "subagents" / f"agent-{aid}.jsonl", arecs)
    (found,) = [s for s in discover([tmp_path], []) if s.session_id == "s1"]
    return found


def test_block_lines_keep_the_largest_output_and_replays_count_once(tmp_path: Path, prices: PriceTable) -> None:
    recs: list[dict[str, Any] | str] = [
        R.user("hello", when=R.ts(1)),
        R.assistant("m1", "r1", R.usage(out=1, cw5=900), when=R.ts(2)),
        R.assistant("m1", "r1", R.usage(out=40, cw5=900), when=R.ts(3)),
        R.assistant("m1", "r1", R.usage(out=40, cw5=900), when=R.ts(3)),  # a later block line, same bytes
        R.assistant("m1", "r1", R.usage(out=7, cw5=900), when=R.ts(4)),  # smaller: ignored
        R.assistant("m1", "r-btw", R.usage(out=40, cw5=900), when=R.ts(5), sidechain=True),  # /btw replay
        R.assistant("m2", "r2", R.usage(out=5, cr=900), when=R.ts(6), model="<synthetic>"),
        R.assistant("m3", "r3", R.usage(out=5, cr=900), when=R.ts(7), isApiErrorMessage=True),
        R.assistant("m4", "r4", {"input_tokens": -3, "output_tokens": 1}, when=R.ts(8)),  # invalid: skipped
        # a line cut by a crash, the next record written on after it: one unreadable line
        '{"type":"assistant","message":{"id":"m5","usage":{"input_tokens":3,'
        + json.dumps(R.assistant("m8", "r8", R.usage(out=2), when=R.ts(8)), separators=(",", ":")),
        R.user("hello again", when=R.ts(9)),
        R.assistant("m6", "r6", R.usage(out=3, cr=1000), when=R.ts(10), model="claude-haiku-4-5-20251001"),
    ]
    files = _one(tmp_path, recs, agents={"a1": [
        R.assistant("m7", "r7", R.usage(out=9, cw5=50), when=R.ts(11)),
        R.assistant("m1", "r-agent", R.usage(out=40, cw5=900), when=R.ts(12)),  # a sub-agent's copy
    ]})
    assert_same(files, prices)
    sk = skim(files, prices.cost)
    assert sk is not None
    s = sk.summary(prices, None)
    assert (s["api_calls"], s["main_api_calls"], s["turns"], s["skipped_lines"]) == (3, 2, 2, 2)
    assert s["tokens"]["output"] == 40 + 3 + 9


def test_a_main_chain_copy_replaces_a_sidechain_one(tmp_path: Path, prices: PriceTable) -> None:
    recs: list[dict[str, Any] | str] = [
        R.assistant("m1", "r-side", R.usage(out=4), when=R.ts(1), sidechain=True),
        R.assistant("m1", "r-main", R.usage(out=4), when=R.ts(2)),
        R.assistant("m1", "r-third", R.usage(out=4), when=R.ts(3), sidechain=True),
    ]
    assert_same(_one(tmp_path, recs), prices)


def test_prompts_titles_forks_and_project(tmp_path: Path, prices: PriceTable) -> None:
    prompt = R.user("write the tests", when=R.ts(5), cwd="/work/a")
    recs: list[dict[str, Any] | str] = [
        {"type": "mode", "mode": "default", "sessionId": "s1"},
        {"type": "queue-operation", "operation": "enqueue", "timestamp": R.ts(50, minute=9), "sessionId": "s1"},
        {**prompt, "forkedFrom": {"sessionId": "parent-1", "messageUuid": "x"}},
        {"type": "summary", "summary": "first summary", "leafUuid": "l1"},
        {"type": "summary", "summary": "second summary", "leafUuid": "l2"},
        prompt,  # the same prompt written again after a compaction: one turn
        R.user("<command-name>/model</command-name>", when=R.ts(6)),
        R.user([{"type": "text", "text": "meta"}], when=R.ts(7), isMeta=True),
        R.tool_result("t1", "file text", when=R.ts(8)),
        R.assistant("m1", "r1", R.usage(out=4), when=R.ts(9), cwd="/work/b"),
        {"type": "ai-title", "aiTitle": "An AI title", "sessionId": "s1"},
        R.user("and now?", when=R.ts(10), isSidechain=True),
    ]
    files = _one(tmp_path, recs)
    assert_same(files, prices)
    sk = skim(files, prices.cost)
    assert sk is not None
    s = sk.summary(prices, None)
    assert (s["turns"], s["title"], s["forked_from"], s["project"]) == (1, "An AI title", "parent-1", "/work/a")
    assert s["started"] == "2026-11-20T12:00:05Z" and s["ended"] == "2026-11-20T12:09:50Z"


def test_times_nested_in_tool_results_and_progress_lines_are_not_the_sessions(tmp_path: Path,
                                                                             prices: PriceTable) -> None:
    early, late = "2020-01-01T00:00:00.000Z", "2030-01-01T00:00:00.000Z"
    recs: list[dict[str, Any] | str] = [
        R.user("go", when=R.ts(5)),
        R.tool_result("t1", "x", when=R.ts(6), toolUseResult={"timestamp": early, "items": [{"timestamp": late}]}),
        {"type": "progress", "timestamp": late, "data": {"type": "x"}, "sessionId": "s1"},
        {"type": "progress", "timestamp": early, "data": {"type": "x"}, "sessionId": "s1"},
        R.assistant("m1", "r1", R.usage(out=4), when=R.ts(7)),
    ]
    files = _one(tmp_path, recs)
    assert_same(files, prices)
    sk = skim(files, prices.cost)
    assert sk is not None and (sk.ts_min, sk.ts_max) == (R.ts(5), R.ts(7))


def test_a_last_line_without_newline(tmp_path: Path, prices: PriceTable) -> None:
    whole = [R.user("go", when=R.ts(1)), R.assistant("m1", "r1", R.usage(out=4), when=R.ts(2))]
    assert_same(_one(tmp_path / "a", whole, end=""), prices)  # a whole record: counted
    cut = [*whole, '{"type":"assistant","message":{"id":"m2","usage":{"input_tokens":3']
    files = _one(tmp_path / "b", cut, end="")  # still being written: not a line yet
    assert_same(files, prices)
    sk = skim(files, prices.cost)
    assert sk is not None and sk.skipped == 0 and len(sk.calls) == 1


@pytest.mark.parametrize("damage", [
    "blank line", "cut line", "pretty JSON", "seconds without milliseconds", "CRLF", "garbage line", "no message id",
])
def test_files_it_cannot_read_exactly_go_to_the_full_reader(damage: str, tmp_path: Path,
                                                           prices: PriceTable) -> None:
    a = R.assistant("m1", "r1", R.usage(out=4), when=R.ts(2))
    recs: list[dict[str, Any] | str] = [R.user("go", when=R.ts(1)), a]
    if damage == "blank line":
        recs.insert(1, "")
    elif damage == "cut line":
        recs.insert(1, '{"type":"assistant","message":{"id":"m5","usage":{"input_tokens":3,')
    elif damage == "pretty JSON":
        recs.append(json.dumps(R.assistant("m2", "r2", R.usage(out=4), when=R.ts(3))))
    elif damage == "seconds without milliseconds":
        recs.append({**R.user("later"), "timestamp": "2026-11-20T12:00:09Z"})
    elif damage == "CRLF":
        recs = [json.dumps(r, separators=(",", ":")) + "\r" for r in recs if not isinstance(r, str)]
    elif damage == "garbage line":
        recs.append("\x00\x01 not json")
    elif damage == "no message id":
        bad = R.assistant("", "r9", R.usage(out=4), when=R.ts(3))
        del bad["uuid"]
        recs.append(bad)
    files = _one(tmp_path, recs)
    assert skim(files, prices.cost) is None


# ------------------------------------------------------------ any damage
_DAMAGE_SRC = FIXTURES / "cc2197" / "subagent"
_DAMAGE_FILES = sorted(p.relative_to(_DAMAGE_SRC) for p in (_DAMAGE_SRC / "projects").rglob("*.jsonl"))


@settings(max_examples=int(os.environ.get("SPENDTUI_MORE_EXAMPLES", 80)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(_DAMAGE_FILES),
       edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(list(b'{}":,\n0123456789 xZ'))),
                      min_size=1, max_size=4))
def test_damaged_files_give_the_full_models_figures_or_go_to_the_full_reader(
        tmp_path_factory: pytest.TempPathFactory, prices: PriceTable, which: Path,
        edits: list[tuple[float, int]]) -> None:
    """Bytes overwritten anywhere: the skim gives the full model's figures, or declines.
    Only a broken line that carries no usage may be missing from its skipped count."""
    root = tmp_path_factory.mktemp("damage")
    shutil.copytree(_DAMAGE_SRC / "projects", root / "projects")
    path = root / which
    data = bytearray(path.read_bytes())
    for where, byte in edits:
        data[min(len(data) - 1, int(where * len(data)))] = byte
    path.write_bytes(bytes(data))
    for files in discover([root], []):
        sk = skim(files, prices.cost)
        if sk is None:
            continue
        full, _ = _full(files, prices)
        mine = sk.summary(prices, str(files.main) if files.main else None)
        same = [k for k in FIELDS if k != "skipped_lines"]
        assert {k: mine[k] for k in same} == {k: full[k] for k in same}
        assert mine["skipped_lines"] <= full["skipped_lines"]


# ------------------------------------------------------------ C and Python: the same searches
_PIECES = [
    R.assistant("m1", "r1", R.usage(out=4), when=R.ts(2)),
    R.assistant("m1", "r1", R.usage(out=9), when=R.ts(3)),
    R.assistant("m2", "r2", R.usage(out=1, cw5=50), when=R.ts(5), sidechain=True),
    R.user("go", when=R.ts(1)),
    R.user("again", when=R.ts(7)),
    {**R.user("x", when=R.ts(4)), "forkedFrom": {"sessionId": "parent-1"}},
    {"type": "summary", "summary": "a title"},
    {"type": "ai-title", "aiTitle": "better", "timestamp": R.ts(6)},
    {"type": "custom-title", "customTitle": "mine"},
    {"type": "progress", "timestamp": R.ts(0), "data": {"type": "user", "timestamp": R.ts(9)}},
    {"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": 'said "usage": and "type":"user"'}]},
     "timestamp": R.ts(8), "uuid": "u-tr"},
]
_LINES = [json.dumps(p, separators=(",", ":")).encode() for p in _PIECES] + [
    b'{"type": "user","message":{"role":"user","content":"spaced"}}',
    b'{"type":"assistant","message":{"id":"m3","model":"claude-sonnet-4-5","usage": {"input_tokens":1}}}',
    b'{"type":"user","timestamp":"2026-11-20T12:00:09Z","message":{"role":"user","content":"no ms"}}',
    b'{"type":"user","message":{"role":"user","content":"ts \\"timestamp\\":\\"x\\""},"timestamp":"'
    + R.ts(3).encode() + b'"}',
    b"",
    b"not json",
    b'{"broken":',
    b'x{"type":"summary","summary":"ends like a record"}',
]


def _state(buf: bytes, agent_file: bool, native: Any) -> Any:
    sk = Skim("s", None)
    old = skim_mod._native
    skim_mod._native = native
    try:
        skim_mod._scan_chunk(sk, buf, agent_file, main=not agent_file)
    except NotCompact:
        return "not compact"
    finally:
        skim_mod._native = old
    return ({k: (c.model, c.usage, c.ts, c.agent) for k, c in sk.calls.items()}, sk.turns, sk.title,
            sk.custom_title, sk.forked_from, sk.ts_min, sk.ts_max, sk.skipped)


@pytest.mark.skipif(NATIVE is None, reason="the compiled scanner is not built here")
@settings(max_examples=int(os.environ.get("SPENDTUI_MORE_EXAMPLES", 300)), deadline=None)
@given(lines=st.lists(st.sampled_from(_LINES), min_size=1, max_size=12), agent_file=st.booleans())
def test_the_compiled_and_python_searches_agree(lines: list[bytes], agent_file: bool) -> None:
    """Any mix of wanted, unwanted, spaced, nested and broken lines: the same state."""
    buf = b"\n".join(lines) + b"\n"
    assert _state(buf, agent_file, NATIVE) == _state(buf, agent_file, None)
