#!/bin/sh
# System packages `make test` needs besides Python: a headless Chromium, which the report tests
# use to check that every row of an HTML report really renders in a browser, and the PostgreSQL
# server binaries, from which tests/postgres_server.py starts a throwaway cluster for the tests
# of the PostgreSQL state backend, and promtool (Debian's prometheus package), with which
# tests/unit/test_ops.py checks and unit-tests the alerting rules of ops/.
#
# Installs what is missing with apt-get when we are root (a fresh CI machine), quietly;
# otherwise it only says why it did not. It never fails the build itself: outside CI those tests
# then skip with that reason, and in CI (CI=true) they fail, so a missing browser or server is
# never silently accepted there.
set -u

has_postgres() {
    command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && return 0
    # Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<version>/bin.
    for tool in /usr/lib/postgresql/*/bin/pg_ctl; do
        [ -x "$tool" ] && return 0
    done
    return 1
}

missing=""
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    missing="chromium"
fi
if ! has_postgres; then
    missing="$missing postgresql"
fi
if ! command -v promtool >/dev/null 2>&1; then
    missing="$missing prometheus"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing:$missing; as root: apt-get install -y$missing" >&2
    exit 0
fi
echo "system-deps: installing$missing with apt-get (for the report, PostgreSQL and ops tests)" >&2
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
if ! {
    apt-get -q -o DPkg::Lock::Timeout=300 update &&
        apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends $missing
} >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "system-deps: apt-get could not install$missing" >&2
fi
rm -f "$log"
exit 0
