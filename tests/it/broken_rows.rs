//! Rows that cannot be read: a job whose stored spec is not a job (not JSON,
//! or a field of the wrong type) or whose state no build knows is set aside
//! as `broken`, and everything else goes on: `lts jobs` lists the others
//! and the broken ones, a worker of the group keeps pulling, a new job runs.
//! On SQLite (the file changed under a running tracker) and PostgreSQL.

use crate::helpers::*;
use crate::pg;
use serde_json::Value;

/// The jobs the scenario corrupts, and how: SQL run on the store.
const CORRUPTIONS: [&str; 3] = [
    "UPDATE jobs SET spec = '{\"task_id\": \"bad-json\", not json' WHERE task_id = 'bad-json'",
    "UPDATE jobs SET spec = replace(spec, '\"priority\":0', '\"priority\":\"high\"') \
     WHERE task_id = 'bad-type'",
    "UPDATE jobs SET state = 'exploded' WHERE task_id = 'bad-state'",
];

/// Submit four jobs to group `g` (no worker yet), corrupt three of them
/// with `corrupt`, then check that the tracker lists, claims and runs
/// around them.
fn scenario(home: &std::path::Path, tracker: &Daemon, corrupt: impl FnOnce(&[&str])) {
    let addr = &tracker.addr;
    for id in ["bad-json", "bad-type", "bad-state", "good"] {
        lts(
            home,
            addr,
            &["submit", "-g", "g", "--task-id", id, "--", "true"],
        )
        .ok();
    }
    // A cron job too: the scheduler must pass over a broken one.
    lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "g",
            "--task-id",
            "cron-ok",
            "--cron",
            "* * * * * ?",
            "--",
            "true",
        ],
    )
    .ok();
    corrupt(&CORRUPTIONS);

    let listed = lts(home, addr, &["-o", "json", "jobs"]);
    let jobs = listed.json();
    let state = |id: &str| -> String {
        jobs.as_array()
            .and_then(|a| a.iter().find(|j| j["task_id"] == id))
            .map(|j| j["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{id} listed: {listed:?}"))
    };
    for id in ["bad-json", "bad-type", "bad-state"] {
        assert_eq!(state(id), "broken", "{listed:?}");
    }
    assert_eq!(state("good"), "queued");
    // The table too.
    let table = lts(home, addr, &["jobs"]);
    assert!(table.ok().contains("broken"), "{table:?}");

    // `lts job` says why.
    let bad = job_json(home, addr, "bad-json");
    assert_eq!(bad["state"], "broken");
    let note = bad["note"].as_str().unwrap_or_default();
    assert!(note.contains("cannot be read"), "{bad}");
    let bad_state = job_json(home, addr, "bad-state");
    assert!(
        bad_state["note"]
            .as_str()
            .is_some_and(|n| n.contains("exploded")),
        "{bad_state}"
    );
    // The console's job list shows them with the rest.
    let page = reqwest::blocking::get(format!("{}jobs", tracker.console_url()))
        .and_then(|r| r.text())
        .expect("the console's job list");
    assert!(page.contains("bad-json") && page.contains("good"), "{page}");
    assert!(page.contains("broken"), "{page}");
    let page = reqwest::blocking::get(format!("{}jobs/g/bad-json", tracker.console_url()))
        .expect("the broken job's page");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().unwrap_or_default();
    assert!(page.contains("cannot be read"), "{page}");
    // Filtered by state, and refused by actions that need the spec.
    let broken = lts(home, addr, &["-o", "json", "jobs", "--state", "broken"]).json();
    assert_eq!(broken.as_array().map(Vec::len), Some(3), "{broken}");
    let trigger = lts(home, addr, &["trigger", "bad-json"]);
    assert_eq!(trigger.code, 1, "{trigger:?}");
    assert!(trigger.stderr.contains("broken"), "{trigger:?}");

    // A worker pulls: the good jobs run, the broken ones' runs never reach it.
    let _worker = Daemon::worker(home, addr, "g", &["--allow-commands"]);
    wait_state(home, addr, "good", "succeeded");
    lts(
        home,
        addr,
        &["submit", "-g", "g", "--task-id", "after", "--", "true"],
    )
    .ok();
    wait_state(home, addr, "after", "succeeded");
    eventually("the cron job to run", || {
        let job = job_json(home, addr, "cron-ok");
        (job["runs"].as_array().map_or(0, Vec::len) > 0).then_some(())
    });
    for id in ["bad-json", "bad-type", "bad-state"] {
        let job = eventually("the broken job's run to be set aside", || {
            let job = job_json(home, addr, id);
            (job["runs"][0]["outcome"] == "cancelled").then_some(job)
        });
        assert_eq!(job["state"], "broken", "{job}");
        assert!(job["runs"][0]["worker"].is_null(), "{job}");
    }
    // Said once per job, however often the rows are read.
    let log = tracker.log();
    let warned = log
        .lines()
        .filter(|l| l.contains("set aside as broken"))
        .count();
    assert_eq!(warned, 3, "{log}");

    // Purged like an ended job, or replaced by submitting it again.
    let replaced = lts(
        home,
        addr,
        &[
            "submit",
            "-g",
            "g",
            "--task-id",
            "bad-type",
            "--replace",
            "--",
            "true",
        ],
    );
    replaced.ok();
    wait_state(home, addr, "bad-type", "succeeded");
    let purged = lts(
        home,
        addr,
        &["purge", "--state", "broken", "--older-than", "0s", "--yes"],
    );
    purged.ok();
    let left: Value = lts(home, addr, &["-o", "json", "jobs", "--state", "broken"]).json();
    assert_eq!(left, serde_json::json!([]), "{purged:?}");
}

#[test]
fn unreadable_job_rows_on_sqlite_are_set_aside_and_the_rest_goes_on() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let tracker = Daemon::tracker(home, &data, "127.0.0.1:0");
    scenario(home, &tracker, |sql| {
        let db = rusqlite::Connection::open(data.join("lts.db")).expect("open lts.db");
        db.busy_timeout(PATIENCE).unwrap();
        for statement in sql {
            assert_eq!(
                db.execute(statement, []).expect(statement),
                1,
                "{statement}"
            );
        }
    });
}

#[test]
fn unreadable_job_rows_on_postgres_are_set_aside_and_the_rest_goes_on() {
    let Some(db) = pg::TestDb::create() else {
        return;
    };
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let tracker = Daemon::start(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--store",
            &db.url,
        ],
        true,
    );
    scenario(home, &tracker, |sql| {
        let mut client = db.client();
        for statement in sql {
            assert_eq!(
                client.execute(*statement, &[]).expect(statement),
                1,
                "{statement}"
            );
        }
    });
}
