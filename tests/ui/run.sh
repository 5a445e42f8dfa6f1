#!/usr/bin/env bash
# The web UI's end-to-end suite: installs the pinned Playwright (package-lock.json; never
# a browser download) and runs specs/ in Debian's Chromium against a private
# `promptops serve` (global-setup.js). The list reporter ends with `N passed` / `N failed`.
#
#   PROMPTOPS_BIN  the binary (default /tmp/e2e-bin/promptops, else ../../target/debug/promptops)
#   CHROMIUM       the browser (default /usr/bin/chromium)
# Extra arguments go to `playwright test` (e.g. -g "audit"). Screenshots: artifacts/.
set -euo pipefail
cd "$(dirname "$0")"

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "no Chromium at $CHROMIUM: apt-get install -y chromium (or set CHROMIUM)" >&2
  exit 2
fi

npm ci --no-audit --no-fund --loglevel=error >/dev/null
rm -rf artifacts
exec npx --no-install playwright test "$@"
