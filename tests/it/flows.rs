//! Workflows and dependencies against real daemons: `--after` chains, flows
//! submitted from TOML files, what a failure cancels, refused graphs, and a
//! flow that outlives tracker SIGKILLs with each step run exactly once.
//! Steps append their name to a file, so the order and the count of runs
//! are read from what really ran. Also run on two trackers sharing a
//! PostgreSQL store (`on_postgres`).

use super::harness::*;
use serde_json::Value;
use std::path::Path;

/// `sh -c SCRIPT` as a TOML array.
fn sh(script: &str) -> String {
    format!("[\"sh\", \"-c\", {}]", toml_str(script))
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The lines of the file steps append to.
fn ran(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn flow_json(home: &Path, addr: &str, id: &str) -> Value {
    lts(home, addr, &["-o", "json", "flow", "show", id]).json()
}

/// The state of each step of a flow's latest run, by name.
fn step_state(flow: &Value, step: &str) -> String {
    flow["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == step))
        .map(|s| s["state"].as_str().unwrap_or("none").to_string())
        .unwrap_or_else(|| panic!("no step {step} in {flow}"))
}

/// A diamond: a, then b and c, then d. `b` waits for `gate` to exist.
fn diamond(sb: &Sandbox, on_failure: &str, gate: &Path) -> std::path::PathBuf {
    let out = sb.path("ran");
    let line = |name: &str| format!("echo {name} >> {}", out.display());
    let file = sb.path("diamond.toml");
    let text = format!(
        "name = \"diamond\"\non_failure = \"{on_failure}\"\n\
         [[step]]\nname = \"a\"\ngroup = \"default\"\ncommand = {a}\n\
         [[step]]\nname = \"b\"\ngroup = \"default\"\nafter = [\"a\"]\ncommand = {b}\n\
         [[step]]\nname = \"c\"\ngroup = \"default\"\nafter = [\"a\"]\ncommand = {c}\n\
         [[step]]\nname = \"d\"\ngroup = \"default\"\nafter = [\"b\", \"c\"]\ncommand = {d}\n",
        a = sh(&line("a")),
        b = sh(&format!(
            "while [ ! -e {} ]; do sleep 0.05; done; {}",
            gate.display(),
            line("b")
        )),
        c = sh(&line("c")),
        d = sh(&line("d")),
    );
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_diamond_flow_runs_in_order_and_its_join_runs_once() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    let file = diamond(&sb, "stop", &gate);
    let id = lts(home, &d.addr, &["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    assert!(!id.is_empty());
    // a and c ran; b waits at its gate, and d waits for b.
    let flow = eventually("a and c to succeed while b runs", || {
        let flow = flow_json(home, &d.addr, &id);
        (step_state(&flow, "a") == "succeeded"
            && step_state(&flow, "c") == "succeeded"
            && step_state(&flow, "b") == "running")
            .then_some(flow)
    });
    assert_eq!(step_state(&flow, "d"), "waiting");
    assert_eq!(flow["run_open"], true);
    assert_eq!(flow["state"], "active");
    // The graph in the terminal: layers, arrows, each step's state.
    let shown = lts(home, &d.addr, &["flow", "show", &id]);
    let text = shown.ok();
    assert!(text.contains("flow diamond"), "{text}");
    let line = |step: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {step} ")) || l.starts_with(&format!("{step} ")))
            .unwrap_or_else(|| panic!("no line for {step} in:\n{text}"))
            .to_string()
    };
    assert!(line("a").contains("succeeded"), "{text}");
    assert!(
        line("b").contains("└─▶ b") && line("b").contains("running"),
        "{text}"
    );
    assert!(
        line("d").contains("    └─▶ d") && line("d").contains("waiting"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is no terminal: {text:?}"
    );
    // The job of d says what it waits for and which flow it belongs to.
    let d_job = job_json(home, &d.addr, &format!("{id}.1.d"));
    assert_eq!(d_job["state"], "waiting");
    assert_eq!(d_job["flow"]["id"], id.as_str());
    assert_eq!(d_job["run_count"], 0);
    assert!(d_job["note"].as_str().unwrap().contains(".1.b"), "{d_job}");
    let shown = lts(home, &d.addr, &["job", &format!("{id}.1.d")]);
    assert!(
        shown
            .ok()
            .contains(&format!("flow:       {id} (run 1, step d)")),
        "{shown:?}"
    );
    assert!(
        shown
            .ok()
            .contains(&format!("after:      {id}.1.b, {id}.1.c")),
        "{shown:?}"
    );

    std::fs::write(&gate, "").unwrap();
    let flow = eventually("every step to succeed", || {
        let flow = flow_json(home, &d.addr, &id);
        (flow["state"] == "done").then_some(flow)
    });
    for step in ["a", "b", "c", "d"] {
        assert_eq!(step_state(&flow, step), "succeeded", "{flow}");
    }
    let lines = ran(&sb.path("ran"));
    assert_eq!(lines.len(), 4, "each step ran once: {lines:?}");
    assert_eq!(lines[0], "a");
    assert_eq!(lines[3], "d", "d ran last: {lines:?}");
    let d_job = job_json(home, &d.addr, &format!("{id}.1.d"));
    assert_eq!(d_job["runs"].as_array().unwrap().len(), 1, "{d_job}");
    // The list knows it, and the JSON of a finished flow says so.
    let list = lts(home, &d.addr, &["-o", "json", "flow", "list"]).json();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["run_open"], false);
    // The HTTP API answers the same document.
    let url = d.console_url();
    let api: Value = reqwest::blocking::get(format!("{url}api/v1/flows/{id}"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(api, flow_json(home, &d.addr, &id));
    let missing = reqwest::blocking::get(format!("{url}api/v1/flows/nope")).unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // And a job posted to the API may run after another.
    let posted: Value = reqwest::blocking::Client::new()
        .post(format!("{url}api/v1/jobs"))
        .json(
            &serde_json::json!({"group": "default", "task_id": "api-after",
            "after": [format!("{id}.1.d")], "command": ["true"]}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(posted["task_id"], "api-after", "{posted}");
    wait_state(home, &d.addr, "api-after", "succeeded");
}

#[test]
fn a_failed_dependency_cancels_the_jobs_after_it_naming_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    let wait_gate = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let submit = |id: &str, after: &str, script: &str| {
        let mut args = vec!["submit", "-g", "default", "--task-id", id];
        if !after.is_empty() {
            args.extend(["--after", after]);
        }
        args.extend(["--", "sh", "-c", script]);
        lts(home, &d.addr, &args).ok().trim().to_string()
    };
    submit("a", "", &wait_gate);
    submit("b", "a", "exit 3");
    submit("c", "a", "true");
    submit("d", "b,c", "echo d >> never");
    submit("e", "d", "echo e >> never");
    for id in ["b", "c", "d", "e"] {
        assert_eq!(job_json(home, &d.addr, id)["state"], "waiting", "{id}");
    }
    // Someone waits for a job that waits: the cancellation ends the wait.
    let (waiter, _) = spawn_lines(
        home,
        &d.addr,
        &[
            "submit",
            "--wait",
            "-g",
            "default",
            "--task-id",
            "w",
            "--after",
            "d",
            "--",
            "true",
        ],
    );
    eventually("w to be waiting", || {
        let jobs = lts(home, &d.addr, &["-o", "json", "jobs", "--state", "waiting"]).json();
        (jobs.as_array().map(Vec::len) == Some(5)).then_some(())
    });
    std::fs::write(&gate, "").unwrap();
    let waited = wait_output(waiter, PATIENCE);
    assert_eq!(waited.code, 1, "{waited:?}");
    let b = wait_state(home, &d.addr, "b", "failed");
    assert_eq!(b["runs"].as_array().unwrap().len(), 1);
    let dj = wait_state(home, &d.addr, "d", "cancelled");
    let note = dj["note"].as_str().unwrap();
    assert!(note.contains("'b'") && note.contains("failed"), "{note}");
    assert_eq!(dj["run_count"], 0, "d never ran: {dj}");
    // The cancellation goes on to the jobs after d.
    let ej = wait_state(home, &d.addr, "e", "cancelled");
    assert!(ej["note"].as_str().unwrap().contains("'d'"), "{ej}");
    wait_state(home, &d.addr, "c", "succeeded");
    assert!(!sb.path("never").exists());
    // A job submitted after one that failed is cancelled at once.
    let late = lts(
        home,
        &d.addr,
        &[
            "-o", "json", "submit", "-g", "default", "--after", "b", "--", "true",
        ],
    )
    .json();
    assert_eq!(late["state"], "cancelled", "{late}");
}

#[test]
fn a_failed_step_stops_the_rest_of_its_flow_run() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    let file = sb.path("stop.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"stops\"\non_failure = \"stop\"\n\
             [[step]]\nname = \"slow\"\ngroup = \"default\"\ncommand = {}\n\
             [[step]]\nname = \"bad\"\ngroup = \"default\"\ncommand = {}\n\
             [[step]]\nname = \"after-slow\"\ngroup = \"default\"\nafter = [\"slow\"]\ncommand = [\"true\"]\n",
            sh(&format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())),
            sh("exit 1"),
        ),
    )
    .unwrap();
    let id = lts(home, &d.addr, &["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    let flow = eventually("the flow run to stop", || {
        let flow = flow_json(home, &d.addr, &id);
        (flow["run_open"] == false).then_some(flow)
    });
    assert_eq!(flow["state"], "failed");
    assert_eq!(step_state(&flow, "bad"), "failed");
    // The running step was stopped, and the one after it never ran.
    assert_eq!(step_state(&flow, "slow"), "cancelled");
    assert_eq!(step_state(&flow, "after-slow"), "cancelled");
    let note = flow["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "slow")
        .unwrap()["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("'bad'"), "{note}");
}

#[test]
fn cycles_unknown_steps_and_unknown_jobs_are_refused_with_exit_2() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let write = |name: &str, text: &str| {
        let path = sb.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let step = |name: &str, after: &str| {
        format!("[[step]]\nname = \"{name}\"\ngroup = \"default\"\nafter = [{after}]\ncommand = [\"true\"]\n")
    };
    let cases = [
        (
            "cycle.toml",
            format!(
                "name = \"c\"\n{}{}{}",
                step("x", "\"z\""),
                step("y", "\"x\""),
                step("z", "\"y\"")
            ),
            "cycle",
        ),
        (
            "unknown.toml",
            format!("name = \"u\"\n{}", step("x", "\"nope\"")),
            "'nope'",
        ),
        (
            "twice.toml",
            format!("name = \"t\"\n{}{}", step("x", ""), step("x", "")),
            "named twice",
        ),
    ];
    let absent = lts(
        home,
        &d.addr,
        &[
            "flow",
            "submit",
            &sb.path("absent.toml").display().to_string(),
        ],
    );
    assert_eq!(absent.code, 2, "{absent:?}");
    for (name, text, needle) in cases {
        let out = lts(home, &d.addr, &["flow", "submit", &write(name, &text)]);
        assert_eq!(out.code, 2, "{name}: {out:?}");
        assert!(out.stderr.contains(needle), "{name}: {out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
    }
    // --after: itself, a job that does not exist, and a cycle through --replace.
    let me = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "me",
            "--after",
            "me",
            "--",
            "true",
        ],
    );
    assert_eq!(me.code, 2, "{me:?}");
    assert!(me.stderr.contains("cycle"), "{me:?}");
    let unknown = lts(
        home,
        &d.addr,
        &["submit", "-g", "default", "--after", "ghost", "--", "true"],
    );
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("'ghost'"), "{unknown:?}");
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "p",
            "--at",
            "2099-01-01T00:00:00Z",
            "--",
            "true",
        ],
    )
    .ok();
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "q",
            "--after",
            "p",
            "--",
            "true",
        ],
    )
    .ok();
    let cycle = lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "p",
            "--replace",
            "--after",
            "q",
            "--",
            "true",
        ],
    );
    assert_eq!(cycle.code, 2, "{cycle:?}");
    assert!(cycle.stderr.contains("cycle"), "{cycle:?}");
    // Nothing was replaced: p still fires in 2099, q still waits for it.
    assert_eq!(job_json(home, &d.addr, "p")["state"], "scheduled");
    assert_eq!(job_json(home, &d.addr, "q")["state"], "waiting");
    assert!(lts(home, &d.addr, &["-o", "json", "flow", "list"])
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_flow_survives_tracker_sigkills_and_runs_each_step_once() {
    if ON_POSTGRES {
        return; // a tracker of its own on SQLite: the same test as in `flows`
    }
    use crate::helpers::Daemon;
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("tracker");
    // Leases longer than the outages: the worker keeps its runs and
    // delivers their results to the restarted tracker.
    let lease = ["--lease", "60s"];
    let mut tracker = Daemon::tracker_with(home, &data, "127.0.0.1:0", &lease);
    let addr = tracker.addr.clone();
    let _worker = Daemon::worker(
        home,
        &addr,
        "default",
        &[
            "--allow-commands",
            "--data",
            sb.path("worker").to_str().unwrap(),
        ],
    );
    let gate = sb.path("gate");
    let file = diamond(&sb, "stop", &gate);
    let id = lts(home, &addr, &["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    eventually("b to be running", || {
        let flow = flow_json(home, &addr, &id);
        (step_state(&flow, "b") == "running" && step_state(&flow, "c") == "succeeded").then_some(())
    });
    // Killed while a step runs; b finishes during the outage.
    tracker.kill();
    std::fs::write(&gate, "").unwrap();
    eventually("b to have run", || {
        ran(&sb.path("ran"))
            .contains(&"b".to_string())
            .then_some(())
    });
    let mut tracker = Daemon::tracker_with(home, &data, &addr, &lease);
    assert_eq!(tracker.addr, addr);
    // Killed again just as the join may be released, queued or running.
    eventually("b's result to be recorded", || {
        let flow = flow_json(home, &addr, &id);
        (step_state(&flow, "b") == "succeeded").then_some(())
    });
    tracker.kill();
    let tracker = Daemon::tracker_with(home, &data, &addr, &lease);
    let flow = eventually("the flow to finish", || {
        let flow = flow_json(home, &addr, &id);
        (flow["state"] == "done").then_some(flow)
    });
    for step in ["a", "b", "c", "d"] {
        assert_eq!(
            step_state(&flow, step),
            "succeeded",
            "{flow}\n{}",
            tracker.log()
        );
    }
    let mut lines = ran(&sb.path("ran"));
    lines.sort();
    assert_eq!(lines, ["a", "b", "c", "d"], "each step ran exactly once");
}

#[test]
fn a_cron_flow_starts_a_run_per_tick_and_cancel_stops_it() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = sb.path("ran");
    let file = sb.path("tick.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"ticking\"\ncron = \"* * * * * ?\"\n\
             [[step]]\nname = \"one\"\ngroup = \"default\"\ncommand = {}\n\
             [[step]]\nname = \"two\"\ngroup = \"default\"\nafter = [\"one\"]\ncommand = {}\n",
            sh(&format!("echo one >> {}", out.display())),
            sh(&format!("echo two >> {}", out.display())),
        ),
    )
    .unwrap();
    let id = lts(home, &d.addr, &["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    let flow = eventually("two flow runs", || {
        let flow = flow_json(home, &d.addr, &id);
        (flow["runs"].as_u64() >= Some(2)).then_some(flow)
    });
    assert!(
        flow["cron"] == "* * * * * ?" && flow["next_fire"].is_string(),
        "{flow}"
    );
    lts(home, &d.addr, &["flow", "cancel", &id]).ok();
    let cancelled = flow_json(home, &d.addr, &id);
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["next_fire"].is_null());
    let runs = cancelled["runs"].as_u64().unwrap();
    // Cancelled for good: a second cancel is refused and no run starts.
    assert_eq!(lts(home, &d.addr, &["flow", "cancel", &id]).code, 1);
    let missing = lts(home, &d.addr, &["flow", "show", "no-such-flow"]);
    assert_eq!(missing.code, 3, "{missing:?}");
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert_eq!(flow_json(home, &d.addr, &id)["runs"].as_u64(), Some(runs));
}

#[test]
fn a_cron_flow_that_allows_overlap_starts_runs_beside_open_ones_and_cancel_ends_them_all() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &["--threads", "8"]);
    let gate = sb.path("gate");
    let file = sb.path("overlap.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"overlapping\"\ncron = \"* * * * * ?\"\noverlap = \"allow\"\n\
             [[step]]\nname = \"hold\"\ngroup = \"default\"\ncommand = {}\n\
             [[step]]\nname = \"then\"\ngroup = \"default\"\nafter = [\"hold\"]\ncommand = [\"true\"]\n",
            sh(&format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display())),
        ),
    )
    .unwrap();
    let id = lts(home, &d.addr, &["flow", "submit", file.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    // Runs start while the first is still open at its gate.
    eventually("a third run beside the first", || {
        let flow = flow_json(home, &d.addr, &id);
        (flow["runs"].as_u64() >= Some(3)).then_some(())
    });
    assert_eq!(
        job_json(home, &d.addr, &format!("{id}.1.then"))["state"],
        "waiting"
    );
    let flow = lts(home, &d.addr, &["-o", "json", "flow", "cancel", &id]).json();
    assert_eq!(flow["overlap"], "allow");
    assert_eq!(flow["state"], "cancelled");
    let runs = flow["runs"].as_u64().unwrap();
    // Every run's steps are cancelled, the first run's as well as the last's.
    for run in 1..=runs {
        for step in ["hold", "then"] {
            let job = job_json(home, &d.addr, &format!("{id}.{run}.{step}"));
            assert_eq!(job["state"], "cancelled", "{job}");
        }
    }
    let refused = sb.path("refused.toml");
    std::fs::write(
        &refused,
        "name = \"r\"\ncron = \"@daily\"\noverlap = \"buffer-one\"\n\
         [[step]]\nname = \"a\"\ngroup = \"default\"\ncommand = [\"true\"]\n",
    )
    .unwrap();
    let out = lts(
        home,
        &d.addr,
        &["flow", "submit", refused.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("skip or allow"), "{out:?}");
}
