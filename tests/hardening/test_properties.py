"""Property-based tests (issue 6, part 2) on real Claude Code 2.1.197 transcripts.

* However the bytes of a session are handed to the live follower — appended in chunks
  cut anywhere (mid-line, mid-UTF-8 character, right before a newline), the main file
  and the sub-agent file interleaved, polled after some writes and not others — its
  model ends equal to a one-shot parse (the whole ``session_summary`` dict).
* Dedup is idempotent: a file ingested twice counts once; the lines of one response in
  any order, and streaming placeholders (smaller ``output_tokens``) next to them, count
  once, as the largest copy.
* Reading again never double counts: polls with nothing new, a reload, a fresh reader.
* The result cache gives the same summary as no cache, run after run, while the files
  grow in random chunks.
"""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendtui.core.cache import SessionCache
from spendtui.core.follow import SessionFollower
from spendtui.core.jsonl import LineReader
from spendtui.core.loader import feed_file, load_session
from spendtui.core.model import SessionModel, Source, parse_ts
from spendtui.core.paths import SessionFiles, scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from tests.hardening.conftest import CC2197, totals

PRICES = PriceTable.default()
SETTINGS = settings(max_examples=25, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Transcript:
    """One real session: its files relative to the project folder, and their bytes."""

    name: str
    session_id: str
    files: tuple[tuple[str, bytes], ...]  # main first
    extra: tuple[tuple[str, bytes], ...]  # .meta.json files

    def lines(self) -> list[tuple[int, bytes]]:
        """Every line (with its newline) of every file, in the order a live writer would
        have written them: files merged by timestamp, each file's own order kept."""
        def stream(i: int, data: bytes) -> Iterator[tuple[float, int, int, bytes]]:
            last = float("-inf")
            for j, raw in enumerate(data.splitlines(keepends=True)):
                try:
                    ts = parse_ts(json.loads(raw).get("timestamp"))
                except ValueError:
                    ts = None
                if ts is not None:
                    last = max(last, ts.timestamp())
                yield (last, i, j, raw)

        merged = heapq.merge(*(stream(i, d) for i, (_, d) in enumerate(self.files)), key=lambda t: t[0])
        return [(i, raw) for _, i, _, raw in merged]


def _load(name: str, session_id: str | None = None) -> Transcript:
    proj = next((CC2197 / name / "projects").iterdir())
    mains = sorted(proj.glob("*.jsonl"))
    main = next(m for m in mains if session_id in (None, m.stem))
    files = [(main.name, main.read_bytes())]
    extra = []
    sub = proj / main.stem / "subagents"
    if sub.is_dir():
        for p in sorted(sub.glob("*.jsonl")):
            files.append((str(p.relative_to(proj)), p.read_bytes()))
        for p in sorted(sub.glob("*.meta.json")):
            extra.append((str(p.relative_to(proj)), p.read_bytes()))
    return Transcript(name, main.stem, tuple(files), tuple(extra))


TRANSCRIPTS = [
    _load("subagent"),
    _load("cache_1h"),
    _load("tool_use"),
    _load("auto_compact"),
    _load("interactive", "fc86a3c8-89f7-4870-9251-d1cb5a27a97b"),
]


def _one_shot(proj: Path, sid: str) -> SessionModel:
    return load_session(scan_project(proj)[sid], PRICES.cost)


def _summary(model: SessionModel) -> dict[str, Any]:
    return session_summary(model, PRICES, now=0.0, top_calls=1000)


def _cuts(data: bytes) -> st.SearchStrategy[int]:
    """Cut points: anywhere, with extra weight on the places that break naive readers."""
    special = set()
    for i, b in enumerate(data):
        if b == 0x0A:
            special.update((i, i + 1))
        elif b >= 0xC0:  # the lead byte of a multi-byte character: cut inside it
            n = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            special.update(range(i + 1, i + n))
    return st.one_of(st.integers(0, len(data)), st.sampled_from(sorted(special)))


# ------------------------------------------------------------ live == one-shot
@st.composite
def writes(draw: st.DrawFn, t: Transcript) -> list[tuple[int, bytes, bool]]:
    """(file index, bytes to append, poll afterwards) in a live writer's order."""
    ops: list[tuple[int, bytes, bool]] = []
    for i, raw in t.lines():
        cuts = sorted(set(draw(st.lists(_cuts(raw), max_size=3))))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        for piece in pieces:
            if piece:
                ops.append((i, piece, draw(st.booleans())))
    return ops


@SETTINGS
@given(data=st.data())
def test_live_follower_equals_one_shot_however_bytes_arrive(data: st.DataObject) -> None:
    t = data.draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    ops = data.draw(writes(t), label="writes")
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "projects" / "-p"
        proj.mkdir(parents=True)
        main = proj / t.files[0][0]
        main.write_bytes(b"")  # Claude Code creates the file, then writes
        f = SessionFollower(SessionFiles(t.session_id, proj, main), PRICES.cost, follow_clear=False)
        f.load()
        for rel, blob in t.extra:
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_bytes(blob)
        for i, piece, poll in ops:
            path = proj / t.files[i][0]
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(piece)
            if poll:
                f.poll()
        f.poll()
        f.poll()  # a second pass over files that were new in the first one
        live = _summary(f.model)
        want = _summary(_one_shot(proj, t.session_id))
    assert live == want
    assert live["skipped_lines"] == 0


@SETTINGS
@given(data=st.data())
def test_any_chunking_of_one_file_equals_one_shot(data: st.DataObject) -> None:
    """One file, cut into chunks anywhere (not only inside lines: across them too)."""
    t = data.draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    blob = t.files[0][1]
    cuts = sorted(set(data.draw(st.lists(_cuts(blob), max_size=60), label="cuts")))
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "projects" / "-p"
        proj.mkdir(parents=True)
        main = proj / t.files[0][0]
        main.write_bytes(b"")
        f = SessionFollower(SessionFiles(t.session_id, proj, main), PRICES.cost, follow_clear=False)
        f.load()
        for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True):
            with open(main, "ab") as fh:
                fh.write(blob[a:b])
            f.poll()
        live = _summary(f.model)
        want = _summary(load_session(SessionFiles(t.session_id, proj, main), PRICES.cost))
    assert live == want


# ------------------------------------------------------------------- dedup
def _responses(lines: list[bytes]) -> dict[tuple[str, str], list[int]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, raw in enumerate(lines):
        rec = json.loads(raw)
        msg = rec.get("message")
        if rec.get("type") == "assistant" and isinstance(msg, dict) and msg.get("usage") is not None:
            groups.setdefault((msg["id"], rec.get("requestId") or ""), []).append(i)
    return groups


def _model_of(lines: list[bytes], tmp: Path) -> SessionModel:
    p = tmp / "s.jsonl"
    p.write_bytes(b"".join(raw + b"\n" for raw in lines))
    return load_session(SessionFiles("s", tmp, p), PRICES.cost)


@SETTINGS
@given(data=st.data())
def test_lines_of_a_response_in_any_order_count_once(data: st.DataObject) -> None:
    t = data.draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    lines = t.files[0][1].splitlines()
    shuffled = list(lines)
    for slots in _responses(lines).values():
        order = data.draw(st.permutations(slots))
        for dst, src in zip(slots, order, strict=True):
            shuffled[dst] = lines[src]
    with tempfile.TemporaryDirectory() as tmp:
        assert totals(_summary(_model_of(shuffled, Path(tmp)))) == totals(_summary(_model_of(lines, Path(tmp))))


@SETTINGS
@given(data=st.data())
def test_streaming_placeholders_count_once_as_the_largest(data: st.DataObject) -> None:
    """Older Claude Code wrote early block lines of a response with a smaller
    output_tokens; copies with any smaller count, next to a line of the same response
    (before or after it), change nothing."""
    t = data.draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    lines = t.files[0][1].splitlines()
    groups = _responses(lines)
    out: list[bytes] = []
    for i, raw in enumerate(lines):
        key = next((k for k, v in groups.items() if i in v), None)
        copies: list[bytes] = []
        if key is not None:
            for _ in range(data.draw(st.integers(0, 2))):
                rec = json.loads(raw)
                u = rec["message"]["usage"]
                u["output_tokens"] = data.draw(st.integers(0, max(0, u["output_tokens"] - 1)))
                copies.append(json.dumps(rec).encode())
        if copies and data.draw(st.booleans()):
            out += [*copies, raw]
        else:
            out += [raw, *copies]
    with tempfile.TemporaryDirectory() as tmp:
        assert totals(_summary(_model_of(out, Path(tmp)))) == totals(_summary(_model_of(lines, Path(tmp))))


@SETTINGS
@given(t=st.sampled_from(TRANSCRIPTS))
def test_a_file_ingested_twice_counts_its_calls_once(t: Transcript) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp)
        for rel, blob in (*t.files, *t.extra):
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_bytes(blob)
        files = scan_project(proj)[t.session_id]
        once = _summary(load_session(files, PRICES.cost))
        model = load_session(files, PRICES.cost)
        for path in files.files:  # every file again, through new readers
            src = Source(path, agent_id=next((a.agent_id for a in files.agents if a.path == path), None))
            feed_file(model, LineReader(path), src)
        twice = _summary(model)
    money = ("api_calls", "main_api_calls", "tokens", "cost_usd", "cost_by_model", "calls_by_model",
             "cost_by_kind", "main_cost_usd", "subagent_cost_usd", "subagents", "web_search_requests")
    assert {k: twice[k] for k in money} == {k: once[k] for k in money}
    assert twice["context"]["peak"] == once["context"]["peak"]


@pytest.mark.parametrize("t", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_a_file_ingested_twice_counts_its_turns_and_compactions_once(t: Transcript) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp)
        for rel, blob in (*t.files, *t.extra):
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_bytes(blob)
        files = scan_project(proj)[t.session_id]
        once = _summary(load_session(files, PRICES.cost))
        model = load_session(files, PRICES.cost)
        assert files.main is not None
        feed_file(model, LineReader(files.main), Source(files.main))
        twice = _summary(model)
    assert totals(twice) == totals(once)


# -------------------------------------------------------------- re-reading
@SETTINGS
@given(t=st.sampled_from(TRANSCRIPTS), polls=st.integers(1, 5))
def test_reading_again_never_double_counts(t: Transcript, polls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp)
        for rel, blob in (*t.files, *t.extra):
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_bytes(blob)
        f = SessionFollower(scan_project(proj)[t.session_id], PRICES.cost, follow_clear=False)
        f.load()
        first = _summary(f.model)
        for _ in range(polls):
            assert f.poll() == []
        assert _summary(f.model) == first
        f.load()  # what a reset does
        assert _summary(f.model) == first
        for path, (reader, _src) in f.readers.readers.items():  # a reader at the end reads nothing
            assert list(reader.read_lines()) == [], path
        assert _summary(_one_shot(proj, t.session_id)) == first


# ------------------------------------------------------------------ cache
@SETTINGS
@given(data=st.data())
def test_result_cache_equals_no_cache_under_random_growth(data: st.DataObject) -> None:
    """Runs of `summary` (a new SessionCache each, one cache dir) between random appends
    give what a parse from scratch gives, at every step."""
    t = data.draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    ops = data.draw(writes(t), label="writes")
    runs = data.draw(st.lists(st.integers(0, len(ops)), min_size=1, max_size=6), label="runs")
    run_at = set(runs)
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "projects" / "-p"
        cache_root = Path(tmp) / "cache"
        proj.mkdir(parents=True)
        for rel, blob in t.extra:
            (proj / rel).parent.mkdir(parents=True, exist_ok=True)
            (proj / rel).write_bytes(blob)
        for n, (i, piece, _) in enumerate([*ops, (0, b"", False)]):
            if n in run_at or n == len(ops):
                files = scan_project(proj).get(t.session_id)
                if files is not None:
                    cached = _summary(SessionCache(cache_root, PRICES).load(files, PRICES.cost))
                    fresh = _summary(load_session(scan_project(proj)[t.session_id], PRICES.cost))
                    assert cached == fresh, f"after {n} of {len(ops)} writes"
            path = proj / t.files[i][0]
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(piece)
    assert n == len(ops)


def test_transcripts_have_multibyte_characters_and_subagents() -> None:
    """The properties above are only as good as their inputs."""
    assert all(any(b >= 0x80 for _, d in t.files for b in d) for t in TRANSCRIPTS)
    assert sum(len(t.files) > 1 for t in TRANSCRIPTS) >= 2
    assert any(b'"compact_boundary"' in t.files[0][1] for t in TRANSCRIPTS)
