#!/usr/bin/env bash
# Browser tests (HTML report, live dashboard) drive Debian's Chromium through playwright-core.
# Install it once from Debian's packages when it is missing; never download a browser build.
# Runs from `npm test` (pretest) and CI; a no-op when /usr/bin/chromium exists.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "ensure-chromium: /usr/bin/chromium is missing and this user cannot install it; run: sudo apt-get install -y chromium" >&2
    exit 1
  fi
else SUDO=; fi
echo "ensure-chromium: installing Debian's chromium for the browser tests…" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
