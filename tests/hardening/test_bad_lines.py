"""Bad transcript lines (issue 6, part 1): every case runs on a real Claude Code 2.1.197
session (main file + sub-agent file) with bad lines put in, and is compared with the
same files without them:

* nothing crashes (`summary --json` exits 0, the live follower loads it),
* `skipped_lines` counts each bad line once and `skipped` says which line and why,
* the totals of the good lines are exactly what they are without the bad lines,

through `summary --json --no-cache`, through the result cache (cold, then warm) and
through the live follower.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import spendtui.core.jsonl as jsonl
import spendtui.core.loader as loader
from spendtui.core.follow import SessionFollower
from spendtui.core.jsonl import parse_line
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from tests.hardening.conftest import (
    copy_scenario,
    fresh_call,
    lines_of,
    main_file,
    summary_json,
    totals,
    usage_lines,
    write_lines,
)

SCENARIO = "subagent"  # a main file and a sub-agent file (Haiku), 4 API calls, 1 turn


class Case:
    """A clean copy of the scenario and a dirty one, to be given bad lines."""

    def __init__(self, tmp_path: Path) -> None:
        self.clean_dir = copy_scenario(SCENARIO, tmp_path / "clean")
        self.dirty_dir = copy_scenario(SCENARIO, tmp_path / "dirty")
        self.clean = main_file(self.clean_dir)
        self.dirty = main_file(self.dirty_dir)
        self.sid = self.clean.stem
        self.lines = lines_of(self.clean)
        self.calls = usage_lines(self.lines)
        assert len(self.calls) >= 2

    def template(self) -> bytes:
        return self.lines[self.calls[0]]

    def insert(self, bad: list[bytes], after: int | None = None) -> list[int]:
        """Put ``bad`` after line index ``after`` (default: the first API call line);
        returns their 1-based line numbers."""
        at = (self.calls[0] if after is None else after) + 1
        write_lines(self.dirty, [*self.lines[:at], *bad, *self.lines[at:]])
        return list(range(at + 1, at + 1 + len(bad)))

    def check(self, expect: list[tuple[int, str]] | Counter[str], follower: bool = True) -> dict[str, Any]:
        """Run every reading path on the dirty copy; compare with the clean one."""
        want = totals(summary_json(self.clean_dir, self.sid, "--no-cache"))
        runs = {
            "no cache": summary_json(self.dirty_dir, self.sid, "--no-cache"),
            "cache, cold": summary_json(self.dirty_dir, self.sid),
            "cache, warm": summary_json(self.dirty_dir, self.sid),
        }
        if follower:
            f = SessionFollower(scan_project(self.dirty.parent)[self.sid], PriceTable.default().cost)
            f.load()
            runs["follower"] = session_summary(f.model, PriceTable.default())
        for how, s in runs.items():
            assert totals(s) == want, f"totals differ ({how})"
            if isinstance(expect, Counter):
                assert s["skipped_lines"] == sum(expect.values()), how
                shown = Counter(x["reason"] for x in s["skipped"])  # summary lists the first 20
                assert len(s["skipped"]) == min(20, s["skipped_lines"]) and not shown - expect, how
            else:
                assert s["skipped_lines"] == len(expect), how
                got = [(x["line"], x["reason"]) for x in s["skipped"]]
                assert got == expect, how
                assert {x["file"] for x in s["skipped"]} <= {str(self.dirty)}, how
        return runs["no cache"]


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


# --------------------------------------------------------------- half lines
def test_truncated_last_line_is_held_back_then_counted_once(case: Case) -> None:
    """A last line without its newline is being written: it is not a bad line, it is not
    counted yet, and once finished it counts exactly once (cached runs included)."""
    new = json.dumps(fresh_call(case.template(), 1)).encode()
    write_lines(case.dirty, [*case.lines, new[: len(new) // 2]], newline_at_end=False)
    case.check([])
    with open(case.dirty, "ab") as f:  # the writer finishes the line
        f.write(new[len(new) // 2 :] + b"\n")
    write_lines(case.clean, [*case.lines, new])
    case.check([])
    s = summary_json(case.dirty_dir, case.sid)
    assert s["api_calls"] == len({json.loads(case.lines[i])["message"]["id"] for i in case.calls}) + 1 + 2


def _age(path: Path, seconds: float = 3600) -> None:
    import os
    import time

    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_last_line_cut_for_good_is_counted_once_and_taken_back_if_finished(case: Case) -> None:
    """A file that ends inside a record and was not written for a minute: its writer
    died mid-line. That record is lost and said so, once, by every reader (the result
    cache, the live follower, the history scan); if it is finished after all, the
    skip is taken back and the call counts."""
    new = json.dumps(fresh_call(case.template(), 3), separators=(",", ":")).encode()
    write_lines(case.dirty, [*case.lines, new[: len(new) // 2]], newline_at_end=False)
    case.check([])  # just written: still being written, not a bad line
    _age(case.dirty)
    cut = len(case.lines) + 1
    case.check([(cut, loader.CUT_REASON)])

    # the history scan says the same (an old file is read through its usage lines)
    from spendtui.core.skim import skim

    files = scan_project(case.dirty.parent)[case.sid]
    sk = skim(files, PriceTable.default().cost)
    assert sk is not None and sk.skipped == 1

    # a follower that reported it: a record written on after it glues onto the cut
    # line (still one bad line); a writer that finishes it takes the skip back
    f = SessionFollower(files, PriceTable.default().cost)
    f.load()
    assert f.model.skipped_lines == 1
    with open(case.dirty, "ab") as out:
        out.write(new[len(new) // 2 :] + b"\n")
    f.poll()
    assert f.model.skipped_lines == 0 and f.model.skipped == []
    write_lines(case.clean, [*case.lines, new])
    assert totals(session_summary(f.model, PriceTable.default())) == totals(
        summary_json(case.clean_dir, case.sid, "--no-cache"))


def test_a_record_written_on_after_a_cut_line_is_one_bad_line(case: Case) -> None:
    new = json.dumps(fresh_call(case.template(), 4), separators=(",", ":")).encode()
    write_lines(case.dirty, [*case.lines, new[: len(new) // 2]], newline_at_end=False)
    _age(case.dirty)
    files = scan_project(case.dirty.parent)[case.sid]
    f = SessionFollower(files, PriceTable.default().cost)
    f.load()
    assert f.model.skipped_lines == 1
    with open(case.dirty, "ab") as out:
        out.write(case.lines[case.calls[0]] + b"\n")  # Claude Code starts again, on the same line
    f.poll()
    assert f.model.skipped_lines == 1
    assert [(x.line, x.reason) for x in f.model.skipped] == [(len(case.lines) + 1, loader.CUT_REASON)]


def test_line_cut_inside_a_utf8_sequence(case: Case) -> None:
    """A line that stops in the middle of a multi-byte character (a crash mid-write),
    followed by good lines; and a complete line with a torn character inside a string."""
    rec = fresh_call(case.template(), 2)
    rec["message"]["content"] = [{"type": "text", "text": "naïve € 😀 done"}]
    raw = json.dumps(rec, ensure_ascii=False).encode()
    cut = raw.index("😀".encode()) + 2  # two of the emoji's four bytes
    torn = raw.replace("€".encode(), "€".encode()[:2])  # complete JSON, invalid UTF-8 inside
    at = case.insert([raw[:cut], torn])
    case.check([(at[0], "invalid UTF-8"), (at[1], "invalid UTF-8")])


# ------------------------------------------------------------------ not JSON
def test_invalid_json(case: Case) -> None:
    bad = [
        b'{"type": "assistant", "message": {',
        b'{"type": "user",}',
        b"{'type': 'user'}",
        b'{"a": 1}{"b": 2}',
        b'{"type": "assistant", "message": {"usage": {"output_tokens": NaN}}}',
        b'{"a": 1e400}',  # a number no double holds
        b"\x00" * 64,
    ]
    at = case.insert(bad)
    case.check([(n, "invalid JSON") for n in at])


def test_json_values_that_are_not_objects(case: Case) -> None:
    at = case.insert([b"[1, 2]", b"42", b"null", b'"text"', b"true"])
    case.check([(n, "JSON value is not an object") for n in at])


# --------------------------------------------------------------- wrong shape
def _with(template: bytes, n: int, path: str, value: Any, delete: bool = False) -> bytes:
    rec = fresh_call(template, n)
    obj: Any = rec
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj[k]
    if delete:
        del obj[keys[-1]]
    else:
        obj[keys[-1]] = value
    return json.dumps(rec).encode()


WRONG_SHAPES: list[tuple[str, Any, str]] = [
    ("message.usage.output_tokens", None, "invalid usage (usage.output_tokens is None)"),
    ("message.usage.input_tokens", "lots", "invalid usage (usage.input_tokens is 'lots')"),
    ("message.usage.output_tokens", True, "invalid usage (usage.output_tokens is True)"),
    ("message.usage.cache_read_input_tokens", -5, "invalid usage (usage.cache_read_input_tokens is -5)"),
    ("message.usage.output_tokens", 10**13, "invalid usage (usage.output_tokens is 10000000000000)"),
    ("message.usage.output_tokens", 10**30, "invalid usage (usage.output_tokens is 1e+30)"),
    ("message.usage.input_tokens", 1.5, "invalid usage (usage.input_tokens is 1.5)"),
    ("message.usage.input_tokens", [3], "invalid usage (usage.input_tokens is [3])"),
    ("message.usage.cache_creation", {"ephemeral_1h_input_tokens": -1},
     "invalid usage (usage.ephemeral_1h_input_tokens is -1)"),
    ("message.usage", "lots of tokens", "invalid usage (usage is not an object)"),
    ("message.usage", [1, 2, 3], "invalid usage (usage is not an object)"),
    ("message", "just a string", "assistant record without a message object"),
    ("message", None, "assistant record without a message object"),
    ("message", [{"usage": {}}], "assistant record without a message object"),
    ("message.model", None, "API call without a model"),
    ("message.model", 42, "API call without a model"),
    ("message.model", "", "API call without a model"),
]


@pytest.mark.parametrize(("path", "value", "reason"), WRONG_SHAPES,
                         ids=[f"{p}={v!r}"[:60] for p, v, _ in WRONG_SHAPES])
def test_wrong_shape(case: Case, path: str, value: Any, reason: str) -> None:
    at = case.insert([_with(case.template(), 3, path, value)])
    s = case.check([(at[0], reason)], follower=False)
    assert s["skipped"][0]["line"] == at[0]


def test_wrong_shapes_all_at_once_in_the_live_follower(case: Case) -> None:
    bad = [_with(case.template(), 10 + i, p, v) for i, (p, v, _) in enumerate(WRONG_SHAPES)]
    at = case.insert(bad)
    case.check([(n, r) for n, (_, _, r) in zip(at, WRONG_SHAPES, strict=True)])


def test_user_record_without_a_message_object(case: Case) -> None:
    rec = json.loads(case.lines[next(i for i, raw in enumerate(case.lines) if b'"type":"user"' in raw)])
    rec["message"] = "hello"
    rec["uuid"] = "user-without-message"
    at = case.insert([json.dumps(rec).encode()])
    case.check([(at[0], "user record without a message object")])


def test_assistant_line_without_usage_is_no_call_and_no_error(case: Case) -> None:
    """Block lines without ``usage`` exist (older Claude Code); they bill nothing."""
    at = case.insert([_with(case.template(), 4, "message.usage", None, delete=True)])
    assert at
    case.check([])


def test_missing_counters_count_as_zero(case: Case) -> None:
    """Older Claude Code omits some counters: a call without ``cache_read_input_tokens``
    is a call whose cache reads are 0 (documented in usage.py), not a bad line."""
    line = _with(case.template(), 5, "message.usage.cache_read_input_tokens", None, delete=True)
    case.insert([line])
    s = summary_json(case.dirty_dir, case.sid, "--no-cache")
    clean = summary_json(case.clean_dir, case.sid, "--no-cache")
    u = json.loads(line)["message"]["usage"]
    assert s["skipped_lines"] == 0
    assert s["api_calls"] == clean["api_calls"] + 1
    assert s["tokens"]["cache_read"] == clean["tokens"]["cache_read"]
    assert s["tokens"]["output"] == clean["tokens"]["output"] + u["output_tokens"]


def test_usage_without_any_counter_is_a_bad_line(case: Case) -> None:
    at = case.insert([_with(case.template(), 6, "message.usage", {})])
    case.check([(at[0], "invalid usage (no token counts)")], follower=False)


def test_digit_strings_are_read_as_numbers(case: Case) -> None:
    """Lenient on purpose (usage.py): "12" is 12. Documented so a change is a decision."""
    case.insert([_with(case.template(), 7, "message.usage.output_tokens", "12")])
    s = summary_json(case.dirty_dir, case.sid, "--no-cache")
    clean = summary_json(case.clean_dir, case.sid, "--no-cache")
    assert s["skipped_lines"] == 0
    assert s["tokens"]["output"] == clean["tokens"]["output"] + 12


# ------------------------------------------------------------------ unknown
def test_unknown_record_types_and_fields(case: Case) -> None:
    """New record types and new fields (Claude Code adds them all the time) change
    nothing and are not errors: every good line gets extra keys at every level."""
    def decorate(raw: bytes) -> bytes:
        rec = json.loads(raw)
        rec["futureEnvelopeField"] = {"nested": [1, 2, {"x": None}]}
        msg = rec.get("message")
        if isinstance(msg, dict):
            msg["future_message_field"] = "?"
            if isinstance(msg.get("usage"), dict):
                msg["usage"]["future_counter_tokens"] = 123
                msg["usage"]["server_tool_use"] = {"web_search_requests": 0, "future_requests": 7}
        return json.dumps(rec).encode()

    new_types = [
        b'{"type": "hologram", "timestamp": "2026-11-24T19:54:01.100Z", "payload": {"usage": {"output_tokens": 9}}}',
        b'{"type": "system", "subtype": "warp_drive", "content": "?"}',
        b'{"type": "progress", "data": {"type": "future_progress"}}',
        b'{"type": 7}',
        b"{}",
    ]
    lines = [decorate(raw) for raw in case.lines]
    at = case.calls[0] + 1
    write_lines(case.dirty, [*lines[:at], *new_types, *lines[at:]])
    agent = next(case.dirty_dir.glob("projects/*/*/subagents/*.jsonl"))
    write_lines(agent, [decorate(raw) for raw in lines_of(agent)])
    case.check([])


# -------------------------------------------------------------------- sizes
def test_a_20_mb_line_that_is_a_record(case: Case) -> None:
    """A 20 MB tool result (a huge file read) is a normal record: read, not skipped."""
    rec = json.loads(case.lines[next(i for i, raw in enumerate(case.lines) if b'"tool_result"' in raw)])
    rec["uuid"] = "big-result"
    rec["message"]["content"][0]["content"] = "x" * (20 << 20)
    raw = json.dumps(rec).encode()
    assert len(raw) > 20 << 20
    case.insert([raw])
    case.check([])


def test_a_20_mb_line_of_garbage(case: Case) -> None:
    at = case.insert([b"{" + b"A" * (20 << 20)])
    case.check([(at[0], "invalid JSON")])


def test_a_line_over_max_line_is_counted_not_silently_dropped(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines longer than MAX_LINE are dropped unread to bound memory; they must still
    show up in ``skipped_lines`` (MAX_LINE lowered to 1 MiB so the line is 20 MB, not 64)."""
    monkeypatch.setattr(jsonl, "MAX_LINE", 1 << 20)
    big = _with(case.template(), 8, "message.content", [{"type": "text", "text": "y" * (20 << 20)}])
    at = case.insert([big, b"z" * ((1 << 20) + 10)])
    case.check([(at[0], "line longer than 1 MiB (not read)"), (at[1], "line longer than 1 MiB (not read)")])


def test_a_cache_snapshot_taken_inside_a_line_too_long_to_read(case: Case, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The result cache saved the reader while it was skipping a line over MAX_LINE that
    was still being written: the next run resumes after that line, not inside it."""
    from spendtui.core.cache import SessionCache

    monkeypatch.setattr(jsonl, "MAX_LINE", 1 << 20)
    prices = PriceTable.default()
    write_lines(case.dirty, [*case.lines, b'{"x":"' + b"y" * (2 << 20)], newline_at_end=False)
    files = scan_project(case.dirty.parent)[case.sid]
    first = SessionCache(tmp_path / "cache", prices).load(files, prices.cost)
    assert first.skipped_lines == 1
    new = json.dumps(fresh_call(case.template(), 5)).encode()
    with open(case.dirty, "ab") as f:
        f.write(b"y" * 100 + b'"}\n' + new + b"\n")
    cache = SessionCache(tmp_path / "cache", prices)  # a later run: from the saved snapshot
    again = cache.load(files, prices.cost)
    assert cache.grown == 1
    assert again.skipped_lines == 1 and again.counted_calls == first.counted_calls + 1


# ------------------------------------------------------------------ garbage
def test_binary_garbage(case: Case) -> None:
    rnd = random.Random(6)
    garbage = rnd.randbytes(64 << 10) + b"\n" + bytes(range(256)) + b"\n\r\n" + b"\xef\xbb\xbf{}"
    pieces = [p[:-1] if p.endswith(b"\r") else p for p in garbage.split(b"\n")]
    expect: Counter[str] = Counter()
    for p in pieces:
        if p and not p.isspace():
            obj, err = parse_line(p)
            assert obj is None and err is not None
            expect[err] += 1
    assert sum(expect.values()) > 100
    case.insert([garbage])
    case.check(expect)


def test_empty_file(tmp_path: Path) -> None:
    """An empty session file (Claude Code creates it before the first line), an empty
    sub-agent file and one of blank lines: no calls, no errors, nothing else changes."""
    case = Case(tmp_path)
    proj = case.dirty.parent
    (proj / "empty-session.jsonl").write_bytes(b"")
    (proj / "blank-session.jsonl").write_bytes(b"\n\n   \n\r\n\t\n")
    sub = next(case.dirty_dir.glob("projects/*/*/subagents"))
    (sub / "agent-aempty.jsonl").write_bytes(b"")
    case.check([])
    for sid in ("empty-session", "blank-session"):
        s = summary_json(case.dirty_dir, sid)
        assert (s["api_calls"], s["skipped_lines"], s["cost_usd"]) == (0, 0, 0.0)
    from tests.hardening.conftest import run_cli

    code, out, _ = run_cli("sessions", "--claude-dir", str(case.dirty_dir), "--json")
    assert code == 0
    rows = {r["session_id"]: r for r in json.loads(out)}
    assert rows["empty-session"]["api_calls"] == 0 and rows[case.sid]["api_calls"] > 0
