"""Run the Textual app headlessly on a Claude config dir, quit with ``q``, print what it
returned: ``python -m tests.hardening.run_headless CLAUDE_DIR [SESSION] [--seconds N]``.

Used where the app has to run in another process (a mount namespace with a read-only
tree, under the network guard); in-process tests call ``run()`` directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from spendtui.core.paths import discover, find_session, pick_default
from spendtui.core.pricing import PriceTable
from spendtui.views.app import SpendApp


async def run(claude_dir: Path, session: str | None = None, seconds: float = 1.0,
              size: tuple[int, int] = (160, 50)) -> dict[str, Any]:
    sessions = discover([claude_dir])
    files = find_session(session, sessions) if session else pick_default(sessions)
    app = SpendApp(files, [claude_dir], PriceTable.default(), force_polling=True)
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + 20
        while app.updates == 0 and files is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("the app never painted")
            await pilot.pause(0.05)
        await pilot.pause(seconds)
        await pilot.press("q")
        await pilot.pause(0.2)
    return {"summary": app.summary, "summary_path": str(app.summary_path) if app.summary_path else None,
            "return_value": app.return_value}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("claude_dir", type=Path)
    p.add_argument("session", nargs="?")
    p.add_argument("--seconds", type=float, default=1.0)
    a = p.parse_args()
    out = asyncio.run(run(a.claude_dir, a.session, a.seconds))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
