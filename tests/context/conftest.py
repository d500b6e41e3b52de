from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spendtui.core.context import ContextAnalyzer
from spendtui.core.context.tokens import ByteEstimator
from spendtui.core.loader import load_session
from spendtui.core.model import SessionModel, Source
from spendtui.core.paths import scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary

# Hand-copied list prices (USD per million tokens) for the independent calculations in the
# tests: input, output, 5-minute write, 1-hour write, cache read.
RATES = {
    "sonnet": (3.0, 15.0, 3.75, 6.0, 0.30),
    "haiku": (1.0, 5.0, 1.25, 2.0, 0.10),
    "opus48": (5.0, 25.0, 6.25, 10.0, 0.50),
}


def hand_cost(rates: tuple[float, ...], inp: int = 0, out: int = 0, w5: int = 0, w1: int = 0, read: int = 0) -> float:
    """USD of one call, written out: tokens x rate / 1e6 per kind."""
    i, o, c5, c1, r = rates
    return (inp * i + out * o + w5 * c5 + w1 * c1 + read * r) / 1e6


def hand_cost_usage(rates: tuple[float, ...], u: dict[str, Any]) -> float:
    cc = u.get("cache_creation") or {}
    w1 = cc.get("ephemeral_1h_input_tokens", 0)
    w5 = cc.get("ephemeral_5m_input_tokens", u.get("cache_creation_input_tokens", 0) - w1)
    return hand_cost(rates, u.get("input_tokens", 0), u.get("output_tokens", 0), w5, w1,
                     u.get("cache_read_input_tokens", 0))


@pytest.fixture(scope="session")
def prices() -> PriceTable:
    return PriceTable.embedded()


def feed(records: list[dict[str, Any]], prices: PriceTable | None = None, *,
         agents: dict[str, list[dict]] | None = None, **kw: Any) -> tuple[SessionModel, ContextAnalyzer]:
    """Run records through a fresh model with an analyzer attached (main file, then agent files)."""
    prices = prices or PriceTable.embedded()
    model = SessionModel("s1", pricer=prices.cost)
    kw.setdefault("estimator", ByteEstimator())
    kw.setdefault("read_memory", False)
    analyzer = ContextAnalyzer(model, prices, **kw)
    src = Source(Path("/tmp/proj/s1.jsonl"))
    for i, rec in enumerate(records):
        model.ingest(rec, src, i + 1)
    for aid, recs in (agents or {}).items():
        asrc = Source(Path(f"/tmp/proj/s1/subagents/agent-{aid}.jsonl"), agent_id=aid)
        for i, rec in enumerate(recs):
            model.ingest(rec, asrc, i + 1)
    return model, analyzer


def analyze_case(case: Any, prices: PriceTable, **kw: Any) -> tuple[SessionModel, ContextAnalyzer, dict[str, Any]]:
    """Load a harness case from disk the way the CLI does, with the analyzer attached first."""
    files = scan_project(case.project_dir)[case.session_id]
    model = SessionModel(case.session_id)
    kw.setdefault("home", case.home)
    kw.setdefault("config_dir", case.config_dir)
    analyzer = ContextAnalyzer(model, prices, **kw)
    load_session(files, prices.cost, model=model)
    summary = session_summary(model, prices)
    analyzer.merge_into(summary)
    return model, analyzer, summary


@pytest.fixture(scope="session")
def harness_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Build (once per test run) every Done-when session with the real claude CLI."""
    from tests.harness.tools import require_clients

    require_clients("claude")
    from tests.context.harness_cases import build, register_plans

    register_plans()
    base = tmp_path_factory.mktemp("ctx-cases")
    built: dict[str, Any] = {}

    class Lazy:
        def __getitem__(self, name: str) -> Any:
            if name not in built:
                built[name] = build(name, base)
            return built[name]

    yield Lazy()
