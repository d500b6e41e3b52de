"""Fixtures for tests that need real programs (prometheus, promtool, the OTel SDK).

A missing program is a loud skip on a developer's machine and a failure in CI, where
``.ci/run`` sets ``SPENDTUI_REQUIRE_E2E=1`` and ``.ci/prometheus.sh`` installs Prometheus.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings

import pytest

REQUIRED = os.environ.get("SPENDTUI_REQUIRE_E2E") == "1"


def require_program(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    msg = f"{name} not found on PATH ({install_hint})"
    if REQUIRED:
        pytest.fail(msg + "; SPENDTUI_REQUIRE_E2E=1 makes this a failure")
    warnings.warn(msg, stacklevel=2)
    pytest.skip("SKIPPED LOUDLY: " + msg)


def require_module(name: str, install_hint: str) -> None:
    if importlib.util.find_spec(name) is not None:
        return
    msg = f"Python module {name} is not installed ({install_hint})"
    if REQUIRED:
        pytest.fail(msg + "; SPENDTUI_REQUIRE_E2E=1 makes this a failure")
    warnings.warn(msg, stacklevel=2)
    pytest.skip("SKIPPED LOUDLY: " + msg)


@pytest.fixture
def promtool() -> str:
    return require_program("promtool", "run: bash .ci/prometheus.sh")


@pytest.fixture
def prometheus_bin() -> str:
    return require_program("prometheus", "run: bash .ci/prometheus.sh")


@pytest.fixture
def otel() -> None:
    require_module("opentelemetry.sdk", "pip install -e '.[otel]'")
    require_module("opentelemetry.exporter.otlp.proto.http", "pip install -e '.[otel]'")
