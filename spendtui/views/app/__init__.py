"""The Textual app (`spendtui` with no subcommand).

``run_app`` is the one entry point the CLI needs; ``SpendApp`` is exposed for
tests and the screenshot script, which drive it with ``run_test()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spendtui.core.paths import SessionFiles
from spendtui.views.app.app import SpendApp, save_summary, summaries_dir


def run_app(
    files: SessionFiles | None,
    claude_dirs: Sequence[str | Path] | None = None,
    prices: Any = None,
    force_polling: bool | None = None,
    clock: Callable[[], float] | None = None,
    use_cache: bool = True,
    budgets: Mapping[str, Any] | None = None,
    notify: bool = True,
    project: str | None = None,
) -> dict[str, Any] | None:
    """Run the dashboard on ``files`` (None: the no-session screen, which keeps looking).

    Returns the final summary dict (``spendtui summary --json``'s shape) after
    ``q``/Ctrl+C, already saved under ``summaries_dir()``; None if no session was shown.
    Raises SystemExit with the app's return code if the app crashed.
    ``budgets``: the budget flags (``{"session"|"day"|"month": USD}``), each winning over
    the config's ``[budget]`` value; ``notify``: desktop notifications for budget warnings.
    ``project`` (``--project``): with no ``files``, the no-session screen waits for a session of it.
    """
    app = SpendApp(files, claude_dirs=claude_dirs, prices=prices, force_polling=force_polling, clock=clock,
                   use_cache=use_cache, budgets=budgets, notify=notify, project=project)
    summary = app.run()
    if app.return_code:  # it crashed (Textual restored the terminal and printed why): fail like a crash
        raise SystemExit(app.return_code)
    return summary


__all__ = ["SpendApp", "run_app", "save_summary", "summaries_dir"]
