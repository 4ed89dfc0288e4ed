#!/usr/bin/env python3
"""Dispatch rate with a deep queue against a shallow one (issue 5).

Starts a tracker, fills group `q` with DEPTH queued no-op jobs (lts submit
--file, batches of 1,000), starts a no-op worker and counts finished runs in
the tracker's database over a window while millions are still queued. Then,
on a fresh tracker with the worker running, it submits 1,000 jobs at a time
and waits for each thousand to finish, so the queue never holds more than
1,000: the same dispatch path with a shallow queue, timed from each round's
first start to its last end as the tracker recorded them. Prints both rates
and their ratio.

usage: bench/deep_queue.py DEPTH [WINDOW_S] [SHALLOW_ROUNDS]
With PERF_OUT=FILE, the tracker is profiled (perf record -g) over the deep window.
(run from the repository root after `cargo build --release --bins`)
"""
import os, shutil, sqlite3, subprocess, sys, tempfile, time

BIN = os.path.join(os.getcwd(), "target", "release")
depth = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
window = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 50
work = tempfile.mkdtemp(prefix="lts-deep-")


def start(*args, log):
    return subprocess.Popen([os.path.join(BIN, "ltsd"), *args],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def done_runs(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM runs WHERE state = 'done'").fetchone()[0]
    finally:
        con.close()


def jobs_file(path, n, prefix):
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"group":"q","task_id":"%s%09d"}\n' % (prefix, i))


def submit(addr, path):
    subprocess.run([os.path.join(BIN, "lts"), "--tracker", addr, "submit", "--file", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**os.environ, "LTS_DATA": work})


def tracker(name, port):
    data = os.path.join(work, name)
    t = start("tracker", "--listen", f"127.0.0.1:{port}", "--data", data, log=data + ".log")
    time.sleep(0.5)
    return t, os.path.join(data, "lts.db")


def worker(port):
    return start("worker", "--tracker", f"127.0.0.1:{port}", "--group", "q",
                 "--runner", "builtin:noop", "--threads", "64",
                 "--data", os.path.join(work, f"w{port}"), log=os.path.join(work, f"w{port}.log"))


procs = []
try:
    # Deep: DEPTH queued before any worker starts.
    t, db = tracker("deep", 17810)
    procs.append(t)
    path = os.path.join(work, "deep.jsonl")
    jobs_file(path, depth, "d")
    began = time.time()
    submit("127.0.0.1:17810", path)
    os.remove(path)
    print(f"queued {depth:,} in {time.time() - began:.0f} s; tracker RSS "
          f"{int(open(f'/proc/{t.pid}/status').read().split('VmRSS:')[1].split()[0]) // 1024} MB",
          flush=True)
    w = worker(17810)
    procs.append(w)
    time.sleep(5)  # past the worker's start
    perf = None
    if os.environ.get("PERF_OUT"):
        perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(t.pid),
                                 "-o", os.environ["PERF_OUT"]], stderr=subprocess.DEVNULL)
    a, ta = done_runs(db), time.time()
    time.sleep(window)
    b, tb = done_runs(db), time.time()
    if perf:
        perf.send_signal(2)
        perf.wait()
    deep_rate = (b - a) / (tb - ta)
    print(f"deep ({depth:,} queued): {deep_rate:,.0f} runs/s over {tb - ta:.0f} s", flush=True)
    for p in procs:
        p.kill()
    procs.clear()

    # Shallow: at most 1,000 queued at any time.
    t, db = tracker("shallow", 17811)
    procs.append(t)
    w = worker(17811)
    procs.append(w)
    time.sleep(2)
    path = os.path.join(work, "shallow.jsonl")
    for r in range(rounds):
        jobs_file(path, 1000, f"s{r:04d}-")
        submit("127.0.0.1:17811", path)
        target = (r + 1) * 1000
        deadline = time.time() + 60
        while done_runs(db) < target:
            if time.time() > deadline:
                raise SystemExit(f"round {r} did not finish within 60 s")
            time.sleep(0.005)
    # Each round's span, from its first start to its last end, as the
    # tracker recorded them: the dispatch path alone, not the submitting.
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    spans = con.execute(
        "SELECT max(r.ended_at) - min(r.started_at) FROM runs r JOIN jobs j ON j.id = r.job_id "
        "GROUP BY substr(j.task_id, 1, 6)").fetchall()
    con.close()
    shallow_rate = rounds * 1000 / (sum(s for (s,) in spans) / 1000)
    print(f"shallow (<= 1,000 queued): {shallow_rate:,.0f} runs/s over {rounds * 1000:,} runs "
          f"(each round from its first start to its last end)", flush=True)
    print(f"deep / shallow: {deep_rate / shallow_rate:.0%}")
finally:
    for p in procs:
        p.kill()
    shutil.rmtree(work, ignore_errors=True)
