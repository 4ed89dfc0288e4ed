//! `lts feedback`: results of jobs submitted with `--feedback --client-group`
//! are printed once and acknowledged, survive a tracker restart until read,
//! and `--follow` prints results as they arrive.

use super::harness::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Submit `sh -c SCRIPT` as `id` with feedback to client group `cg`.
fn submit_with_feedback(home: &Path, tracker: &str, id: &str, script: &str) {
    lts(
        home,
        tracker,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            id,
            "--feedback",
            "--client-group",
            "cg",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .ok();
}

/// `lts -o json feedback --client-group cg`: one JSON array (`[]` when empty).
fn read_feedback(home: &Path, tracker: &str) -> Vec<serde_json::Value> {
    let out = lts(
        home,
        tracker,
        &["-o", "json", "feedback", "--client-group", "cg"],
    );
    out.json().as_array().cloned().expect("an array")
}

#[test]
fn a_result_is_printed_once_then_acknowledged() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit_with_feedback(home, &d.addr, "fb-bad", "exit 3");
    submit_with_feedback(home, &d.addr, "fb-ok", "true");
    wait_state(home, &d.addr, "fb-bad", "failed");
    wait_state(home, &d.addr, "fb-ok", "succeeded");
    // Another client group's results are not ours.
    let out = lts(home, &d.addr, &["feedback", "--client-group", "other"]);
    assert!(out.ok().is_empty(), "{out:?}");
    assert!(out.stderr.contains("no feedback"), "{out:?}");

    let items = read_feedback(home, &d.addr);
    assert_eq!(items.len(), 2, "{items:?}");
    let bad = items
        .iter()
        .find(|i| i["task_id"] == "fb-bad")
        .expect("fb-bad's result");
    assert_eq!(bad["group"], "default");
    assert_eq!(bad["client_group"], "cg");
    assert_eq!(bad["run"], 1);
    assert_eq!(bad["attempt"], 1);
    assert_eq!(bad["outcome"], "failed");
    assert_eq!(bad["exit_code"], 3);
    assert!(bad["ended_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(bad.get("reason").is_some());

    assert!(read_feedback(home, &d.addr).is_empty(), "acknowledged");
    let out = lts(home, &d.addr, &["feedback", "--client-group", "cg"]);
    assert!(out.ok().is_empty(), "{out:?}");

    // The table, for people.
    submit_with_feedback(home, &d.addr, "fb-table", "true");
    wait_state(home, &d.addr, "fb-table", "succeeded");
    let out = lts(home, &d.addr, &["feedback", "--client-group", "cg"]);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    for column in [
        "TASK ID", "GROUP", "RUN", "ATTEMPT", "OUTCOME", "EXIT", "ENDED", "REASON",
    ] {
        assert!(lines[0].contains(column), "{out:?}");
    }
    assert!(lines[1].starts_with("fb-table"), "{out:?}");
    assert!(lines[1].contains("succeeded"), "{out:?}");
    assert!(read_feedback(home, &d.addr).is_empty());

    // --client-group is required.
    assert_eq!(lts(home, &d.addr, &["feedback"]).code, 2);
}

#[test]
fn an_unread_result_survives_a_tracker_restart() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let mut d = Daemon::standalone(home, &data, &[]);
    submit_with_feedback(home, &d.addr, "fb-kept", "exit 5");
    wait_state(home, &d.addr, "fb-kept", "failed");
    d.kill();

    let d = Daemon::standalone(home, &data, &[]);
    let items = read_feedback(home, &d.addr);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["task_id"], "fb-kept");
    assert_eq!(items[0]["exit_code"], 5);
    assert!(read_feedback(home, &d.addr).is_empty());
}

#[test]
fn follow_prints_results_as_they_arrive() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    submit_with_feedback(home, &d.addr, "fb-early", "true");
    wait_state(home, &d.addr, "fb-early", "succeeded");
    let gate = sb.path("gate");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 4",
        gate.display()
    );
    submit_with_feedback(home, &d.addr, "fb-late", &script);

    let mut follow = Command::new(LTS)
        .args(["-o", "json", "feedback", "--client-group", "cg", "--follow"])
        .env("LTS_TRACKER", &d.addr)
        .env("XDG_CONFIG_HOME", sb.path("config"))
        .env("XDG_DATA_HOME", sb.path("xdg-data"))
        .env_remove("LTS_DATA")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lts feedback --follow");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let parse = |line: String| -> serde_json::Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let first = parse(rx.recv_timeout(PATIENCE).expect("the result already there"));
    assert_eq!(first["task_id"], "fb-early");
    wait_state(home, &d.addr, "fb-late", "running");

    std::fs::write(&gate, "").expect("open the gate");
    let second = parse(
        rx.recv_timeout(PATIENCE)
            .expect("the result that came later"),
    );
    assert_eq!(second["task_id"], "fb-late");
    assert_eq!(second["outcome"], "failed");
    assert_eq!(second["exit_code"], 4);
    assert!(
        follow.try_wait().expect("try_wait").is_none(),
        "--follow keeps going"
    );
    let _ = follow.kill();
    let _ = follow.wait();
}
