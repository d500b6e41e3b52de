"""The status line's per-transcript state (spendtui.core.linestate).

A warm run reads on from the bytes appended since the previous one; its line must be
the one a from-scratch read of the same bytes gives with the session model, whatever
was appended (chunks that cut lines in half, sub-agent files growing in between, a
file replaced by a shorter one, a line repeating an old call). Its shortcuts (the
stdlib JSON parser, the remembered integer rates, the plain usage shape) must agree
with what the loader and the price table do.
"""

from __future__ import annotations

import io
import json
import os
import random
import stat
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spendtui.core import linestate
from spendtui.core.jsonl import parse_line
from spendtui.core.loader import load_session
from spendtui.core.pricing import PriceTable
from spendtui.core.statusline import files_for_transcript, line_data, render_line
from spendtui.core.usage import Usage, UsageError
from spendtui.entry import main as entry_main
from spendtui.entry import statusline_args
from tests.conftest import FIXTURES, SAMPLES
from tests.records import assistant, usage, user, write_jsonl

REPO = Path(__file__).resolve().parents[1]
SUBAGENT_SESSION = (FIXTURES / "cc2197/subagent/projects/-tmp-spendtui-e2e-subagent-project"
                    / "ffd57f4e-a0e4-47ac-988c-216215ac867b.jsonl")


def sessions() -> list[Path]:
    """Every real main transcript we have (its sub-agent files come along)."""
    mains = sorted(p for p in (FIXTURES / "cc2197").glob("*/projects/*/*.jsonl"))
    return mains + sorted(SAMPLES.glob("*.jsonl"))


def reference(path: Path) -> tuple[Any, ...]:
    """The line's numbers from the session model, read from scratch."""
    prices = PriceTable.default()
    return line_data(load_session(files_for_transcript(path), prices.cost), prices).as_tuple()


def state(path: Path, use_state: bool = True) -> linestate.Result:
    return linestate.compute(str(path), use_state=use_state)


def copy_session(src: Path, dest_dir: Path) -> list[tuple[Path, bytes]]:
    """(destination, bytes) of a session's main and sub-agent files, destinations empty."""
    out = []
    main = dest_dir / "projects" / "-p" / src.name
    for name, p in linestate.session_files(str(src)):
        dst = main if not name else main.with_suffix("") / "subagents" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(b"")
        out.append((dst, Path(p).read_bytes()))
    return out


# ------------------------------------------------------------------ the same numbers


def test_constants_are_the_modules_own() -> None:
    from spendtui.core import jsonl, live, summary, usage

    assert linestate.MAX_LINE == jsonl.MAX_LINE
    assert linestate.TTL_LOOKBACK == live.TTL_LOOKBACK
    assert (linestate.CACHE_TTL_5M, linestate.CACHE_TTL_1H) == (live.CACHE_TTL_5M, live.CACHE_TTL_1H)
    assert (linestate.DEFAULT_WINDOW, linestate.LONG_WINDOW) == (summary.DEFAULT_WINDOW, summary.LONG_WINDOW)
    assert linestate._MAX_TOKENS == usage._MAX_TOKENS
    from spendtui.core import statusline

    assert statusline.AUTO_COMPACT_BUFFER == live.AUTO_COMPACT_BUFFER
    assert statusline.PICO == summary.PICO


def test_paths_are_the_config_modules() -> None:
    from spendtui.core import config

    assert linestate.cache_root() == str(config.cache_dir())
    assert linestate.config_file() == str(config.config_path())
    os.environ.pop("SPENDTUI_CACHE_DIR")
    os.environ.pop("SPENDTUI_CONFIG")
    assert linestate.cache_root() == str(config.cache_dir())
    assert linestate.config_file() == str(config.config_path())


@pytest.mark.parametrize("path", sessions(), ids=lambda p: p.name[:40])
def test_from_scratch_equals_the_model(path: Path) -> None:
    assert [n for n, _ in linestate.session_files(str(path))][1:] == [
        a.path.relative_to(path.with_suffix("") / "subagents").as_posix() for a in files_for_transcript(path).agents]
    assert state(path, use_state=False).data.as_tuple() == reference(path)


def test_sub_agent_files_in_the_loaders_order(tmp_path: Path) -> None:
    """Nested folders too: the same files, in the same order, as files_for_transcript."""
    main = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [user("a")])
    sub = main.with_suffix("") / "subagents"
    for i, rel in enumerate(["b.jsonl", "a-b/c.jsonl", "a/b.jsonl", "a/z/x.jsonl", "a.jsonl", "z/.h.jsonl"]):
        write_jsonl(sub / rel, [assistant(f"m{i}", f"r{i}", usage(out=i + 1), when="2026-11-20T11:00:00.000Z")])
    (sub / "agent-x.meta.json").write_text("{}")
    (sub / "notes.txt").write_text("x")
    want = [a.path.relative_to(sub).as_posix() for a in files_for_transcript(main).agents]
    assert [n for n, _ in linestate.session_files(str(main))][1:] == want
    assert sorted(linestate.agent_names(str(sub))) == sorted(want)
    assert state(main).data.as_tuple() == reference(main)
    with open(sub / "a" / "z" / "x.jsonl", "a") as f:
        f.write(json.dumps(assistant("m9", "r9", usage(out=50), when="2026-11-20T11:00:09.000Z")) + "\n")
    res = state(main)
    assert res.how == "grown" and res.data.as_tuple() == reference(main)


@pytest.mark.parametrize("block", [1, 7, 300, 5000])
def test_block_boundaries_and_long_lines(block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines cut by read blocks, and lines longer than MAX_LINE (dropped, as the reader
    drops them), give the model's numbers; the sessions are concatenated into one file."""
    from spendtui.core import jsonl

    monkeypatch.setattr(linestate, "BLOCK", block)
    monkeypatch.setattr(linestate, "MAX_LINE", 3000)
    monkeypatch.setattr(jsonl, "MAX_LINE", 3000)
    path = tmp_path / "projects" / "-p" / "all.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(p.read_bytes() for p in sessions()))
    assert state(path, use_state=False).data.as_tuple() == reference(path)
    with open(path, "ab") as f:  # a last line without newline, then one over the limit
        f.write(json.dumps(assistant("z1", "z1", usage(out=7, cr=100), when="2026-11-20T11:00:00.000Z")).encode())
    assert state(path).data.as_tuple() == reference(path)
    with open(path, "ab") as f:
        f.write(b"\n" + json.dumps(assistant("z2", "z2", usage(out=7), content=[{"type": "text", "text": "x" * 4000}],
                                           when="2026-11-20T11:00:01.000Z")).encode() + b"\n")
    assert state(path).data.as_tuple() == reference(path)


@pytest.mark.parametrize("recent", [64, 1])
@pytest.mark.parametrize("path", sessions(), ids=lambda p: p.name[:40])
def test_appended_in_chunks(path: Path, recent: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes arrive in random chunks (halves of lines, several lines, one file then
    another); after each, the warm line equals a from-scratch one. ``recent=1`` keeps
    only one call's details, so most dedup checks go through the keys file."""
    monkeypatch.setattr(linestate, "RECENT", recent)
    monkeypatch.setattr(linestate, "KEYS_TAIL_MAX", 3)  # the keys file is sorted again every few calls
    rng = random.Random(f"{path.name}{recent}")
    files = copy_session(path, tmp_path)
    main = files[0][0]
    pos = [0] * len(files)
    runs: dict[str, int] = {}
    while any(p < len(data) for p, (_, data) in zip(pos, files, strict=True)):
        i = rng.choice([i for i, (_, data) in enumerate(files) if pos[i] < len(data)])
        dst, data = files[i]
        end = min(len(data), pos[i] + rng.choice([1, 9, 60, 400, 3000, 20000]))
        with open(dst, "ab") as f:
            f.write(data[pos[i]:end])
        pos[i] = end
        res = state(main)
        runs[res.how] = runs.get(res.how, 0) + 1
        assert res.data.as_tuple() == reference(main), (dst.name, end)
    assert runs.get("built") == 1  # the first run only: every other one read on


def test_the_cli_line_warm_and_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    src = SUBAGENT_SESSION
    files = copy_session(src, tmp_path)
    for dst, data in files:
        dst.write_bytes(data)
    main = files[0][0]
    hook = json.dumps({"transcript_path": str(main), "model": {"display_name": "X"}})
    lines = []
    for args in (["statusline"], ["statusline"], ["statusline", "--no-cache"]):
        monkeypatch.setattr("sys.stdin", io.StringIO(hook))
        assert entry_main(args) == 0
        lines.append(capsys.readouterr().out)
    prices = PriceTable.default()
    model = load_session(files_for_transcript(main), prices.cost)
    want = render_line(line_data(model, prices), json.loads(hook), now=0).split(" · cache")[0]
    assert [ln.split(" · cache")[0] for ln in lines] == [want] * 3
    assert lines[0].count("\n") == 1


# ------------------------------------------------------------------ what makes it read again


@pytest.fixture
def long_session(tmp_path: Path) -> Path:
    """80 main calls (more than the TTL look-back and the recent window), sub-agent calls
    between them, each response written as two block lines."""
    recs: list[dict[str, Any] | str] = [user("go")]
    for i in range(80):
        when = f"2026-11-20T{10 + i // 60:02d}:{i % 60:02d}:00.000Z"
        u1 = usage(inp=5, out=1, cw5=100 * i, cr=1000 + i)
        u2 = usage(inp=5, out=40 + i, cw5=100 * i, cr=1000 + i)
        recs += [assistant(f"m{i}", f"r{i}", u1, when=when), assistant(f"m{i}", f"r{i}", u2, when=when)]
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", recs)
    write_jsonl(path.with_suffix("") / "subagents" / "agent-a1.jsonl",
                [assistant(f"a{i}", f"ra{i}", usage(inp=7, out=3), model="claude-haiku-4-5-20251001",
                           when=f"2026-11-20T10:{i:02d}:30.000Z") for i in range(30)])
    return path


def test_a_line_of_an_old_call_reads_again(long_session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linestate, "RECENT", 4)
    assert state(long_session).how == "built"
    # a copy of the 3rd call with more output: the model re-prices it
    with open(long_session, "a") as f:
        f.write(json.dumps(assistant("m3", "r3", usage(inp=5, out=5000, cw5=300, cr=1003),
                                     when="2026-11-20T10:03:00.000Z")) + "\n")
    res = state(long_session)
    assert res.how == "built"
    assert res.data.as_tuple() == reference(long_session)
    # the same message id under another request id (a /btw replay): also an old call's
    with open(long_session, "a") as f:
        f.write(json.dumps(assistant("m5", "other", usage(inp=1, out=1), when="2026-11-20T11:00:00.000Z")) + "\n")
    res = state(long_session)
    assert res.how == "built"
    assert res.data.as_tuple() == reference(long_session)
    # new calls after that: read on again
    with open(long_session, "a") as f:
        f.write(json.dumps(assistant("m90", "r90", usage(inp=9, out=9, cw1h=500), when="2026-11-20T12:00:00.000Z"))
                + "\n")
    res = state(long_session)
    assert res.how == "grown"
    assert res.data.as_tuple() == reference(long_session)
    assert res.data.ttl == linestate.CACHE_TTL_1H


@pytest.mark.parametrize("tail_max", [0, 5, 10_000])
def test_the_keys_file_knows_every_call_let_go_of(long_session: Path, tail_max: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorted runs searched in place plus an unsorted tail: every key and message id of a
    call no longer held is found, and nothing else is."""
    monkeypatch.setattr(linestate, "RECENT", 2)
    monkeypatch.setattr(linestate, "KEYS_TAIL_MAX", tail_max)
    lines = long_session.read_bytes().splitlines(keepends=True)
    long_session.write_bytes(b"".join(lines[:41]))
    state(long_session)
    for i in range(41, len(lines), 7):  # read on in steps: some calls are let go of each time
        with open(long_session, "ab") as f:
            f.write(b"".join(lines[i:i + 7]))
        assert state(long_session).how == "grown"
    store = linestate.Store(str(long_session), linestate.cache_root())
    doc = store.read()
    assert doc is not None
    held = {(c[0], c[1]) for c in doc["acc"]["calls"]}
    old = linestate.OldKeys(store, doc["keys"])
    try:
        for i in range(80):
            key = (f"m{i}", f"r{i}")
            assert old.has_key(key) == (key not in held), key
            assert old.has_mid(f"m{i}") == (key not in held)
        for i in range(30):
            assert old.has_key((f"a{i}", f"ra{i}")) == ((f"a{i}", f"ra{i}") not in held)
        assert not old.has_key(("m1", "r2")) and not old.has_mid("nope") and not old.has_key(("", ""))
    finally:
        old.close()
    assert doc["keys"][2] <= max(tail_max, 0)
    assert state(long_session).data.as_tuple() == reference(long_session)


def test_sidechain_replays_across_runs(tmp_path: Path) -> None:
    """/btw: a sidechain copy of a main-chain response is not counted; a main-chain copy
    of a sidechain response replaces it. Each half arrives in another run."""
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"), assistant("m1", "r1", usage(out=10, cw5=1000), when="2026-11-20T11:00:00.000Z")])
    steps: list[dict[str, Any]] = [
        assistant("m1", "r2", usage(out=12, cw5=1000), sidechain=True, when="2026-11-20T11:00:05.000Z"),
        assistant("m2", "r3", usage(out=20, cr=900), sidechain=True, when="2026-11-20T11:01:00.000Z"),
        assistant("m2", "r4", usage(out=20, cr=900), when="2026-11-20T11:01:01.000Z"),
        assistant("m2", "r5", usage(out=20, cr=900), when="2026-11-20T11:01:02.000Z"),
        assistant("m3", "r6", usage(out=5, cr=950), when="2026-11-20T11:02:00.000Z"),
    ]
    assert state(path).data.as_tuple() == reference(path)
    for rec in steps:
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        res = state(path)
        assert res.how == "grown"
        assert res.data.as_tuple() == reference(path)


def test_half_written_and_unterminated_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [user("a")])
    line = json.dumps(assistant("m1", "r1", usage(out=10, cw5=1000), when="2026-11-20T11:00:00.000Z"))
    cut = len(line) // 2
    state(path)
    with open(path, "a") as f:
        f.write(line[:cut])
    res = state(path)
    assert res.data.cost_pico == 0
    assert res.data.as_tuple() == reference(path)
    with open(path, "a") as f:
        f.write(line[cut:])  # complete, but no newline yet: the loader takes it
    res = state(path)
    assert res.data.cost_pico > 0
    assert res.data.as_tuple() == reference(path)
    with open(path, "a") as f:  # its newline, then the next response's first block line
        f.write("\r\n" + json.dumps(assistant("m2", "r2", usage(out=1, cr=1000), when="2026-11-20T11:00:09.000Z")))
    assert state(path).data.as_tuple() == reference(path)
    with open(path, "a") as f:  # and its second block line, with more output
        f.write("\n" + json.dumps(assistant("m2", "r2", usage(out=99, cr=1000), when="2026-11-20T11:00:09.000Z")))
    res = state(path)
    assert res.how == "grown"
    assert res.data.as_tuple() == reference(path)


@pytest.mark.parametrize("change", ["replaced", "truncated", "rewritten", "agent_gone", "agent_new"])
def test_any_other_change_reads_again(change: str, tmp_path: Path) -> None:
    src = SUBAGENT_SESSION
    files = copy_session(src, tmp_path)
    for dst, data in files:
        dst.write_bytes(data)
    main, data = files[0]
    agent = files[1][0]
    assert state(main).how == "built"
    lines = data.splitlines(keepends=True)
    if change == "replaced":  # a shorter file under the same name (a new inode)
        tmp = main.with_name("x.tmp")
        tmp.write_bytes(b"".join(lines[: len(lines) // 2]))
        os.replace(tmp, main)
    elif change == "truncated":
        with open(main, "r+b") as f:
            f.truncate(len(b"".join(lines[: len(lines) // 2])))
    elif change == "rewritten":  # same size, other bytes: a call's output changed in place
        i = data.index(b'"output_tokens":') + len(b'"output_tokens":')
        with open(main, "r+b") as f:
            f.seek(i)
            f.write(b"9" if data[i:i + 1] != b"9" else b"8")
        st = main.stat()
        os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    elif change == "agent_gone":
        agent.unlink()
    else:
        extra = agent.with_name("agent-zzz.jsonl")
        extra.write_text(json.dumps(assistant("mz", "rz", usage(out=5, cr=4000), when="2026-11-20T11:00:00.000Z"))
                         + "\n")
    res = state(main)
    assert res.how == ("grown" if change == "agent_new" else "built")
    assert res.data.as_tuple() == reference(main)


def test_state_files_are_private_and_corrupt_ones_are_rebuilt(long_session: Path) -> None:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(linestate, "RECENT", 2)
    try:
        want = reference(long_session)
        assert state(long_session).how == "built"
        store = linestate.Store(str(long_session), linestate.cache_root())
        d = Path(store.dir)
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert sorted(p.name for p in d.iterdir()) == sorted(
            Path(p).name for p in (store.json_path, store.keys_path, store.agents_path))
        for p in d.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]
        keys = Path(store.keys_path).read_bytes()
        for damage in (b"{not json", b"[1,2]", json.dumps({"format": 999}).encode(), b""):
            Path(store.json_path).write_bytes(damage)
            res = state(long_session)
            assert res.how == "built" and res.data.as_tuple() == want
        # sub-agent marks of another state: noticed when a sub-agent file changed
        agents = Path(store.agents_path).read_bytes()
        Path(store.agents_path).write_bytes(agents.replace(b'"token":"', b'"token":"0', 1))
        with open(long_session.with_suffix("") / "subagents" / "agent-a1.jsonl", "a") as f:
            f.write(json.dumps(assistant("a99", "ra99", usage(out=3), when="2026-11-20T12:00:00.000Z")) + "\n")
        res = state(long_session)
        assert res.how == "built" and res.data.as_tuple() == (want := reference(long_session))
        assert state(long_session).how == "unchanged"
        # a keys file that does not belong to the state: noticed when it is needed
        Path(store.keys_path).write_bytes(keys[:20] + b"\0" * (len(keys) - 20))
        with open(long_session, "a") as f:
            f.write(json.dumps(assistant("new", "new", usage(out=3), when="2026-11-20T12:00:00.000Z")) + "\n")
        res = state(long_session)
        assert res.how == "built" and res.data.as_tuple() == reference(long_session)
        # a state of another transcript (a hash collision) is not used
        doc = json.loads(Path(store.json_path).read_bytes())
        doc["path"] = "/elsewhere.jsonl"
        Path(store.json_path).write_text(json.dumps(doc))
        assert state(long_session).how == "built"
    finally:
        monkeypatch.undo()


def test_states_nobody_used_for_two_weeks_go(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "projects" / "-p" / "old.jsonl", [
        assistant("m1", "r1", usage(out=10), when="2026-11-20T11:00:00.000Z")])
    new = write_jsonl(tmp_path / "projects" / "-p" / "new.jsonl", [
        assistant("m2", "r2", usage(out=10), when="2026-11-20T11:00:00.000Z")])
    state(old)
    state(new)
    d = Path(linestate.Store(str(old), linestate.cache_root()).dir)
    ago = time.time() - linestate.FORGET_AFTER - 60
    old_files = [p for p in d.iterdir() if p.name.startswith(Path(linestate.Store(str(old), str(d.parent)).json_path)
                                                               .name.split(".")[0])]
    assert old_files
    for p in old_files:
        os.utime(p, (ago, ago))
    (d / "x.json.1.2.tmp").write_text("{")
    os.utime(d / "x.json.1.2.tmp", (ago, ago))
    third = write_jsonl(tmp_path / "projects" / "-p" / "third.jsonl", [user("a")])
    assert state(third).how == "built"
    assert not any(p.exists() for p in old_files) and not (d / "x.json.1.2.tmp").exists()
    assert state(new).how == "unchanged"


def test_another_price_table_reads_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"), assistant("m1", "r1", usage(inp=1000, out=1000), when="2026-11-20T11:00:00.000Z")])
    assert state(path).how == "built"
    assert state(path).how == "unchanged"
    cfg = Path(os.environ["SPENDTUI_CONFIG"])
    cfg.write_text('[prices."claude-sonnet-4-5-20250929"]\ninput = 100\noutput = 100\n')
    PriceTable.clear_default()
    try:
        res = state(path)
        assert res.how == "built"
        assert res.data.cost_pico == 2000 * 100 * 10**6
        assert res.data.as_tuple() == reference(path)
    finally:
        PriceTable.clear_default()


def test_no_state_without_the_cache(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        assistant("m1", "r1", usage(out=10), when="2026-11-20T11:00:00.000Z")])
    assert state(path, use_state=False).how == "built"
    assert not Path(linestate.Store(str(path), linestate.cache_root()).dir).exists()


# ------------------------------------------------------------------ budgets


def test_session_budget_without_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"), assistant("m1", "r1", usage(inp=10, out=1000, cw5=40_000), when="2026-11-20T11:59:00.000Z")])
    Path(os.environ["SPENDTUI_CONFIG"]).write_text("[budget]\nsession_usd = 0.1\n")

    def full(*_a: Any, **_k: Any) -> str:
        raise AssertionError("a session budget needs no session model")

    monkeypatch.setattr("spendtui.core.statusline.full_text", full)
    for _ in range(2):
        monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"transcript_path": str(path)})))
        assert entry_main(["statusline"]) == 0
        # 10 x $3 + 1000 x $15 + 40,000 x $3.75 per MTok = $0.16503 of $0.10
        assert capsys.readouterr().out.rstrip().endswith(" · !session 165% of $0.100")


def test_day_budget_takes_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "projects" / "-p" / "s1.jsonl", [
        user("a"), assistant("m1", "r1", usage(out=1000), when="2026-11-20T11:59:00.000Z")])
    Path(os.environ["SPENDTUI_CONFIG"]).write_text("[budget]\ndaily_usd = 5\n")
    calls = []
    real = linestate.compute

    def spy(*a: Any, **k: Any) -> linestate.Result:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(linestate, "compute", spy)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"transcript_path": str(path)})))
    assert entry_main(["statusline", "--claude-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert calls and " · day " in out and "% of $5.00" in out


# ------------------------------------------------------------------ the shortcuts agree


def _usages() -> list[Usage]:
    out = [Usage(), Usage(input_tokens=3, output_tokens=10), Usage(output_tokens=7, web_search_requests=2)]
    for prompt in (1000, 150_000, 199_999, 200_001, 450_000, 900_000):
        out += [
            Usage(input_tokens=prompt // 10, output_tokens=800, cache_creation_input_tokens=prompt // 5,
                  cache_read_input_tokens=prompt - prompt // 10 - prompt // 5,
                  ephemeral_5m_input_tokens=prompt // 5),
            Usage(input_tokens=2, output_tokens=50, cache_creation_input_tokens=prompt,
                  ephemeral_1h_input_tokens=prompt),
            Usage(input_tokens=2, output_tokens=50, cache_creation_input_tokens=prompt,
                  ephemeral_5m_input_tokens=prompt // 3, ephemeral_1h_input_tokens=prompt - prompt // 3),
            Usage(input_tokens=prompt, output_tokens=9, speed="fast"),
            Usage(input_tokens=prompt, output_tokens=9, inference_geo="US"),
            Usage(input_tokens=prompt, output_tokens=9, speed="fast", inference_geo="us", web_search_requests=3),
        ]
    return out


def test_remembered_rates_price_as_the_table(tmp_path: Path) -> None:
    table = PriceTable.default()
    cfg = tmp_path / "c.toml"  # a fractional price sends the call through the table
    cfg.write_text('[prices."claude-frac-1"]\ninput = 3.1234567\noutput = 15\n'
                   '[prices."claude-frac-2"]\ninput = 2.5\noutput = 12.345678901\ncache_read = 0.3333333\n'
                   'fast_multiplier = 1.5\ngeo_us_multiplier = 1.07\nweb_search_usd = 0.0123456789\n'
                   '[prices."claude-frac-2".long_context]\nthreshold = 150000\nuntil = 2026-03-13\n'
                   'input = 5.55\noutput = 22.2\n')
    tables = [table, PriceTable.load(config_path=cfg)]
    from datetime import timedelta

    edges = {x for e in table.entries() for x in (e.valid_from, e.valid_until, e.long_context_until) if x}
    days = sorted({"2024-06-01", "2025-11-01", "2026-11-20"}
                  | {(x + timedelta(days=k)).isoformat() for x in edges for k in (-1, 0, 1)})
    models = [*table.keys(), "claude-opus-4-9", "claude-sonnet-4-5[1m]", "gpt-4o", "claude-frac-1", "claude-frac-2"]
    for t in tables:
        pricer = linestate.Pricer(table=t)
        for model in models:
            for day in days:
                for u in _usages():
                    got = pricer.cost(model, linestate.usage_of(_raw(u)) or (), day)
                    want = t.cost(model, u, date.fromisoformat(day))
                    assert got == (want.total_pico, want.priced), (model, day, u)
            assert pricer.window(model) == t.context_window(model)
    # and remembered as plain JSON: a reloaded pricer prices the same without the table
    again = linestate.Pricer(json.loads(json.dumps(pricer.rates)), json.loads(json.dumps(pricer.windows)))
    again.table = lambda: pytest.fail("the table was needed")  # type: ignore[method-assign]
    u = linestate.usage_of(_raw(Usage(input_tokens=5, output_tokens=500, cache_read_input_tokens=9000)))
    assert u is not None
    assert again.cost("claude-opus-4-6", u, "2026-11-20") == pricer.cost("claude-opus-4-6", u, "2026-11-20")
    # and the next day is priced from the same entry (no price of the model changes in between)
    fresh = linestate.Pricer(table=table)
    fresh.cost("claude-opus-4-6", u, "2026-11-20")
    fresh.table = lambda: pytest.fail("the table was needed")  # type: ignore[method-assign]
    want = table.cost("claude-opus-4-6", Usage(input_tokens=5, output_tokens=500, cache_read_input_tokens=9000),
                      date(2026, 11, 21))
    assert fresh.cost("claude-opus-4-6", u, "2026-11-21") == (want.total_pico, True)


def _raw(u: Usage) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": u.ephemeral_5m_input_tokens,
                           "ephemeral_1h_input_tokens": u.ephemeral_1h_input_tokens},
        "server_tool_use": {"web_search_requests": u.web_search_requests, "web_fetch_requests": 0},
    }
    if u.speed:
        raw["speed"] = u.speed
    if u.inference_geo:
        raw["inference_geo"] = u.inference_geo
    return raw


RAW_USAGES: list[Any] = [
    {"input_tokens": 3, "output_tokens": 10},
    {"output_tokens": 10},
    {"input_tokens": 3, "output_tokens": 10, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 5,
     "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
     "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 2},
     "speed": "fast", "inference_geo": "us", "service_tier": "standard"},
    {"input_tokens": 3, "output_tokens": 10, "cache_creation_input_tokens": 0,
     "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40}},
    {"input_tokens": 3, "output_tokens": 10, "cache_creation_input_tokens": 500,
     "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40}},
    {"input_tokens": 3.0, "output_tokens": "10"},
    {"input_tokens": -1, "output_tokens": 10},
    {"input_tokens": True, "output_tokens": 10},
    {"input_tokens": 10**13, "output_tokens": 10},
    {"input_tokens": None, "output_tokens": 10},
    {"cache_read_input_tokens": 5},
    {},
    {"foo": 1},
    [1, 2],
    "usage",
    {"input_tokens": 1, "output_tokens": 1, "cache_creation": [1]},
    {"input_tokens": 1, "output_tokens": 1, "server_tool_use": "x"},
    {"input_tokens": 1, "output_tokens": 1, "speed": 5, "inference_geo": None, "service_tier": ["x"]},
]


@pytest.mark.parametrize("raw", RAW_USAGES, ids=range(len(RAW_USAGES)))
def test_usage_as_the_model_reads_it(raw: Any) -> None:
    try:
        u = Usage.from_json(raw)
    except UsageError:
        assert linestate.usage_of(raw) is None
        return
    assert linestate.usage_of(raw) == tuple(getattr(u, f) for f in Usage.__dataclass_fields__)


EDGE_LINES = [
    b'{"a":1}', b' {"a":1} ', b'{"a":1}\r', b'[1]', b'"x"', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":1e400}',
    b'{"a":123456789012345678901234567890}', b'{"a":"\\ud83d"}', b'{"a":"\\ud83d\\ude00"}', b'{"a":"\xed\xa0\xbd"}',
    b'\xef\xbb\xbf{"a":1}', b'{"a":"\xff"}', b'{"a":"\x01"}', b'{"a":1,"a":2}', b'{"a":', b'{"a":"\\u0041"}',
    b'{"a":"\x00"}', b'{"\xed\x95\x9c":1}', b"[" * 5000 + b"]" * 5000, b'{"a":' + b"[" * 1010 + b"]" * 1010 + b"}",
    b'{"a":' + b"[" * 1100 + b"]" * 1100 + b"}",
]


@pytest.mark.parametrize("raw", EDGE_LINES, ids=range(len(EDGE_LINES)))
def test_lines_parse_as_the_loader_parses_them(raw: bytes) -> None:
    got, want = linestate.loads(raw), parse_line(raw)[0]
    assert (got is None) == (want is None)
    if raw.count(b"[") < 100:
        assert got == want


JSON_TEXTS = [
    '{"session_id":"s","transcript_path":"/x.jsonl","model":{"id":"claude-opus-4-6","display_name":"Opus"}}',
    ' {"a": [1, 2.5, -0, 1e5, true, false, null, "\\u00e9\\ud83d\\ude00", "é"]}\n', '[]', '"x"', '3', 'NaN',
    '{"a": NaN, "b": -Infinity}', '{"a": 1e400}', '', '   ', '{"a":1} x', '{"a":1}{}', '\ufeff{}', '{"a":"\x01"}',
    '{"a":', '[1,]', '{"a":1,"a":2}', '{"a":123456789012345678901234567890}',
]


@pytest.mark.parametrize("text", JSON_TEXTS, ids=range(len(JSON_TEXTS)))
def test_fastjson_is_json(text: str) -> None:
    from spendtui.core import fastjson

    try:
        want: Any = json.loads(text)
    except json.JSONDecodeError as e:
        with pytest.raises(json.JSONDecodeError) as got:
            fastjson.loads(text)
        assert (got.value.msg, got.value.pos) == (e.msg, e.pos)
        return
    got = fastjson.loads(text)
    assert json.dumps(got) == json.dumps(want)
    assert fastjson.dumps(want) == json.dumps(want, separators=(",", ":"))


def test_fastjson_writes_what_json_writes(long_session: Path) -> None:
    from spendtui.core import fastjson

    state(long_session)
    store = linestate.Store(str(long_session), linestate.cache_root())
    for p in (store.json_path, store.agents_path):
        doc = json.loads(Path(p).read_bytes())
        assert fastjson.dumps(doc) == json.dumps(doc, separators=(",", ":")) == Path(p).read_text()
        assert fastjson.loads(Path(p).read_text()) == doc
    for odd in ("é\ud83d\x00\n", 1.5, -0.0, 10**30, None, [], {"k": [float("nan")]}):
        assert fastjson.dumps(odd) == json.dumps(odd, separators=(",", ":"))


@pytest.mark.parametrize("value", [
    "2026-11-20T12:00:00.000Z", "2026-11-20T23:59:59.999+05:00", "2026-11-20T01:00:00-03:00", "2026-11-20",
    "20261120T120000Z", "2026-11-20T12:00:00Z", "2026-13-20T12:00:00.000Z", "garbage-garbage", "2026-11-20 12:00Z",
    "2026-11-20T12:00:00.000z", "2026-02-29T00:00:00.000Z", 5, None, "", "2026-11-20T12:00:00.000+00:00"])
def test_times_as_the_model_reads_them(value: Any) -> None:
    from datetime import timezone

    from spendtui.core.model import parse_ts

    dt = parse_ts(value)
    want = None if dt is None else (dt.timestamp(), dt.astimezone(timezone.utc).date().isoformat())
    assert linestate.parse_time(value) == want


@pytest.mark.parametrize(("argv", "want"), [
    (["statusline"], {"transcript": None, "claude_dirs": None, "use_state": True}),
    (["statusline", "--transcript", "/x.jsonl", "--no-cache"],
     {"transcript": "/x.jsonl", "claude_dirs": None, "use_state": False}),
    (["--claude-dir", "A", "statusline", "--transcript=/y"],
     {"transcript": "/y", "claude_dirs": ["A"], "use_state": True}),
    (["--claude-dir=A", "--no-cache", "statusline", "--claude-dir", "B"],
     {"transcript": None, "claude_dirs": ["B"], "use_state": False}),
    (["statusline", "--help"], None), (["statusline", "-h"], None), (["statusline", "--transcript"], None),
    (["--transcript", "x", "statusline"], None), (["statusline", "statusline"], None), (["sessions"], None), ([], None),
    (["statusline", "--trans", "x"], None), (["--session", "x", "statusline"], None),
])
def test_entry_knows_only_the_statusline_options(argv: list[str], want: dict[str, Any] | None) -> None:
    assert statusline_args(argv) == want


def test_entry_imports_only_what_the_line_needs(long_session: Path, tmp_path: Path) -> None:
    """The status line's process never imports the CLI, the model or the price table once
    the state exists (a new call priced at a known model and day included)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    hook = json.dumps({"transcript_path": str(long_session)})
    code = ("import sys\nfrom spendtui.entry import main\nmain(['statusline'])\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")

    def run() -> set[str]:
        p = subprocess.run([sys.executable, "-c", code], input=hook, capture_output=True, text=True, env=env,
                           check=True, timeout=60)
        assert p.stdout.startswith("Sonnet 4.5 · $")
        return set(p.stderr.split())

    preloaded = set(subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sys.modules))"],
                                   capture_output=True, text=True, env=env, check=True).stdout.split())
    run()
    with open(long_session, "a") as f:  # fast mode and US inference are priced without the table too
        f.write(json.dumps(assistant("m99", "r99", usage(out=3, cr=9000, speed="fast", inference_geo="us"),
                                     when="2026-11-20T11:30:00.000Z")) + "\n")
    for mods in (run(), run()):
        heavy = {"argparse", "spendtui.cli", "spendtui.core.model", "spendtui.core.pricing", "spendtui.core.usage",
                 "orjson", "decimal", "dataclasses", "tomllib", "rich", "textual", "json", "platformdirs",
                 "typing", "hashlib", "tempfile", "pathlib"} & (mods - preloaded)
        assert not heavy


def test_the_platform_cache_dir_without_platformdirs(long_session: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither SPENDTUI_CACHE_DIR nor SPENDTUI_CONFIG set, the state goes where
    platformdirs says, and a warm run finds it without importing platformdirs (a 20 ms
    import); a guess that is wrong, or an environment that changed, only costs the import."""
    import platformdirs

    for k in ("SPENDTUI_CACHE_DIR", "SPENDTUI_CONFIG"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = ("import sys\nfrom spendtui.core import linestate\n"
            f"r = linestate.compute({str(long_session)!r})\n"
            "print(r.how, 'platformdirs' in sys.modules)\n")

    def run() -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                              timeout=60).stdout.strip()

    assert run() == "built True"
    assert (Path(platformdirs.user_cache_dir("spendtui")) / "statusline").is_dir()
    assert run() == "unchanged False"
    with open(long_session, "a") as f:
        f.write(json.dumps(assistant("m99", "r99", usage(out=3, cr=9000), when="2026-11-20T11:30:00.000Z")) + "\n")
    assert run() == "grown False"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "other-config")  # another config file, maybe: ask again
    assert run() == "built True"
    monkeypatch.setattr(linestate, "_guess_cache_root", lambda: str(tmp_path / "wrong"))
    assert state(long_session).how == "built"  # this process's config dir is the first one
    assert state(long_session).how == "unchanged"
    assert state(long_session).data.as_tuple() == reference(long_session)


def test_budget_money_matches_the_budget_module() -> None:
    from spendtui.core.budget import BudgetState
    from spendtui.core.statusline import budget_part

    s = BudgetState("day", "2026-11-20", 205 * 10**11, 20 * 10**12, 0.0, None)
    assert budget_part([s]) == "!day 102% of $20.00"
    assert f"{Decimal(205) / 200 * 100:.0f}" == "102"
