"""The byte-offset line reader: half-written lines, odd endings, monster lines."""

from __future__ import annotations

import json
from pathlib import Path

from spendtui.core import jsonl
from spendtui.core.jsonl import LineReader, parse_line


def test_half_written_line_is_held_back_until_its_newline(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":')
    r = LineReader(p)
    assert [line for _, line in r.read_lines()] == [b'{"a":1}']
    assert r.offset == 8 and r.pending == 5
    with open(p, "ab") as f:
        f.write(b'2}\n')
    assert list(r.read_lines()) == [(2, b'{"b":2}')]
    assert r.offset == p.stat().st_size and r.pending == 0
    assert list(r.read_lines()) == []


def test_final_accepts_a_complete_last_line_without_newline(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":2}')
    r = LineReader(p)
    assert [n for n, _ in r.read_lines(final=True)] == [1, 2]
    # appending after it does not re-read it
    with open(p, "ab") as f:
        f.write(b'\n{"c":3}\n')
    assert list(r.read_lines(final=True)) == [(3, b'{"c":3}')]


def test_final_holds_back_a_truncated_last_line(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":')
    r = LineReader(p)
    assert [n for n, _ in r.read_lines(final=True)] == [1]
    assert r.pending == 5


def test_crlf_blank_lines_and_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\r\n\n   \n{"b":2}\n')
    assert list(LineReader(p).read_lines()) == [(1, b'{"a":1}'), (4, b'{"b":2}')]


def test_lines_spanning_read_blocks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "BLOCK", 7)
    p = tmp_path / "s.jsonl"
    recs = [{"i": i, "pad": "x" * (i * 3)} for i in range(20)]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    got = [json.loads(line) for _, line in LineReader(p).read_lines()]
    assert got == recs


def test_oversized_line_is_dropped_and_counted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "BLOCK", 16)
    monkeypatch.setattr(jsonl, "MAX_LINE", 40)
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\n' + b'{"big":"' + b"y" * 200 + b'"}\n{"b":2}\n')
    r = LineReader(p)
    got = list(r.read_lines())
    assert got == [(1, b'{"a":1}'), (3, b'{"b":2}')]
    assert r.oversized == 1


def test_parse_line_reasons() -> None:
    assert parse_line(b'{"a":1}') == ({"a": 1}, None)
    assert parse_line(b'{"a":') == (None, "invalid JSON")
    assert parse_line(b"[1,2]") == (None, "JSON value is not an object")
    assert parse_line(b'{"a":"\xff"}') == (None, "invalid UTF-8")


def test_identity_changes(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":2}\n')
    r = LineReader(p)
    list(r.read_lines())
    assert r.changed_identity() is None
    p.write_bytes(b'{"a":1}\n')
    assert r.changed_identity() == "truncated"
    q = tmp_path / "t.jsonl"
    q.write_bytes(b'{"x":1}\n{"y":2}\n{"z":3}\n')
    q.rename(p)  # q's inode was allocated while p's was still in use: they differ
    assert r.changed_identity() == "replaced"
    p.unlink()
    assert r.changed_identity() == "deleted"
