//! Workers and daemons as roles: the runner protocol, command permission,
//! dispatch order, membership, cancellation of a running run, graceful stop.

use crate::helpers::*;
use std::time::Duration;

#[test]
fn a_runner_gets_the_job_as_json_on_stdin_and_params_in_the_environment() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let seen = sb.path("seen");
    let runner = sb.script(
        "runner",
        &format!(
            "cat > {out}.json\nenv | grep '^LTS_' | sort > {out}.env",
            out = seen.display()
        ),
    );
    let d = Daemon::standalone(
        home,
        &sb.path("data"),
        &["--runner", runner.to_str().unwrap()],
    );
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "r1",
            "--param",
            "db.host=x=1",
            "--params-json",
            r#"{"n": 3, "s": "str"}"#,
        ],
    )
    .ok();
    wait_state(home, &d.addr, "r1", "succeeded");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seen.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(json["task_id"], "r1");
    assert_eq!(json["group"], "default");
    assert_eq!(json["params"]["db.host"], "x=1");
    assert_eq!(json["params"]["n"], "3");
    assert_eq!(json["run"], 1);
    assert_eq!(json["attempt"], 1);
    assert!(json["scheduled_at"].as_str().unwrap().ends_with('Z'));
    let env = std::fs::read_to_string(seen.with_extension("env")).unwrap();
    for expected in [
        "LTS_TASK_ID=r1",
        "LTS_GROUP=default",
        "LTS_RUN=1",
        "LTS_ATTEMPT=1",
        "LTS_PARAM_DB_HOST=x=1",
        "LTS_PARAM_N=3",
        "LTS_PARAM_S=str",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing from:\n{env}"
        );
    }
}

#[test]
fn a_worker_without_allow_commands_refuses_a_job_command_clearly() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    let _worker = Daemon::worker(home, &tracker.addr, "plain", &["--runner", "builtin:noop"]);
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "plain",
            "--task-id",
            "cmd",
            "--",
            "touch",
            sb.path("touched").to_str().unwrap(),
        ],
    )
    .ok();
    let job = wait_state(home, &tracker.addr, "cmd", "failed");
    let reason = job["runs"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("--allow-commands"), "{reason}");
    assert!(!sb.path("touched").exists(), "the command must not run");
    // A job without a command goes to the runner and succeeds.
    let ok = lts(home, &tracker.addr, &["submit", "-g", "plain", "--wait"]);
    assert_eq!(ok.code, 0, "{ok:?}");
}

#[test]
fn due_jobs_run_by_priority_then_submission_order() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let order = sb.path("order");
    let runner = sb.script(
        "runner",
        &format!("echo \"$LTS_TASK_ID\" >> {}", order.display()),
    );
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    for (id, priority) in [
        ("low-1", "0"),
        ("high-1", "5"),
        ("low-2", "0"),
        ("mid", "2"),
        ("high-2", "5"),
        ("neg", "-1"),
    ] {
        lts(
            home,
            &tracker.addr,
            &[
                "submit",
                "-g",
                "prio",
                "--task-id",
                id,
                "--priority",
                priority,
            ],
        )
        .ok();
    }
    let _worker = Daemon::worker(
        home,
        &tracker.addr,
        "prio",
        &["--runner", runner.to_str().unwrap(), "--threads", "1"],
    );
    wait_state(home, &tracker.addr, "neg", "succeeded");
    let ran = std::fs::read_to_string(&order).unwrap();
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        ["high-1", "high-2", "mid", "low-1", "low-2", "neg"]
    );
}

#[test]
fn nodes_lists_the_tracker_and_its_workers() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    let _a = Daemon::worker(
        home,
        &tracker.addr,
        "alpha",
        &["--runner", "builtin:sleep:20s", "--threads", "3"],
    );
    let _b = Daemon::worker(
        home,
        &tracker.addr,
        "beta",
        &["--runner", "builtin:noop", "--threads", "2"],
    );
    lts(
        home,
        &tracker.addr,
        &["submit", "-g", "alpha", "--task-id", "busy"],
    )
    .ok();
    wait_state(home, &tracker.addr, "busy", "running");
    let nodes = eventually("both workers and a busy slot", || {
        let nodes = lts(home, &tracker.addr, &["-o", "json", "nodes"]).json();
        let list = nodes.as_array().unwrap().clone();
        let alpha = list.iter().find(|n| n["group"] == "alpha")?;
        (list.len() == 3 && alpha["slots_used"] == 1).then_some(list)
    });
    let tracker_node = nodes.iter().find(|n| n["role"] == "tracker").unwrap();
    assert_eq!(tracker_node["address"], tracker.addr.as_str());
    let alpha = nodes.iter().find(|n| n["group"] == "alpha").unwrap();
    assert_eq!(alpha["role"], "worker");
    assert_eq!(alpha["state"], "up");
    assert_eq!(alpha["master"], true);
    assert_eq!(alpha["slots_free"], 2);
    // Its host, not the ephemeral port of its outbound connection.
    assert_eq!(alpha["address"], "127.0.0.1", "{alpha}");
    for key in ["id", "version", "last_seen"] {
        assert!(alpha[key].is_string(), "{key} in {alpha}");
    }
    let only_beta = lts(home, &tracker.addr, &["nodes", "--group", "beta"]);
    assert!(
        only_beta.ok().contains("beta") && !only_beta.stdout.contains("alpha"),
        "{only_beta:?}"
    );
}

#[test]
fn cancel_stops_a_running_run_and_its_whole_process_group() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let pidfile = sb.path("grandchild.pid");
    // The job forks a grandchild that would outlive a plain kill of the job.
    let script = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "long",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    wait_state(home, &d.addr, "long", "running");
    let grandchild: i32 = eventually("the grandchild's pid", || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    let out = lts(home, &d.addr, &["cancel", "long"]);
    assert_eq!(out.ok().trim(), "cancelled long (group default)");
    let job = job_json(home, &d.addr, "long");
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["runs"][0]["outcome"], "cancelled");
    eventually("the grandchild to be gone", || {
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(grandchild, 0) } == 0
            && !std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .is_ok_and(|s| s.contains(") Z "));
        (!alive).then_some(())
    });
    assert_eq!(
        lts(home, &d.addr, &["cancel", "long"]).code,
        1,
        "cancelling twice fails"
    );
    assert_eq!(lts(home, &d.addr, &["cancel", "nope"]).code, 3);
}

#[test]
fn logs_tail_prints_the_last_lines() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--wait",
            "--task-id",
            "many",
            "--",
            "seq",
            "1",
            "50",
        ],
    )
    .ok();
    let tail = lts(home, &d.addr, &["logs", "many", "--tail", "3"]);
    assert_eq!(tail.ok(), "48\n49\n50\n");
    let all = lts(home, &d.addr, &["logs", "many", "--run", "1"]);
    assert_eq!(all.ok().lines().count(), 50);
    let follow_done = lts(home, &d.addr, &["logs", "many", "--follow", "--tail", "1"]);
    assert_eq!(
        follow_done.ok(),
        "50\n",
        "follow on a finished run ends at once"
    );
}

#[test]
fn sigterm_lets_a_running_job_finish_and_exits_zero() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let mut d = Daemon::standalone(home, &sb.path("data"), &[]);
    let gate = sb.path("gate");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo finished",
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
            "drain",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .ok();
    wait_state(home, &d.addr, "drain", "running");
    d.signal(libc::SIGTERM);
    d.wait_for_log("waiting for 1 running job", |_| Some(()));
    assert!(d.child.try_wait().unwrap().is_none(), "still draining");
    std::fs::write(&gate, "").unwrap();
    let status = d.wait_exit(PATIENCE);
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    let again = Daemon::standalone(home, &sb.path("data"), &[]);
    let job = job_json(home, &again.addr, "drain");
    assert_eq!(job["state"], "succeeded");
    assert_eq!(
        lts(home, &again.addr, &["logs", "drain"]).ok(),
        "finished\n"
    );
}

#[test]
fn a_worker_sigterm_past_its_grace_stops_the_run_and_exits_zero() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    let mut worker = Daemon::worker(
        home,
        &tracker.addr,
        "g",
        &["--allow-commands", "--grace", "300ms"],
    );
    lts(
        home,
        &tracker.addr,
        &[
            "submit",
            "-g",
            "g",
            "--task-id",
            "stuck",
            "--",
            "sleep",
            "300",
        ],
    )
    .ok();
    wait_state(home, &tracker.addr, "stuck", "running");
    worker.signal(libc::SIGTERM);
    let status = worker.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}\n{}", worker.log());
    assert!(
        worker.log().contains("grace period over"),
        "{}",
        worker.log()
    );
    // The stopped run is given back at once, not after a lease timeout.
    let job = wait_state(home, &tracker.addr, "stuck", "queued");
    assert_eq!(job["runs"][0]["outcome"], "lost");
    assert_eq!(job["runs"][1]["attempt"], 2);
    assert_eq!(job["runs"][1]["state"], "queued");
}

#[test]
fn the_config_file_names_the_tracker_when_no_flag_or_variable_does() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    std::fs::create_dir_all(sb.path("config/lts")).unwrap();
    std::fs::write(
        sb.path("config/lts/config.toml"),
        format!("tracker = \"{}\"\n", d.addr),
    )
    .unwrap();
    let out = lts(home, "", &["jobs"]);
    assert_eq!(out.code, 0, "{out:?}");
    std::fs::write(sb.path("config/lts/config.toml"), "tracker = [oops\n").unwrap();
    let bad = lts(home, "", &["jobs"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("config.toml"), "{bad:?}");
}
