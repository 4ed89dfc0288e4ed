//! Bad input of every kind: malformed flags, missing trackers, unusable data
//! dirs and databases, peers that speak garbage. Each must fail with SPEC's
//! exit code and one clear line, and none may damage stored jobs or take a
//! daemon down.

use crate::helpers::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

/// How long a daemon that refuses to start may take to exit.
const PROMPTLY: Duration = Duration::from_secs(10);

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// Start `ltsd ARGS`, which must refuse to start. Returns its exit code and
/// its one error line (`ltsd: ...`).
fn refused_start(home: &Path, args: &[&str]) -> (i32, String) {
    let mut daemon = Daemon::start(home, args, false);
    let status = daemon.wait_exit(PROMPTLY);
    let line = daemon.wait_for_log("ltsd: ", |l| l.starts_with("ltsd: ").then(|| l.to_string()));
    let log = daemon.log();
    let errors = log.lines().filter(|l| l.starts_with("ltsd: ")).count();
    assert_eq!(errors, 1, "one error line; the log:\n{log}");
    (status.code().unwrap_or(-1), line)
}

/// `ltsd tracker --listen LISTEN --data DATA`, which must refuse to start.
fn refused_tracker(home: &Path, data: &Path, listen: &str) -> (i32, String) {
    refused_start(home, &["tracker", "--listen", listen, "--data", utf8(data)])
}

/// A loopback address nothing listens on (it did a moment ago).
fn unused_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    let addr = listener.local_addr().expect("the probe port's address");
    drop(listener);
    addr.to_string()
}

/// `lts submit -g default --task-id ID EXTRA..`
fn submit(home: &Path, addr: &str, id: &str, extra: &[&str]) -> Out {
    let args = [&["submit", "-g", "default", "--task-id", id][..], extra].concat();
    lts(home, addr, &args)
}

/// Submit `-- true` as `id`, wait for it, and require that it succeeded.
#[track_caller]
fn run_true(home: &Path, addr: &str, id: &str) {
    let out = submit(home, addr, id, &["--wait", "--", "true"]);
    assert_code(&out, 0, &format!("job {id} runs"));
}

/// The task ids of every stored job, sorted.
fn job_ids(home: &Path, addr: &str) -> Vec<String> {
    let jobs = lts(home, addr, &["-o", "json", "jobs"]).json();
    let mut ids: Vec<String> = jobs
        .as_array()
        .expect("jobs is a JSON array")
        .iter()
        .map(|j| j["task_id"].as_str().expect("a task_id").to_string())
        .collect();
    ids.sort();
    ids
}

/// Assert the exit code of an `lts` invocation, showing what it printed.
#[track_caller]
fn assert_code(out: &Out, code: i32, what: &str) {
    assert_eq!(out.code, code, "{what}: {out:?}");
}

/// Assert the daemon still runs, lists jobs and runs a new job to success.
#[track_caller]
fn assert_serves(home: &Path, daemon: &mut Daemon, id: &str) {
    let running = daemon.child.try_wait().expect("try_wait").is_none();
    assert!(
        running,
        "the daemon exited ({id}); its log:\n{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(!log.contains("panicked"), "a task panicked ({id}):\n{log}");
    lts(home, &daemon.addr, &["jobs"]).ok();
    run_true(home, &daemon.addr, id);
}

/// A handshake frame: u32 big-endian length, then the JSON.
fn frame(json: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(json).expect("serialize a frame");
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// A client's hello frame, speaking `protocol`.
fn hello(protocol: u32) -> Vec<u8> {
    frame(&serde_json::json!({
        "magic": "lts",
        "protocol": protocol,
        "role": "client",
        "version": "x",
    }))
}

/// Read one handshake frame.
fn read_frame(stream: &mut TcpStream) -> serde_json::Value {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("the reply's length");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).expect("the reply's body");
    serde_json::from_slice(&body).expect("the reply is JSON")
}

/// A connection whose reads and writes give up after `PATIENCE`.
fn dial(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the daemon");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(PATIENCE))
        .expect("write timeout");
    stream
}

/// Write `bytes` and hang up. The daemon may hang up first, so a failed
/// write is expected and ignored.
fn send_and_hang_up(mut stream: TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Wait (up to `PATIENCE`) until the daemon closes `stream`.
#[track_caller]
fn assert_closed_by_peer(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("{what}: expected the daemon to hang up, got {n} more bytes"),
        Err(e) => panic!("{what}: expected the daemon to hang up: {e}"),
    }
}

/// Deterministic pseudo-random bytes (xorshift64), so a failure reproduces.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_param_without_equals_is_bad_usage_naming_param() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = submit(home, &d.addr, "p", &["--param", "foo", "--", "true"]);
    assert_code(&out, 2, "--param foo");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {out:?}");
    assert!(
        errors[0].contains("--param") && errors[0].contains("'foo'"),
        "the error names --param and the bad value: {out:?}"
    );
    assert!(job_ids(home, &d.addr).is_empty(), "nothing was stored");
}

#[test]
fn an_unknown_submit_flag_is_bad_usage() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let out = submit(home, &d.addr, "u", &["--bogus", "--", "true"]);
    assert_code(&out, 2, "unknown flag");
    assert!(out.stderr.contains("--bogus"), "names the flag: {out:?}");
    assert!(job_ids(home, &d.addr).is_empty(), "nothing was stored");
}

#[test]
fn a_worker_with_a_missing_or_unknown_runner_refuses_to_start() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    for runner in ["/does/not/exist", "builtin:bogus"] {
        let args = [
            "worker",
            "--group",
            "g",
            "--tracker",
            "127.0.0.1:1",
            "--runner",
            runner,
        ];
        let (code, line) = refused_start(home, &args);
        assert_eq!(code, 2, "--runner {runner}: {line}");
        assert!(line.contains(runner), "names the runner {runner}: {line}");
    }
}

#[test]
fn no_tracker_listening_exits_4_naming_the_address() {
    let sb = Sandbox::new();
    let addr = unused_addr();
    let out = lts(sb.dir.path(), &addr, &["jobs"]);
    assert_code(&out, 4, "no tracker");
    assert!(out.stderr.contains(&addr), "names {addr}: {out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
}

#[test]
fn a_second_tracker_on_a_taken_port_fails_and_the_first_keeps_serving() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let first = Daemon::tracker(home, &sb.path("data1"), "127.0.0.1:0");
    let (code, line) = refused_tracker(home, &sb.path("data2"), &first.addr);
    assert_ne!(code, 0, "{line}");
    assert!(
        line.contains("cannot listen on") && line.contains(&first.addr),
        "says it cannot listen on {}: {line}",
        first.addr
    );
    lts(home, &first.addr, &["jobs"]).ok();
}

#[test]
fn a_data_dir_under_a_regular_file_fails_naming_the_path() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let file = sb.path("f");
    std::fs::write(&file, "not a directory").expect("write f");
    let data = file.join("sub");
    let (code, line) = refused_tracker(home, &data, "127.0.0.1:0");
    assert_ne!(code, 0, "{line}");
    assert!(
        line.contains(utf8(&data)),
        "names {}: {line}",
        data.display()
    );
}

#[test]
fn a_corrupt_database_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    std::fs::create_dir_all(&data).expect("create the data dir");
    let db = data.join("lts.db");
    let garbage = vec![0xABu8; 4096];
    std::fs::write(&db, &garbage).expect("write a garbage lts.db");
    let (code, line) = refused_tracker(home, &data, "127.0.0.1:0");
    assert_ne!(code, 0, "{line}");
    assert!(
        line.contains("not an lts database or is corrupt"),
        "says the database is corrupt: {line}"
    );
    assert!(line.contains(utf8(&db)), "names the file: {line}");
    let after = std::fs::read(&db).expect("read lts.db again");
    assert!(after == garbage, "the file's bytes changed");
}

#[test]
fn a_database_from_a_newer_schema_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    std::fs::create_dir_all(&data).expect("create the data dir");
    let db = data.join("lts.db");
    rusqlite::Connection::open(&db)
        .expect("create lts.db")
        .execute_batch(
            "CREATE TABLE future (x TEXT);
             INSERT INTO future VALUES ('kept');
             PRAGMA user_version = 99;",
        )
        .expect("write a future schema");
    let (code, line) = refused_tracker(home, &data, "127.0.0.1:0");
    assert_ne!(code, 0, "{line}");
    assert!(
        line.contains("schema version 99"),
        "names the version: {line}"
    );

    let conn = rusqlite::Connection::open(&db).expect("reopen lts.db");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("read user_version");
    assert_eq!(version, 99);
    let row: String = conn
        .query_row("SELECT x FROM future", [], |r| r.get(0))
        .expect("the row is still there");
    assert_eq!(row, "kept");
}

#[test]
fn bad_submissions_never_damage_stored_jobs() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    run_true(home, &d.addr, "A");
    let before = wait_state(home, &d.addr, "A", "succeeded");
    assert_eq!(before["runs"].as_array().map(Vec::len), Some(1), "{before}");

    // The bad submissions name A, with --replace where they can, so that one
    // wrongly accepted would replace it.
    let a = |extra: &[&'static str]| {
        [&["submit", "-g", "default", "--task-id", "A"][..], extra].concat()
    };
    let bad: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["submit", "-g", "bad group", "--task-id", "A", "--", "true"],
            2,
            "--group",
        ),
        (a(&["--", "sh", "-c", "exit 9"]), 1, "--replace"),
        (vec!["cancel", "nope"], 3, "nope"),
        (
            a(&[
                "--replace",
                "--repeat-count",
                "3",
                "--repeat-interval",
                "0s",
            ]),
            2,
            "--repeat-interval",
        ),
        (a(&["--replace", "--cron", "* *"]), 2, "--cron"),
        (
            a(&["--replace", "--tz", "Mars/Olympus", "--cron", "0 * * * * ?"]),
            2,
            "--tz",
        ),
    ];
    for (args, code, names) in &bad {
        let out = lts(home, &d.addr, args);
        assert_code(&out, *code, &args.join(" "));
        assert!(
            out.stderr.contains(names),
            "{args:?} names {names}: {out:?}"
        );
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
    }

    run_true(home, &d.addr, "B");
    assert_eq!(job_json(home, &d.addr, "A"), before, "job A changed");
    assert_eq!(job_ids(home, &d.addr), ["A", "B"]);
}

/// SPEC: a bad cron is bad input (exit 2), and "a value in both day fields is
/// an error". An impossible expression must be refused before `--replace`
/// deletes the job it names.
#[test]
fn a_cron_with_impossible_fields_is_refused_and_replaces_nothing() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    run_true(home, &d.addr, "A");
    let before = wait_state(home, &d.addr, "A", "succeeded");
    for expr in ["99 99 99 99 99 ?", "a b c d e f", "0 0 12 5 * 3"] {
        let out = submit(home, &d.addr, "A", &["--replace", "--cron", expr]);
        assert_code(&out, 2, &format!("--cron '{expr}'"));
        assert!(out.stderr.contains("--cron"), "names --cron: {out:?}");
        let after = job_json(home, &d.addr, "A");
        assert_eq!(after, before, "job A changed by --cron '{expr}'");
    }
}

#[test]
fn a_job_for_a_group_without_workers_waits_queued_with_a_note() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let args = [
        "submit",
        "-g",
        "nobody",
        "--task-id",
        "lonely",
        "--",
        "true",
    ];
    assert_code(&lts(home, &d.addr, &args), 0, "submit to nobody");
    let job = wait_state(home, &d.addr, "lonely", "queued");
    let note = "no worker of group 'nobody' is connected";
    assert!(
        job["note"].as_str().is_some_and(|n| n.contains(note)),
        "the note says why: {job}"
    );
    let table = lts(home, &d.addr, &["job", "lonely"]);
    let shown = table
        .ok()
        .lines()
        .find(|l| l.starts_with("note:"))
        .unwrap_or_else(|| panic!("a note line: {table:?}"));
    assert!(shown.contains(note), "{shown}");
}

#[test]
fn peers_sending_garbage_never_take_the_daemon_down() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let mut d = Daemon::standalone(home, &sb.path("data"), &[]);
    let addr = d.addr.clone();

    // (a) random bytes, then hang up.
    send_and_hang_up(dial(&addr), &garbage(4096, 1));
    assert_serves(home, &mut d, "after-random-bytes");

    // (b) a length prefix of 4 GiB - 1, then hang up.
    send_and_hang_up(dial(&addr), &u32::MAX.to_be_bytes());
    assert_serves(home, &mut d, "after-huge-length");

    // (c) a valid length prefix with a body that is not JSON.
    let mut not_json = 32u32.to_be_bytes().to_vec();
    not_json.extend(garbage(32, 3));
    send_and_hang_up(dial(&addr), &not_json);
    assert_serves(home, &mut d, "after-non-json");

    // (d) connect and hang up at once.
    drop(dial(&addr));
    assert_serves(home, &mut d, "after-empty-connection");

    // (e) a good handshake, then garbage where tarpc frames belong: one
    // well-framed message that is not bincode, then raw bytes.
    let mut stream = dial(&addr);
    stream
        .write_all(&hello(lts::protocol::PROTOCOL_VERSION))
        .expect("send a hello");
    let welcome = read_frame(&mut stream);
    assert!(welcome["error"].is_null(), "accepted: {welcome}");
    let mut frames = 64u32.to_be_bytes().to_vec();
    frames.extend(garbage(64, 5));
    frames.extend(garbage(4096, 6));
    send_and_hang_up(stream, &frames);
    assert_serves(home, &mut d, "after-garbage-rpc");

    // (f) half a handshake frame, then hang up.
    let half = hello(1);
    send_and_hang_up(dial(&addr), &half[..half.len() / 2]);
    assert_serves(home, &mut d, "after-half-frame");
}

#[test]
fn a_silent_peer_blocks_no_one_and_is_dropped() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let mut d = Daemon::standalone(home, &sb.path("data"), &[]);
    let mut stream = dial(&d.addr);
    let half = hello(1);
    stream
        .write_all(&half[..half.len() / 2])
        .expect("send half a hello");
    // While that connection hangs, everyone else is served...
    assert_serves(home, &mut d, "beside-a-silent-peer");
    // ...and the daemon hangs up on it after its handshake timeout.
    assert_closed_by_peer(&mut stream, "a peer that never finishes its hello");
}

#[test]
fn a_peer_speaking_another_protocol_is_told_why_and_the_daemon_stays_up() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let mut d = Daemon::standalone(home, &sb.path("data"), &[]);
    let mut stream = dial(&d.addr);
    stream.write_all(&hello(999)).expect("send a hello");
    let welcome = read_frame(&mut stream);
    let error = welcome["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error field: {welcome}"));
    assert!(error.contains("protocol"), "{error}");
    assert!(error.contains("999"), "names the peer's protocol: {error}");
    assert_closed_by_peer(&mut stream, "a refused peer");
    assert_serves(home, &mut d, "after-protocol-mismatch");
}

#[test]
fn an_ambiguous_task_id_needs_a_group() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    for group in ["a", "b"] {
        let args = ["submit", "-g", group, "--task-id", "twin", "--", "true"];
        assert_code(&lts(home, &d.addr, &args), 0, &format!("twin in {group}"));
    }
    let out = lts(home, &d.addr, &["job", "twin"]);
    assert_code(&out, 2, "ambiguous id");
    assert!(
        out.stderr.contains("pass --group"),
        "says to pass --group: {out:?}"
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {out:?}");
    let job = lts(
        home,
        &d.addr,
        &["-o", "json", "job", "twin", "--group", "a"],
    )
    .json();
    assert_eq!(job["group"], "a");
    assert_eq!(job["task_id"], "twin");
}

#[test]
fn durations_and_times_past_any_sane_bound_are_refused_and_harm_nothing() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    for (flags, field) in [
        (
            &["--repeat-count", "3", "--repeat-interval", "100000000000d"][..],
            "--repeat-interval",
        ),
        (&["--delay", "1000000000000d"][..], "--delay"),
        (&["--timeout", "1000000000000d"][..], "--timeout"),
        (&["--at", "99999-01-01T00:00:00Z"][..], "--at"),
    ] {
        let mut args = vec!["submit", "-g", "default"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "true"]);
        let out = lts(home, &d.addr, &args);
        assert_eq!(out.code, 2, "{flags:?}: {out:?}");
        assert!(
            out.stderr.contains(field),
            "{flags:?} names {field}: {out:?}"
        );
    }
    // The longest allowed interval is fine, and listing it does not fail.
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--task-id",
            "slow",
            "--repeat-count",
            "3",
            "--repeat-interval",
            "36000d",
            "--",
            "true",
        ],
    )
    .ok();
    let fires = lts(home, &d.addr, &["-o", "json", "job", "slow"]).json()["next_fires"]
        .as_array()
        .map(Vec::len);
    // The first tick fires at once; the rest are far ahead.
    assert!(matches!(fires, Some(2 | 3)), "{fires:?}");
    lts(home, &d.addr, &["jobs"]).ok();
    assert!(!d.log().contains("panicked"), "{}", d.log());
    let other = sb.path("other");
    let args = ["standalone", "--lease", "1s", "--data", utf8(&other)];
    let mut bad_lease = Daemon::start(home, &args, false);
    assert_eq!(bad_lease.wait_exit(PROMPTLY).code(), Some(2));
    assert!(
        bad_lease.log().contains("a lease must be from 5s"),
        "{}",
        bad_lease.log()
    );
}

#[test]
fn a_huge_output_line_is_cut_not_buffered_whole() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let script = "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo after";
    lts(
        home,
        &d.addr,
        &[
            "submit",
            "-g",
            "default",
            "--wait",
            "--task-id",
            "wide",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .ok();
    let logs = lts(home, &d.addr, &["logs", "wide"]);
    let lines: Vec<&str> = logs.ok().lines().collect();
    assert_eq!(lines.len(), 2, "the cut line, then the next");
    assert!(
        lines[0].len() < 70_000 && lines[0].ends_with("[lts: line cut at 64 KiB]"),
        "{}",
        lines[0].len()
    );
    assert_eq!(lines[1], "after");
}
