#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) for tests/export:
# the real-server scrape test and `promtool check rules`. Idempotent: does nothing when
# both are already on PATH. Never starts the service; the tests start their own server
# on a free loopback port with a temporary config and storage dir.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo ".ci/prometheus.sh: $(prometheus --version 2>&1 | head -n1)" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101: the package must not start (or fail to start) a system service here
had_policy=0
if [ -e /usr/sbin/policy-rc.d ]; then had_policy=1; fi
if [ "$had_policy" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
set +e
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo ".ci/prometheus.sh: apt-get install prometheus failed ($rc)" >&2
  exit "$rc"
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null
echo ".ci/prometheus.sh: installed $(prometheus --version 2>&1 | head -n1)" >&2
