#!/usr/bin/env python3
"""Soak: SIGKILL the tracker and the workers at random under load, then count.

Starts one tracker (SQLite in a temporary data dir, or a PostgreSQL store)
and WORKERS workers of group `soak`, whose runner appends one line per
execution to a file (task id, run, attempt, the worker's pid). CLIENTS
threads submit one job at a time with `lts submit` and retry until the
tracker acknowledges it. Meanwhile a killer SIGKILLs the tracker or one
worker at random moments (0.2–1.5 s apart) and starts it again on the same
data dir, until KILLS kills or MINUTES have passed. Then the load stops,
every process is brought back, and once every acknowledged job has ended
(bounded) it prints:

  acknowledged    jobs the tracker acknowledged
  lost            acknowledged jobs absent, or never succeeded
  duplicated      jobs executed more than once where no earlier execution's
                  worker was killed (a re-run a tracker crash caused)
  re-run          jobs executed again because their worker was killed
                  (at least once delivery; expected)

and exits 1 when anything was lost or duplicated.

usage: bench/soak.py [--kills N] [--minutes M] [--store sqlite|postgres://…]
                     [--clients C] [--workers W] [--seed S] [--bin DIR]
(run from the repository root after `cargo build --release --bins`)
"""
import argparse, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser(description="SIGKILL lts daemons at random under load and count")
p.add_argument("--kills", type=int, default=100)
p.add_argument("--minutes", type=float, default=60.0)
p.add_argument("--store", default="sqlite")
p.add_argument("--clients", type=int, default=4)
p.add_argument("--workers", type=int, default=2)
p.add_argument("--seed", type=int, default=None)
p.add_argument("--bin", default=os.path.join(os.getcwd(), "target", "release"))
a = p.parse_args()

seed = a.seed if a.seed is not None else random.randrange(1 << 32)
rng = random.Random(seed)
work = tempfile.mkdtemp(prefix="lts-soak-")
LTS, LTSD = os.path.join(a.bin, "lts"), os.path.join(a.bin, "ltsd")
ran = os.path.join(work, "ran")
runner = os.path.join(work, "runner.sh")
with open(runner, "w") as f:
    f.write(f'#!/bin/sh\necho "$LTS_TASK_ID $LTS_RUN $LTS_ATTEMPT $PPID" >> {ran}\n')
os.chmod(runner, 0o755)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
addr = f"127.0.0.1:{port}"
env = {**os.environ, "LTS_DATA": os.path.join(work, "client"), "NO_COLOR": "1"}
# Keys make a retried submit answer as the first did, where lts has them.
keyed = "--idempotency-key" in subprocess.run(
    [LTS, "submit", "--help"], capture_output=True, text=True).stdout


def lts(*args, timeout=60):
    try:
        return subprocess.run([LTS, "--tracker", addr, *args], capture_output=True,
                              text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", "timed out")


class Proc:
    """One daemon, started again on the same data dir after each kill."""

    def __init__(self, name, args):
        self.name, self.args, self.p = name, args, None
        self.pids = []

    def start(self):
        log = open(os.path.join(work, self.name + ".log"), "a")
        self.p = subprocess.Popen([LTSD, *self.args], stdout=subprocess.DEVNULL, stderr=log)
        self.pids.append(self.p.pid)

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def ready(deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if lts("status", timeout=5).returncode == 0:
            return True
        time.sleep(0.05)
    return False


store_args = []
if a.store != "sqlite":
    store_args = ["--store", a.store]
tracker = Proc("tracker", ["tracker", "--listen", addr, "--http", "off", "--lease", "5s",
                           "--data", os.path.join(work, "tracker"), *store_args])
workers = [Proc(f"worker{i}", ["worker", "--tracker", addr, "--group", "soak", "--runner",
                               runner, "--threads", "8", "--data", os.path.join(work, f"w{i}")])
           for i in range(a.workers)]
tracker.start()
if not ready():
    sys.exit(f"soak: the tracker did not start; see {work}/tracker.log")
for w in workers:
    w.start()

acked, by_exists, failures = set(), 0, {}
lock, stop = threading.Lock(), threading.Event()


def client(c):
    global by_exists
    i = 0
    while not stop.is_set():
        task, i = f"soak-{c}-{i:06d}", i + 1
        key = ["--idempotency-key", f"k-{task}"] if keyed else []
        retried = False
        while not stop.is_set():
            out = lts("submit", "-g", "soak", "--task-id", task, *key, timeout=30)
            with lock:
                if out.returncode == 0:
                    acked.add(task)
                    break
                if retried and "already exists" in out.stderr:
                    acked.add(task)
                    by_exists += 1
                    break
                failures[out.returncode] = failures.get(out.returncode, 0) + 1
            retried = True
            time.sleep(0.05)
        time.sleep(0.05)


threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
for t in threads:
    t.start()
began = time.monotonic()
kills = {"tracker": 0, "worker": 0}
killed_workers = set()
print(f"soak: seed {seed}, store {a.store}, {a.clients} clients, {a.workers} workers, "
      f"up to {a.kills} kills or {a.minutes} min; work dir {work}", flush=True)
while sum(kills.values()) < a.kills and time.monotonic() - began < a.minutes * 60:
    time.sleep(rng.uniform(0.2, 1.5))
    victim = tracker if rng.random() < 0.5 else rng.choice(workers)
    victim.kill()
    if victim is tracker:
        kills["tracker"] += 1
    else:
        kills["worker"] += 1
        killed_workers.add(victim.p.pid)
    victim.start()
    n = sum(kills.values())
    if n % 50 == 0:
        print(f"soak: {n} kills, {len(acked)} acknowledged, "
              f"{time.monotonic() - began:.0f} s", flush=True)
stop.set()
for t in threads:
    t.join()
storm = time.monotonic() - began
if not ready(60):
    sys.exit(f"soak: the tracker did not come back; see {work}/tracker.log")

# Every acknowledged job ends (bounded), then the ledger is read.
deadline = time.monotonic() + 300
jobs = {}
while time.monotonic() < deadline:
    out = lts("-o", "json", "jobs", "--limit", "10000000", timeout=120)
    if out.returncode == 0:
        jobs = {j["task_id"]: j for j in json.loads(out.stdout)}
        if all(jobs.get(t, {}).get("state") in ("succeeded", "failed", "cancelled") for t in acked):
            break
    time.sleep(1)
lost = sorted(t for t in acked if jobs.get(t, {}).get("state") != "succeeded")

executions = {}
with open(ran) as f:
    for line in f:
        parts = line.split()
        if len(parts) == 4:
            executions.setdefault(parts[0], []).append(int(parts[3]))
duplicated, rerun = [], 0
for task, pids in executions.items():
    if len(pids) > 1:
        # A runner whose worker was already gone when it started reads its
        # parent as pid 1: that worker was killed too.
        if all(pid in killed_workers or pid == 1 for pid in pids[:-1]):
            rerun += 1
        else:
            duplicated.append(task)

for proc in [*workers, tracker]:
    proc.stop()
print(f"soak: {kills['tracker']} tracker and {kills['worker']} worker SIGKILLs over {storm:.0f} s "
      f"(seed {seed}, store {a.store}, idempotency keys {'on' if keyed else 'off'})")
print(f"soak: acknowledged {len(acked)} (by 'already exists' on a retry: {by_exists}), "
      f"lost {len(lost)}, duplicated without a worker death {len(duplicated)}, "
      f"re-run after a worker death {rerun}; failed submits by exit code {failures}")
if lost:
    print("soak: lost:", " ".join(lost[:20]))
if duplicated:
    print("soak: duplicated:", " ".join(duplicated[:20]))
if lost or duplicated:
    print(f"soak: logs kept in {work}")
    sys.exit(1)
shutil.rmtree(work, ignore_errors=True)
