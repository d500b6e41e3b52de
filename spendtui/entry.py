"""The console script's first stop.

``spendtui statusline`` is started by Claude Code after every assistant message, so its
start-up is most of its cost. This module sends that one command straight to
``spendtui.core.statusline`` (standard library only) and everything else to the CLI,
whose imports (argparse, the session model, the price table) the status line does not
need. It understands only the options ``statusline`` takes; anything else goes to the
CLI, which parses it properly (and reaches the same code for ``statusline``).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing and collections.abc cost milliseconds this path does not have
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


BUDGET_FLAGS = {"--session-budget": "session", "--daily-budget": "day", "--monthly-budget": "month"}


def statusline_args(argv: Sequence[str]) -> dict[str, Any] | None:
    """``run_statusline``'s arguments when ``argv`` is a plain statusline call, else None."""
    transcript: str | None = None
    before: list[str] = []  # --claude-dir given before the subcommand ...
    after: list[str] = []  # ... and after it: argparse keeps only these when there are any
    budgets: tuple[dict[str, str], dict[str, str]] = ({}, {})  # scope -> text, before/after the subcommand
    no_cache = False
    seen = False
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, value = a.partition("=")
        if a == "statusline" and not seen:
            seen = True
        elif name == "--claude-dir" or (name == "--transcript" and seen) or name in BUDGET_FLAGS:
            if not eq:
                i += 1
                if i >= len(argv) or argv[i].startswith("-"):
                    return None  # let argparse say what is missing
                value = argv[i]
            if name == "--transcript":
                transcript = value
            elif name in BUDGET_FLAGS:
                budgets[seen][BUDGET_FLAGS[name]] = value
            else:
                (after if seen else before).append(value)
        elif a == "--no-cache":
            no_cache = True
        else:
            return None
        i += 1
    if not seen:
        return None
    out: dict[str, Any] = {"transcript": transcript, "claude_dirs": after or before or None,
                           "use_state": not no_cache}
    if budgets[0] or budgets[1]:
        out["budgets"] = {**budgets[0], **budgets[1]}  # after the subcommand wins, as in argparse
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    fast = statusline_args(args)
    if fast is not None:
        from spendtui.core.statusline import run_statusline

        return run_statusline(**fast)
    from spendtui.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
