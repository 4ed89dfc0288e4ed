//! Fault tolerance with real processes: a worker SIGKILLed mid-run, a
//! tracker gone for 20 s while its worker keeps finishing runs, a tracker
//! SIGKILLed over and over under load, run timeouts that stop a whole
//! process group, and retention of finished jobs and long logs.
//!
//! Every wait is bounded. Timings that matter (recovery, drain) are printed
//! with `eprintln!` so a run with `--nocapture` records them.

use crate::helpers::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The wall clock in milliseconds since the epoch (the daemons use the same).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A JSON RFC 3339 time as milliseconds since the epoch.
#[track_caller]
fn ms(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("'{text}' is not RFC 3339: {e}"))
        .timestamp_millis()
}

/// Poll `check` until it returns `Some`; past `within`, fail with what
/// `context` then says (the job, the daemons' logs).
#[track_caller]
fn wait_for<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of some daemons' logs, for a failure message.
fn logs(daemons: &[(&str, &Daemon)]) -> String {
    let mut out = String::new();
    for (name, d) in daemons {
        let log = d.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        out.push_str(&format!(
            "--- {name} (pid {}) log tail:\n{}\n",
            d.pid(),
            tail.join("\n")
        ));
    }
    out
}

/// Wait until job `id` is in `state`, failing with the job and `context`.
#[track_caller]
fn wait_job(
    home: &Path,
    addr: &str,
    id: &str,
    state: &str,
    within: Duration,
    context: impl Fn() -> String,
) -> Value {
    wait_for(
        &format!("job {id} to be {state}"),
        within,
        || {
            let job = job_json(home, addr, id);
            (job["state"] == state).then_some(job)
        },
        || {
            let out = lts(home, addr, &["-o", "json", "job", id]);
            format!("job {id}: {}\n{}", out.stdout.trim(), context())
        },
    )
}

/// `ltsd tracker --listen LISTEN --data DATA EXTRA..`, waiting until it
/// listens. Restarting on a fixed address retries while the port is still
/// taken (a socket of the killed tracker, or a client that got the port).
fn start_tracker(home: &Path, data: &Path, listen: &str, extra: &[&str]) -> Daemon {
    let data = data.to_str().unwrap();
    let mut args = vec!["tracker", "--listen", listen, "--data", data];
    args.extend_from_slice(extra);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut d = Daemon::start(home, &args, false);
        loop {
            if let Some(addr) = d.log().lines().find_map(|l| {
                l.contains("tracker listening")
                    .then(|| l.split("address=").nth(1).map(|a| a.trim().to_string()))
                    .flatten()
            }) {
                d.addr = addr;
                return d;
            }
            if let Some(status) = d.child.try_wait().expect("try_wait") {
                // Let the log reader catch the last lines.
                std::thread::sleep(Duration::from_millis(50));
                let log = d.log();
                assert!(
                    log.contains("cannot listen on") && Instant::now() < deadline,
                    "ltsd tracker exited ({status:?}) before listening; its log:\n{log}"
                );
                std::thread::sleep(Duration::from_millis(100));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ltsd tracker never listened; its log:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks whether the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| r.starts_with(" Z")))
}

/// Processes a test leaves behind on purpose (the runner of a SIGKILLed
/// worker), killed when the test ends, however it ends.
#[derive(Default)]
struct Reaper(Mutex<Vec<i32>>);

impl Reaper {
    fn watch(&self, pid: i32) {
        self.0.lock().unwrap().push(pid);
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in self.0.lock().unwrap().iter() {
            if pid > 1 {
                // SAFETY: killing a process this test started (its pid was
                // written by our own runner script).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Read a pid a script wrote.
fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Every job (`lts -o json jobs --limit 100000`).
fn all_jobs(home: &Path, addr: &str) -> Vec<Value> {
    lts(home, addr, &["-o", "json", "jobs", "--limit", "100000"])
        .json()
        .as_array()
        .expect("jobs is an array")
        .clone()
}

/// The worker id a worker process gives itself ends with `-PID`.
fn worker_of(run: &Value, pid: i32) -> bool {
    run["worker"]
        .as_str()
        .is_some_and(|w| w.ends_with(&format!("-{pid}")))
}

/// A small xorshift64* generator: the storm's moments, reproducible from
/// the printed seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[test]
fn a_worker_killed_mid_run_has_its_run_taken_over_within_ten_seconds() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reaper = Reaper::default();
    let tracker = start_tracker(home, &sb.path("tracker"), "127.0.0.1:0", &[]);
    // A's runner never finishes on its own; B's succeeds and notes when it started.
    let a_pid = sb.path("a.pid");
    let runner_a = sb.script(
        "runner-a",
        &format!(
            "echo \"A $LTS_ATTEMPT\"; echo $$ > {pid}.tmp; mv {pid}.tmp {pid}; exec sleep 120",
            pid = a_pid.display()
        ),
    );
    let b_started = sb.path("b.started");
    let runner_b = sb.script(
        "runner-b",
        &format!(
            "date +%s%3N > {at}.tmp; mv {at}.tmp {at}; echo \"B $LTS_ATTEMPT\"",
            at = b_started.display()
        ),
    );
    let mut a = Daemon::worker(
        home,
        &tracker.addr,
        "ft",
        &[
            "--runner",
            runner_a.to_str().unwrap(),
            "--threads",
            "1",
            "--data",
            sb.path("worker-a").to_str().unwrap(),
        ],
    );
    lts(
        home,
        &tracker.addr,
        &["submit", "-g", "ft", "--task-id", "takeover"],
    )
    .ok();
    let ctx_a = || logs(&[("tracker", &tracker), ("worker A", &a)]);
    wait_job(home, &tracker.addr, "takeover", "running", PATIENCE, ctx_a);
    let runner_pid = wait_for("A's runner to start", PATIENCE, || read_pid(&a_pid), ctx_a);
    reaper.watch(runner_pid);
    // B joins only now, so that A surely got the run.
    let b = Daemon::worker(
        home,
        &tracker.addr,
        "ft",
        &[
            "--runner",
            runner_b.to_str().unwrap(),
            "--threads",
            "1",
            "--data",
            sb.path("worker-b").to_str().unwrap(),
        ],
    );
    let ctx = || logs(&[("tracker", &tracker), ("worker A", &a), ("worker B", &b)]);
    wait_for(
        "both workers to be known",
        PATIENCE,
        || {
            let nodes = lts(home, &tracker.addr, &["-o", "json", "nodes"]).json();
            let workers = nodes
                .as_array()?
                .iter()
                .filter(|n| n["group"] == "ft" && n["state"] == "up")
                .count();
            (workers == 2).then_some(())
        },
        ctx,
    );
    let job = job_json(home, &tracker.addr, "takeover");
    assert!(worker_of(&job["runs"][0], a.pid()), "A runs it: {job}");

    // A's lease ends one lease (10 s) after its last heartbeat (every 2 s),
    // so a kill just after a heartbeat would re-run at 10 s + a few ms.
    // Kill half-way between two heartbeats instead: the bound then holds
    // with a margin that no load on the test machine eats up.
    let a_seen = || {
        let nodes = lts(home, &tracker.addr, &["-o", "json", "nodes"]).json();
        let a_node = nodes
            .as_array()?
            .iter()
            .find(|n| {
                n["id"]
                    .as_str()
                    .is_some_and(|id| id.ends_with(&format!("-{}", a.pid())))
            })?
            .clone();
        Some(ms(&a_node["last_seen"]))
    };
    let before = a_seen();
    let beat = wait_for(
        "a heartbeat from A",
        Duration::from_secs(10),
        || a_seen().filter(|&seen| Some(seen) != before),
        ctx,
    );
    while now_ms() < beat + 1_000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed_at = now_ms();
    a.kill();

    let ctx = || logs(&[("tracker", &tracker), ("worker B", &b)]);
    let job = wait_job(
        home,
        &tracker.addr,
        "takeover",
        "succeeded",
        Duration::from_secs(25),
        ctx,
    );
    let runs = job["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "one lost attempt and one re-run: {job}");
    let (lost, rerun) = (&runs[0], &runs[1]);
    assert_eq!(
        (lost["run"].as_u64(), lost["attempt"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(lost["outcome"], "lost", "{job}");
    assert!(worker_of(lost, a.pid()), "attempt 1 was A's: {job}");
    assert!(
        lost["reason"].as_str().unwrap_or("").contains("lease"),
        "the lost attempt says why: {job}"
    );
    assert_eq!(
        (rerun["run"].as_u64(), rerun["attempt"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(rerun["outcome"], "succeeded", "{job}");
    assert_eq!(rerun["exit_code"], 0);
    assert!(worker_of(rerun, b.pid()), "attempt 2 was B's: {job}");
    assert_eq!(
        lts(home, &tracker.addr, &["logs", "takeover"]).ok(),
        "B 2\n"
    );

    let dispatched = ms(&rerun["started_at"]) - killed_at;
    let runner_started: i64 = std::fs::read_to_string(&b_started)
        .unwrap()
        .trim()
        .parse()
        .expect("date +%s%3N");
    let recovery = runner_started - killed_at;
    eprintln!(
        "worker kill -> re-run: dispatched to B after {dispatched} ms, B's runner started after {recovery} ms \
         (killed {} ms after A's last heartbeat; default lease 8 s, heartbeat every 2 s)",
        killed_at - beat
    );
    assert!(
        recovery <= 10_000,
        "the run started again {recovery} ms after its worker was killed (bound: 10 s)"
    );
}

#[test]
fn a_worker_delivers_every_result_across_a_twenty_second_tracker_outage() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("tracker");
    // Leases longer than the outage: runs in flight stay the worker's.
    let lease = ["--lease", "60s"];
    let mut tracker = start_tracker(home, &data, "127.0.0.1:0", &lease);
    let addr = tracker.addr.clone();
    let ran = sb.path("ran");
    let gate = sb.path("gate");
    // A line, the gate (open once the tracker is down), half a second of work, a line.
    let runner = sb.script(
        "runner",
        &format!(
            "echo \"$LTS_TASK_ID\" >> {ran}\necho \"start $LTS_TASK_ID\"\n\
             while [ ! -e {gate} ]; do sleep 0.05; done\nsleep 0.5\necho \"done $LTS_TASK_ID\"",
            ran = ran.display(),
            gate = gate.display()
        ),
    );
    let n = 20;
    let ids: Vec<String> = (0..n).map(|i| format!("o{i:02}")).collect();
    for id in &ids {
        lts(home, &addr, &["submit", "-g", "out", "--task-id", id]).ok();
    }
    let mut worker = Daemon::worker(
        home,
        &addr,
        "out",
        &[
            "--runner",
            runner.to_str().unwrap(),
            "--threads",
            "4",
            "--data",
            sb.path("worker").to_str().unwrap(),
        ],
    );
    // Four runs in flight and every slot busy, so no pull is under way
    // when the tracker dies.
    wait_for(
        "four runs in flight",
        PATIENCE,
        || {
            let lines = std::fs::read_to_string(&ran).unwrap_or_default();
            let running = lts(home, &addr, &["-o", "json", "jobs", "--state", "running"]).json();
            (lines.lines().count() == 4 && running.as_array().map(Vec::len) == Some(4))
                .then_some(())
        },
        || logs(&[("tracker", &tracker), ("worker", &worker)]),
    );
    tracker.kill();
    let down_at = Instant::now();
    std::fs::write(&gate, "").unwrap();
    // The outage: the four runs end and their results wait on the worker.
    while down_at.elapsed() < Duration::from_secs(20) {
        assert!(
            worker.child.try_wait().unwrap().is_none(),
            "the worker exited during the outage; its log:\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap().lines().count(),
        4,
        "no new run starts while the tracker is down"
    );
    // Come back just after one of the worker's redelivery attempts failed:
    // its next one is ~2 s away, so its next heartbeat (every 2 s), which
    // no longer lists the four finished runs, reaches the tracker first.
    // Their results still arrive well within their leases.
    let failures = || worker.log().matches("delivery failed").count();
    let seen = failures();
    let aligned = Instant::now();
    while failures() == seen && aligned.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    if failures() == seen {
        eprintln!("the worker logged no failed delivery for 5 s; restarting unaligned");
    }
    let restarted_at = Instant::now();
    let tracker = start_tracker(home, &data, &addr, &lease);
    assert_eq!(tracker.addr, addr);
    wait_for(
        "every job to succeed",
        Duration::from_secs(30),
        || {
            let done = lts(home, &addr, &["-o", "json", "jobs", "--state", "succeeded"]).json();
            (done.as_array().map(Vec::len) == Some(n)).then_some(())
        },
        || {
            let jobs = lts(home, &addr, &["jobs"]);
            let ran = std::fs::read_to_string(&ran).unwrap_or_default();
            format!(
                "jobs:\n{}\nran: {ran:?}\n{}",
                jobs.stdout,
                logs(&[("tracker", &tracker), ("worker", &worker)])
            )
        },
    );
    eprintln!(
        "tracker outage of {:?}: {n} jobs drained {:?} after the restart",
        restarted_at - down_at,
        restarted_at.elapsed()
    );
    let text = std::fs::read_to_string(&ran).unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in text.lines() {
        *counts.entry(id).or_default() += 1;
    }
    let mut problems = Vec::new();
    for id in &ids {
        let job = job_json(home, &addr, id);
        let runs = job["runs"].as_array().unwrap();
        let succeeded = runs.iter().filter(|r| r["outcome"] == "succeeded").count();
        if succeeded != 1 {
            problems.push(format!("{id}: {succeeded} succeeded attempts: {job}"));
        }
        let logs = lts(home, &addr, &["logs", id]);
        if logs.ok() != format!("start {id}\ndone {id}\n") {
            problems.push(format!(
                "{id}: logs are not each line once: {:?}",
                logs.stdout
            ));
        }
        // Every lease outlived the outage and every result was delivered
        // within its lease: nothing may have run twice.
        let times = counts.get(id.as_str()).copied().unwrap_or(0);
        if times != 1 || runs.len() != 1 || runs[0]["outcome"] != "succeeded" {
            problems.push(format!(
                "{id}: the runner ran it {times} time(s); runs: {job}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems after a 20 s tracker outage (lease 60 s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker is still up"
    );
}

/// What the storm's clients saw.
#[derive(Default)]
struct Ledger {
    /// Task ids the tracker acknowledged (exit 0, or "already exists" on a retry).
    acked: BTreeSet<String>,
    /// Of those, how many were known only by "already exists".
    acked_by_exists: usize,
    /// Failed submissions by exit code.
    failures: BTreeMap<i32, usize>,
    /// Failures other than exit 4 (no tracker reachable), for the report.
    odd: Vec<String>,
}

#[test]
fn a_tracker_killed_twenty_times_under_load_loses_no_acknowledged_job() {
    const KILLS: usize = 20;
    const CLIENTS: usize = 4;
    let seed = std::env::var("LTS_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            (SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64)
                ^ u64::from(std::process::id())
        })
        | 1;
    eprintln!("tracker storm: seed {seed} (set LTS_FAULT_SEED={seed} to replay the moments)");
    let mut rng = XorShift(seed);

    let sb = Sandbox::new();
    let home = sb.dir.path().to_path_buf();
    let data = sb.path("tracker");
    let mut tracker = start_tracker(&home, &data, "127.0.0.1:0", &[]);
    let addr = tracker.addr.clone();
    let ran = sb.path("ran");
    let runner = sb.script(
        "runner",
        &format!(
            "echo \"$LTS_TASK_ID $LTS_RUN $LTS_ATTEMPT\" >> {}",
            ran.display()
        ),
    );
    let worker = Daemon::worker(
        &home,
        &addr,
        "storm",
        &[
            "--runner",
            runner.to_str().unwrap(),
            "--threads",
            "8",
            "--data",
            sb.path("worker").to_str().unwrap(),
        ],
    );

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (home, addr) = (home.clone(), addr.clone());
            let (ledger, stop) = (ledger.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let id = format!("s{c}-{i:04}");
                    i += 1;
                    let mut retried = false;
                    // Submit until acknowledged; give up on this id at the end.
                    while !stop.load(Ordering::SeqCst) {
                        let out = lts(&home, &addr, &["submit", "-g", "storm", "--task-id", &id]);
                        let mut l = ledger.lock().unwrap();
                        if out.code == 0 {
                            l.acked.insert(id.clone());
                            break;
                        }
                        if retried && out.code == 1 && out.stderr.contains("already exists") {
                            l.acked.insert(id.clone());
                            l.acked_by_exists += 1;
                            break;
                        }
                        *l.failures.entry(out.code).or_default() += 1;
                        if out.code != 4 {
                            l.odd
                                .push(format!("{id}: exit {}: {}", out.code, out.stderr.trim()));
                        }
                        drop(l);
                        retried = true;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    // A steady load, not a flood: the suite shares two cores.
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();

    let storm_began = Instant::now();
    let mut restarts = Vec::new();
    for k in 0..KILLS {
        std::thread::sleep(Duration::from_millis(rng.between(200, 1500)));
        tracker.kill();
        if k + 1 < KILLS {
            let t = Instant::now();
            tracker = start_tracker(&home, &data, &addr, &[]);
            restarts.push(t.elapsed());
        }
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client thread");
    }
    let storm = storm_began.elapsed();
    let restarted_at = Instant::now();
    let tracker = start_tracker(&home, &data, &addr, &[]);
    assert_eq!(tracker.addr, addr);

    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    let acked = &ledger.acked;
    assert!(
        acked.len() > 50,
        "the load got through now and then: {}",
        acked.len()
    );
    let jobs = wait_for(
        "every acknowledged job to succeed",
        Duration::from_secs(40),
        || {
            let jobs = all_jobs(&home, &addr);
            let done = jobs
                .iter()
                .filter(|j| j["state"] == "succeeded")
                .filter(|j| acked.contains(j["task_id"].as_str().unwrap_or("")))
                .count();
            (done == acked.len()).then_some(jobs)
        },
        || {
            let waiting: Vec<String> = all_jobs(&home, &addr)
                .iter()
                .filter(|j| j["state"] != "succeeded")
                .map(|j| format!("{} {}", j["task_id"], j["state"]))
                .collect();
            format!(
                "{} acknowledged; not succeeded: {waiting:?}\n{}",
                acked.len(),
                logs(&[("tracker", &tracker), ("worker", &worker)])
            )
        },
    );
    let drained = restarted_at.elapsed();

    let present: BTreeSet<String> = jobs
        .iter()
        .map(|j| j["task_id"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = acked.difference(&present).collect();
    assert!(missing.is_empty(), "acknowledged jobs lost: {missing:?}");
    let unacked_but_present = present.difference(acked).count();

    // What the runner saw: (task id) -> attempts it ran, in order.
    let text = std::fs::read_to_string(&ran).unwrap_or_default();
    let mut executions: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(id), Some(run), Some(attempt)) = (f.next(), f.next(), f.next()) else {
            panic!("runner line '{line}'");
        };
        executions
            .entry(id.to_string())
            .or_default()
            .push((run.parse().unwrap(), attempt.parse().unwrap()));
    }

    // Each acknowledged job's runs, fetched by a few threads at once.
    let ids: Vec<String> = acked.iter().cloned().collect();
    let details: Vec<(String, Value)> = std::thread::scope(|s| {
        let chunks: Vec<_> = ids
            .chunks(ids.len().div_ceil(4))
            .map(|chunk| {
                let (home, addr) = (&home, &addr);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|id| (id.clone(), job_json(home, addr, id)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().expect("query thread"))
            .collect()
    });

    let mut problems = Vec::new();
    let mut reruns = Vec::new();
    let mut lost_attempts = 0;
    for (id, job) in &details {
        let runs = job["runs"].as_array().unwrap();
        lost_attempts += runs.iter().filter(|r| r["outcome"] == "lost").count();
        let succeeded: Vec<_> = runs
            .iter()
            .filter(|r| r["outcome"] == "succeeded")
            .collect();
        if succeeded.len() != 1 {
            problems.push(format!(
                "{id}: {} succeeded attempts: {job}",
                succeeded.len()
            ));
            continue;
        }
        let ok_attempt = succeeded[0]["attempt"].as_u64().unwrap();
        let seen = executions.get(id).cloned().unwrap_or_default();
        if !seen.contains(&(1, ok_attempt)) {
            problems.push(format!(
                "{id}: attempt {ok_attempt} succeeded but the runner never ran it: {seen:?}"
            ));
        }
        if seen.iter().any(|&(_, a)| a > ok_attempt) {
            problems.push(format!(
                "{id}: ran again after attempt {ok_attempt} succeeded: {seen:?}; {job}"
            ));
        }
        let distinct: BTreeSet<_> = seen.iter().collect();
        if distinct.len() != seen.len() {
            problems.push(format!("{id}: one attempt ran twice: {seen:?}"));
        }
        if seen.len() > 1 {
            reruns.push(format!("{id} {seen:?}"));
        }
    }
    let restart_ms: Vec<u128> = restarts.iter().map(Duration::as_millis).collect();
    eprintln!(
        "tracker storm: {KILLS} SIGKILLs over {storm:?} (restarts took {:?} ms, max {:?} ms); \
         {} jobs acknowledged ({} of them by 'already exists'), {unacked_but_present} present but never acknowledged; \
         failed submits by exit code {:?}; drained {drained:?} after the final restart; \
         {lost_attempts} lost attempts; {} jobs the runner ran more than once (at least once, before any success): {:?}",
        restart_ms,
        restart_ms.iter().max(),
        acked.len(),
        ledger.acked_by_exists,
        ledger.failures,
        reruns.len(),
        reruns,
    );
    if !ledger.odd.is_empty() {
        eprintln!(
            "tracker storm: {} failed submits did not exit 4: {:?}",
            ledger.odd.len(),
            ledger.odd
        );
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Wait until a run's process and the grandchild it forked are both gone.
fn wait_gone(child: i32, grandchild: i32) {
    wait_for(
        "the child and the grandchild to be gone",
        Duration::from_secs(10),
        || (!alive(child) && !alive(grandchild)).then_some(()),
        || {
            format!(
                "child {child} alive: {}, grandchild {grandchild} alive: {}",
                alive(child),
                alive(grandchild)
            )
        },
    );
}

/// Submit `sh -c SCRIPT` with `--timeout 1s` as `id` and wait for its first
/// run to end.
fn run_with_timeout(home: &Path, d: &Daemon, id: &str, script: &str) -> Value {
    let addr = d.addr.as_str();
    lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            id,
            "--timeout",
            "1s",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .ok();
    wait_for(
        &format!("{id}'s run to end"),
        Duration::from_secs(25),
        || {
            let job = job_json(home, addr, id);
            (!job["runs"][0]["outcome"].is_null()).then_some(job)
        },
        || {
            let job = lts(home, addr, &["-o", "json", "job", id]);
            format!(
                "job {id}: {}\n{}",
                job.stdout.trim(),
                logs(&[("standalone", d)])
            )
        },
    )
}

#[test]
fn a_run_past_its_timeout_is_stopped_with_its_whole_process_group() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reaper = Reaper::default();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let (child, grandchild) = (sb.path("child.pid"), sb.path("grandchild.pid"));
    let script = format!(
        "echo $$ > {}; sleep 300 & echo $! > {}; sleep 300",
        child.display(),
        grandchild.display()
    );
    let job = run_with_timeout(home, &d, "slow", &script);
    let (child, grandchild) = (read_pid(&child).unwrap(), read_pid(&grandchild).unwrap());
    reaper.watch(child);
    reaper.watch(grandchild);
    let run = &job["runs"][0];
    assert_eq!(run["outcome"], "timed_out", "{job}");
    assert!(
        run["reason"].as_str().unwrap_or("").contains("timed out"),
        "{job}"
    );
    let took = ms(&run["ended_at"]) - ms(&run["started_at"]);
    assert!(
        (900..5_000).contains(&took),
        "a 1 s timeout ended the run after {took} ms"
    );
    let job = job_json(home, &d.addr, "slow");
    assert_eq!(
        job["state"], "failed",
        "a timed-out run counts as failed: {job}"
    );
    wait_gone(child, grandchild);
}

#[test]
fn a_run_that_ignores_sigterm_is_killed_after_the_grace() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reaper = Reaper::default();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let (child, grandchild) = (sb.path("child.pid"), sb.path("grandchild.pid"));
    // An ignored SIGTERM is inherited: neither the shell nor its sleep goes.
    let script = format!(
        "trap '' TERM; echo $$ > {}; sleep 300 & echo $! > {}; wait",
        child.display(),
        grandchild.display()
    );
    let job = run_with_timeout(home, &d, "stubborn", &script);
    let (child, grandchild) = (read_pid(&child).unwrap(), read_pid(&grandchild).unwrap());
    reaper.watch(child);
    reaper.watch(grandchild);
    let run = &job["runs"][0];
    assert_eq!(run["outcome"], "timed_out", "{job}");
    let took = ms(&run["ended_at"]) - ms(&run["started_at"]);
    eprintln!("a run ignoring SIGTERM with --timeout 1s ended after {took} ms");
    assert!(
        (5_500..15_000).contains(&took),
        "1 s timeout + 5 s grace before SIGKILL, but the run ended after {took} ms"
    );
    wait_gone(child, grandchild);
}

#[test]
fn retention_prunes_finished_one_off_jobs_and_keeps_cron_and_queued_ones() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = start_tracker(
        home,
        &sb.path("tracker"),
        "127.0.0.1:0",
        &["--retain", "2s"],
    );
    let addr = tracker.addr.clone();
    let worker = Daemon::worker(
        home,
        &addr,
        "ret",
        &[
            "--allow-commands",
            "--data",
            sb.path("worker").to_str().unwrap(),
        ],
    );
    let submit = |args: &[&str]| {
        let mut all = vec!["submit", "-g", "ret"];
        all.extend_from_slice(args);
        lts(home, &addr, &all).ok();
    };
    submit(&["--task-id", "ok", "--", "echo", "done"]);
    submit(&["--task-id", "bad", "--", "sh", "-c", "echo failing; exit 3"]);
    submit(&["--task-id", "ticks", "--cron", "* * * * * ?", "--", "true"]);
    lts(
        home,
        &addr,
        &["submit", "-g", "nobody", "--task-id", "waiting"],
    )
    .ok();
    let ctx = || logs(&[("tracker", &tracker), ("worker", &worker)]);
    wait_job(home, &addr, "ok", "succeeded", PATIENCE, ctx);
    wait_job(home, &addr, "bad", "failed", PATIENCE, ctx);
    let finished = Instant::now();
    wait_for(
        "the cron job to have run",
        PATIENCE,
        || {
            let job = job_json(home, &addr, "ticks");
            job["runs"]
                .as_array()?
                .iter()
                .any(|r| r["outcome"] == "succeeded")
                .then_some(())
        },
        ctx,
    );
    wait_for(
        "the finished jobs to be pruned",
        Duration::from_secs(20),
        || {
            let ids: BTreeSet<String> = all_jobs(home, &addr)
                .iter()
                .map(|j| j["task_id"].as_str().unwrap().to_string())
                .collect();
            (!ids.contains("ok") && !ids.contains("bad")).then_some(())
        },
        || {
            let jobs = lts(home, &addr, &["jobs"]);
            format!("jobs:\n{}\n{}", jobs.stdout, ctx())
        },
    );
    eprintln!(
        "retention 2 s: finished jobs pruned {:?} after they ended",
        finished.elapsed()
    );
    assert_eq!(lts(home, &addr, &["job", "ok"]).code, 3, "ok is gone");
    assert_eq!(
        lts(home, &addr, &["logs", "bad"]).code,
        3,
        "bad is gone with its logs"
    );
    // Well past the retention, the cron job and the queued job are still there.
    std::thread::sleep(Duration::from_secs(3));
    let ids: BTreeSet<String> = all_jobs(home, &addr)
        .iter()
        .map(|j| j["task_id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains("ticks"), "the cron job stays: {ids:?}");
    assert!(ids.contains("waiting"), "the queued job stays: {ids:?}");
    assert_eq!(job_json(home, &addr, "waiting")["state"], "queued");
}

#[test]
fn a_long_log_keeps_its_head_and_tail_within_max_log_bytes() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = start_tracker(
        home,
        &sb.path("tracker"),
        "127.0.0.1:0",
        &["--max-log-bytes", "2000"],
    );
    let addr = tracker.addr.clone();
    let worker = Daemon::worker(
        home,
        &addr,
        "log",
        &[
            "--allow-commands",
            "--data",
            sb.path("worker").to_str().unwrap(),
        ],
    );
    lts(
        home,
        &addr,
        &[
            "submit",
            "-g",
            "log",
            "--task-id",
            "chatty",
            "--",
            "seq",
            "1",
            "10000",
        ],
    )
    .ok();
    wait_job(home, &addr, "chatty", "succeeded", PATIENCE, || {
        logs(&[("tracker", &tracker), ("worker", &worker)])
    });
    let out = lts(home, &addr, &["logs", "chatty"]);
    let lines: Vec<&str> = out.ok().lines().collect();
    let is_marker = |l: &str| l.contains("cut") || l.contains("omitted");
    let markers: Vec<usize> = (0..lines.len()).filter(|&i| is_marker(lines[i])).collect();
    assert_eq!(markers.len(), 1, "one marker line: {lines:?}");
    let marker = markers[0];
    let kept: usize = lines
        .iter()
        .filter(|l| !is_marker(l))
        .map(|l| l.len() + 1)
        .sum();
    eprintln!(
        "--max-log-bytes 2000: kept {} lines, {kept} bytes; marker: {}",
        lines.len() - 1,
        lines[marker]
    );
    assert!(kept < 2_100, "kept {kept} bytes of lines");
    let (kept_lines, all_bytes) = (lines.len() - 1, 48_894);
    assert!(
        lines[marker].contains(&(10_000 - kept_lines).to_string())
            || lines[marker].contains(&(all_bytes - kept).to_string()),
        "the marker says how much was cut ({} lines, {} bytes): {}",
        10_000 - kept_lines,
        all_bytes - kept,
        lines[marker]
    );
    assert!(
        kept > 1_000,
        "kept only {kept} bytes: head and tail should fill the cap"
    );
    // The head is 1, 2, 3, .. and the tail .., 9999, 10000, each without a gap.
    let (head, tail) = (&lines[..marker], &lines[marker + 1..]);
    assert!(!head.is_empty() && !tail.is_empty(), "{lines:?}");
    for (i, l) in head.iter().enumerate() {
        assert_eq!(
            l.parse::<usize>().ok(),
            Some(i + 1),
            "head line {i}: {head:?}"
        );
    }
    for (i, l) in tail.iter().rev().enumerate() {
        assert_eq!(l.parse::<usize>().ok(), Some(10_000 - i), "tail: {tail:?}");
    }
    assert_eq!(
        lts(home, &addr, &["logs", "chatty", "--tail", "1"]).ok(),
        "10000\n"
    );
}

/// The size of a tracker's database on disk, WAL included.
fn db_bytes(data: &Path) -> u64 {
    ["lts.db", "lts.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn with_retention_the_database_stops_growing_under_a_steady_load() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let d = Daemon::standalone(
        home,
        &data,
        &[
            "--retain",
            "1s",
            "--runner",
            "builtin:noop",
            "--threads",
            "16",
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = lts::client::Client::new(vec![d.addr.clone()]);
    // One round: 400 run-now jobs with a long parameter, all run to the end.
    let round = |n: usize| {
        runtime.block_on(async {
            let jobs = (0..400)
                .map(|i| {
                    let mut job = lts::model::JobSpec::new("default", format!("r{n}-{i}"));
                    job.params.insert("payload".into(), "x".repeat(500));
                    job
                })
                .collect();
            for ack in client.submit_many(jobs).await.expect("submit a round") {
                ack.expect("job accepted");
            }
        });
        eventually(&format!("round {n} to finish"), || {
            let out = lts(
                home,
                &d.addr,
                &["-o", "json", "jobs", "--state", "queued", "--limit", "1"],
            );
            let running = lts(
                home,
                &d.addr,
                &["-o", "json", "jobs", "--state", "running", "--limit", "1"],
            );
            (out.json().as_array()?.is_empty() && running.json().as_array()?.is_empty())
                .then_some(())
        });
    };
    // Warm up: the file (and its WAL) grows to hold what retention keeps.
    let rounds = 30;
    let mut sizes = Vec::new();
    for n in 0..rounds {
        round(n);
        sizes.push(db_bytes(&data));
    }
    let (warm, after) = (sizes[rounds / 2 - 1], sizes[rounds - 1]);
    eprintln!("database with --retain 1s after each round of 400 jobs: {sizes:?}");
    // Without retention the second half would add as much as the first
    // (about 1 MB a round); with it, freed pages are reused.
    assert!(
        after <= warm + warm / 5,
        "the database kept growing: {warm} bytes after {} rounds, {after} after {rounds}",
        rounds / 2
    );
    let left = lts(home, &d.addr, &["-o", "json", "jobs", "--limit", "100000"]).json();
    assert!(
        left.as_array().map_or(0, Vec::len) < rounds * 400 / 2,
        "retention pruned finished jobs"
    );
}

/// Run records of one job in the tracker's SQLite file: (how many are kept,
/// the highest run number so far).
fn kept_runs(data: &Path, task_id: &str) -> (i64, i64) {
    let db = rusqlite::Connection::open_with_flags(
        data.join("lts.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the tracker's database");
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.query_row(
        "SELECT count(*), coalesce(max(r.run), 0) FROM runs r JOIN jobs j ON j.id = r.job_id \
         WHERE j.task_id = ?1",
        [task_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .expect("count runs")
}

#[test]
fn repeating_at_the_finest_interval_retention_keeps_up() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let d = Daemon::standalone(
        home,
        &data,
        &[
            "--retain",
            "2s",
            "--runner",
            "builtin:noop",
            "--threads",
            "16",
        ],
    );
    // Finer than once a second is refused, with the limit named.
    let fine = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--repeat-count",
            "-1",
            "--repeat-interval",
            "1ms",
        ],
    );
    assert_eq!(fine.code, 2, "{}", fine.stderr);
    assert!(fine.stderr.contains("at least 1s"), "{}", fine.stderr);
    // Twenty jobs repeating every second, forever.
    let ids: Vec<String> = (0..20).map(|i| format!("every-second-{i}")).collect();
    for id in &ids {
        lts(
            home,
            &d.addr,
            &[
                "submit",
                "-g",
                "default",
                "--task-id",
                id,
                "--repeat-count",
                "-1",
                "--repeat-interval",
                "1s",
            ],
        )
        .ok();
    }
    // Once each has run 8 times, retention (2 s, pruning every 0.5 s) keeps
    // the last few: about 2 s of runs, the one in flight and one pass's lag.
    let kept = eventually("every job to reach its eighth run", || {
        let counts: Vec<(i64, i64)> = ids.iter().map(|id| kept_runs(&data, id)).collect();
        counts.iter().all(|&(_, last)| last >= 8).then_some(counts)
    });
    for (id, (count, last)) in ids.iter().zip(kept) {
        assert!(
            count <= 5,
            "{id}: {count} run records kept after {last} runs with --retain 2s"
        );
    }
}
