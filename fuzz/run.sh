#!/usr/bin/env bash
# Run each cargo-fuzz target for SECONDS (default 60), starting from the
# seed corpus in fuzz/corpus/<target> (new inputs go to a scratch dir, so
# the committed seeds stay small). Needs a nightly toolchain and
# cargo-fuzz; without them it says so and exits 0. Exits 1 when a target
# finds a crash (libFuzzer leaves it under fuzz/artifacts/<target>).
set -uo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
case "$seconds" in
    '' | *[!0-9]*) echo "usage: fuzz/run.sh SECONDS" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain (rustup toolchain install nightly); not fuzzing"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz); not fuzzing"
    exit 0
fi

status=0
for target in $(cargo +nightly fuzz list); do
    scratch=$(mktemp -d)
    echo "fuzz: $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10; then
        echo "fuzz: $target failed" >&2
        status=1
    fi
    rm -rf "$scratch"
done
exit "$status"
