"""Composition: memory discovery, the ledger, calibration, baseline, graph order, segments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spendtui.core.context.composition import (
    IMAGE_TOKENS,
    MemoryFile,
    discover_memory,
    find_imports,
    memory_paths_in_text,
)
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import feed
from tests.records import tool_use


def est(obj: object) -> int:
    """The estimator the tests use: compact JSON (sorted keys) in UTF-8 bytes / 4, rounded up."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                                                       sort_keys=True)
    return (len(text.encode()) + 3) // 4


# ------------------------------------------------------------------ memory files
def test_discover_memory_order_and_imports(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "CLAUDE.md").write_text("user rules")
    proj = tmp_path / "a" / "b"
    (proj / "docs").mkdir(parents=True)
    (tmp_path / "a" / "CLAUDE.md").write_text("parent rules")
    (proj / "CLAUDE.md").write_text(
        "See @docs/x.md and `@inline.md`.\n```\n@fenced.md\n```\nmail me at a@b.c\n")
    (proj / "docs" / "x.md").write_text("imported, which imports @../y.md")
    (proj / "y.md").write_text("nested import")
    (proj / "inline.md").write_text("never")
    (proj / "fenced.md").write_text("never")
    (proj / "CLAUDE.local.md").write_text("local rules")
    files = discover_memory(proj, home=home, config_dir=home / ".claude", managed=None)
    assert [(Path(f.path).relative_to(tmp_path).as_posix(), f.kind) for f in files] == [
        ("home/.claude/CLAUDE.md", "user"),
        ("a/CLAUDE.md", "project"),
        ("a/b/CLAUDE.md", "project"),
        ("a/b/docs/x.md", "project"),
        ("a/b/y.md", "project"),
        ("a/b/CLAUDE.local.md", "local"),
    ]
    assert files[3].imported_by == str(proj / "CLAUDE.md")
    assert "(user's private project instructions, not checked in)" in files[-1].rendered()


def test_find_imports_skips_code() -> None:
    text = "@a.md first\n`@b.md` inline\n```\n@c.md\n```\n~~~\n@d.md\n~~~\ntext @e/f.md, end\nx@y.z"
    assert find_imports(text) == ["a.md", "e/f.md"]


def test_memory_sections_in_a_reminder() -> None:
    text = ("<system-reminder>\nAs you answer ...\n# claudeMd\nCodebase ...\n\n"
            "Contents of /p/CLAUDE.md (project instructions, checked into the codebase):\n\nrule one\n\n"
            "Contents of /p/docs/s.md (project instructions, checked into the codebase):\n\nstyle\n"
            "# currentDate\nToday's date is 2026-11-20.\n</system-reminder>")
    secs = memory_paths_in_text(text)
    assert [p for p, _, _ in secs] == ["/p/CLAUDE.md", "/p/docs/s.md"]
    assert text[secs[1][1]:secs[1][2]].endswith("style\n")


# ------------------------------------------------------------------ ledger and breakdown
def session() -> Chat:
    chat = Chat()
    chat.prompt("please look at a.py")
    chat.call([{"type": "text", "text": "Reading."}, read("t1", "/p/a.py")], w5=20000)
    read_result(chat, "t1", "/p/a.py", "print('hello')\n" * 100)
    chat.call([tool_use("t2", "Bash", command="ls", description="list")], w5=600, read=20000)
    chat.result("t2", "a.py\nb.py")
    chat.call([{"type": "text", "text": "Done."}], w5=60, read=20600)
    return chat


def test_parts_add_up_exactly_and_by_tool_and_file() -> None:
    _model, a = feed(session().records)
    s = a.summary_fields()
    b = s["context"]["breakdown"]
    assert b["measured_tokens"] == 3 + 60 + 20600
    assert sum(b["parts"].values()) == b["measured_tokens"]
    assert set(b["parts"]) == {"baseline", "memory", "attachments", "conversation", "tools",
                               "compaction_summary", "unlogged"}
    assert list(b["tools_by_name"]) == ["Read", "Bash"]  # biggest first
    assert list(b["tools_by_file"]) == ["/p/a.py"]
    for call in a.main_calls:
        assert sum(a.breakdown_for_call(call)["parts"].values()) == call.usage.prompt_tokens
    assert a.breakdown_for_call(("nope", "")) is None


def test_baseline_is_first_prompt_minus_its_messages() -> None:
    chat = Chat()
    chat.prompt("hi")
    chat.call(w5=10_000)
    _, a = feed(chat.records, estimator=None)
    # first call: 3 uncached + 10,000 written; its messages: the prompt text block and the
    # claudeMd reminder's fixed framing (sent but not logged), estimated at the prior ratio
    from spendtui.core.context.composition import REMINDER_HEAD, REMINDER_TAIL

    msgs = est({"type": "text", "text": "hi"}) + est({"type": "text", "text": REMINDER_HEAD + REMINDER_TAIL})
    assert a.ratio == 1.1  # bytes/4 prior: no pairs yet
    assert a.baseline() == pytest.approx(10_003 - 1.1 * msgs)


def test_calibration_follows_exact_growth() -> None:
    chat = Chat()
    chat.prompt("go")
    chat.call([read("t1", "/p/a.txt")], w5=5000)
    text = "some file content\n" * 300
    read_result(chat, "t1", "/p/a.txt", text)
    _, a = feed(chat.records)
    grown = a.ledger.total.est - a.main[0].est  # estimate of what call 2 will add: tool_use + result
    chat.call(w5=round(1.25 * grown), read=5003)
    _, a = feed(chat.records)
    assert a.ratio == pytest.approx(1.25, rel=0.01)
    assert all(abs(e) < 0.005 for e in a.estimate_errors())


def test_hidden_memory_from_disk_goes_into_the_first_call(tmp_path: Path) -> None:
    md = MemoryFile(str(tmp_path / "CLAUDE.md"), "rule\n" * 400, "project")
    chat = Chat()
    chat.prompt("hi")
    chat.call(w5=12_000)
    chat.call(w5=10, read=12_003)
    _, a = feed(chat.records, memory=[md])
    parts = a.summary_fields()["context"]["breakdown"]["parts"]
    from spendtui.core.context.composition import MEMORY_HEAD

    assert parts["memory"] == pytest.approx(1.1 * est(MEMORY_HEAD + md.rendered()), abs=2)
    items = [it for it in a.ledger.items if it.cat == "memory"]
    assert items and all(it.hidden for it in items)


def test_memory_in_transcript_wins_over_disk(tmp_path: Path) -> None:
    md = MemoryFile("/p/CLAUDE.md", "from disk " * 100, "project")
    chat = Chat()
    chat.prompt([{"type": "text", "text": "<system-reminder>\n# claudeMd\n\nContents of /p/CLAUDE.md "
                  "(project instructions, checked into the codebase):\n\nfrom the transcript\n\n"
                  "# currentDate\nToday\n</system-reminder>"}, {"type": "text", "text": "hi"}])
    chat.call(w5=9000)
    _, a = feed(chat.records, memory=[md])
    mem = [it for it in a.ledger.items if it.cat == "memory"]
    assert [it.path for it in mem] == ["/p/CLAUDE.md"] and not mem[0].hidden


def test_out_of_order_prompt_is_placed_before_its_reply() -> None:
    """Interactive Claude Code 2.1.197 writes a turn's prompt after the turn's first reply."""
    chat = session()
    recs = chat.records
    in_order = feed(recs)[1].main[0]
    prompt, first_block = recs[0], recs[1]
    shuffled = [first_block, recs[2], recs[3], prompt, *recs[4:]]
    out_of_order = feed(shuffled)[1].main[0]
    assert out_of_order.cats == in_order.cats
    assert out_of_order.est == pytest.approx(in_order.est)


def test_compaction_resets_the_ledger() -> None:
    chat = session()
    chat.compact(pre=20_700)
    chat.prompt("continue")
    chat.call(w5=900, read=18_000)
    _, a = feed(chat.records)
    last = a.main[-1]
    assert set(last.cats) >= {"compaction_summary"}
    assert "tools" not in last.cats  # the Read result left the context
    assert a.observed_baseline == 18_000  # read back on its own after the compaction
    assert a.baseline() == 18_000
    s = a.summary_fields()
    assert s["stale"]["left_context_tokens"] == (3 + 60 + 20600) - (3 + 900 + 18000)


def test_rewind_drops_the_abandoned_branch() -> None:
    chat = Chat()
    p1 = chat.prompt("first")
    chat.call([read("t1", "/p/big.txt")], w5=9000)
    read_result(chat, "t1", "/p/big.txt", "x" * 8000)
    chat.call(w5=2100, read=9000)
    # the user rewinds to before the read: the new prompt hangs off the first prompt's parent
    chat.prompt("second try", parent=p1["parentUuid"])
    chat.call(w5=30, read=9000)
    _, a = feed(chat.records)
    assert "tools" not in a.main[-1].cats
    assert a._growth[-1] is None  # no calibration pair across a rewind


def test_images_count_exactly() -> None:
    chat = Chat()
    chat.prompt([{"type": "text", "text": "look"},
                 {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 40000}}])
    chat.call(w5=20000)
    _, a = feed(chat.records)
    assert a.main[0].exact == IMAGE_TOKENS  # not the 40,000 characters of base64
    assert a.main[0].est < 100


def test_sub_agent_records_never_enter_the_parent_context() -> None:
    chat = session()
    agent = Chat()
    agent.prompt("explore")
    agent.call([read("ta", "/p/secret.py")], w5=15000, agent_id="ag1", sidechain=True)
    read_result(agent, "ta", "/p/secret.py", "y" * 9000)
    _, a = feed(chat.records, agents={"ag1": agent.records})
    assert all(it.path != "/p/secret.py" for it in a.ledger.items)
    assert "ag1" in a.agents and a.agents["ag1"].tools == {"Read": 1}


def test_rewind_to_a_middle_record() -> None:
    chat = Chat()
    chat.prompt("first")
    chat.call([read("t1", "/p/a.txt")], w5=9000)
    read_result(chat, "t1", "/p/a.txt", "a" * 400)
    mid = chat.call(w5=200, read=9000)
    chat.prompt("then this")
    chat.call([read("t2", "/p/big.txt")], w5=300, read=9200)
    read_result(chat, "t2", "/p/big.txt", "x" * 8000)
    chat.call(w5=2100, read=9500)
    chat.prompt("no, instead", parent=mid["uuid"])  # edit the second prompt
    chat.call(w5=40, read=9200)
    _, a = feed(chat.records)
    files = {it.path for it in a.ledger.items if it.path}
    assert "/p/a.txt" in files and "/p/big.txt" not in files
