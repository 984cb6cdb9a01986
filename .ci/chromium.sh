#!/usr/bin/env bash
# Debian's Chromium for the approval-page browser test (tests/test_guard_browser.py drives it
# with Playwright; no browser is downloaded). Already there: nothing to do. Cannot be installed
# (not root, no apt-get, no network): say so; the test then skips with that reason.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and cannot be (needs root and apt-get): the browser test will skip"
    exit 0
fi
if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >/tmp/ci-chromium.log 2>&1; then
    echo "chromium: installed $(/usr/bin/chromium --version 2>/dev/null)"
else
    echo "chromium: apt-get install failed (tail of /tmp/ci-chromium.log below): the browser test will skip"
    tail -n 5 /tmp/ci-chromium.log
fi
