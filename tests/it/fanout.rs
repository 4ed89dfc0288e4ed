//! Broadcast and sharded jobs, end to end: a tracker and several real
//! workers, jobs submitted with `--broadcast` or `--shards N`, and what each
//! run saw, read back from files its command wrote and from `lts job`. Also
//! run on two trackers sharing a PostgreSQL store (`on_postgres`).

use super::harness::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A worker of `group` with `threads` slots that runs job commands, with a
/// data dir of its own.
fn worker(
    sb: &Sandbox,
    tracker: &str,
    group: &str,
    name: &str,
    threads: &str,
) -> crate::helpers::Daemon {
    let data = sb.path(name);
    crate::helpers::Daemon::worker(
        sb.dir.path(),
        tracker,
        group,
        &[
            "--allow-commands",
            "--threads",
            threads,
            "--data",
            data.to_str().unwrap(),
        ],
    )
}

/// Wait until the tracker lists `n` live workers of `group`.
fn wait_workers(home: &Path, tracker: &str, group: &str, n: usize) {
    eventually(&format!("{n} live workers of {group}"), || {
        let nodes = lts(home, tracker, &["-o", "json", "nodes"]).json();
        let up = nodes
            .as_array()?
            .iter()
            .filter(|n| n["group"] == group && n["state"] == "up")
            .count();
        (up == n).then_some(())
    });
}

fn runs(job: &Value) -> Vec<Value> {
    job["runs"].as_array().cloned().unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[test]
fn broadcast_runs_once_on_each_of_three_workers_and_succeeds() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let workers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| worker(&sb, &tracker.addr, "cast", n, "2"))
        .collect();
    let ids: BTreeSet<String> = workers.iter().map(|w| w.worker_id()).collect();
    wait_workers(home, &tracker.addr, "cast", 3);

    let out = sb.path("out");
    std::fs::create_dir(&out).unwrap();
    let cmd = format!("touch {}/run-$LTS_RUN", out.display());
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "cast",
            "--task-id",
            "everywhere",
            "--broadcast",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    )
    .ok();
    let job = wait_state(home, &tracker.addr, "everywhere", "succeeded");
    let runs = runs(&job);
    assert_eq!(runs.len(), 3, "one run per worker: {job}");
    let on: BTreeSet<String> = runs.iter().map(|r| text(&r["worker"])).collect();
    assert_eq!(on, ids, "each live worker ran it once: {job}");
    for r in &runs {
        assert_eq!(r["outcome"], "succeeded", "{job}");
        assert_eq!(
            r["pinned"], r["worker"],
            "each run is pinned to its worker: {job}"
        );
        assert_eq!(r["shard"], Value::Null);
    }
    let numbers: BTreeSet<u64> = runs.iter().filter_map(|r| r["run"].as_u64()).collect();
    assert_eq!(numbers, BTreeSet::from([1, 2, 3]), "{job}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    // The table names each run's worker in its part column.
    let table = lts(home, &tracker.addr, &["job", "everywhere"])
        .ok()
        .to_string();
    assert!(
        table.contains("PART") && table.contains("for cast@"),
        "{table}"
    );
}

#[test]
fn broadcast_fails_when_the_run_of_one_worker_fails() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let _a = worker(&sb, &tracker.addr, "cast", "a", "1");
    let _b = worker(&sb, &tracker.addr, "cast", "b", "1");
    wait_workers(home, &tracker.addr, "cast", 2);

    // The first run to take the lock fails; the other succeeds.
    let cmd = format!(
        "if mkdir {} 2>/dev/null; then exit 3; fi",
        sb.path("first").display()
    );
    let out = lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "cast",
            "--task-id",
            "one-fails",
            "--broadcast",
            "--wait",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    );
    assert_eq!(out.code, 1, "--wait says the tick failed: {out:?}");
    let job = wait_state(home, &tracker.addr, "one-fails", "failed");
    let outcomes: BTreeMap<String, usize> = runs(&job).iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(text(&r["outcome"])).or_default() += 1;
        m
    });
    assert_eq!(
        outcomes,
        BTreeMap::from([("failed".to_string(), 1), ("succeeded".to_string(), 1)]),
        "{job}"
    );
}

#[test]
fn four_shards_over_two_workers_each_see_their_shard() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let a = worker(&sb, &tracker.addr, "split", "a", "2");
    let b = worker(&sb, &tracker.addr, "split", "b", "2");
    wait_workers(home, &tracker.addr, "split", 2);

    let out = sb.path("out");
    std::fs::create_dir(&out).unwrap();
    // Each shard writes what it saw, and stays a moment so that the shards
    // run side by side.
    let cmd = format!(
        "echo \"$LTS_SHARD $LTS_SHARDS\" > {out}/shard-$LTS_SHARD.tmp && \
         mv {out}/shard-$LTS_SHARD.tmp {out}/shard-$LTS_SHARD; sleep 1",
        out = out.display()
    );
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "split",
            "--task-id",
            "four",
            "--shards",
            "4",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    )
    .ok();
    let job = wait_state(home, &tracker.addr, "four", "succeeded");
    let runs = runs(&job);
    assert_eq!(runs.len(), 4, "{job}");
    let shards: BTreeSet<u64> = runs.iter().filter_map(|r| r["shard"].as_u64()).collect();
    assert_eq!(shards, BTreeSet::from([0, 1, 2, 3]), "{job}");
    for shard in 0..4 {
        let seen = std::fs::read_to_string(out.join(format!("shard-{shard}"))).unwrap();
        assert_eq!(seen.trim(), format!("{shard} 4"));
    }
    let on: BTreeSet<String> = runs.iter().map(|r| text(&r["worker"])).collect();
    assert_eq!(
        on,
        BTreeSet::from([a.worker_id(), b.worker_id()]),
        "the shards are spread over both workers: {job}"
    );
}

#[test]
fn each_tick_of_a_repeat_job_fans_out() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let _a = worker(&sb, &tracker.addr, "split", "a", "4");
    wait_workers(home, &tracker.addr, "split", 1);
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "split",
            "--task-id",
            "ticks",
            "--repeat-count",
            "2",
            "--repeat-interval",
            "1s",
            "--shards",
            "2",
            "--",
            "true",
        ],
    )
    .ok();
    let job = wait_state(home, &tracker.addr, "ticks", "succeeded");
    let runs = runs(&job);
    assert_eq!(runs.len(), 4, "two ticks of two shards: {job}");
    let ticks: BTreeMap<String, Vec<u64>> = runs.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(text(&r["scheduled_at"]))
            .or_default()
            .push(r["shard"].as_u64().unwrap_or(99));
        m
    });
    assert_eq!(ticks.len(), 2, "{job}");
    assert!(ticks.values().all(|s| s == &vec![0, 1]), "{job}");
}

#[test]
fn a_shard_whose_worker_is_killed_runs_again_alone() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let mut workers = [
        worker(&sb, &tracker.addr, "split", "a", "2"),
        worker(&sb, &tracker.addr, "split", "b", "2"),
    ];
    wait_workers(home, &tracker.addr, "split", 2);

    // Every run appends its shard to a journal; the first run of shard 0
    // notes its pid and hangs, its second run ends at once.
    let journal = sb.path("journal");
    let hung = sb.path("hung.pid");
    let cmd = format!(
        "echo $LTS_SHARD >> {journal}; \
         if [ $LTS_SHARD = 0 ] && [ ! -e {hung} ]; then \
           echo $$ > {hung}.tmp; mv {hung}.tmp {hung}; exec sleep 120; fi",
        journal = journal.display(),
        hung = hung.display()
    );
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "split",
            "--task-id",
            "lossy",
            "--shards",
            "4",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    )
    .ok();
    // Shards 1 to 3 end; shard 0 hangs on one worker.
    let job = eventually("shards 1-3 to succeed while shard 0 runs", || {
        let job = job_json(home, &tracker.addr, "lossy");
        let runs = runs(&job);
        let done = runs
            .iter()
            .filter(|r| r["shard"] != 0 && r["outcome"] == "succeeded")
            .count();
        let hanging = runs
            .iter()
            .any(|r| r["shard"] == 0 && r["state"] == "running");
        (done == 3 && hanging && hung.exists()).then_some(job)
    });
    let holder = runs(&job)
        .iter()
        .find(|r| r["shard"] == 0)
        .map(|r| text(&r["worker"]))
        .unwrap();
    let sleeper: i32 = std::fs::read_to_string(&hung)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let victim = workers
        .iter()
        .position(|w| w.worker_id() == holder)
        .expect("shard 0's worker is one of ours");
    workers[victim].kill();
    // The orphaned runner goes too, so that it cannot write again.
    // SAFETY: signalling a process this test's job started.
    unsafe {
        libc::kill(sleeper, libc::SIGKILL);
    }

    let job = wait_state(home, &tracker.addr, "lossy", "succeeded");
    let runs = runs(&job);
    let attempts: BTreeMap<u64, Vec<String>> = runs.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r["shard"].as_u64().unwrap_or(99))
            .or_default()
            .push(text(&r["outcome"]));
        m
    });
    assert_eq!(
        attempts,
        BTreeMap::from([
            (0, vec!["lost".to_string(), "succeeded".to_string()]),
            (1, vec!["succeeded".to_string()]),
            (2, vec!["succeeded".to_string()]),
            (3, vec!["succeeded".to_string()]),
        ]),
        "only the lost shard ran again: {job}"
    );
    let survivor = workers[1 - victim].worker_id();
    let rerun = runs.iter().find(|r| r["shard"] == 0 && r["attempt"] == 2);
    assert_eq!(rerun.map(|r| text(&r["worker"])), Some(survivor), "{job}");
    let mut journal: Vec<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    journal.sort();
    assert_eq!(
        journal,
        ["0", "0", "1", "2", "3"],
        "each other shard ran once"
    );
}

#[test]
fn bad_fan_out_is_refused_with_exit_2() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    // No tracker is needed: the flags are checked first.
    for (args, says) in [
        (&["--shards", "0"][..], "--shards"),
        (&["--shards", "1001"][..], "--shards"),
        (&["--shards", "-2"][..], "--shards"),
        (&["--shards", "two"][..], "--shards"),
        (&["--broadcast", "--shards", "2"][..], "--broadcast"),
    ] {
        let argv = [&["submit", "-g", "g"][..], args, &["--", "true"][..]].concat();
        let out = lts(home, "127.0.0.1:1", &argv);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {out:?}");
    }
    // A --file line is checked the same way.
    let file = sb.path("jobs.jsonl");
    std::fs::write(
        &file,
        "{\"group\": \"g\", \"task_id\": \"z\", \"shards\": 0, \"command\": [\"true\"]}\n",
    )
    .unwrap();
    let out = lts(
        home,
        "127.0.0.1:1",
        &["submit", "--file", file.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--shards"), "{out:?}");
}

#[test]
fn the_api_takes_shards_and_the_console_shows_each_runs_part() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let url = d.console_url();
    let http = reqwest::blocking::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let line = serde_json::json!({
        "group": "default", "task_id": "api-split", "shards": 2, "command": ["true"],
    });
    let posted = http
        .post(format!("{url}api/v1/jobs"))
        .json(&line)
        .send()
        .unwrap();
    assert!(posted.status().is_success(), "{posted:?}");
    wait_state(home, &d.addr, "api-split", "succeeded");
    let job: Value = http
        .get(format!("{url}api/v1/jobs/default/api-split"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(job["fan_out"], "shards 2", "{job}");
    let shards: BTreeSet<u64> = runs(&job)
        .iter()
        .filter_map(|r| r["shard"].as_u64())
        .collect();
    assert_eq!(shards, BTreeSet::from([0, 1]), "{job}");
    let page = http
        .get(format!("{url}jobs/default/api-split"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<th>Part</th>"), "{page}");
    assert!(
        page.contains("shard 0/2") && page.contains("shard 1/2"),
        "{page}"
    );
    // The submit form takes them too (its CSRF token, for a console
    // without a token, is the page's own).
    let form = http
        .get(format!("{url}submit"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's CSRF token")
        .to_string();
    let origin = url.trim_end_matches('/').to_string();
    let sent = http
        .post(format!("{url}submit"))
        .header("Origin", origin)
        .form(&[
            ("csrf", csrf.as_str()),
            ("group", "default"),
            ("task_id", "form-cast"),
            ("command", "true"),
            ("when", "now"),
            ("broadcast", "on"),
        ])
        .send()
        .unwrap();
    assert!(sent.status().is_success(), "{sent:?}");
    let job = wait_state(home, &d.addr, "form-cast", "succeeded");
    assert_eq!(job["fan_out"], "broadcast", "{job}");
    assert_eq!(runs(&job).len(), 1, "one worker, one run: {job}");
    // A bad count is refused as bad input.
    let bad = serde_json::json!({"group": "default", "shards": 0, "command": ["true"]});
    let refused = http
        .post(format!("{url}api/v1/jobs"))
        .json(&bad)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
}

#[test]
fn a_broadcast_with_no_live_worker_waits_for_one() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "late",
            "--task-id",
            "waits",
            "--broadcast",
            "--",
            "true",
        ],
    )
    .ok();
    let job = job_json(home, &tracker.addr, "waits");
    assert_eq!(job["state"], "queued", "{job}");
    let runs_now = runs(&job);
    assert_eq!(runs_now.len(), 1, "{job}");
    assert_eq!(runs_now[0]["state"], "queued", "{job}");
    assert_eq!(
        runs_now[0]["pinned"],
        Value::Null,
        "not given out yet: {job}"
    );
    let w = worker(&sb, &tracker.addr, "late", "a", "1");
    let job = wait_state(home, &tracker.addr, "waits", "succeeded");
    let runs = runs(&job);
    assert_eq!(runs.len(), 1, "the one worker that came ran it: {job}");
    assert_eq!(text(&runs[0]["worker"]), w.worker_id(), "{job}");
    assert_eq!(runs[0]["pinned"], runs[0]["worker"], "{job}");
}
