#!/bin/sh
# System packages `make test` needs besides Python: a headless Chromium, which the report tests
# use to check that every row of an HTML report really renders in a browser.
#
# Installs it with apt-get when it is missing and we are root (a fresh CI machine), quietly;
# otherwise it only says why it did not. It never fails the build itself: outside CI the browser
# tests then skip with that reason, and in CI (CI=true) they fail, so a missing browser is never
# silently accepted there.
set -u

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: chromium is missing; as root: apt-get install -y chromium" >&2
    exit 0
fi
echo "system-deps: installing chromium with apt-get (for the HTML report browser tests)" >&2
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
if ! {
    apt-get -q -o DPkg::Lock::Timeout=300 update &&
        apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends chromium
} >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "system-deps: apt-get could not install chromium" >&2
fi
rm -f "$log"
exit 0
