"""Many sessions at once: worker processes give the same rows as one process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spendtui.core import batch
from spendtui.core.paths import discover
from spendtui.core.pricing import PriceTable
from tests.conftest import SAMPLES


def test_parallel_rows_equal_serial_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, p in enumerate(sorted(SAMPLES.glob("*.jsonl"))):
        proj = tmp_path / "projects" / f"-proj{i % 3}"
        proj.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, proj / p.name)
    sessions = discover([tmp_path])
    prices = PriceTable.default()
    serial = batch.session_rows(sessions, prices, workers=1, now=1e9)
    monkeypatch.setattr(batch, "PARALLEL_MIN_BYTES", 0)
    parallel = batch.session_rows(sessions, prices, workers=2, now=1e9)
    assert parallel == serial
    assert len(serial) == len(sessions)
    assert sum(r["api_calls"] for r in serial) > 0
