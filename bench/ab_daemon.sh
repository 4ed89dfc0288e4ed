#!/usr/bin/env bash
# Two builds' `ltsd standalone` side by side, each loaded by its own build's
# `lts bench` (the protocol versions differ), alternating, ROUNDS times.
# Prints each round's JSON line after the build's name.
#   bench/ab_daemon.sh OLD_BIN_DIR NEW_BIN_DIR ROUNDS [lts bench args..]
set -euo pipefail
old=$1 new=$2 rounds=$3
shift 3
bench_args=("$@")

round() {
    local name=$1 bin=$2 port=$3
    local dir lts=$bin/lts
    dir=$(mktemp -d)
    "$bin/ltsd" standalone --listen "127.0.0.1:$port" --http off --data "$dir" \
        --group bench --threads 256 --runner builtin:noop >"$dir/log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        "$lts" --tracker "127.0.0.1:$port" status >/dev/null 2>&1 && break
        sleep 0.1
    done
    printf '%s ' "$name"
    "$lts" --tracker "127.0.0.1:$port" -o json bench "${bench_args[@]}" | tail -n 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
for i in $(seq "$rounds"); do
    if [ $((i % 2)) -eq 1 ]; then
        round old "$old" 17711
        round new "$new" 17712
    else
        round new "$new" 17712
        round old "$old" 17711
    fi
done
