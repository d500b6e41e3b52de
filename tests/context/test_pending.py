"""Records whose parent never comes: the analysis waits a bounded number of records, loses none.

Claude Code 2.1 writes a turn's prompt after that turn's first reply, so the analysis holds a
record back until its parent arrives. A lost line (or a writer that breaks the chain) means
a parent that never comes: everything after it would wait, whole, until the next query.
"""

from __future__ import annotations

from pathlib import Path

from spendtui.core.context import ContextAnalyzer
from spendtui.core.context.analyzer import MAX_PENDING
from spendtui.core.loader import load_session
from spendtui.core.model import SessionModel
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from tests import records as R
from tests.context.chat import Chat, read, read_result


def test_a_lost_parent_holds_back_a_bounded_number_of_records(tmp_path: Path) -> None:
    c = Chat(sessionId="lost")
    c.prompt("go")
    for i in range(3):
        c.call([read(f"a{i}", f"/p/a{i}.py")], w5=500, read=2_000 + 100 * i)
        read_result(c, f"a{i}", f"/p/a{i}.py", "x\n" * 5)
    lost = c.call(w5=10, read=2_400)  # this line is never written
    for i in range(400):
        c.call([read(f"b{i}", f"/p/b{i}.py")], w5=50, read=2_500 + 10 * i)
        read_result(c, f"b{i}", f"/p/b{i}.py", "y\n" * 5)
    proj = tmp_path / "projects" / "-p"
    R.write_jsonl(proj / "lost.jsonl", [r for r in c.records if r is not lost])

    prices = PriceTable.default()
    model = SessionModel("lost")
    a = ContextAnalyzer(model, prices, read_memory=False)
    waiting: list[int] = []
    model.record_observers.append(lambda *_: waiting.append(a._pending_n))
    load_session(scan_project(proj)["lost"], prices.cost, model=model)
    assert max(waiting) == MAX_PENDING  # it did wait, and no longer than that
    a.flush()
    # every call after the lost line was analysed, once, in order
    assert len(a.main) == model.counted_main_calls == 3 + 400
    assert [a.main[i].prompt for i in range(len(a.main))] == [
        c_.usage.prompt_tokens for c_ in sorted(model.calls.values(), key=lambda x: x.seq)]
