#!/usr/bin/env bash
# How fast the console and the API answer with a big store: N jobs (default
# 1,000,000, each due in a day, so they stay scheduled) submitted with
# `lts submit --file` to a standalone tracker, then each URL below fetched
# R times (default 21) with curl; prints the median and the slowest
# time_total per URL, in ms.
#
#   bench/console.sh [N] [R]
set -euo pipefail
n=${1:-1000000}
rounds=${2:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release"
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --bins --quiet --manifest-path "$root/Cargo.toml"
export LTS_DATA="$work/cli"

"$bin/ltsd" standalone --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$work/data" \
    > /dev/null 2> "$work/ltsd.log" & pid=$!
for _ in $(seq 100); do
    addr=$(sed -n 's/.*tracker listening.* address=\([0-9.:]*\).*/\1/p' "$work/ltsd.log" | head -1)
    url=$(sed -n 's/.*console listening.* url=\([^ ]*\).*/\1/p' "$work/ltsd.log" | head -1)
    [ -n "$addr" ] && [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "ltsd did not start" >&2; cat "$work/ltsd.log" >&2; exit 1; }

python3 - "$n" > "$work/jobs.jsonl" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    out.write('{"group":"g%d","task_id":"job-%07d","delay":"1d","params":{"i":"%d"}}\n' % (i % 8, i, i))
PY
start=$(date +%s.%N)
"$bin/lts" --tracker "$addr" submit --file "$work/jobs.jsonl" > /dev/null 2>&1
echo "submitted $n jobs in $(echo "$(date +%s.%N) - $start" | bc) s"

cursor=$(curl -s -D - -o /dev/null "${url}api/v1/jobs?limit=50" | sed -n 's/^x-next-cursor: \([0-9]*\).*/\1/p')
deep=$((cursor / 2))
printf '%-52s %10s %10s\n' URL "p50 ms" "max ms"
for path in \
    "jobs" \
    "jobs?state=scheduled" \
    "jobs?group=g3" \
    "jobs?q=job-05" \
    "jobs?after=$deep" \
    "api/v1/jobs?limit=50" \
    "api/v1/jobs?limit=50&group=g3&state=scheduled" \
    "api/v1/jobs?limit=50&after=$deep" \
    "api/v1/jobs/g3/job-0000003" \
    "api/v1/stats" \
    "" ; do
    times=$(for _ in $(seq "$rounds"); do curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url$path"; done)
    codes=$(echo "$times" | awk '{print $1}' | sort -u | tr '\n' ' ')
    echo "$times" | awk '{print $2 * 1000}' | sort -n | awk -v p="/$path" -v c="$codes" \
        '{ a[NR] = $1 } END { printf "%-52s %10.1f %10.1f  (HTTP %s)\n", p, a[int((NR + 1) / 2)], a[NR], c }'
done
