"""Small pure pieces of the app: formatting, message coalescing, the summary file."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from spendtui.core.live import CacheInfo, ContextGauge, LiveSnapshot, Notice
from spendtui.views.app import format as fmt
from spendtui.views.app import save_summary, summaries_dir
from spendtui.views.app.messages import LiveUpdate


def snapshot(cost: int = 0) -> LiveSnapshot:
    return LiveSnapshot("s1", None, None, None, cost, True, 0, 0, 0, 0, 0, 0, None, 0.0, None, None, None, None,
                        ContextGauge(0, 0, 200_000), (), (), (), ())


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (0.2, "0:01"), (59.5, "1:00"), (299, "4:59"),
                                               (3600, "1:00:00"), (3599.1, "1:00:00")])
def test_countdown_rounds_up(seconds: float, text: str) -> None:
    assert fmt.countdown(seconds) == text


def test_number_formats() -> None:
    assert fmt.usd(None) == "-"
    assert fmt.usd(5_280_000_000) == "$0.0053"
    assert fmt.usd(2 * 10**12) == "$2.00"
    assert fmt.rate(None) == "-" and fmt.rate(4.256) == "$4.26/h"
    assert fmt.percent(None) == "-" and fmt.percent(0.875) == "88%"
    assert fmt.short_model("claude-sonnet-4-5-20250929") == "sonnet-4-5"
    assert fmt.short_model("claude-opus-4-6") == "opus-4-6" and fmt.short_model(None) == "-"
    assert fmt.ttl_label(300) == "5m" and fmt.ttl_label(3600) == "1h"
    assert fmt.ago(30) == "30s ago" and fmt.ago(600) == "10m ago" and fmt.ago(7200) == "2.0h ago"
    assert fmt.clock_time(None) == "--:--:--"
    assert fmt.clock_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "03:04:05"  # TZ=UTC in tests


def test_cache_info_penalty_needs_both_prices() -> None:
    assert CacheInfo("m", 300, 0.0, 10, None, 5).penalty_pico is None
    assert CacheInfo("m", 300, 0.0, 10, 1, 5).penalty_pico == 4


def test_only_plain_updates_of_the_same_session_coalesce() -> None:
    a, b = snapshot(1), snapshot(2)
    assert LiveUpdate(1, a).can_replace(LiveUpdate(1, b))
    assert not LiveUpdate(1, a).can_replace(LiveUpdate(2, b))  # another session
    assert not LiveUpdate(1, a, [Notice("compaction", "t", "m")]).can_replace(LiveUpdate(1, b))  # keeps its toast
    assert not LiveUpdate(1, a, initial=True).can_replace(LiveUpdate(1, b))


def test_summary_is_saved_by_session_id_under_the_data_dir(tmp_path: Path) -> None:
    path = save_summary({"session_id": "abc", "cost_usd": 1.5})
    assert path == summaries_dir() / "abc.json"
    assert path.parent.parent == Path(os.environ["SPENDTUI_DATA_DIR"])
    assert json.loads(path.read_text()) == {"session_id": "abc", "cost_usd": 1.5}
    save_summary({"session_id": "abc", "cost_usd": 2.0})  # overwritten whole, no temp files left
    assert [p.name for p in path.parent.iterdir()] == ["abc.json"]
    assert save_summary({"session_id": "x"}, tmp_path / "elsewhere") == tmp_path / "elsewhere" / "x.json"
