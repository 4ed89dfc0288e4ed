//! The tracker on a PostgreSQL store, end to end: a fresh database, a
//! tracker, a worker; submitted jobs run and their runs and logs are kept.
//! Skipped (with one line) when `LTS_TEST_PG` is not set.

use crate::helpers::*;
use crate::pg;

#[test]
fn tracker_on_postgres_runs_submitted_jobs() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let data = data.to_str().unwrap();
    let tracker = Daemon::start(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--store",
            &db.url,
        ],
        true,
    );
    let _worker = Daemon::worker(home, &tracker.addr, "pg", &["--allow-commands"]);
    let ok = lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "pg",
            "--task-id",
            "ok",
            "--",
            "sh",
            "-c",
            "echo from-pg",
        ],
    );
    ok.ok();
    let bad = lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "pg",
            "--task-id",
            "bad",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    bad.ok();
    let job = wait_state(home, &tracker.addr, "ok", "succeeded");
    assert_eq!(job["runs"][0]["outcome"], "succeeded");
    let job = wait_state(home, &tracker.addr, "bad", "failed");
    assert_eq!(job["runs"][0]["exit_code"], 3);
    assert_eq!(
        lts(home, &tracker.addr, &["logs", "ok"]).ok().trim(),
        "from-pg"
    );
    // The runs are in the database, not only in the tracker's memory.
    let runs: i64 = db
        .client()
        .query_one("SELECT count(*) FROM runs WHERE state = 'done'", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 2);
}

#[test]
fn tracker_refuses_an_unknown_store_or_unreachable_database() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let data = data.to_str().unwrap();
    let out = ltsd(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--store",
            "mysql://x",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--store mysql://x: unknown store"),
        "{}",
        out.stderr
    );
    let out = ltsd(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--store",
            "postgres://u:pw@127.0.0.1:1/db",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot open the store at postgres://u:***@127.0.0.1:1/db"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("pw@"), "{}", out.stderr);
}
