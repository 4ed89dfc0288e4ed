#!/usr/bin/env bash
# The whole test suite on a fresh machine: install and start what the tests
# need when it is missing (PostgreSQL on 127.0.0.1:5432, Chromium and its
# driver), then run `cargo test`. Extra arguments go to `cargo test`.
set -uo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        apt_updated=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL, for the store contract suite and the multi-tracker tests.
pg_answers() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}
start_postgres() {
    command -v pg_ctlcluster >/dev/null || apt_install postgresql || return 1
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || return 1
    local hba=/etc/postgresql/$version/main/pg_hba.conf
    $sudo grep -q '^host all all 127.0.0.1/32 trust' "$hba" ||
        $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba" || return 1
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
        $sudo pg_ctlcluster "$version" main reload
    for _ in $(seq 60); do
        pg_answers && return 0
        sleep 0.5
    done
    return 1
}
if ! pg_answers; then
    echo "no PostgreSQL on 127.0.0.1:5432: installing and starting one"
    start_postgres || echo "could not start PostgreSQL: its tests will fail, naming it"
fi
psql -h 127.0.0.1 -U postgres -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw test ||
    psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test' 2>/dev/null || true
export LTS_TEST_PG=${LTS_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}
export LTS_REQUIRE_PG=1

# Chromium and ChromeDriver, for the console's browser tests.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "no chromium/chromedriver: installing Debian's chromium and chromium-driver"
    apt_install chromium chromium-driver ||
        echo "could not install chromium: the browser tests will fail, naming it"
fi

# promtool, to check contrib/'s Prometheus alerting rules. Its package would
# start a Prometheus server: keep services from starting while it installs.
if ! command -v promtool >/dev/null; then
    echo "no promtool: installing Debian's prometheus (for promtool only)"
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
        apt_install --no-install-recommends prometheus || echo "could not install promtool: its test will fail, naming it"
        $sudo rm -f "$policy"
    else
        apt_install --no-install-recommends prometheus || echo "could not install promtool: its test will fail, naming it"
    fi
fi

exec cargo test "$@"
