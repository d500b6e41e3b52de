"""Fixtures for the real-client e2e tests.

``e2e_scenario(name)`` runs a scenario from :mod:`tests.e2e.scenarios` once per test session
(results are cached; a failing scenario fails every test that asks for it) and returns its
:class:`~tests.e2e.scenarios.ScenarioResult`. It skips loudly when the pinned clients are
missing (fails instead with ``SPENDTUI_REQUIRE_E2E=1``); the ``interactive`` scenario also needs
tmux.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.scenarios import NEEDS_TMUX, ScenarioResult, run_scenario
from tests.harness.tools import require_clients

_SKIPPED: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Make skipped real-client scenarios impossible to miss in the output."""
    if _SKIPPED:
        tr = terminalreporter
        tr.section("REAL-CLIENT E2E SCENARIOS SKIPPED", sep="!", red=True, bold=True)
        for line in sorted(set(_SKIPPED)):
            tr.line(line, red=True)
        tr.line("install the pinned clients with: bash scripts/install_e2e.sh", red=True)


@pytest.fixture(scope="session")
def e2e_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spendtui-e2e")


@pytest.fixture(scope="session")
def e2e_scenario(e2e_base: Path) -> Callable[[str], ScenarioResult]:
    cache: dict[str, ScenarioResult | BaseException] = {}

    def get(name: str) -> ScenarioResult:
        try:
            require_clients("claude", *(("tmux",) if name in NEEDS_TMUX else ()))
        except pytest.skip.Exception as exc:
            _SKIPPED.append(f"{name}: {str(exc).strip().splitlines()[1]}")
            raise
        if name not in cache:
            try:
                cache[name] = run_scenario(name, e2e_base)
            except Exception as exc:
                cache[name] = exc
        res = cache[name]
        if isinstance(res, BaseException):
            raise res
        return res

    return get
