#!/usr/bin/env bash
# Side by side, in one run: N no-op jobs through huey (Python, SQLite file
# storage, 4 worker threads) and through lts (tracker on its SQLite store, one
# worker with 4 slots), each fed by one client submitting jobs one at a time.
# Prints both end-to-end rates and their ratio.
#
#   bench/compare.sh [N]        (default 5000; needs python3 and PyPI)
set -euo pipefail
n=${1:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "building lts (release)..." >&2
cargo build --release --bins --quiet --manifest-path "$root/Cargo.toml"
lts="$root/target/release/lts"
ltsd="$root/target/release/ltsd"

echo "installing huey into a throwaway virtualenv..." >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet huey

# --- huey ---------------------------------------------------------------
cat > "$work/huey_tasks.py" <<'PY'
import os
from huey import SqliteHuey

huey = SqliteHuey(filename=os.environ["HUEY_DB"])

@huey.task()
def noop():
    return 1
PY
cat > "$work/huey_bench.py" <<'PY'
import sys, time
from huey_tasks import noop

n = int(sys.argv[1])
start = time.time()
results = [noop() for _ in range(n)]
submitted = time.time()
for r in results:
    r.get(blocking=True, timeout=600)
done = time.time()
print(f"{n / (submitted - start):.0f} {n / (done - start):.0f}")
PY
export HUEY_DB="$work/huey.db" PYTHONPATH="$work"
"$work/venv/bin/huey_consumer" huey_tasks.huey --workers 4 --worker-type thread \
    --delay 0.01 --max-delay 0.05 --no-periodic --quiet > "$work/huey.log" 2>&1 &
pids+=($!)
read -r huey_submit huey_e2e < <("$work/venv/bin/python" "$work/huey_bench.py" "$n")

# --- lts ----------------------------------------------------------------
"$ltsd" tracker --listen 127.0.0.1:0 --data "$work/lts" > "$work/tracker.log" 2>&1 &
pids+=($!)
addr=""
for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*tracker listening.* address=\([0-9.:]*\).*/\1/p' "$work/tracker.log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.05
done
[ -n "$addr" ] || { echo "the tracker did not start:" >&2; cat "$work/tracker.log" >&2; exit 1; }
"$ltsd" worker --tracker "$addr" --group bench --runner builtin:noop --threads 4 --data "$work/worker" > "$work/worker.log" 2>&1 &
pids+=($!)
read -r lts_submit lts_e2e < <("$lts" --tracker "$addr" -o json bench --jobs "$n" --clients 1 --group bench |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["submit_per_s"], r["e2e_per_s"])')

# The same cluster with 16 concurrent clients, where group commit shares fsyncs.
read -r lts16_submit lts16_e2e < <("$lts" --tracker "$addr" -o json bench --jobs "$n" --clients 16 --group bench |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["submit_per_s"], r["e2e_per_s"])')

# --- both ---------------------------------------------------------------
printf '%-6s %10s %14s\n' "" "submits/s" "end-to-end/s"
printf '%-6s %10s %14s\n' huey "$huey_submit" "$huey_e2e"
printf '%-6s %10s %14s\n' lts "$lts_submit" "$lts_e2e"
printf '%-6s %10s %14s   (16 clients)\n' lts "$lts16_submit" "$lts16_e2e"
python3 -c "print(f'lts / huey end to end: {$lts_e2e / $huey_e2e:.1f}x ({$n} no-op jobs, 1 client, 4 worker threads, SQLite files)')"
