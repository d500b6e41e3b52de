"""Shared pieces of the app tests: a real transcript in tmp_path, a fake clock, polling waits."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from spendtui.core.paths import SessionFiles, scan_project
from spendtui.core.pricing import PriceTable
from tests.records import write_jsonl

PROJECT = "-tmp-proj"
T0 = 1_795_176_000.0  # 2026-11-20T12:00:00Z, the records builders' day


class FakeClock:
    """Wall clock the tests move by hand (the app only reads it)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    """Call times are shown in local time; pin it so snapshots match anywhere."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture(scope="session")
def prices() -> PriceTable:
    return PriceTable.embedded()


@pytest.fixture
def claude_root(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    (root / "projects" / PROJECT).mkdir(parents=True)
    return root


def project_dir(root: Path) -> Path:
    return root / "projects" / PROJECT


def make_session(root: Path, records: list[Any], sid: str = "s1") -> SessionFiles:
    write_jsonl(project_dir(root) / f"{sid}.jsonl", records)
    return scan_project(project_dir(root))[sid]


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``cond`` while letting the app run; fail with ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)
