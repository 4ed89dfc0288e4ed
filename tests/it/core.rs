//! Run-now jobs end to end: submit, run, logs, wait, follow, many clients,
//! and a tracker killed with SIGKILL.

use super::harness::*;
use std::collections::HashMap;

#[test]
fn submitted_command_runs_and_its_output_is_in_logs() {
    let sb = Sandbox::new();
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), &[]);
    let home = sb.dir.path();
    let id = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--param",
            "who=world",
            "--",
            "sh",
            "-c",
            "echo hello $LTS_PARAM_WHO; echo to-stderr >&2",
        ],
    )
    .ok()
    .trim()
    .to_string();
    assert_eq!(id.len(), 13, "generated task id: {id}");
    let job = wait_state(home, &d.addr, &id, "succeeded");
    let run = &job["runs"][0];
    assert_eq!(run["outcome"], "succeeded");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["run"], 1);
    assert_eq!(run["attempt"], 1);
    assert!(run["worker"]
        .as_str()
        .is_some_and(|w| w.starts_with("default@")));
    // stdout and stderr are separate pipes: their relative order is not defined.
    let logs = lts(home, &d.addr, &["logs", &id]);
    let mut lines: Vec<&str> = logs.ok().lines().collect();
    lines.sort();
    assert_eq!(lines, ["hello world", "to-stderr"]);
    let json_logs = lts(home, &d.addr, &["-o", "json", "logs", &id]);
    let by_stream: HashMap<String, serde_json::Value> = json_logs
        .ok()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["stream"].as_str().unwrap().to_string(), v))
        .collect();
    assert_eq!(by_stream["stdout"]["line"], "hello world");
    assert_eq!(by_stream["stderr"]["line"], "to-stderr");
    assert_eq!(by_stream["stderr"]["run"], 1);
    assert!(by_stream["stderr"]["at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn failing_command_fails_with_its_exit_code() {
    let sb = Sandbox::new();
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), &[]);
    let home = sb.dir.path();
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "bad",
            "--",
            "sh",
            "-c",
            "exit 7",
        ],
    )
    .ok();
    let job = wait_state(home, &d.addr, "bad", "failed");
    assert_eq!(job["runs"][0]["outcome"], "failed");
    assert_eq!(job["runs"][0]["exit_code"], 7);
    let table = lts(home, &d.addr, &["jobs", "--state", "failed"]);
    assert!(table.ok().contains("bad"), "{table:?}");
}

#[test]
fn submit_wait_exits_by_the_outcome() {
    let sb = Sandbox::new();
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), &[]);
    let home = sb.dir.path();
    let ok = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--wait",
            "--task-id",
            "w-ok",
            "--",
            "true",
        ],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.stdout.trim(), "w-ok");
    let bad = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--wait",
            "--task-id",
            "w-bad",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("failed (exit 3)"), "{bad:?}");
    let json = lts(
        home,
        &d.addr,
        &[
            "-o", "json", "submit", "-g", "default", "--wait", "--", "true",
        ],
    );
    let doc = json.json();
    assert_eq!(doc["state"], "succeeded");
    assert_eq!(doc["runs"][0]["exit_code"], 0);
}

#[test]
fn logs_follow_streams_lines_before_the_run_ends() {
    let sb = Sandbox::new();
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), &[]);
    let home = sb.dir.path();
    let gate = sb.path("gate");
    let script = format!(
        "echo first; while [ ! -e {} ]; do sleep 0.05; done; echo second",
        gate.display()
    );
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "f",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    let (follow, rx) = spawn_lines(home, &d.addr, &["logs", "f", "--follow"]);
    let first = rx
        .recv_timeout(PATIENCE)
        .expect("a line while the run goes on");
    assert_eq!(first, "first");
    assert_eq!(job_json(home, &d.addr, "f")["state"], "running");
    std::fs::write(&gate, "").unwrap();
    let second = rx
        .recv_timeout(PATIENCE)
        .expect("the line after the gate opened");
    assert_eq!(second, "second");
    let out = wait_output(follow, PATIENCE);
    assert_eq!(out.code, 0, "follow ends with the run: {out:?}");
}

#[test]
fn a_thousand_jobs_from_several_clients_each_run_exactly_once() {
    let sb = Sandbox::new();
    let ran = sb.path("ran.txt");
    let runner = sb.script(
        "runner",
        &format!("echo \"$LTS_TASK_ID\" >> {}", ran.display()),
    );
    let d = Daemon::standalone(
        sb.dir.path(),
        &sb.path("data"),
        &["--runner", runner.to_str().unwrap(), "--threads", "8"],
    );
    let home = sb.dir.path().to_path_buf();
    let clients = 4;
    let per_client = 250;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (home, addr) = (home.clone(), d.addr.clone());
            std::thread::spawn(move || {
                for i in 0..per_client {
                    let id = format!("c{c}-{i}");
                    lts(&home, &addr, &["submit", "-g", "default", "--task-id", &id]).ok();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let total = clients * per_client;
    eventually("every job to succeed", || {
        let out = lts(
            &home,
            &d.addr,
            &[
                "-o",
                "json",
                "jobs",
                "--state",
                "succeeded",
                "--limit",
                "5000",
            ],
        );
        (out.json().as_array().map(Vec::len) == Some(total)).then_some(())
    });
    let text = std::fs::read_to_string(&ran).unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in text.lines() {
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), total, "every job ran");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs that ran more than once: {twice:?}");
}

#[test]
fn a_tracker_killed_after_acknowledging_keeps_every_job() {
    let sb = Sandbox::new();
    let home = sb.dir.path().to_path_buf();
    let data = sb.path("data");
    let mut tracker = Daemon::tracker(&home, &data, "127.0.0.1:0");
    let addr = tracker.addr.clone();
    let clients = 4;
    let per_client = 250;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (home, addr) = (home.clone(), addr.clone());
            std::thread::spawn(move || {
                for i in 0..per_client {
                    let id = format!("k{c}-{i}");
                    lts(&home, &addr, &["submit", "-g", "nobody", "--task-id", &id]).ok();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    tracker.kill();
    let restarted = Daemon::tracker(&home, &data, &addr);
    let out = lts(
        &home,
        &restarted.addr,
        &["-o", "json", "jobs", "--limit", "5000"],
    );
    let jobs = out.json();
    let ids: std::collections::HashSet<String> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["task_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), clients * per_client);
    for c in 0..clients {
        for i in 0..per_client {
            assert!(ids.contains(&format!("k{c}-{i}")), "k{c}-{i} lost");
        }
    }
    let one = job_json(&home, &restarted.addr, "k0-0");
    assert_eq!(one["state"], "queued");
    assert!(one["note"]
        .as_str()
        .unwrap()
        .contains("no worker of group 'nobody'"));
}

#[test]
fn submit_file_sends_many_jobs_and_checks_every_line_first() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &["--runner", "builtin:noop"]);
    let mut lines: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"group": "default", "task_id": "b{i}", "params": {{"n": {i}}}}}"#))
        .collect();
    lines.push(
        r#"{"group": "default", "task_id": "daily", "cron": "0 0 3 * * ?", "tz": "UTC"}"#.into(),
    );
    std::fs::write(sb.path("jobs.jsonl"), lines.join("\n")).unwrap();
    let file = sb.path("jobs.jsonl");
    let out = lts(home, &d.addr, &["submit", "--file", file.to_str().unwrap()]);
    assert_eq!(out.ok().lines().count(), 301, "one task id a line");
    assert!(out.stderr.contains("submitted 301 jobs"), "{out:?}");
    let b7 = wait_state(home, &d.addr, "b7", "succeeded");
    assert_eq!(b7["params"]["n"], "7");
    assert_eq!(job_json(home, &d.addr, "daily")["kind"], "cron");
    // Again: every job exists already, each refused by its line.
    let again = lts(home, &d.addr, &["submit", "--file", file.to_str().unwrap()]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("line 1 (b0)") && again.stderr.contains("already exists"));
    // A bad line refuses the whole file before anything is sent.
    let bad = sb.path("bad.jsonl");
    std::fs::write(&bad, "{\"group\": \"default\", \"task_id\": \"ok1\"}\n{\"group\": \"default\", \"cron\": \"61 * * * * ?\"}\n").unwrap();
    let refused = lts(home, &d.addr, &["submit", "--file", bad.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("line 2") && refused.stderr.contains("seconds"),
        "{refused:?}"
    );
    assert_eq!(
        lts(home, &d.addr, &["job", "ok1"]).code,
        3,
        "nothing from a bad file is stored"
    );
}

#[test]
fn bench_standalone_reports_throughput_and_latencies_as_json() {
    let sb = Sandbox::new();
    let out = lts(
        sb.dir.path(),
        "",
        &[
            "-o",
            "json",
            "bench",
            "--standalone",
            "--jobs",
            "300",
            "--clients",
            "4",
        ],
    );
    let report = out.json();
    assert_eq!(report["jobs"], 300);
    for key in ["submit_per_s", "e2e_per_s"] {
        assert!(
            report[key].as_u64().is_some_and(|v| v > 0),
            "{key} in {report}"
        );
    }
    for key in ["submit_latency_us", "queue_wait_us", "e2e_latency_us"] {
        let p = &report[key];
        assert!(
            p["p50"].as_u64() <= p["p99"].as_u64() && p["p99"].as_u64() <= p["max"].as_u64(),
            "{key} in {report}"
        );
    }
    assert!(report["submit_latency_us"]["max"]
        .as_u64()
        .is_some_and(|v| v > 0));
}

#[test]
fn logs_follow_keeps_following_into_a_retry() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    // Each attempt says hello, waits for the gate (open after the follower
    // has shown attempt 1's hello), prints three lines and fails.
    let script = format!(
        "echo a$LTS_ATTEMPT-0; while [ ! -e {} ]; do sleep 0.05; done; for i in 1 2 3; do echo a$LTS_ATTEMPT-$i; done; exit 1",
        gate.display()
    );
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "fr",
            "--max-retries",
            "1",
            "--retry-backoff",
            "100ms",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    let (follow, rx) = spawn_lines(home, &d.addr, &["logs", "fr", "--follow"]);
    assert_eq!(
        rx.recv_timeout(PATIENCE).expect("attempt 1's first line"),
        "a1-0"
    );
    std::fs::write(&gate, "").unwrap();
    let rest: Vec<String> = (0..7)
        .map(|_| rx.recv_timeout(PATIENCE).expect("a line"))
        .collect();
    assert_eq!(
        rest,
        ["a1-1", "a1-2", "a1-3", "a2-0", "a2-1", "a2-2", "a2-3"]
    );
    let out = wait_output(follow, PATIENCE);
    assert_eq!(out.code, 0, "follow ends with the last attempt: {out:?}");
}

#[test]
fn submit_refuses_a_taken_task_id_unless_told_to_replace() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &["--runner", "builtin:noop"]);
    let submit = |extra: &[&str]| {
        let args = [&["submit", "-g", "default", "--task-id", "R"][..], extra].concat();
        lts(home, &d.addr, &args)
    };
    submit(&["--cron", "0 0 3 * * ?", "--tz", "UTC"]).ok();
    let taken = submit(&["--param", "v=2"]);
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(taken.stderr.contains("already exists"), "{taken:?}");
    assert_eq!(
        job_json(home, &d.addr, "R")["kind"],
        "cron",
        "kept as it was"
    );

    submit(&["--replace", "--param", "v=2"]).ok();
    let replaced = wait_state(home, &d.addr, "R", "succeeded");
    assert_eq!(replaced["kind"], "now");
    assert_eq!(replaced["params"]["v"], "2");
    let listed = lts(home, &d.addr, &["-o", "json", "jobs"]);
    let jobs: serde_json::Value = serde_json::from_str(listed.ok()).unwrap();
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs}");
}
