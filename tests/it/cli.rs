//! What a new user met: the CLI's answers, messages and exit codes, and the
//! conveniences (status, version, edit, bulk actions, purge, watching a
//! standalone tracker's nodes).

use crate::helpers::*;
use std::time::Duration;

#[test]
fn bad_input_exits_2_with_a_message_that_fits() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let file = sb.path("jobs.jsonl");
    std::fs::write(
        &file,
        "{\"group\": \"g\", \"task_id\": \"a\"}\n{\"group\": \"g\", \"task_id\": \"a\"}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let long = "x".repeat(5000);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--tracker", "garbage", "jobs"], "HOST:PORT"),
        (vec!["--tracker", "127.0.0.1:99999", "jobs"], "HOST:PORT"),
        (
            vec!["submit", "-g", "g", "--max-retries", "-1", "--", "true"],
            "negative",
        ),
        (
            vec!["submit", "-g", "g", "--delay", "-5s", "--", "true"],
            "negative",
        ),
        (
            vec!["submit", "--file", file, "--cron", "0 * * * * ?"],
            "--cron",
        ),
        (vec!["submit", "--file", file], "already on line 1"),
        (
            vec!["submit", "-g", "g", "--task-id", "é", "--", "true"],
            "ASCII",
        ),
        (
            vec!["submit", "-g", "g", "--task-id=-dash", "--", "true"],
            "flag",
        ),
        (
            vec!["submit", "-g", "g", "--task-id", &long, "--", "true"],
            "…",
        ),
        (
            vec!["submit", "-g", "g", "--task-id", "a\nb", "--", "true"],
            "\\n",
        ),
        (
            vec![
                "submit",
                "-g",
                "g",
                "--repeat-count",
                "9999999999999",
                "--repeat-interval",
                "1s",
                "--",
                "true",
            ],
            "--repeat-count",
        ),
        (
            vec![
                "submit",
                "-g",
                "g",
                "--repeat-count",
                "3",
                "--repeat-interval",
                "1ms",
                "--",
                "true",
            ],
            "at least 1s",
        ),
        (
            vec!["submit", "-g", "g", "--misfire", "skip", "--", "true"],
            "--misfire",
        ),
        (
            vec!["submit", "-g", "g", "--overlap", "allow", "--", "true"],
            "--overlap",
        ),
        (
            vec!["submit", "-g", "g", "--catch-up-window", "1m", "--", "true"],
            "--catch-up-window",
        ),
        (vec!["feedback"], "--client-group"),
    ];
    for (args, says) in cases {
        let out = lts(home, "127.0.0.1:1", &args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(says),
            "{args:?}: the first line says {says}: {out:?}"
        );
        assert!(
            first.chars().count() < 400,
            "{args:?}: user text is cut: {out:?}"
        );
    }
    // A megabyte of params is refused naming the limit (through a file: an
    // argument that long is more than the kernel passes).
    let big = sb.path("big.jsonl");
    let payload = "x".repeat(1 << 20);
    std::fs::write(
        &big,
        format!("{{\"group\": \"g\", \"params\": {{\"k\": \"{payload}\"}}}}\n"),
    )
    .unwrap();
    let out = lts(
        home,
        "127.0.0.1:1",
        &["submit", "--file", big.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{:?}", out.stderr);
    assert!(out.stderr.contains("1 MiB"), "{:?}", out.stderr);
}

#[test]
fn answers_and_exit_codes_of_a_standalone() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let addr = &d.addr;
    // One JSON document for a file, refusals included.
    let file = sb.path("jobs.jsonl");
    std::fs::write(
        &file,
        "{\"group\": \"default\", \"task_id\": \"f1\", \"command\": [\"true\"]}\n\
         {\"group\": \"default\", \"task_id\": \"f2\", \"command\": [\"true\"]}\n",
    )
    .unwrap();
    lts(home, addr, &["submit", "--file", file.to_str().unwrap()]).ok();
    let out = lts(
        home,
        addr,
        &["-o", "json", "submit", "--file", file.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one document");
    assert_eq!(doc["submitted"].as_array().map(Vec::len), Some(0), "{doc}");
    assert_eq!(doc["refused"][1]["line"], 2, "{doc}");
    assert!(out.stderr.contains("submitted 0 jobs"), "{out:?}");
    // Empty feedback is [].
    let out = lts(
        home,
        addr,
        &["-o", "json", "feedback", "--client-group", "none"],
    );
    assert_eq!(out.ok().trim(), "[]");
    let out = lts_env(
        home,
        addr,
        &[("LTS_CLIENT_GROUP", "none")],
        &["-o", "json", "feedback"],
    );
    assert_eq!(out.ok().trim(), "[]");
    // A run that does not exist is not found.
    wait_state(home, addr, "f1", "succeeded");
    let out = lts(home, addr, &["logs", "f1", "--run", "99"]);
    assert_eq!(out.code, 3, "{out:?}");
    // Runs newest first; the wait line says the exit code once.
    lts(home, addr, &["trigger", "f1"]).ok();
    let job = eventually("two runs", || {
        let job = lts(home, addr, &["-o", "json", "job", "f1"]).json();
        (job["runs"].as_array().map(Vec::len) == Some(2)
            && job["runs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| !r["outcome"].is_null()))
        .then_some(job)
    });
    assert_eq!(job["runs"][0]["run"], 2, "newest first: {job}");
    let out = lts(
        home,
        addr,
        &[
            "submit", "-g", "default", "--wait", "--", "sh", "-c", "exit 3",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("failed (exit 3)") && !out.stderr.contains("exited with code"),
        "{out:?}"
    );
    // A suspended job shows no next fires; an edit keeps its history.
    lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "c",
            "--cron",
            "0 0 3 * * ?",
            "--",
            "true",
        ],
    )
    .ok();
    lts(home, addr, &["trigger", "c"]).ok();
    wait_state(home, addr, "c", "scheduled");
    lts(home, addr, &["suspend", "c"]).ok();
    let job = job_json(home, addr, "c");
    assert_eq!(job["next_fires"].as_array().map(Vec::len), Some(0), "{job}");
    let jobs = lts(home, addr, &["jobs"]).ok().to_string();
    let row = jobs
        .lines()
        .find(|l| l.starts_with("c "))
        .unwrap_or_default()
        .to_string();
    assert!(
        row.contains("suspended") && !row.contains("in "),
        "no next fire: {jobs}"
    );
    let edited = lts(
        home,
        addr,
        &[
            "-o",
            "json",
            "edit",
            "c",
            "--cron",
            "0 30 4 * * ?",
            "--param",
            "k=v",
        ],
    )
    .json();
    assert_eq!(edited["schedule"], "cron 0 30 4 * * ?", "{edited}");
    assert_eq!(edited["params"]["k"], "v", "{edited}");
    assert_eq!(edited["run_count"], 1, "history stays: {edited}");
    lts(home, addr, &["resume", "c"]).ok();
    let fires = job_json(home, addr, "c")["next_fires"].clone();
    assert!(
        fires[0].as_str().unwrap_or_default().contains(":30:00"),
        "{fires}"
    );
    let out = lts(home, addr, &["edit", "c"]);
    assert_eq!(out.code, 2, "nothing to change: {out:?}");
    // A wide cron is cut in the table.
    let wide = format!("0 0 3 * * ? {}", "2099,".repeat(2000) + "2099");
    lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "wide",
            "--cron",
            &wide,
            "--",
            "true",
        ],
    )
    .ok();
    let table = lts(home, addr, &["jobs"]).ok().to_string();
    assert!(table.lines().all(|l| l.chars().count() < 400), "{table}");
    assert!(table.contains('…'), "{table}");
    // Status and version.
    let status = lts(home, addr, &["-o", "json", "status"]).json();
    assert_eq!(status["trackers"][0]["leader"], true, "{status}");
    assert_eq!(status["trackers"][0]["store"], "sqlite", "{status}");
    let version = lts(home, addr, &["-o", "json", "version"]).json();
    assert_eq!(
        version["client"]["protocol"], version["tracker"]["protocol"],
        "{version}"
    );
}

#[test]
fn bulk_actions_ask_first_and_purge_deletes_ended_jobs() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let addr = &d.addr;
    for i in 0..3 {
        let id = format!("cr{i}");
        lts(
            home,
            addr,
            &[
                "submit",
                "-g",
                "default",
                "--task-id",
                &id,
                "--cron",
                "0 0 3 * * ?",
                "--",
                "true",
            ],
        )
        .ok();
    }
    lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "done",
            "--wait",
            "--",
            "true",
        ],
    )
    .ok();
    // No terminal and no --yes: refused, nothing changed.
    let out = lts(home, addr, &["suspend", "--all", "--kind", "cron"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--yes"), "{out:?}");
    assert_eq!(job_json(home, addr, "cr0")["state"], "scheduled");
    let out = lts(
        home,
        addr,
        &["-o", "json", "suspend", "--all", "--kind", "cron", "--yes"],
    )
    .json();
    assert_eq!(out["done"], 3, "{out}");
    for i in 0..3 {
        assert_eq!(
            job_json(home, addr, &format!("cr{i}"))["state"],
            "suspended"
        );
    }
    let out = lts(home, addr, &["resume", "--all", "--yes"])
        .ok()
        .to_string();
    assert!(out.contains("resumed 3 jobs"), "{out}");
    let out = lts(home, addr, &["cancel", "--all", "--yes"])
        .ok()
        .to_string();
    assert!(
        out.contains("cancelled 3 jobs"),
        "finished jobs are not selected: {out}"
    );
    let out = lts(home, addr, &["purge", "--older-than", "0s"]);
    assert_eq!(out.code, 2, "asks first: {out:?}");
    let out = lts(
        home,
        addr,
        &[
            "-o",
            "json",
            "purge",
            "--older-than",
            "0s",
            "--state",
            "cancelled",
            "--yes",
        ],
    )
    .json();
    assert_eq!(out["done"], 3, "{out}");
    assert_eq!(lts(home, addr, &["job", "cr0"]).code, 3);
    assert_eq!(job_json(home, addr, "done")["state"], "succeeded");
}

#[test]
fn nodes_count_every_queued_run_and_watch_a_standalone() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let addr = &d.addr;
    let file = sb.path("many.jsonl");
    let mut lines = String::new();
    for i in 0..1500 {
        lines.push_str(&format!("{{\"group\": \"deep\", \"task_id\": \"d{i}\"}}\n"));
    }
    lines.push_str("{\"group\": \"shallow\", \"task_id\": \"s\"}\n");
    std::fs::write(&file, lines).unwrap();
    lts_within(
        home,
        addr,
        &["submit", "--file", file.to_str().unwrap()],
        Duration::from_secs(120),
    )
    .ok();
    let out = lts(home, addr, &["nodes"]);
    assert!(
        out.ok()
            .contains("group 'deep' has no live worker (1500 queued runs wait)"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("group 'shallow' has no live worker (1 queued run waits)"),
        "{out:?}"
    );
    // The worker's address is its host, not an ephemeral port.
    let worker = out
        .stdout
        .lines()
        .find(|l| l.contains(" worker "))
        .unwrap_or_default()
        .to_string();
    assert!(
        worker.contains("127.0.0.1 ") && !worker.contains("127.0.0.1:"),
        "{worker}"
    );
    let out = lts(home, addr, &["-o", "json", "nodes"]);
    assert!(out.json().is_array());
    assert!(
        out.stderr.contains("group 'deep' has no live worker"),
        "{out:?}"
    );
    // Watch the standalone's own membership: a worker joining shows up.
    let (mut watch, lines) = spawn_lines(
        home,
        addr,
        &["-o", "json", "nodes", "--watch", "--after", "0"],
    );
    let first = lines
        .recv_timeout(PATIENCE)
        .expect("the standalone worker's join");
    let event: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(event["event"], "join", "{event}");
    let _w = Daemon::worker(home, addr, "deep", &["--runner", "builtin:noop"]);
    let joined = (0..4)
        .filter_map(|_| lines.recv_timeout(PATIENCE).ok())
        .any(|l| l.contains("\"join\"") && l.contains("\"deep\""));
    let _ = watch.kill();
    assert!(joined, "the deep worker joins");
    // A cursor ahead of the last event waits for events still to come.
    let (mut ahead, _lines) = spawn_lines(home, addr, &["nodes", "--watch", "--after", "1000"]);
    std::thread::sleep(Duration::from_millis(1500));
    let still = ahead.try_wait().unwrap().is_none();
    let _ = ahead.kill();
    let out = wait_output(ahead, PATIENCE);
    assert!(still, "waits: {out:?}");
    assert!(!out.stderr.contains("missing"), "{out:?}");
}

#[test]
fn spool_keeps_the_last_error_and_bench_gives_up_on_a_group_without_workers() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let out = lts(
        home,
        "127.0.0.1:1",
        &["submit", "--spool", "-g", "g", "--", "true"],
    );
    out.ok();
    let out = lts(home, "127.0.0.1:1", &["spool", "flush"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("1 job stays"), "{out:?}");
    let list = lts(home, "", &["-o", "json", "spool", "list"]).json();
    assert!(
        list[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1:1")),
        "{list}"
    );
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = lts_within(
        home,
        &d.addr,
        &[
            "-o",
            "json",
            "bench",
            "--jobs",
            "20",
            "--group",
            "nobody",
            "--deadline",
            "4s",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("no worker of group 'nobody'"),
        "{out:?}"
    );
    assert!(out.stderr.contains("gave up after 4s"), "{out:?}");
    let left = lts(home, &d.addr, &["-o", "json", "jobs", "--state", "queued"]).json();
    assert_eq!(left.as_array().map(Vec::len), Some(0), "{left}");
}
