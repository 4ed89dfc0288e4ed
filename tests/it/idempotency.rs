//! Idempotency keys: a submit sent again with its key is answered as the
//! first time (also after the tracker was killed between committing and
//! answering), the key is refused for another job, and the spool and
//! `submit --file` send a job with the key it was first given.

use crate::helpers::*;
use lts::client::Client;
use lts::model::JobSpec;

/// Every job the tracker holds, by task id.
fn task_ids(home: &std::path::Path, tracker: &str) -> Vec<String> {
    let jobs = lts(home, tracker, &["-o", "json", "jobs"]).json();
    let mut ids: Vec<String> = jobs
        .as_array()
        .expect("an array")
        .iter()
        .map(|j| j["task_id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_submit_sent_again_with_its_key_is_answered_as_the_first() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let t = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    let submit = |key: &str, extra: &[&str], command: &str| {
        let mut args = vec!["-o", "json", "submit", "--idempotency-key", key, "-g", "g"];
        args.extend_from_slice(extra);
        args.extend(["--", command]);
        lts(home, &t.addr, &args)
    };
    let first = submit("deploy-42", &[], "true");
    let doc = first.json();
    assert_eq!(
        (doc["group"].as_str(), doc["state"].as_str()),
        (Some("g"), Some("queued"))
    );
    // Sent again: the same answer, and still one job.
    let again = submit("deploy-42", &[], "true");
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.stdout, first.stdout);
    let table = lts(
        home,
        &t.addr,
        &[
            "submit",
            "--idempotency-key",
            "deploy-42",
            "-g",
            "g",
            "--",
            "true",
        ],
    );
    assert_eq!(table.ok().trim(), doc["task_id"].as_str().unwrap());
    assert_eq!(task_ids(home, &t.addr).len(), 1);

    // The key with another job: refused, exit 2, saying whose key it is.
    for (extra, command) in [(&[][..], "false"), (&["--task-id", "other"][..], "true")] {
        let refused = submit("deploy-42", extra, command);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(
            refused.stderr.contains("idempotency key 'deploy-42'")
                && refused.stderr.contains(doc["task_id"].as_str().unwrap()),
            "{refused:?}"
        );
    }
    // Another key for a task id that exists: exists, as without keys.
    let task_id = doc["task_id"].as_str().unwrap();
    let exists = submit("deploy-43", &["--task-id", task_id], "true");
    assert_eq!(exists.code, 1, "{exists:?}");
    assert!(exists.stderr.contains("already exists"), "{exists:?}");
    let bad = submit("has space", &[], "true");
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--idempotency-key"), "{bad:?}");
    assert_eq!(task_ids(home, &t.addr).len(), 1);

    // `submit --file` lines carry keys too: the same file twice is one set
    // of jobs, answered alike.
    let file = sb.path("jobs.jsonl");
    std::fs::write(
        &file,
        "{\"group\": \"g\", \"idempotency_key\": \"line-1\", \"command\": [\"true\"]}\n\
         {\"group\": \"g\", \"idempotency_key\": \"line-2\", \"task_id\": \"named\"}\n",
    )
    .unwrap();
    let args = ["-o", "json", "submit", "--file", file.to_str().unwrap()];
    let once = lts(home, &t.addr, &args);
    let twice = lts(home, &t.addr, &args);
    assert_eq!(twice.code, 0, "{twice:?}");
    assert_eq!(once.json(), twice.json());
    assert_eq!(once.json()["submitted"].as_array().map(Vec::len), Some(2));
    assert_eq!(task_ids(home, &t.addr).len(), 3);

    // And the HTTP API: the same answer again, 409 for another job.
    let http = reqwest::blocking::Client::new();
    let post = |body: serde_json::Value| {
        let r = http
            .post(format!("{}api/v1/jobs", t.console_url()))
            .json(&body)
            .send()
            .expect("POST /api/v1/jobs");
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().expect("JSON"),
        )
    };
    let job = serde_json::json!({"group": "g", "idempotency_key": "api-1", "command": ["true"]});
    let first = post(job.clone());
    assert_eq!(first.0, 201, "{first:?}");
    assert_eq!(post(job), first);
    let other = post(serde_json::json!({"group": "g", "idempotency_key": "api-1"}));
    assert_eq!(
        (other.0, other.1["code"].as_str()),
        (409, Some("conflict")),
        "{other:?}"
    );
    assert_eq!(task_ids(home, &t.addr).len(), 4);
}

/// "Committed but not acknowledged": the tracker stores the job and is
/// killed (SIGKILL) before the client hears of it; the same command run
/// again against the restarted tracker exits 0 and names the same job.
#[test]
fn a_submit_whose_answer_was_lost_to_a_kill_is_answered_on_retry() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let args = [
        "-o",
        "json",
        "submit",
        "--idempotency-key",
        "nightly-2026-11-30",
        "-g",
        "g",
        "--cron",
        "0 0 3 * * ?",
        "--",
        "backup.sh",
    ];
    let mut t = Daemon::tracker(home, &data, "127.0.0.1:0");
    let first = lts(home, &t.addr, &args);
    first.ok();
    t.kill();
    let t = Daemon::tracker(home, &data, "127.0.0.1:0");
    let retried = lts(home, &t.addr, &args);
    assert_eq!(retried.code, 0, "{retried:?}");
    assert_eq!(retried.json(), first.json());
    assert_eq!(retried.json()["state"], "scheduled");
    assert_eq!(task_ids(home, &t.addr).len(), 1);
}

/// A spooled job keeps the key it was spooled with: when a sending of it
/// was committed but its answer lost, the flush is answered as delivered.
#[test]
fn a_spool_flush_of_a_job_already_committed_delivers_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let spooled = lts(
        home,
        &dead,
        &[
            "submit",
            "--spool",
            "-g",
            "g",
            "--task-id",
            "kept",
            "--",
            "true",
        ],
    );
    assert_eq!(spooled.code, 0, "{spooled:?}");
    let file = home.join("data").join("lts").join("spool.db");
    let spec: String = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT spec FROM spool WHERE task_id = 'kept'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let job: JobSpec = serde_json::from_str(&spec).unwrap();
    assert!(job.idempotency_key.is_some(), "spooled with a key: {spec}");

    // An earlier sending of exactly that job reached the tracker.
    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ack = runtime
        .block_on(Client::new(vec![t.addr.clone()]).submit(job))
        .expect("the first sending");
    assert_eq!(ack.task_id, "kept");

    let flushed = lts(home, &t.addr, &["-o", "json", "spool", "flush"]);
    assert_eq!(flushed.code, 0, "{flushed:?}");
    let report = flushed.json();
    assert_eq!(report["delivered"], 1, "{report}");
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(task_ids(home, &t.addr), ["kept"]);
}
