"""The app and bad input: a corrupt line neither stops the dashboard nor changes its
numbers, and (issue 6) its count and reason are shown. Driven through the app's public
API only (``SpendApp`` + ``run_test``, ``app.snapshot``, ``final_summary``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spendtui.core.loader import load_with_dedup
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from spendtui.views.app import SpendApp
from tests.app.conftest import T0, FakeClock, make_session, wait_for
from tests.hardening.conftest import screen_text, totals
from tests.records import append_jsonl, assistant, ts, usage, user

SONNET = "claude-sonnet-4-5-20250929"
GOOD = [
    user("hello", when=ts(0, 0)),
    assistant("m1", "r1", usage(10, 100, cw5=1000), model=SONNET, when=ts(1, 0)),
]
BAD = ["{broken", '{"type": "assistant", "message": "not an object"}']


@pytest.fixture
def prices() -> PriceTable:
    return PriceTable.embedded()


async def test_corrupt_lines_keep_the_numbers_and_the_app_running(tmp_path: Path, prices: PriceTable) -> None:
    root = tmp_path / "claude"
    files = make_session(root, [GOOD[0], BAD[0], GOOD[1], BAD[1]], sid="dirty")
    assert files.main is not None
    app = SpendApp(files, [root], prices, clock=FakeClock(T0 + 30), force_polling=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.updates > 0, "the first paint")
        assert app.snapshot is not None
        first = app.snapshot
        # more bad lines while it runs, then a good call
        append_jsonl(files.main, ["\x00\x01 binary", assistant("m2", "r2", usage(5, 50), model=SONNET,
                                                               when=ts(2, 0))])
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.calls == 2, "the appended call")
        summary = app.final_summary()
        assert app.is_running
    assert first.calls == 1
    clean = make_session(tmp_path / "clean", [*GOOD, assistant("m2", "r2", usage(5, 50), model=SONNET,
                                                              when=ts(2, 0))], sid="clean")
    want = session_summary(load_with_dedup(clean, prices.cost), prices)
    assert summary is not None
    assert totals(summary) == totals(want)
    assert summary["skipped_lines"] == 3
    assert [s["reason"] for s in summary["skipped"]] == [
        "invalid JSON", "assistant record without a message object", "invalid JSON"]


async def test_corrupt_lines_are_counted_on_screen(tmp_path: Path, prices: PriceTable) -> None:
    root = tmp_path / "claude"
    files = make_session(root, [GOOD[0], BAD[0], GOOD[1], BAD[1]], sid="dirty")
    app = SpendApp(files, [root], prices, clock=FakeClock(T0 + 30), force_polling=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.updates > 0, "the first paint")
        assert getattr(app.snapshot, "skipped_lines", None) == 2
        text = screen_text(app)
        assert re.search(r"\b2\b[^.]{0,40}skipped|skipped[^.]{0,40}\b2\b", text), text
        assert "invalid JSON" in text
