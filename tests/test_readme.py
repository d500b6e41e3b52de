"""The README's two commands are there, and CI runs exactly the test one."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _block_after(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split(marker, 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0].strip()


def test_readme_has_install_and_test_commands() -> None:
    install = _block_after("<!-- install-command -->")
    test = _block_after("<!-- test-command -->")
    assert "pip install" in install and "spendtui" in install
    assert test.endswith("python3 -m pytest")
    setup = (ROOT / test.split()[1]).read_text()
    assert "install_e2e.sh" in setup and "pip install" in setup


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    awk = script.split('cmd="$(', 1)[1].rsplit(' README.md)"', 1)[0]
    out = subprocess.run(["bash", "-c", f"{awk} README.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _block_after("<!-- test-command -->")
