#!/usr/bin/env bash
# Soak: SIGKILL the tracker and the workers at random under load, on either
# store, and print acknowledged / lost / duplicated counts (bench/soak.py
# says how each is counted). `--store postgres` uses a fresh scratch
# database `lts_soak` on 127.0.0.1:5432 (user postgres; PG_ADMIN overrides).
#
#   cargo build --release --bins
#   bench/soak.sh --kills 1000                    # SQLite
#   bench/soak.sh --kills 1000 --store postgres   # PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = "--store" ] && [ "${2:-}" = "postgres" ]; then
        admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
        psql -q "$admin" -c "DROP DATABASE IF EXISTS lts_soak" -c "CREATE DATABASE lts_soak"
        args+=(--store "${admin%/*}/lts_soak")
        shift 2
    else
        args+=("$1")
        shift
    fi
done
exec python3 bench/soak.py "${args[@]}"
