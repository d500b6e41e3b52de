"""Real-client test harness.

* :mod:`tests.harness.fake_api` – a loopback stand-in for the Anthropic Messages API that
  answers Claude Code with scripted responses and writes a ground-truth usage log.
* :mod:`tests.harness.claude` – drives the real ``claude`` CLI (``-p`` and tmux-interactive)
  against the fake.
* :mod:`tests.harness.tools` – locates the pinned e2e clients (``claude``, ``ccusage``).
"""
