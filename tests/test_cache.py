"""The result cache: warm equals cold, growth is read on, anything else rebuilds,
and a cache file is never trusted."""

from __future__ import annotations

import json
import os
import pickle
import stat
import zlib
from pathlib import Path

import pytest

from spendtui.core import cache as cache_mod
from spendtui.core.batch import session_rows
from spendtui.core.cache import MAGIC, SessionCache
from spendtui.core.loader import load_session
from spendtui.core.paths import discover, scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.report import build_report
from spendtui.core.summary import session_summary
from tests.conftest import SAMPLES
from tests.records import append_jsonl, assistant, ts, usage, user, write_jsonl


def _summary(model) -> dict:
    s = session_summary(model, None, now=0.0)
    s.pop("active")
    return s


@pytest.fixture
def session(tmp_path: Path) -> Path:
    proj = tmp_path / "claude" / "projects" / "-p"
    # dated explicitly (the builders' default times wrap every 60 records, and a sub-agent call
    # dated after a later prompt belongs to that prompt's turn in a one-shot read)
    write_jsonl(proj / "s1.jsonl", [user("a", when=ts(1)),
                                    assistant("msg_1", "req_1", usage(out=5, cr=100), when=ts(2)),
                                    assistant("msg_2", "req_2", usage(out=6, cw5=50), when=ts(4))])
    write_jsonl(proj / "s1" / "subagents" / "agent-x.jsonl", [
        assistant("msg_x", "req_x", usage(out=7), sidechain=True, agent_id="x",
                  model="claude-haiku-4-5-20251001", when=ts(3))])
    return proj


def _fresh(proj: Path, prices=None):
    return load_session(scan_project(proj)["s1"], prices.cost if prices else None)


def test_warm_equals_cold_and_growth_is_read_on(session: Path, tmp_path: Path) -> None:
    prices = PriceTable.default()
    c = SessionCache(tmp_path / "cache", prices)
    cold = c.load(scan_project(session)["s1"], prices.cost)
    warm = SessionCache(tmp_path / "cache", prices)
    m = warm.load(scan_project(session)["s1"], prices.cost)
    assert (warm.hits, warm.misses) == (1, 0)
    assert _summary(m) == _summary(cold) == _summary(_fresh(session, prices))
    append_jsonl(session / "s1.jsonl", [assistant("msg_2", "req_2", usage(out=60, cw5=50), when=ts(5)),
                                        user("b", when=ts(6)),
                                        assistant("msg_3", "req_3", usage(out=1), when=ts(7))])
    grown = SessionCache(tmp_path / "cache", prices)
    m = grown.load(scan_project(session)["s1"], prices.cost)
    assert (grown.grown, grown.misses) == (1, 0)
    assert m.lines_read == 4 + 3  # 4 old lines (3 main, 1 agent) were in the cache; 3 new ones read
    assert _summary(m) == _summary(_fresh(session, prices))
    assert m.tokens["output"] == 5 + 60 + 1 + 7


def test_new_and_removed_agent_files(session: Path, tmp_path: Path) -> None:
    c = SessionCache(tmp_path / "cache")
    c.load(scan_project(session)["s1"], None)
    write_jsonl(session / "s1" / "subagents" / "agent-y.jsonl", [
        assistant("msg_y", "req_y", usage(out=9), sidechain=True, agent_id="y")])
    m = SessionCache(tmp_path / "cache").load(scan_project(session)["s1"], None)
    assert set(m.agents) == {"x", "y"} and m.tokens["output"] == 5 + 6 + 7 + 9
    (session / "s1" / "subagents" / "agent-x.jsonl").unlink()
    c2 = SessionCache(tmp_path / "cache")
    m = c2.load(scan_project(session)["s1"], None)
    assert c2.misses == 1 and m.tokens["output"] == 5 + 6 + 9


@pytest.mark.parametrize("change", ["rewrite_same_size", "truncate", "replace"])
def test_any_other_change_rebuilds(session: Path, tmp_path: Path, change: str) -> None:
    p = session / "s1.jsonl"
    SessionCache(tmp_path / "cache").load(scan_project(session)["s1"], None)
    data = p.read_bytes()
    if change == "rewrite_same_size":
        p.write_bytes(data.replace(b'"output_tokens": 5', b'"output_tokens": 8'))
        assert len(p.read_bytes()) == len(data)
    elif change == "truncate":
        p.write_bytes(data[: data.index(b"\n") + 1])
    else:
        tmp = session / "new.tmp"
        tmp.write_bytes(data + json.dumps(assistant("msg_9", "req_9", usage(out=2))).encode() + b"\n")
        os.replace(tmp, p)
    c = SessionCache(tmp_path / "cache")
    m = c.load(scan_project(session)["s1"], None)
    assert c.misses == 1
    assert _summary(m) == _summary(_fresh(session))


def _entry(tmp_path: Path) -> Path:
    (entry,) = (tmp_path / "cache" / "sessions").glob("*.pkl")
    return entry


def test_corrupt_or_foreign_cache_files_are_rebuilt(session: Path, tmp_path: Path) -> None:
    SessionCache(tmp_path / "cache").load(scan_project(session)["s1"], None)
    entry = _entry(tmp_path)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    good = entry.read_bytes()
    mid = len(good) // 2
    flipped = good[:mid] + bytes([good[mid] ^ 0xFF]) + good[mid + 1:]
    for bad in (b"garbage", good[:-10], flipped):
        entry.write_bytes(bad)
        c = SessionCache(tmp_path / "cache")
        m = c.load(scan_project(session)["s1"], None)
        assert (c.misses, c.errors) == (1, 1)
        assert _summary(m) == _summary(_fresh(session))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/spendtui-pwned",))


def test_a_crafted_cache_file_cannot_run_code(session: Path, tmp_path: Path) -> None:
    SessionCache(tmp_path / "cache").load(scan_project(session)["s1"], None)
    entry = _entry(tmp_path)
    payload = zlib.compress(pickle.dumps({"format": cache_mod.FORMAT, "model": _Evil()}))
    entry.write_bytes(MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload)
    if os.path.exists("/tmp/spendtui-pwned"):
        os.unlink("/tmp/spendtui-pwned")
    c = SessionCache(tmp_path / "cache")
    m = c.load(scan_project(session)["s1"], None)
    assert not os.path.exists("/tmp/spendtui-pwned")
    assert c.errors == 1 and m.counted_calls == 3


def test_price_change_invalidates(session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = PriceTable.default()
    SessionCache(tmp_path / "cache", prices).load(scan_project(session)["s1"], prices.cost)
    cheaper = prices.with_overrides({"claude-sonnet-4-5": {"input": 1, "output": 1}})
    c = SessionCache(tmp_path / "cache", cheaper)
    m = c.load(scan_project(session)["s1"], cheaper.cost)
    assert c.misses == 1
    assert m.cost_pico == _fresh(session, cheaper).cost_pico != _fresh(session, prices).cost_pico


def test_rows_and_report_equal_with_and_without_cache(tmp_path: Path) -> None:
    import shutil

    for i, p in enumerate(sorted(SAMPLES.glob("*.jsonl"))):
        proj = tmp_path / "claude" / "projects" / f"-p{i % 2}"
        proj.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, proj / p.name)
    # and a fork pair, so cross-session dedup runs through the cache too
    proj = tmp_path / "claude" / "projects" / "-p0"
    parent = [user("a", session="par", when="2026-11-01T10:00:00.000Z"),
              assistant("msg_p", "req_p", usage(out=50), session="par", when="2026-11-01T10:00:01.000Z")]
    write_jsonl(proj / "par.jsonl", parent)
    write_jsonl(proj / "fork.jsonl", [*[dict(r, sessionId="fork", forkedFrom={"sessionId": "par"}) for r in parent],
                                      assistant("msg_f", "req_f", usage(out=5), session="fork",
                                                when="2026-11-01T11:00:00.000Z")])
    sessions = discover([tmp_path / "claude"])
    prices = PriceTable.default()
    plain = session_rows(sessions, prices, now=1e9)
    for _ in range(2):  # cold, then warm
        c = SessionCache(tmp_path / "cache", prices)
        assert session_rows(sessions, prices, now=1e9, cache=c) == plain
    assert c.light_hits == len(sessions)
    rows = {r["session_id"]: r for r in plain}
    assert rows["fork"]["api_calls"] == 1 and rows["par"]["api_calls"] == 1
    for by in ("day", "model", "project", "session"):
        assert build_report(sessions, prices, by=by, cache=SessionCache(tmp_path / "cache", prices)) == \
            build_report(sessions, prices, by=by)


def test_every_real_session_round_trips_through_the_cache(tmp_path: Path) -> None:
    """A snapshot of each genuine 2.1.197 session (sub-agents, compactions, forks) is
    written, read back without error, and gives the same summary as a fresh parse."""
    from tests.conftest import FIXTURES

    sessions = [s for d in sorted((FIXTURES / "cc2197").iterdir()) if d.is_dir() for s in discover([d])]
    assert len(sessions) >= 8
    for s in sessions:
        SessionCache(tmp_path / "cache").load(s, None, retain=None)
        c = SessionCache(tmp_path / "cache")
        m = c.load(s, None)
        assert (c.hits, c.errors, c.misses) == (1, 0, 0), s.session_id
        assert _summary(m) == _summary(load_session(s, None)), s.session_id


def test_streamed_pickle_round_trips_and_a_cut_stream_is_refused(session: Path, tmp_path: Path) -> None:
    """Entries are pickled and deflated straight into the file, and inflated as the
    unpickler reads: a payload of many inflate steps comes back equal; a deflate stream cut
    short (with a checksum that matches the cut bytes) is an error, and the entry is rebuilt."""
    import io

    big = {"format": cache_mod.FORMAT, "rows": [(i, f"row-{i}" * 3, os.urandom(8)) for i in range(60_000)]}
    out = io.BytesIO()
    sink = cache_mod._Deflate(out)
    pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(big)
    sink.close()
    payload = out.getvalue()
    assert sink.crc == zlib.crc32(payload) and len(pickle.dumps(big)) > 8 * cache_mod._Inflate.STEP
    assert pickle.Unpickler(cache_mod._Inflate(memoryview(payload))).load() == big
    assert pickle.Unpickler(cache_mod._Inflate(memoryview(zlib.compress(pickle.dumps(big, 0))))).load() == big

    SessionCache(tmp_path / "cache").load(scan_project(session)["s1"], None)
    entry = _entry(tmp_path)
    good = entry.read_bytes()
    cut = good[len(MAGIC) + 4:][: (len(good) - len(MAGIC) - 4) // 2]
    entry.write_bytes(MAGIC + zlib.crc32(cut).to_bytes(4, "big") + cut)
    c = SessionCache(tmp_path / "cache")
    m = c.load(scan_project(session)["s1"], None)
    assert (c.misses, c.errors) == (1, 1)
    assert _summary(m) == _summary(_fresh(session))


def test_a_snapshot_read_on_by_a_little_is_not_written_again(session: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Below RESAVE_BYTES read on since the snapshot, a run reads those bytes and leaves the
    snapshot as it was (no pickling of the whole model for 1 MB of growth); each later run
    reads on from the snapshot, so nothing is lost or counted twice; past it, it is written."""
    prices = PriceTable.default()
    SessionCache(tmp_path / "cache", prices).load(scan_project(session)["s1"], prices.cost)
    entry = _entry(tmp_path)
    before = entry.read_bytes()
    # written after the session's other records (whose times come from a counter mod 60): a sub-agent
    # call is placed in the turn its time falls in, and a prompt appended later but dated earlier
    # would move it when read in one go
    lines = [assistant("msg_3", "req_3", usage(out=1), when=ts(0, 0, 23)), user("b", when=ts(1, 0, 23)),
             assistant("msg_4", "req_4", usage(out=2), when=ts(2, 0, 23))]
    append_jsonl(session / "s1.jsonl", lines[:1])
    for grown_by in (1, 3):
        if grown_by == 3:
            append_jsonl(session / "s1.jsonl", lines[1:])
        c = SessionCache(tmp_path / "cache", prices)
        m = c.load(scan_project(session)["s1"], prices.cost)
        assert c.grown == 1 and entry.read_bytes() == before  # read on, not written again
        assert m.lines_read == 4 + grown_by  # from the snapshot's offsets every time
        assert _summary(m) == _summary(_fresh(session, prices))
    monkeypatch.setattr(cache_mod, "RESAVE_BYTES", 100)
    c = SessionCache(tmp_path / "cache", prices)
    c.load(scan_project(session)["s1"], prices.cost)
    assert entry.read_bytes() != before
    c = SessionCache(tmp_path / "cache", prices)
    m = c.load(scan_project(session)["s1"], prices.cost)
    assert c.hits == 1 and m.lines_read == 4 + 3 and _summary(m) == _summary(_fresh(session, prices))
