"""Run ``python -m spendtui ARGS`` with a follower that breaks on demand:
``python -m tests.hardening.faulty_follower TRIGGER_FILE ARGS...``.

Once TRIGGER_FILE exists, the next ``SessionFollower.poll()`` raises — an exception in
the app's follower worker, as a bug or an unexpected file-system error would raise.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

from spendtui.core.follow import SessionFollower

_real_poll = SessionFollower.poll


def main() -> None:
    trigger = Path(sys.argv[1])

    def poll(self: SessionFollower, hint: Any = None) -> Any:
        if trigger.exists():
            raise RuntimeError("injected follower fault")
        return _real_poll(self, hint)

    SessionFollower.poll = poll  # type: ignore[method-assign]
    sys.argv = ["spendtui", *sys.argv[2:]]
    runpy.run_module("spendtui", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
