#!/usr/bin/env bash
# Throughput of trackers sharing one PostgreSQL store, beside one tracker on
# SQLite, in one run: N no-op jobs submitted with `lts submit --file`, split
# evenly over the trackers (all at once), run by two workers with 64 slots
# each that pull from every tracker. Prints submits/s and end-to-end jobs/s
# (first submit to the last run succeeded, read from the store).
#
#   bench/scale_out.sh [N] [PG_URL]   (default 100000, postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
n=${1:-100000}
admin=${2:-postgres://postgres@127.0.0.1:5432/postgres}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --bins --quiet --manifest-path "$root/Cargo.toml"
export LTS_DATA="$work/cli"

start() { # name args..: start ltsd, wait for its address
    local name=$1; shift
    "$bin/ltsd" "$@" > /dev/null 2> "$work/$name.log" & pids+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's/.*tracker listening.* address=\([0-9.:]*\).*/\1/p' "$work/$name.log" | head -1)
        [ -n "$addr" ] && { echo "$addr"; return; }
        sleep 0.1
    done
    echo "$name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}

run() { # label store trackers: prints one row
    local label=$1 store=$2 count=$3 addrs=() i
    for i in $(seq "$count"); do
        addrs+=("$(start "t$i" tracker --listen 127.0.0.1:0 --http off --data "$work/$label-t$i" --store "$store")")
    done
    local list; list=$(IFS=,; echo "${addrs[*]}")
    for w in 1 2; do
        "$bin/ltsd" worker --tracker "$list" --group q --runner builtin:noop --threads 64 \
            --data "$work/$label-w$w" > /dev/null 2>&1 & pids+=($!)
    done
    local per=$((n / count)) files=()
    for i in $(seq "$count"); do
        python3 -c "
for j in range($per): print('{\"group\":\"q\",\"task_id\":\"t$i-%07d\"}' % j)" > "$work/$label-$i.jsonl"
    done
    local t0 t1 subs=()
    t0=$(date +%s.%N)
    for i in $(seq "$count"); do
        "$bin/lts" --tracker "${addrs[$((i-1))]}" submit --file "$work/$label-$i.jsonl" > /dev/null 2>&1 & subs+=($!)
    done
    wait "${subs[@]}"
    t1=$(date +%s.%N)
    local total=$((per * count)) done_=0
    while [ "$done_" -lt "$total" ]; do
        sleep 0.2
        done_=$(count_done "$store" "$work/$label-t1/lts.db")
    done
    local t2; t2=$(date +%s.%N)
    printf "%-28s %10.0f %12.0f\n" "$label" "$(echo "$total / ($t1 - $t0)" | bc -l)" "$(echo "$total / ($t2 - $t0)" | bc -l)"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    pids=()
    sleep 1
}

count_done() { # store sqlite-file
    if [ "$1" = sqlite ]; then
        python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$2?mode=ro',uri=True).execute(\"select count(*) from runs where outcome='succeeded'\").fetchone()[0])"
    else
        psql "$1" -tAc "select count(*) from runs where outcome='succeeded'"
    fi
}

db=lts_scale_$$
url=${admin%/*}/$db
printf "%-28s %10s %12s\n" "" "submits/s" "end-to-end/s"
run "sqlite, 1 tracker" sqlite 1
for trackers in 1 2; do
    psql "$admin" -qc "CREATE DATABASE $db" > /dev/null
    run "postgres, $trackers tracker(s)" "$url" "$trackers"
    psql "$admin" -qc "DROP DATABASE $db WITH (FORCE)" > /dev/null
done
