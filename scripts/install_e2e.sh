#!/usr/bin/env bash
# Install the pinned real clients used by the e2e tests (tests/e2e) into <repo>/.e2e/.
# Idempotent: does nothing when the pinned versions are already installed.
# Prints the bin dir (…/.e2e/node_modules/.bin) on stdout as the last line.
set -euo pipefail

CLAUDE_VERSION="2.1.197"
CCUSAGE_VERSION="20.0.24"   # keep ccusage and its native package on the same version

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SPENDTUI_E2E_PREFIX:-$repo/.e2e}"
bin="$prefix/node_modules/.bin"

installed_version() {  # <package> -> version or empty
  local pj="$prefix/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" 2>/dev/null || true
}

if ! command -v npm >/dev/null 2>&1; then
  echo "install_e2e.sh: npm not found (apt-get install -y nodejs npm)" >&2
  exit 1
fi

if [ "$(installed_version @anthropic-ai/claude-code)" = "$CLAUDE_VERSION" ] \
  && [ "$(installed_version ccusage)" = "$CCUSAGE_VERSION" ] \
  && [ "$(installed_version @ccusage/ccusage-linux-x64)" = "$CCUSAGE_VERSION" ] \
  && [ -x "$bin/claude" ] && [ -x "$bin/ccusage" ]; then
  echo "install_e2e.sh: already installed (claude $CLAUDE_VERSION, ccusage $CCUSAGE_VERSION)" >&2
else
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{"name":"spendtui-e2e","private":true}' >"$prefix/package.json"
  echo "install_e2e.sh: installing into $prefix" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
    "ccusage@$CCUSAGE_VERSION" \
    "@ccusage/ccusage-linux-x64@$CCUSAGE_VERSION" >&2
fi

"$bin/claude" --version >&2 || { echo "install_e2e.sh: claude does not run" >&2; exit 1; }
"$bin/ccusage" --version >&2 || { echo "install_e2e.sh: ccusage does not run" >&2; exit 1; }
echo "$bin"
