"""Locating the pinned real clients used by the e2e tests (``claude``, ``ccusage``).

The clients are installed by ``bash scripts/install_e2e.sh`` into ``<repo>/.e2e/node_modules/.bin``;
``SPENDTUI_E2E_BIN`` overrides that directory. Tests call :func:`require_clients`, which skips
(loudly) when a client is missing – or fails, when ``SPENDTUI_REQUIRE_E2E=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLAUDE_VERSION = "2.1.197"
CCUSAGE_VERSION = "20.0.24"


def e2e_bin_dir() -> Path:
    env = os.environ.get("SPENDTUI_E2E_BIN")
    if env:
        return Path(env).expanduser()
    return REPO_ROOT / ".e2e" / "node_modules" / ".bin"


def client_path(name: str) -> Path | None:
    """Absolute path of ``claude``/``ccusage`` in the e2e bin dir, or None when missing."""
    p = e2e_bin_dir() / name
    if p.exists() and os.access(p, os.X_OK):
        return p
    return None


def claude_bin() -> Path:
    p = client_path("claude")
    if p is None:
        raise FileNotFoundError(f"claude not found in {e2e_bin_dir()}")
    return p


def ccusage_bin() -> Path:
    p = client_path("ccusage")
    if p is None:
        raise FileNotFoundError(f"ccusage not found in {e2e_bin_dir()}")
    return p


def e2e_required() -> bool:
    return os.environ.get("SPENDTUI_REQUIRE_E2E", "") not in ("", "0", "false", "no")


def _missing_message(missing: list[str]) -> str:
    return (
        "\n" + "!" * 78 + "\n"
        f"!!! E2E CLIENTS MISSING: {', '.join(missing)} not found in {e2e_bin_dir()}\n"
        "!!! The real-client e2e tests did NOT run.\n"
        "!!! Install them with:  bash scripts/install_e2e.sh   (or set SPENDTUI_E2E_BIN)\n"
        + "!" * 78
    )


def require_clients(*names: str) -> dict[str, Path]:
    """Return {name: path} for the given clients (default: claude and ccusage).

    Missing clients → ``pytest.skip`` with a loud reason, or ``pytest.fail`` when
    ``SPENDTUI_REQUIRE_E2E=1``.
    """
    import pytest

    names = names or ("claude", "ccusage")
    found: dict[str, Path] = {}
    missing: list[str] = []
    for n in names:
        p = client_path(n)
        if p is None:
            missing.append(n)
        else:
            found[n] = p
    if "tmux" in names and "tmux" in missing:  # tmux is a system tool, not in the e2e bin
        missing.remove("tmux")
        tm = shutil.which("tmux")
        if tm:
            found["tmux"] = Path(tm)
        else:
            missing.append("tmux")
    if missing:
        msg = _missing_message(missing)
        if e2e_required():
            pytest.fail(msg + "\n(SPENDTUI_REQUIRE_E2E=1, so this is a failure)", pytrace=False)
        pytest.skip(msg)
    return found


def require_program(name: str, install_hint: str) -> Path:
    """A system program (tmux, …) on PATH, or ``pytest.skip`` with a loud reason – ``pytest.fail``
    when ``SPENDTUI_REQUIRE_E2E=1``: CI must run the tests that need it, not skip them."""
    import pytest

    found = shutil.which(name)
    if found:
        return Path(found)
    msg = ("\n" + "!" * 78 + "\n"
           f"!!! {name.upper()} MISSING: {name} is not on PATH, so this test did NOT run.\n"
           f"!!! Install it with:  {install_hint}   (bash scripts/setup_tests.sh does)\n" + "!" * 78)
    if e2e_required():
        pytest.fail(msg + "\n(SPENDTUI_REQUIRE_E2E=1, so this is a failure)", pytrace=False)
    pytest.skip(msg)
