//! A cluster around `ltsd registry`: trackers and workers register, `lts
//! nodes` lists them with one master per group, a killed master hands over
//! to the next oldest within the TTL, the registry's state survives a
//! restart, workers find trackers through it, groups stay apart.

use crate::helpers::*;
use serde_json::Value;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::Instant;

/// Short, so that expiry tests take seconds.
const TTL: &[&str] = &["--ttl", "2s"];

/// `lts --registry R ARGS`.
fn via(home: &Path, registry: &str, args: &[&str]) -> Out {
    let mut all = vec!["--registry", registry];
    all.extend_from_slice(args);
    lts(home, "", &all)
}

fn nodes(home: &Path, registry: &str) -> Vec<Value> {
    via(home, registry, &["-o", "json", "nodes"])
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn node<'a>(nodes: &'a [Value], id: &str) -> Option<&'a Value> {
    nodes.iter().find(|n| n["id"] == id)
}

/// Wait until the registry lists `id` as up.
fn wait_up(home: &Path, registry: &str, id: &str) {
    eventually(&format!("{id} to be registered"), || {
        let list = nodes(home, registry);
        node(&list, id)
            .is_some_and(|n| n["state"] == "up")
            .then_some(())
    });
}

/// The next JSON event line matching `want`, within `PATIENCE`.
fn next_event(rx: &Receiver<String>, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no event: {what}"));
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for key in [
            "seq", "event", "at", "role", "group", "node", "epoch", "reason",
        ] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
        if want(&event) {
            return event;
        }
    }
}

fn is_master_of(event: &Value, group: &str, id: &str) -> bool {
    event["event"] == "master" && event["group"] == group && event["node"]["id"] == id
}

#[test]
fn a_registry_lists_every_node_with_one_master_per_group_and_the_next_oldest_takes_over() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    let t1 = Daemon::tracker_registered(home, &sb.path("t1"), r);
    let _t2 = Daemon::tracker_registered(home, &sb.path("t2"), r);
    let noop = ["--runner", "builtin:noop"];
    let mut a1 = Daemon::worker_via_registry(home, r, "a", &noop);
    let a1_id = a1.worker_id();
    // Start the second worker of the group only once the first is in: it is younger.
    wait_up(home, r, &a1_id);
    let a2 = Daemon::worker_via_registry(home, r, "a", &noop);
    let a2_id = a2.worker_id();
    let _b1 = Daemon::worker_via_registry(home, r, "b", &noop);

    let list = eventually(
        "the registry, two trackers and three workers, all up",
        || {
            let list = nodes(home, r);
            (list.len() == 6 && list.iter().all(|n| n["state"] == "up")).then_some(list)
        },
    );
    for (role, group, count) in [
        ("registry", "registry", 1),
        ("tracker", "tracker", 2),
        ("worker", "a", 2),
        ("worker", "b", 1),
    ] {
        let members: Vec<&Value> = list
            .iter()
            .filter(|n| n["role"] == role && n["group"] == group)
            .collect();
        assert_eq!(members.len(), count, "{role}/{group} in {list:?}");
        let masters = members.iter().filter(|n| n["master"] == true).count();
        assert_eq!(masters, 1, "one master of {role}/{group} in {list:?}");
    }
    let tracker_master = list
        .iter()
        .find(|n| n["role"] == "tracker" && n["master"] == true)
        .unwrap();
    assert_eq!(
        tracker_master["address"],
        t1.addr.as_str(),
        "the oldest tracker"
    );
    assert_eq!(
        node(&list, &a1_id).unwrap()["master"],
        true,
        "the oldest worker of a"
    );
    assert_eq!(node(&list, &a1_id).unwrap()["slots_free"], 4);
    let table = via(home, r, &["nodes"]);
    assert!(
        table.ok().contains(&a2_id) && table.stdout.contains("MASTER"),
        "{table:?}"
    );

    // Follow the events from the start of the registry's history.
    let (mut watcher, rx) = spawn_lines(
        home,
        "",
        &[
            "--registry",
            r,
            "-o",
            "json",
            "nodes",
            "--watch",
            "--after",
            "0",
        ],
    );
    let first = next_event(&rx, "a1 becomes master", |e| is_master_of(e, "a", &a1_id));
    a1.kill();
    let left = next_event(&rx, "a1 expires", |e| {
        e["event"] == "leave" && e["node"]["id"] == a1_id.as_str()
    });
    assert_eq!(left["reason"], "expired");
    let next = next_event(&rx, "a2 becomes master", |e| is_master_of(e, "a", &a2_id));
    assert!(
        next["epoch"].as_u64() > first["epoch"].as_u64(),
        "epochs grow: {first} then {next}"
    );
    assert!(next["seq"].as_u64() > left["seq"].as_u64());
    let _ = watcher.kill();
    let _ = watcher.wait();

    let list = nodes(home, r);
    assert_eq!(node(&list, &a2_id).unwrap()["master"], true);
    let gone = node(&list, &a1_id).expect("a1 still listed while it is recent");
    assert_eq!(
        (&gone["state"], &gone["master"]),
        (&"down".into(), &false.into())
    );
}

#[test]
fn a_restarted_registry_keeps_its_members_and_its_epochs_never_go_back() {
    use lts::model::Role;
    use lts::registry::{MasterWatch, RegistryClient};
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("registry");
    let mut reg = Daemon::registry(home, &data, "127.0.0.1:0", TTL);
    let r = reg.addr.clone();
    let mut a1 = Daemon::worker_via_registry(home, &r, "a", &["--runner", "builtin:noop"]);
    let a1_id = a1.worker_id();
    wait_up(home, &r, &a1_id);
    let a2 = Daemon::worker_via_registry(home, &r, "a", &["--runner", "builtin:noop"]);
    let a2_id = a2.worker_id();
    wait_up(home, &r, &a2_id);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut masters = MasterWatch::new(RegistryClient::new(r.clone(), "client"), Role::Worker, "a");
    let next = |masters: &mut MasterWatch| {
        rt.block_on(async { tokio::time::timeout(PATIENCE, masters.next()).await })
            .expect("a master change in time")
            .expect("the registry answers")
    };
    let before = next(&mut masters);
    assert!(before.is_master(&a1_id), "{before:?}");

    // The registry and the master go down together; a worker starts meanwhile.
    reg.kill();
    a1.kill();
    let a3 = Daemon::worker_via_registry(home, &r, "a", &["--runner", "builtin:noop"]);
    let a3_id = a3.worker_id();
    let _reg = Daemon::registry(home, &data, &r, TTL);

    // The saved members are back at once, the new worker registers.
    let list = nodes(home, &r);
    assert!(node(&list, &a2_id).is_some(), "restored: {list:?}");
    wait_up(home, &r, &a3_id);
    // The dead master expires and the next oldest takes over, with a higher epoch.
    let after = next(&mut masters);
    assert!(after.is_master(&a2_id), "{after:?}");
    assert!(after.epoch > before.epoch, "{before:?} then {after:?}");
    let list = nodes(home, &r);
    assert_eq!(node(&list, &a3_id).unwrap()["master"], false);
}

#[test]
fn a_worker_the_registry_forgot_registers_again() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    let w = Daemon::worker_via_registry(home, r, "a", &["--runner", "builtin:noop"]);
    let id = w.worker_id();
    wait_up(home, r, &id);
    // Paused past the TTL, it expires; resumed, it heartbeats, hears it is
    // unknown, and registers again.
    w.signal(libc::SIGSTOP);
    eventually("the paused worker to expire", || {
        let list = nodes(home, r);
        node(&list, &id)
            .is_some_and(|n| n["state"] == "down")
            .then_some(())
    });
    w.signal(libc::SIGCONT);
    wait_up(home, r, &id);
    w.wait_for_log("registering again", |_| Some(()));
}

#[test]
fn a_worker_given_only_a_registry_finds_the_tracker_and_runs_a_job() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    // The worker starts first and follows the tracker when it joins.
    let _w = Daemon::worker_via_registry(home, r, "g", &["--runner", "builtin:noop"]);
    let _t = Daemon::tracker_registered(home, &sb.path("tracker"), r);
    let out = via(
        home,
        r,
        &["submit", "-g", "g", "--task-id", "found", "--wait"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let job = via(home, r, &["-o", "json", "job", "found"]).json();
    assert_eq!(job["state"], "succeeded");
}

#[test]
fn a_worker_moves_to_the_next_tracker_when_its_tracker_goes() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    let mut t1 = Daemon::tracker_registered(home, &sb.path("t1"), r);
    let t2 = Daemon::tracker_registered(home, &sb.path("t2"), r);
    let _w = Daemon::worker_via_registry(home, r, "g", &["--runner", "builtin:noop"]);
    // The worker pulls from the master (the older tracker) ...
    let first = via(
        home,
        r,
        &["submit", "-g", "g", "--task-id", "on-t1", "--wait"],
    );
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(
        lts(home, &t1.addr, &["-o", "json", "job", "on-t1"]).json()["state"],
        "succeeded"
    );
    // ... and when it dies, from the next one.
    t1.kill();
    let out = lts(
        home,
        &t2.addr,
        &["submit", "-g", "g", "--task-id", "on-t2", "--wait"],
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn jobs_run_only_on_workers_of_their_group() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    let _t = Daemon::tracker_registered(home, &sb.path("tracker"), r);
    let a = Daemon::worker_via_registry(home, r, "a", &["--runner", "builtin:noop"]);
    let b = Daemon::worker_via_registry(home, r, "b", &["--runner", "builtin:noop"]);
    let ids = [("a", a.worker_id()), ("b", b.worker_id())];
    for (group, _) in &ids {
        for i in 0..4 {
            let task = format!("{group}{i}");
            via(home, r, &["submit", "-g", group, "--task-id", &task]).ok();
        }
    }
    via(home, r, &["submit", "-g", "nobody", "--task-id", "stuck"]).ok();
    for (group, worker) in &ids {
        for i in 0..4 {
            let task = format!("{group}{i}");
            let job = eventually(&format!("{task} to succeed"), || {
                let job = via(home, r, &["-o", "json", "job", &task]).json();
                (job["state"] == "succeeded").then_some(job)
            });
            assert_eq!(job["runs"][0]["worker"], worker.as_str(), "{task}: {job}");
        }
    }
    // The group nobody serves: its job waits, and both views say why.
    let stuck = via(home, r, &["-o", "json", "job", "stuck"]).json();
    assert_eq!(stuck["state"], "queued");
    assert!(
        stuck["note"]
            .as_str()
            .unwrap_or_default()
            .contains("no worker"),
        "{stuck}"
    );
    let table = via(home, r, &["nodes"]);
    assert!(
        table
            .ok()
            .contains("group 'nobody' has no live worker (1 queued run waits)"),
        "{table:?}"
    );
}

#[test]
fn nodes_filters_by_role_and_group_and_names_groups_left_without_a_worker() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let reg = Daemon::registry(home, &sb.path("registry"), "127.0.0.1:0", TTL);
    let r = reg.addr.as_str();
    let a = Daemon::worker_via_registry(home, r, "a", &["--runner", "builtin:noop"]);
    let b = Daemon::worker_via_registry(home, r, "b", &["--runner", "builtin:noop"]);
    let mut c = Daemon::worker_via_registry(home, r, "c", &["--runner", "builtin:noop"]);
    for w in [&a, &b, &c] {
        wait_up(home, r, &w.worker_id());
    }
    let only_a = via(
        home,
        r,
        &["-o", "json", "nodes", "--role", "worker", "--group", "a"],
    )
    .json();
    let only_a = only_a.as_array().unwrap();
    assert_eq!(only_a.len(), 1, "{only_a:?}");
    assert_eq!(only_a[0]["id"], a.worker_id().as_str());
    let registries = via(home, r, &["-o", "json", "nodes", "--role", "registry"]).json();
    assert_eq!(registries.as_array().unwrap().len(), 1);
    assert_eq!(registries[0]["address"], r);
    let table = via(home, r, &["nodes", "--group", "b"]);
    assert!(
        table.ok().contains(&b.worker_id()) && !table.stdout.contains(&a.worker_id()),
        "{table:?}"
    );
    // A worker that stops leaves at once; its group is named as empty.
    assert!(c.term().success());
    let table = eventually("group c to be empty", || {
        let out = via(home, r, &["nodes"]);
        out.ok()
            .contains("group 'c' has no live worker")
            .then_some(out.stdout)
    });
    assert!(!table.contains("group 'a' has no"), "{table}");
    let only_b = via(home, r, &["nodes", "--group", "b"]);
    assert!(!only_b.ok().contains("group 'c'"), "{only_b:?}");
}

#[test]
fn an_unreachable_registry_exits_4_with_one_clear_line() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    for args in [
        &["nodes"][..],
        &["nodes", "--watch"],
        &["jobs"],
        &["submit", "-g", "g"],
    ] {
        let out = via(home, &closed, args);
        assert_eq!(out.code, 4, "{args:?}: {out:?}");
        let err = out.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!("registry at {closed}")),
            "{args:?}: {err}"
        );
    }
    // Without a registry, --watch asks the tracker (which keeps membership
    // itself): none answering is exit 4.
    let no_registry = lts(home, "127.0.0.1:1", &["nodes", "--watch"]);
    assert_eq!(no_registry.code, 4, "{no_registry:?}");
    assert!(
        no_registry.stderr.contains("no tracker reachable"),
        "{no_registry:?}"
    );
    let bad = via(home, "nonsense", &["nodes"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    // The daemons check it too.
    let out = std::process::Command::new(LTSD)
        .args(["worker", "--group", "g", "--registry", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
