"""Staleness: superseded reads, cold output, compaction, sub-agents; its cost per call."""

from __future__ import annotations

import pytest

from spendtui.core.context.composition import Item
from spendtui.core.context.staleness import StaleTracker
from tests import records as R
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import RATES, feed
from tests.records import tool_use


def edit(tid: str, path: str) -> dict:
    return tool_use(tid, "Edit", file_path=path, old_string="a", new_string="b")


def stale_items(a: object) -> dict[str, str | None]:
    return {f"{it.tool}:{it.tool_use_id}": it.stale_why for it in a.ledger.items if it.stale}  # type: ignore[attr-defined]


def test_read_edit_read() -> None:
    chat = Chat()
    chat.prompt("fix a.py")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 500)
    chat.call([edit("e1", "/p/a.py")], w5=300, read=9000)
    chat.result("e1", "The file /p/a.py has been updated successfully.",
                toolUseResult={"filePath": "/p/a.py", "oldString": "a", "newString": "b"})
    chat.call([read("r2", "/p/a.py")], w5=100, read=9300)
    read_result(chat, "r2", "/p/a.py", "b\n" * 500)
    chat.call(w5=300, read=9400)
    _, a = feed(chat.records)
    assert stale_items(a) == {"Read:r1": "edited"}
    first = next(it for it in a.ledger.items if it.is_result and it.tool == "Read")
    assert first.stale == "superseded"
    assert a.stale.stale.est == first.est


@pytest.mark.parametrize(("tool", "inp", "why"), [
    ("Write", {"file_path": "/p/a.py", "content": "b\n" * 500}, "written"),
    ("MultiEdit", {"file_path": "/p/a.py", "edits": [{"old_string": "a", "new_string": "b"},
                                                     {"old_string": "c", "new_string": "d"}]}, "edited"),
    ("NotebookEdit", {"notebook_path": "/p/a.py", "new_source": "b", "cell_id": "c1"}, "edited"),
])
def test_write_multiedit_and_notebookedit_supersede_the_read(tool: str, inp: dict, why: str) -> None:
    """Every file-changing tool makes the earlier full read of that file dead weight; the
    tool's own result (a short confirmation) stays current, and so does a read of another file."""
    chat = Chat()
    chat.prompt("rewrite a.py")
    chat.call([read("r1", "/p/a.py"), read("r0", "/p/other.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 500)
    read_result(chat, "r0", "/p/other.py", "o\n" * 300)
    chat.call([tool_use("w1", tool, **inp)], w5=300, read=9000)
    chat.result("w1", "The file /p/a.py has been updated successfully.")
    chat.call(w5=100, read=9300)
    _, a = feed(chat.records)
    assert stale_items(a) == {"Read:r1": why}
    first = next(it for it in a.ledger.items if it.is_result and it.tool_use_id == "r1")
    assert first.stale == "superseded"
    assert a.stale.stale.est == first.est  # exactly that read's tokens, nothing else


def test_a_failed_write_leaves_the_read_current() -> None:
    chat = Chat()
    chat.prompt("rewrite a.py")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 500)
    chat.call([tool_use("w1", "Write", file_path="/p/a.py", content="b")], w5=300, read=9000)
    chat._add(R.user([{"type": "tool_result", "tool_use_id": "w1", "is_error": True,
                        "content": "<tool_use_error>File has not been read yet.</tool_use_error>"}]))
    chat.call(w5=100, read=9300)
    _, a = feed(chat.records)
    assert stale_items(a) == {}


def test_partial_read_does_not_supersede_but_a_full_one_does() -> None:
    chat = Chat()
    chat.prompt("look")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 50)
    chat.call([read("r2", "/p/a.py", offset=10, limit=5)], w5=100, read=9000)
    read_result(chat, "r2", "/p/a.py", "a\n" * 5, start=10, total=51)
    chat.call([read("r3", "/p/a.py")], w5=100, read=9100)
    _, a = feed(chat.records)
    assert a.stale.stale.est == 0  # the partial read left the full one current
    read_result(chat, "r3", "/p/a.py", "a\n" * 50)
    chat.call(w5=100, read=9200)
    _, a = feed(chat.records)
    whys = [it.stale_why for it in a.ledger.items if it.stale]
    assert whys == ["read again", "read again"]  # both earlier copies


def test_unchanged_re_read_keeps_the_old_copy_current() -> None:
    chat = Chat()
    chat.prompt("look")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 50)
    chat.call([read("r2", "/p/a.py")], w5=100, read=9000)
    chat.result("r2", "File unchanged since last read.", toolUseResult={"type": "file_unchanged",
                                                                        "file": {"filePath": "/p/a.py"}})
    chat.call(w5=100, read=9100)
    _, a = feed(chat.records)
    assert a.stale.stale.est == 0


def test_changed_on_disk_notice() -> None:
    chat = Chat()
    chat.prompt("look")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 50)
    chat.attachment({"type": "edited_text_file", "filename": "/p/a.py", "snippet": "1→b"})
    chat.call(w5=100, read=9000)
    _, a = feed(chat.records)
    assert stale_items(a) == {"Read:r1": "changed on disk"}


def test_cold_after_three_turns_and_warm_again_when_referred_to() -> None:
    chat = Chat()
    chat.prompt("run it")
    chat.call([tool_use("b1", "Bash", command="make", description="build")], w5=9000)
    chat.result("b1", "build output " * 200)
    chat.call([read("r1", "/p/notes.md")], w5=900, read=9000)
    read_result(chat, "r1", "/p/notes.md", "notes\n" * 100)
    chat.call(w5=200, read=9900)
    for n in range(3):
        chat.prompt(f"unrelated question {n}")
        chat.call(w5=20, read=10_100 + 23 * n)
    _, a = feed(chat.records)
    cold = {it.tool for it in a.ledger.items if a.stale.state(it) == "cold"}
    assert cold == {"Bash", "Read"}
    assert a.main[-1].cold_est > 0
    chat.prompt("what did notes.md say?")
    chat.call([{"type": "text", "text": "notes.md says: notes"}], w5=20, read=10_200)
    _, a = feed(chat.records)
    assert {it.tool for it in a.ledger.items if a.stale.state(it) == "cold"} == {"Bash"}


def test_tracker_counts_are_incremental() -> None:
    t = StaleTracker(cold_turns=2)
    items = [Item("tools", 100, tool="Read", path="/a", is_result=True),
             Item("tools", 50, tool="Bash", is_result=True)]
    for it in items:
        t.add(it)
    t.on_read(items[0], full=True)
    t.on_turn()
    assert t.cold.est == 0
    t.on_turn()
    assert t.cold.est == 150
    t.on_modified("/a", "edited")
    assert (t.stale.est, t.cold.est) == (100, 50)
    t.remove([items[1]])
    assert t.cold.est == 0


def test_compaction_clears_stale_and_microcompaction_removes_results() -> None:
    chat = Chat()
    chat.prompt("fix")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 500)
    chat.call([edit("e1", "/p/a.py")], w5=300, read=9000)
    chat.result("e1", "ok")
    chat.system("microcompact_boundary", microcompactMetadata={"trigger": "auto", "preTokens": 9600,
                                                                "tokensSaved": 250, "compactedToolIds": ["r1"]})
    chat.call(w5=10, read=9000)
    _, a = feed(chat.records)
    assert a.stale.stale.est == 0 and all(it.tool_use_id != "r1" or not it.is_result for it in a.ledger.items)
    chat.compact(pre=9400)
    chat.prompt("more")
    chat.call(w5=500, read=8000)
    _, a = feed(chat.records)
    assert a.stale.stale.est == 0 and a.main[-1].stale_est == 0


def test_stale_cost_per_call_at_cache_read_and_write_prices() -> None:
    chat = Chat()
    chat.prompt("fix")
    chat.call([read("r1", "/p/a.py")], w5=9000)
    read_result(chat, "r1", "/p/a.py", "a\n" * 4000)
    chat.call([edit("e1", "/p/a.py")], w5=2000, read=9000)
    chat.result("e1", "ok")
    chat.call(w5=100, read=11_000)
    _, a = feed(chat.records)
    st = a.summary_fields()["stale"]
    _i, _o, w5, _w1, rd = RATES["sonnet"]
    assert st["tokens"] > 1000
    assert st["cost_per_call_usd"] == pytest.approx(st["tokens"] * rd / 1e6, abs=1e-9)
    assert st["cost_per_call_after_miss_usd"] == pytest.approx(st["tokens"] * w5 / 1e6, abs=1e-9)
    assert st["share"] == pytest.approx(st["tokens"] / (3 + 100 + 11_000), abs=1e-4)
    assert st["by_reason"] == {"superseded": st["tokens"], "cold": 0}
    assert st["items"][0]["what"] == "/p/a.py" and st["items"][0]["why"] == "edited"
