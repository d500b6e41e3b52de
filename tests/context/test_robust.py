"""The analyser takes any record the model accepts (or skips) without raising."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spendtui.core.context import ContextAnalyzer
from spendtui.core.model import SessionModel, Source
from spendtui.core.pricing import PriceTable

T = "2026-11-20T12:00:00.000Z"
ODD: list[dict[str, Any]] = [
    {"type": "user", "message": "a string", "timestamp": T},
    {"type": "user", "message": None, "timestamp": T},
    {"type": "user", "message": {"content": [1, None, "x", {"type": "tool_result"}]}, "timestamp": T},
    {"type": "assistant", "message": [1], "timestamp": T},
    {"type": "assistant", "message": {"id": 3, "model": None, "usage": "lots", "content": "text"}},
    {"type": "system", "subtype": "compact_boundary", "compactMetadata": "x", "timestamp": "yesterday"},
    {"type": "attachment", "attachment": 5},
    {"type": None},
    {},
]


@pytest.mark.parametrize("rec", ODD)
def test_odd_records_do_not_trouble_the_analyser(rec: dict[str, Any]) -> None:
    model = SessionModel("s")
    analyzer = ContextAnalyzer(model, PriceTable.default(), read_memory=False)
    analyzer.observe(rec, Source(Path("x.jsonl")), 1)  # must not raise
    model.ingest(rec, Source(Path("x.jsonl")), 2)
    assert model.observer_errors == {}
    analyzer.summary_fields()
