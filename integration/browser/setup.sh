#!/usr/bin/env bash
# Prepares the browser test: Debian's Chromium and playwright-core from the
# lock file. Idempotent: does nothing when both are already in place. Never
# lets npm or Playwright download a browser of their own.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chromium=/usr/bin/chromium

if [ ! -x "$chromium" ]; then
    echo "setup.sh: installing Debian chromium (needs root)" >&2
    export DEBIAN_FRONTEND=noninteractive
    packages=(chromium fonts-dejavu-core)
    if ! apt-get install -y --no-install-recommends "${packages[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${packages[@]}"
    fi
fi
echo "setup.sh: $("$chromium" --version 2>/dev/null)" >&2

lock="$here/package-lock.json"
modules="$here/node_modules"
marker="$modules/.package-lock.json"
if [ ! -d "$modules/playwright-core" ] || [ ! -f "$marker" ] || [ "$lock" -nt "$marker" ]; then
    echo "setup.sh: installing node packages from package-lock.json" >&2
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
