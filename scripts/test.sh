#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine, then the suite itself:
#   Python dev install, the pinned real Claude Code + ccusage (npm, into .e2e/),
#   Prometheus/promtool (Debian package) for the metrics tests; then pytest.
# Extra arguments go to pytest (e.g. bash scripts/test.sh -k cache -x).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[dev]'
bash scripts/install_e2e.sh >/dev/null
bash .ci/prometheus.sh
exec python3 -m pytest "$@"
