#!/usr/bin/env bash
# Side by side, in one run, on one local PostgreSQL server: end-to-end
# throughput of N no-op jobs through graphile-worker (Node), pgqueuer
# (Python, asyncpg) and lts (a tracker on a PostgreSQL store, one worker).
#
# The workload is the same for each: 4 concurrent clients enqueue N jobs in
# batches of 1,000 (graphile: WorkerUtils.addJobs, which calls the
# graphile_worker.add_jobs SQL function; pgqueuer: Queries.enqueue with lists;
# lts: `lts bench --batch`), one worker process with 16 concurrent slots runs
# them, and the clock runs from the first enqueue to the last job done. Each
# run gets a fresh scratch database (lts_bench_lts, lts_bench_graphile,
# lts_bench_pgq), dropped afterwards. R rounds alternate the order of the
# systems; the script prints every round, the median per system and the
# ratio of lts to the faster peer.
#
#   bench/pg_peers.sh [N] [R]   (default 20000 jobs, 5 rounds)
#
# Environment: PG_ADMIN (default postgres://postgres@127.0.0.1:5432/postgres,
# trust auth), RUN_TIMEOUT (seconds one run may take, default 600),
# GRAPHILE_WORKER_VERSION, PGQUEUER_VERSION, ASYNCPG_VERSION (the pins below).
# Needs psql, node + npm, python3 (venv) and cargo; the peers are installed
# from npm and PyPI into a temporary directory that is removed on exit.
set -euo pipefail

n=${1:-20000}
rounds=${2:-5}
admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
run_timeout=${RUN_TIMEOUT:-600}
graphile_version=${GRAPHILE_WORKER_VERSION:-0.17.3}
pgqueuer_version=${PGQUEUER_VERSION:-1.6.0}
asyncpg_version=${ASYNCPG_VERSION:-0.30.0}
clients=4
batch=1000
slots=16
systems=(lts graphile pgq)

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release"
work=$(mktemp -d)
pids=()

log() { echo "[pg_peers] $*" >&2; }
die() { log "error: $*"; exit 1; }

stop() { # pid: SIGTERM, then SIGKILL after 10 s
    local p=$1 i
    kill "$p" 2>/dev/null || return 0
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
stop_all() { local p; for p in "${pids[@]}"; do stop "$p"; done; pids=(); }
url_of() { echo "${admin%/*}/lts_bench_$1"; }
dropdb_() { timeout 60 psql "$admin" -qXc "DROP DATABASE IF EXISTS lts_bench_$1 WITH (FORCE)" >/dev/null 2>&1 || true; }
cleanup() {
    set +e
    stop_all
    for s in "${systems[@]}"; do dropdb_ "$s"; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $n =~ ^[0-9]+$ && $n -ge 1 ]] || die "N must be a positive number, not '$n'"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "R must be a positive number, not '$rounds'"
for tool in psql node npm python3 cargo timeout; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
timeout 10 psql "$admin" -qXAtc 'select 1' >/dev/null || die "cannot reach PostgreSQL at $admin"

# --- lts: the release build, made if missing or older than the sources --------
if [ ! -x "$bin/ltsd" ] || [ ! -x "$bin/lts" ] ||
   [ -n "$(find "$root/src" "$root/Cargo.toml" "$root/Cargo.lock" -newer "$bin/ltsd" -print -quit)" ]; then
    log "building lts (cargo build --release --bins)..."
    cargo build --release --bins --quiet --manifest-path "$root/Cargo.toml"
fi

# --- the peers, into the temporary directory ----------------------------------
log "installing graphile-worker@$graphile_version with npm into $work/node..."
mkdir -p "$work/node"
(cd "$work/node" && npm init -y >/dev/null &&
    timeout 600 npm install --no-audit --no-fund --loglevel=error "graphile-worker@$graphile_version" >/dev/null) ||
    die "npm install graphile-worker@$graphile_version failed"
log "installing pgqueuer==$pgqueuer_version, asyncpg==$asyncpg_version with pip into $work/venv..."
python3 -m venv "$work/venv"
timeout 600 "$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    "pgqueuer==$pgqueuer_version" "asyncpg==$asyncpg_version" ||
    die "pip install pgqueuer==$pgqueuer_version asyncpg==$asyncpg_version failed"

# graphile-worker: `worker CONN SLOTS` runs the no-op task until SIGTERM;
# `bench CONN N CLIENTS BATCH TIMEOUT` enqueues and waits for the queue to
# empty (graphile deletes a job once it succeeded; a failed one stays).
cat > "$work/node/graphile.js" <<'JS'
const { run, makeWorkerUtils, Logger } = require("graphile-worker");
const { Pool } = require("pg");
const [mode, conn, ...rest] = process.argv.slice(2);
// Warnings and errors only: the default logger writes a line per job done.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`${level}: ${message}`);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function worker(slots) {
  const runner = await run({
    connectionString: conn,
    concurrency: slots,
    maxPoolSize: slots + 2, // graphile warns when the pool is smaller than concurrency
    logger,
    taskList: { noop: async () => {} },
  });
  console.log("ready");
  await runner.promise;
}

async function bench(n, clients, batch, timeoutS) {
  const pools = Array.from({ length: clients }, () => new Pool({ connectionString: conn, max: 1 }));
  const probe = new Pool({ connectionString: conn, max: 1 });
  for (const p of [...pools, probe]) p.on("error", (e) => console.error(`pool: ${e}`));
  await Promise.all([...pools, probe].map((p) => p.query("select 1")));
  const utils = await Promise.all(pools.map((pgPool) => makeWorkerUtils({ pgPool, logger })));
  const t0 = performance.now();
  await Promise.all(utils.map(async (u, c) => {
    const share = Math.floor(n / clients) + (c < n % clients ? 1 : 0);
    for (let sent = 0; sent < share; ) {
      const k = Math.min(batch, share - sent);
      await u.addJobs(Array.from({ length: k }, () => ({ identifier: "noop", payload: {} })));
      sent += k;
    }
  }));
  const t1 = performance.now();
  for (;;) {
    const { rows } = await probe.query("select count(*)::int as c from graphile_worker._private_jobs");
    if (rows[0].c === 0) break;
    if (performance.now() - t0 > timeoutS * 1000) {
      console.error(`graphile: ${rows[0].c} jobs still queued after ${timeoutS} s`);
      process.exit(2);
    }
    await sleep(10);
  }
  const t2 = performance.now();
  console.log(JSON.stringify({
    submit_per_s: Math.round(n / ((t1 - t0) / 1000)),
    e2e_per_s: Math.round(n / ((t2 - t0) / 1000)),
  }));
  await Promise.all(utils.map((u) => u.release()));
  await Promise.all([...pools, probe].map((p) => p.end()));
}

(mode === "worker" ? worker(Number(rest[0])) : bench(...rest.map(Number))).catch((e) => {
  console.error(e);
  process.exit(1);
});
JS

# pgqueuer: `install DSN` lays its schema; `worker DSN SLOTS` runs the no-op
# entrypoint until SIGTERM; `bench DSN N CLIENTS BATCH TIMEOUT` enqueues and
# waits for the queue table to empty (pgqueuer moves a finished job to its log).
cat > "$work/pgq.py" <<'PY'
import asyncio, json, signal, sys, time

import asyncpg
from pgqueuer import AsyncpgDriver, QueueManager
from pgqueuer.queries import Queries

mode, dsn, *rest = sys.argv[1:]


async def install():
    conn = await asyncpg.connect(dsn)
    await Queries(AsyncpgDriver(conn)).install()
    await conn.close()


async def worker(slots):
    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop", concurrency_limit=slots)
    async def noop(job):
        pass

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, qm.shutdown.set)
    print("ready", flush=True)
    await qm.run(batch_size=slots)


async def bench(n, clients, batch, timeout_s):
    conns = [await asyncpg.connect(dsn) for _ in range(clients)]
    probe = await asyncpg.connect(dsn)
    queries = [Queries(AsyncpgDriver(c)) for c in conns]

    async def client(q, share):
        sent = 0
        while sent < share:
            k = min(batch, share - sent)
            await q.enqueue(["noop"] * k, [None] * k, [0] * k)
            sent += k

    t0 = time.perf_counter()
    await asyncio.gather(
        *(client(q, n // clients + (1 if i < n % clients else 0)) for i, q in enumerate(queries))
    )
    t1 = time.perf_counter()
    while True:
        left = await probe.fetchval("select count(*) from pgqueuer")
        if left == 0:
            break
        if time.perf_counter() - t0 > timeout_s:
            print(f"pgqueuer: {left} jobs still queued after {timeout_s} s", file=sys.stderr)
            sys.exit(2)
        await asyncio.sleep(0.01)
    t2 = time.perf_counter()
    print(json.dumps({"submit_per_s": round(n / (t1 - t0)), "e2e_per_s": round(n / (t2 - t0))}))
    for c in conns + [probe]:
        await c.close()


if mode == "install":
    asyncio.run(install())
elif mode == "worker":
    asyncio.run(worker(int(rest[0])))
else:
    asyncio.run(bench(*map(int, rest)))
PY

# --- versions -------------------------------------------------------------------
pkg_version() { node -p "require('$work/node/node_modules/$1/package.json').version"; }
py_version() { "$work/venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))"; }
echo "versions:"
echo "  lts               $("$bin/ltsd" --version 2>/dev/null | head -1) (git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  graphile-worker   $(pkg_version graphile-worker) (pg $(pkg_version pg), node $(node --version))"
echo "  pgqueuer          $(py_version pgqueuer) (asyncpg $(py_version asyncpg), $("$work/venv/bin/python" --version))"
echo "  PostgreSQL        $(psql "$admin" -XAtc 'show server_version')"
echo "workload: $n no-op jobs, $clients clients, batches of $batch, 1 worker with $slots slots, $rounds round(s)"

# --- one run of each system: prints "submit_per_s e2e_per_s" -------------------
# (called without a subshell, so that the pids it starts are the trap's to end)
fresh_db() { dropdb_ "$1"; timeout 60 psql "$admin" -qXc "CREATE DATABASE lts_bench_$1" >/dev/null; }

wait_ready() { # name pid file: wait (bounded) for "ready" in file
    local i
    for i in $(seq 300); do
        grep -q '^ready' "$3" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    log "$1 worker did not start:"; cat "$3" "$3.err" >&2 2>/dev/null; return 1
}

watched() { # worker-pid cmd..: run cmd (bounded), ended early if the worker exits
    local wpid=$1 bpid; shift
    timeout "$((run_timeout + 30))" "$@" & bpid=$!
    pids+=("$bpid")
    while kill -0 "$bpid" 2>/dev/null; do
        if ! kill -0 "$wpid" 2>/dev/null; then
            kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null
            log "the worker exited during the run"; return 1
        fi
        sleep 0.2
    done
    wait "$bpid"
}

run_lts() {
    local url d addr="" i
    url=$(url_of lts) d="$work/lts-$RANDOM"
    "$bin/ltsd" tracker --listen 127.0.0.1:0 --http off --store "$url" --data "$d/tracker" \
        >"$d.tracker.out" 2>"$d.tracker.log" & pids+=($!)
    for i in $(seq 300); do
        addr=$(sed -n 's/.*tracker listening.* address=\([0-9.:]*\).*/\1/p' "$d.tracker.log" | head -1)
        [ -n "$addr" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$addr" ] || { log "the lts tracker did not start:"; cat "$d.tracker.log" >&2; return 1; }
    "$bin/ltsd" worker --tracker "$addr" --group bench --runner builtin:noop --threads "$slots" \
        --data "$d/worker" >"$d.worker.out" 2>"$d.worker.log" & pids+=($!)
    sleep 1 # let the worker connect (the peers' workers are up before their clock starts too)
    LTS_DATA="$d/cli" watched "${pids[-1]}" "$bin/lts" --tracker "$addr" -o json bench \
        --jobs "$n" --clients "$clients" --batch "$batch" --group bench --deadline "${run_timeout}s" \
        >"$d.bench.json" 2>"$d.bench.err" || { log "lts bench failed:"; cat "$d.bench.err" >&2; return 1; }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["submit_per_s"], r["e2e_per_s"])' "$d.bench.json"
}

run_graphile() {
    local url f
    url=$(url_of graphile) f="$work/graphile-$RANDOM"
    node "$work/node/graphile.js" worker "$url" "$slots" >"$f.out" 2>"$f.out.err" & pids+=($!)
    wait_ready graphile "${pids[-1]}" "$f.out" || return 1
    sleep 1
    watched "${pids[-1]}" node "$work/node/graphile.js" bench "$url" "$n" "$clients" "$batch" "$run_timeout" \
        >"$f.bench.json" 2>"$f.bench.err" || { log "graphile bench failed:"; cat "$f.bench.err" "$f.out.err" >&2; return 1; }
    node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(r.submit_per_s, r.e2e_per_s)' "$f.bench.json"
}

run_pgq() {
    local url f py="$work/venv/bin/python"
    url=$(url_of pgq) f="$work/pgq-$RANDOM"
    timeout 60 "$py" "$work/pgq.py" install "$url" >/dev/null 2>"$f.install.err" ||
        { log "pgqueuer install failed:"; cat "$f.install.err" >&2; return 1; }
    "$py" "$work/pgq.py" worker "$url" "$slots" >"$f.out" 2>"$f.out.err" & pids+=($!)
    wait_ready pgqueuer "${pids[-1]}" "$f.out" || return 1
    sleep 1
    watched "${pids[-1]}" "$py" "$work/pgq.py" bench "$url" "$n" "$clients" "$batch" "$run_timeout" \
        >"$f.bench.json" 2>"$f.bench.err" || { log "pgqueuer bench failed:"; cat "$f.bench.err" "$f.out.err" >&2; return 1; }
    "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["submit_per_s"], r["e2e_per_s"])' "$f.bench.json"
}

declare -A e2e=()
printf '\n%-6s %-9s %12s %14s\n' round system "submits/s" "end-to-end/s"
for r in $(seq "$rounds"); do
    for k in 0 1 2; do # round r starts with system r-1 (mod 3): each goes first, second and third
        s=${systems[$(((r - 1 + k) % 3))]}
        fresh_db "$s"
        "run_$s" >"$work/result" || die "$s failed in round $r"
        stop_all
        dropdb_ "$s"
        read -r sub tot <"$work/result"
        e2e[$s]+="$tot "
        printf '%-6s %-9s %12s %14s\n' "$r" "$s" "$sub" "$tot"
    done
done

python3 - "${e2e[lts]}" "${e2e[graphile]}" "${e2e[pgq]}" "$n" "$rounds" <<'PY'
import statistics, sys
lts, graphile, pgq = ([float(x) for x in a.split()] for a in sys.argv[1:4])
med = {"lts": statistics.median(lts), "graphile": statistics.median(graphile), "pgq": statistics.median(pgq)}
print(f"\nmedian end-to-end jobs/s over {sys.argv[5]} round(s) of {sys.argv[4]} jobs:")
for name, label in (("lts", "lts"), ("graphile", "graphile-worker"), ("pgq", "pgqueuer")):
    print(f"  {label:16} {med[name]:10.0f}")
peer = max(("graphile", "pgq"), key=lambda k: med[k])
label = {"graphile": "graphile-worker", "pgq": "pgqueuer"}[peer]
print(f"lts / faster peer ({label}): {med['lts'] / med[peer]:.2f}x")
PY
