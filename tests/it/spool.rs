//! The client spool: `lts submit --spool` while no tracker answers, `lts
//! spool list | flush`, the flush a submit does first, many processes
//! spooling at once, and the library's `SpoolingClient`.

use crate::helpers::*;
use lts::client::Client;
use lts::model::JobSpec;
use lts::spool::{Backoff, Spool, SpoolingClient, Submitted};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A loopback address nothing listens on (a port the kernel just handed
/// out and took back).
fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    addr
}

/// `lts submit --spool -g default --task-id ID -- true` against `tracker`.
fn spool_submit(home: &Path, tracker: &str, id: &str) -> Out {
    lts(
        home,
        tracker,
        &[
            "submit",
            "--spool",
            "-g",
            "default",
            "--task-id",
            id,
            "--",
            "true",
        ],
    )
}

/// The task ids waiting in the spool, in order.
fn spooled(home: &Path) -> Vec<String> {
    let list = lts(home, "", &["-o", "json", "spool", "list"]).json();
    list.as_array()
        .expect("an array")
        .iter()
        .map(|s| s["task_id"].as_str().expect("task_id").to_string())
        .collect()
}

/// How many jobs the tracker holds under each task id.
fn job_counts(home: &Path, tracker: &str) -> BTreeMap<String, usize> {
    let jobs = lts(home, tracker, &["-o", "json", "jobs", "--limit", "10000"]).json();
    let mut counts = BTreeMap::new();
    for job in jobs.as_array().expect("an array") {
        let id = job["task_id"].as_str().expect("task_id").to_string();
        *counts.entry(id).or_default() += 1;
    }
    counts
}

#[test]
fn spooled_jobs_wait_for_a_flush_and_land_once() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = dead_addr();

    let out = spool_submit(home, &dead, "s1");
    assert_eq!(out.ok().trim(), "s1");
    assert!(out.stderr.contains("spooled s1"), "{out:?}");
    assert!(out.stderr.contains("lts spool flush"), "{out:?}");
    let json = lts(
        home,
        &dead,
        &[
            "-o", "json", "submit", "--spool", "-g", "default", "--", "true",
        ],
    )
    .json();
    assert_eq!(json["state"], "spooled");
    assert_eq!(json["spooled"], true);
    assert_eq!(json["group"], "default");
    let generated = json["task_id"].as_str().expect("task_id").to_string();
    assert_eq!(generated.len(), 13, "{json}");

    // The spool lives in the default data dir; both wait, in order.
    assert!(home.join("data/lts/spool.db").exists());
    assert_eq!(spooled(home), ["s1", generated.as_str()]);
    let list = lts(home, "", &["-o", "json", "spool", "list"]).json();
    assert_eq!(list[0]["group"], "default");
    assert_eq!(list[0]["kind"], "now");
    assert!(list[0]["spooled_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    // Why it waits: the tracker could not be reached.
    assert!(
        list[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no tracker reachable")),
        "{list}"
    );
    let table = lts(home, "", &["spool", "list"]);
    assert!(table.ok().starts_with("TASK ID"), "{table:?}");
    assert!(table.stdout.contains("LAST ERROR"), "{table:?}");
    assert!(table.stdout.contains("s1"), "{table:?}");

    // Still no tracker: the flush says so and keeps everything.
    let out = lts(home, &dead, &["spool", "flush"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("2 jobs stay in the spool"), "{out:?}");
    assert_eq!(spooled(home).len(), 2);

    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let out = lts(home, &t.addr, &["spool", "flush"]);
    assert!(out.ok().contains("delivered 2 spooled jobs"), "{out:?}");
    assert!(spooled(home).is_empty());
    let counts = job_counts(home, &t.addr);
    assert_eq!(counts.get("s1"), Some(&1));
    assert_eq!(counts.get(generated.as_str()), Some(&1));

    // Flushing again delivers nothing; the same job spooled again is
    // recognised as delivered.
    let out = lts(home, &t.addr, &["-o", "json", "spool", "flush"]).json();
    assert_eq!(out["delivered"], 0);
    assert_eq!(spool_submit(home, &dead, "s1").ok().trim(), "s1");
    let out = lts(home, &t.addr, &["-o", "json", "spool", "flush"]).json();
    assert_eq!(out["already_delivered"], 1, "{out}");
    assert_eq!(out["remaining"], 0, "{out}");
    assert_eq!(job_counts(home, &t.addr).len(), 2);

    // A different job under a task id the tracker holds is refused and kept.
    lts(
        home,
        &dead,
        &[
            "submit",
            "--spool",
            "-g",
            "default",
            "--task-id",
            "s1",
            "--",
            "false",
        ],
    )
    .ok();
    let out = lts(home, &t.addr, &["spool", "flush"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("spooled job s1 (group default) refused"),
        "{out:?}"
    );
    let list = lts(home, "", &["-o", "json", "spool", "list"]).json();
    assert!(
        list[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("already exists")),
        "{list}"
    );
    assert_eq!(job_counts(home, &t.addr).get("s1"), Some(&1));
}

#[test]
fn a_submit_delivers_the_spool_first_once_a_tracker_answers() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = dead_addr();
    let data = sb.path("client-data");
    let data = data.to_str().expect("utf-8 path");
    for id in ["a", "b", "c"] {
        let out = lts(
            home,
            &dead,
            &[
                "--data",
                data,
                "submit",
                "--spool",
                "-g",
                "default",
                "--task-id",
                id,
                "--",
                "true",
            ],
        );
        assert_eq!(out.ok().trim(), id);
    }
    // Without --spool, no tracker is exit 4 and the job is not kept.
    let out = lts(
        home,
        &dead,
        &[
            "--data",
            data,
            "submit",
            "-g",
            "default",
            "--task-id",
            "d",
            "--",
            "true",
        ],
    );
    assert_eq!(out.code, 4, "{out:?}");
    let list = lts(home, "", &["--data", data, "-o", "json", "spool", "list"]).json();
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    assert!(spooled(home).is_empty(), "--data names another spool");

    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let out = lts(
        home,
        &t.addr,
        &[
            "--data",
            data,
            "submit",
            "-g",
            "default",
            "--task-id",
            "later",
            "--",
            "true",
        ],
    );
    assert_eq!(out.ok().trim(), "later");
    assert!(
        out.stderr.contains("delivered 3 spooled jobs first"),
        "{out:?}"
    );
    let list = lts(home, "", &["--data", data, "-o", "json", "spool", "list"]).json();
    assert_eq!(list, serde_json::json!([]));
    let jobs = lts(home, &t.addr, &["-o", "json", "jobs"]).json();
    let submitted = |id: &str| {
        jobs.as_array()
            .and_then(|all| all.iter().find(|j| j["task_id"] == id))
            .and_then(|j| j["submitted_at"].as_str())
            .map(String::from)
            .unwrap_or_else(|| panic!("job {id} missing: {jobs}"))
    };
    for id in ["a", "b", "c"] {
        assert!(submitted(id) <= submitted("later"), "{jobs}");
    }
}

#[test]
fn many_processes_spooling_at_once_land_exactly_once() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = dead_addr();
    let (threads, each) = (8, 25);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let dead = &dead;
            scope.spawn(move || {
                for i in 0..each {
                    let id = format!("c-{t}-{i}");
                    assert_eq!(spool_submit(home, dead, &id).ok().trim(), id);
                }
                // The same task id once more keeps one.
                spool_submit(home, dead, &format!("c-{t}-0")).ok();
            });
        }
    });
    let waiting = spooled(home);
    assert_eq!(waiting.len(), threads * each);

    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    // Two flushes at once: each job is delivered by one, and the other
    // finds it there.
    std::thread::scope(|scope| {
        let flushes: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| lts(home, &t.addr, &["spool", "flush"])))
            .collect();
        for flush in flushes {
            let out = flush.join().expect("flush thread");
            assert_eq!(out.code, 0, "{out:?}");
        }
    });
    assert!(spooled(home).is_empty());
    let counts = job_counts(home, &t.addr);
    assert_eq!(counts.len(), threads * each);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(waiting.iter().all(|id| counts.contains_key(id)));
}

#[test]
fn bad_input_is_never_spooled() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = dead_addr();
    for args in [
        &[
            "submit",
            "--spool",
            "-g",
            "default",
            "--cron",
            "61 * * * * ?",
        ][..],
        &["submit", "--spool", "-g", "not a group", "--", "true"],
        &[
            "submit",
            "--spool",
            "-g",
            "default",
            "--task-id",
            "-x",
            "--",
            "true",
        ],
        &["submit", "--spool", "--wait", "-g", "default", "--", "true"],
    ] {
        let out = lts(home, &dead, args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
    }
    assert!(spooled(home).is_empty());
    let out = lts(home, "", &["spool", "list"]);
    assert!(out.stderr.contains("the spool is empty"), "{out:?}");
    // An empty spool flushes without asking any tracker.
    let out = lts(home, &dead, &["spool", "flush"]);
    assert!(out.ok().contains("delivered 0"), "{out:?}");
}

#[test]
fn spooling_client_delivers_in_the_background_once_a_tracker_listens() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let addr = dead_addr();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let spool = Spool::open(&sb.path("lib-data")).expect("open spool");
    let client =
        SpoolingClient::new(Client::new(vec![addr.clone()]), spool).with_backoff(Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(250),
        });
    let mut job = JobSpec::new("default", "lib-1");
    job.command = vec!["true".into()];
    let submitted = runtime
        .block_on(client.submit(job.clone()))
        .expect("submit");
    assert!(
        matches!(&submitted, Submitted::Spooled { task_id, .. } if task_id == "lib-1"),
        "{submitted:?}"
    );
    assert!(client.is_flushing());
    let mut bad = job.clone();
    bad.task_id = "not valid".into();
    assert!(runtime.block_on(client.submit(bad)).is_err());

    // A tracker on the address the client was given; the background flusher
    // finds it.
    let t = Daemon::tracker(home, &sb.path("tracker"), &addr);
    eventually("the background flusher to empty the spool", || {
        client.spool().is_empty().expect("spool").then_some(())
    });
    eventually("the flusher to stop", || {
        (!client.is_flushing()).then_some(())
    });
    assert_eq!(job_counts(home, &t.addr).get("lib-1"), Some(&1));

    let mut next = job;
    next.task_id = "lib-2".into();
    let submitted = runtime.block_on(client.submit(next)).expect("submit");
    assert!(matches!(submitted, Submitted::Accepted(_)), "{submitted:?}");
}

/// Rows of the spool that are not jobs (a spec that is not JSON, a column
/// of the wrong type) are passed over by `lts spool list` and moved aside
/// by a flush, each with a one-line warning; the other jobs are listed and
/// delivered.
#[test]
fn unreadable_spool_rows_are_set_aside_and_the_rest_are_flushed() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let dead = dead_addr();
    for id in ["first", "bad-spec", "bad-type", "last"] {
        assert_eq!(spool_submit(home, &dead, id).code, 0);
    }
    let file = home.join("data").join("lts").join("spool.db");
    {
        let db = rusqlite::Connection::open(&file).expect("open spool.db");
        for sql in [
            "UPDATE spool SET spec = '{\"task_id\": oops' WHERE task_id = 'bad-spec'",
            "UPDATE spool SET attempts = 'many' WHERE task_id = 'bad-type'",
        ] {
            assert_eq!(db.execute(sql, []).expect(sql), 1, "{sql}");
        }
    }
    let warnings = |out: &Out| -> Vec<String> {
        out.stderr
            .lines()
            .filter(|l| l.starts_with("warning: spooled job"))
            .map(String::from)
            .collect()
    };

    let listed = lts(home, "", &["-o", "json", "spool", "list"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(spooled(home), ["first", "last"]);
    let said = warnings(&listed);
    assert_eq!(said.len(), 2, "{listed:?}");
    assert!(
        said[0].contains("'bad-spec'") && said[1].contains("'bad-type'"),
        "{said:?}"
    );

    let tracker = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let flushed = lts(home, &tracker.addr, &["spool", "flush"]);
    assert_eq!(flushed.code, 0, "{flushed:?}");
    assert_eq!(warnings(&flushed).len(), 2, "{flushed:?}");
    assert!(flushed.stdout.contains("delivered 2"), "{flushed:?}");
    let counts = job_counts(home, &tracker.addr);
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["first", "last"],
        "{counts:?}"
    );
    // Kept aside, not lost, and not in the way any more.
    assert!(spooled(home).is_empty());
    let again = lts(home, &tracker.addr, &["spool", "flush"]);
    assert_eq!((again.code, warnings(&again).len()), (0, 0), "{again:?}");
    let db = rusqlite::Connection::open(&file).expect("open spool.db");
    let aside: Vec<String> = db
        .prepare("SELECT task_id FROM spool_bad ORDER BY seq")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .expect("spool_bad");
    assert_eq!(aside, ["bad-spec", "bad-type"]);
}
