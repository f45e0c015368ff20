#!/usr/bin/env bash
# Make Debian's Chromium available for the browser tests (tests/test_browser.py).
#
# Playwright's own browser downloads do not work here (no internet beyond package
# registries), so the tests drive the distribution's Chromium instead.
# Never call `playwright install` from here.
set -euo pipefail

find_chromium() {
    local name
    for name in chromium chromium-browser; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if bin="$(find_chromium)"; then
    echo "chromium found: $bin"
    "$bin" --version 2>/dev/null || true
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium package with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    if bin="$(find_chromium)"; then
        echo "chromium installed: $bin"
        "$bin" --version 2>/dev/null || true
        exit 0
    fi
    echo "error: apt-get finished but no chromium binary is on PATH" >&2
    exit 1
fi

cat >&2 <<'MSG'
error: no Chromium found on PATH (looked for `chromium` and `chromium-browser`).
Install your distribution's Chromium package, e.g. on Debian/Ubuntu as root:
    apt-get update && apt-get install -y chromium
or point LATENTWALK_CHROMIUM at a Chromium binary. Then run the browser tests again.
MSG
exit 1
