#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine (README: run it, then pytest):
#   Python dev install, the pinned real Claude Code + ccusage (npm, into .e2e/),
#   Prometheus/promtool (Debian package) for the metrics tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[dev]'
bash scripts/install_e2e.sh >/dev/null
bash .ci/prometheus.sh
