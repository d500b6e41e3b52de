#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine (README: run it, then pytest):
#   the Python dev install; tmux and Node/npm from apt when missing; the pinned real Claude Code
#   + ccusage (npm, into .e2e/); Prometheus/promtool (Debian package) for the metrics tests.
#
# Only the Python install must succeed. A tool that cannot be had (no network, no apt, no root)
# is a loud warning and setup goes on: the tests that need it then skip loudly, and fail when
# SPENDTUI_REQUIRE_E2E=1 (as .ci/run sets), so CI cannot pass without them.
set -euo pipefail
cd "$(dirname "$0")/.."

BAR="$(printf '!%.0s' {1..78})"
warn() {  # a warning nobody scrolls past
  printf '\n%s\n!!! setup_tests.sh: %s\n%s\n\n' "$BAR" "$*" "$BAR" >&2
}

# ---------------------------------------------------------------- Python
# A distribution's python3 (Debian 12+, Ubuntu 23.04+) is "externally managed" (PEP 668) and
# refuses pip installs; the README's `python3 -m pytest` must still find the dev tools, so they go
# to the user's site-packages (~/.local), never over the distribution's own packages.
externally_managed() {
  python3 - <<'EOF'
import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(marker) else 1)
EOF
}
pip_args=(-q)
if externally_managed; then
  echo "setup_tests.sh: $(command -v python3) is externally managed (PEP 668): installing into the user site" >&2
  pip_args+=(--user --break-system-packages)
fi
if ! python3 -m pip install "${pip_args[@]}" -e '.[dev]'; then
  # offline, with everything already installed, the suite can still run
  if python3 -c 'import textual, watchfiles, anthropic, tiktoken, platformdirs, orjson, pytest, pytest_asyncio, hypothesis' 2>/dev/null; then
    warn "pip install -e '.[dev]' failed (offline?); the modules it provides are already installed, going on"
  else
    echo "setup_tests.sh: pip install -e '.[dev]' failed and the test dependencies are missing" >&2
    exit 1
  fi
fi

# ---------------------------------------------------------------- system tools
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
apt_updated=0
apt_install() {  # apt_install WHAT PACKAGE...: install the packages; warn loudly when that is impossible
  local what="$1"; shift
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "$what is missing and there is no apt-get here: install $* yourself; the tests that need it will skip (fail under SPENDTUI_REQUIRE_E2E=1)"
    return 0
  fi
  if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
    warn "$what is missing and installing it needs root (no sudo): apt-get install $*; the tests that need it will skip (fail under SPENDTUI_REQUIRE_E2E=1)"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then
    "${SUDO[@]}" apt-get update -qq >&2 || true  # stale lists may still do
    apt_updated=1
  fi
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2; then
    warn "apt-get install $* failed (offline?): $what is missing; the tests that need it will skip (fail under SPENDTUI_REQUIRE_E2E=1)"
  fi
}

command -v tmux >/dev/null 2>&1 || apt_install tmux tmux
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  apt_install "Node.js/npm" nodejs npm
fi

# ---------------------------------------------------------------- real clients, Prometheus
if ! bash scripts/install_e2e.sh >/dev/null; then
  warn "the pinned Claude Code and ccusage are NOT installed (npm missing or unreachable; see above). The real-client e2e tests will skip loudly, and fail under SPENDTUI_REQUIRE_E2E=1. Retry: bash scripts/install_e2e.sh"
fi
if ! bash .ci/prometheus.sh; then
  warn "Prometheus/promtool are NOT installed (see above): the metrics tests that need them will skip loudly, and fail under SPENDTUI_REQUIRE_E2E=1. Retry: bash .ci/prometheus.sh"
fi
