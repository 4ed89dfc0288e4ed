//! `lts stats`: counts by group and state, queue age and throughput from a
//! standalone, as a table and as JSON; `--group`; no tracker.

use crate::helpers::*;

fn submit(home: &std::path::Path, addr: &str, args: &[&str]) -> String {
    lts(home, addr, &[&["submit"][..], args].concat())
        .ok()
        .trim()
        .to_string()
}

#[test]
fn stats_counts_by_group_and_state_with_queue_age_and_throughput() {
    let sb = Sandbox::new();
    let d = Daemon::standalone(sb.dir.path(), &sb.path("data"), &[]);
    let (home, addr) = (sb.dir.path(), d.addr.as_str());
    // No worker serves "idle": its jobs stay queued and age.
    for _ in 0..2 {
        submit(home, addr, &["-g", "idle", "--", "true"]);
    }
    let ok = submit(home, addr, &["-g", "default", "--", "true"]);
    let bad = submit(home, addr, &["-g", "default", "--", "false"]);
    submit(
        home,
        addr,
        &["-g", "default", "--delay", "1h", "--", "true"],
    );
    let held = submit(
        home,
        addr,
        &["-g", "default", "--delay", "1h", "--", "true"],
    );
    lts(home, addr, &["suspend", &held]).ok();
    let gone = submit(
        home,
        addr,
        &["-g", "default", "--delay", "1h", "--", "true"],
    );
    lts(home, addr, &["cancel", &gone]).ok();
    wait_state(home, addr, &ok, "succeeded");
    wait_state(home, addr, &bad, "failed");
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let doc = lts(home, addr, &["-o", "json", "stats"]).json();
    assert_eq!(doc["window_s"], 60);
    assert!(doc["at"].as_str().is_some_and(|t| t.contains('T')), "{doc}");
    let groups = doc["groups"].as_array().expect("groups");
    let names: Vec<&str> = groups.iter().filter_map(|g| g["group"].as_str()).collect();
    assert_eq!(names, ["default", "idle"], "{doc}");
    let (def, idle) = (&groups[0], &groups[1]);
    let jobs = &def["jobs"];
    assert_eq!(
        (
            &jobs["succeeded"],
            &jobs["failed"],
            &jobs["scheduled"],
            &jobs["suspended"],
            &jobs["cancelled"],
            &jobs["queued"],
        ),
        (
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &0.into()
        ),
        "{doc}"
    );
    assert_eq!(def["ended_last_window"], 2, "{doc}");
    assert_eq!(def["failed_last_window"], 1, "{doc}");
    assert!(def["runs_per_s"].as_f64().is_some_and(|r| r > 0.0), "{doc}");
    assert!(def["queue_age_ms"].is_null(), "{doc}");
    assert_eq!(idle["jobs"]["queued"], 2, "{doc}");
    assert_eq!(idle["queued_runs"], 2, "{doc}");
    assert!(
        idle["queue_age_ms"].as_i64().is_some_and(|a| a >= 1000),
        "{doc}"
    );
    assert_eq!(idle["runs_per_s"], 0.0, "{doc}");
    assert_eq!(doc["total"]["jobs"]["queued"], 2, "{doc}");
    assert_eq!(doc["total"]["jobs"]["succeeded"], 1, "{doc}");
    assert_eq!(doc["total"]["queued_runs"], 2, "{doc}");

    let table = lts(home, addr, &["stats"]).ok().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("GROUP") && lines[0].contains("QUEUE AGE"),
        "{table}"
    );
    let row = |name: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row: {table}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    // GROUP, then scheduled waiting queued running succeeded failed retrying
    // suspended cancelled broken.
    assert_eq!(
        row("default")[1..11],
        ["1", "0", "0", "0", "1", "1", "0", "1", "1", "0"],
        "{table}"
    );
    assert_eq!(
        row("idle")[1..11],
        ["0", "0", "2", "0", "0", "0", "0", "0", "0", "0"],
        "{table}"
    );
    assert_ne!(row("idle")[11], "-", "{table}");
    assert_eq!(row("TOTAL")[3], "2", "{table}");

    let only = lts(home, addr, &["-o", "json", "stats", "--group", "idle"]).json();
    let names: Vec<&str> = only["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["group"].as_str())
        .collect();
    assert_eq!(names, ["idle"], "{only}");
    assert_eq!(only["total"]["jobs"]["succeeded"], 0, "{only}");
    let only_table = lts(home, addr, &["stats", "-g", "idle"]).ok().to_string();
    assert!(!only_table.contains("default"), "{only_table}");
}

#[test]
fn stats_without_a_tracker_exits_4() {
    let sb = Sandbox::new();
    let out = lts(sb.dir.path(), "127.0.0.1:1", &["stats"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    let bad = lts(sb.dir.path(), "127.0.0.1:1", &["stats", "--nope"]);
    assert_eq!(bad.code, 2, "{bad:?}");
}
