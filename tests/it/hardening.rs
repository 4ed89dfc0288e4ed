//! What an attacker or a clumsy operator tries: filling every connection
//! slot, announcing huge frames, leaving connections idle, and the like.
//! Each test holds the daemon to a bound it must keep.

use crate::helpers::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// One handshake frame: a length, then JSON.
fn frame(value: &serde_json::Value) -> Vec<u8> {
    let body = serde_json::to_vec(value).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// A plain (tokenless) handshake as `role`: the stream, or why not.
fn handshake(addr: &str, role: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let hello = frame(&serde_json::json!({
        "magic": "lts",
        "protocol": lts::protocol::PROTOCOL_VERSION,
        "role": role,
        "version": "x",
        "nonce": "",
    }));
    stream.write_all(&hello).map_err(|e| e.to_string())?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; u32::from_be_bytes(len).min(1 << 16) as usize];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    let welcome: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    match welcome["error"].as_str() {
        Some(error) => Err(error.to_string()),
        None => Ok(stream),
    }
}

/// Limit the daemon to `n` open files, soft and hard, before it starts.
fn open_files(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only this child.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The daemon's resident memory, in bytes.
fn rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn idle_connections_never_lock_lts_out() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    // Under a small table of open files, with a small cap.
    let tracker = Daemon::start_with(
        home,
        &[
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--max-connections",
            "16",
        ],
        true,
        |cmd| open_files(cmd, 128),
    );
    // Workers (or anyone) take every slot they can and sit idle.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        match handshake(&tracker.addr, "worker") {
            Ok(stream) => held.push(stream),
            Err(_) => refused += 1,
        }
    }
    assert!(held.len() < 16, "the cap holds: {} held", held.len());
    assert!(refused > 150, "{refused} refused");
    // lts still gets in, on the slot kept for it, again and again.
    for _ in 0..3 {
        let out = lts(home, &tracker.addr, &["jobs"]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    // And the log says so in a few lines, not one per refusal.
    let log = tracker.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("refused connection"))
        .count();
    assert!(
        (1..=4).contains(&lines),
        "{lines} lines of refusals:\n{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
    drop(held);
}

#[test]
fn a_connection_idle_after_its_handshake_is_closed_but_a_long_poll_is_not() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker_with(
        home,
        &sb.path("data"),
        "127.0.0.1:0",
        &["--idle-timeout", "1s"],
    );
    let mut idle = handshake(&tracker.addr, "client").expect("handshake");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = idle.read(&mut buf);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "closed by the tracker: {read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // A waiting submit long-polls for longer than the idle timeout and lives.
    let (waiting, _lines) = spawn_lines(
        home,
        &tracker.addr,
        &[
            "submit",
            "--wait",
            "-g",
            "g",
            "--task-id",
            "waits",
            "--",
            "true",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let _worker = Daemon::worker(home, &tracker.addr, "g", &["--allow-commands"]);
    let out = wait_output(waiting, PATIENCE);
    assert_eq!(out.code, 0, "the wait outlived the idle timeout: {out:?}");
}

#[test]
fn huge_frames_do_not_pin_memory() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    // Let the tracker settle, then take its measure.
    lts(home, &tracker.addr, &["jobs"]).ok();
    let before = rss(tracker.pid());
    // Sixteen connections each announce a frame of 60 MiB and send 16 MiB of it.
    let sent = 16 << 20;
    let chunk = vec![0x5au8; 1 << 20];
    let mut held = Vec::new();
    for _ in 0..16 {
        let Ok(mut stream) = handshake(&tracker.addr, "client") else {
            continue;
        };
        let _ = stream.write_all(&(60u32 << 20).to_be_bytes());
        for _ in 0..sent / chunk.len() {
            if stream.write_all(&chunk).is_err() {
                break; // closed by the tracker: over its budget
            }
        }
        held.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss(tracker.pid());
    let grown = after.saturating_sub(before);
    assert!(
        grown < 128 << 20,
        "RSS grew by {} MiB (from {} MiB)",
        grown >> 20,
        before >> 20
    );
    // And it still serves.
    assert_eq!(lts(home, &tracker.addr, &["jobs"]).code, 0);
    drop(held);
}

#[test]
fn a_call_whose_deadline_overflows_the_clock_is_refused_without_a_panic() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let tracker = Daemon::tracker(home, &sb.path("data"), "127.0.0.1:0");
    // A request frame (found by the `frames` fuzzer) whose context deadline
    // is 2^63 seconds away: decoding adds it to the clock.
    let mut stream = handshake(&tracker.addr, "client").expect("handshake");
    let call = [
        0u8, 0, 0, 16, 0, 253, 255, 255, 255, 255, 7, 2, 193, 193, 193, 193, 3, 225, 98, 99,
    ];
    stream.write_all(&call).expect("send the call");
    // The tracker closes the connection rather than answer.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert_eq!(
        lts(home, &tracker.addr, &["jobs"]).code,
        0,
        "it still serves"
    );
    let log = tracker.log();
    assert!(
        !log.contains("panicked"),
        "a peer's bytes made it panic:\n{log}"
    );
}

#[test]
fn an_empty_store_file_is_refused_unless_init() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("lts.db");
    std::fs::write(&db, b"").unwrap();
    let args = [
        "tracker",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
    ];
    let out = ltsd(home, &args);
    assert_ne!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {out:?}");
    assert!(
        lines[0].contains("empty (0 bytes)") && lines[0].contains("--init"),
        "{out:?}"
    );
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");

    // --init says to begin afresh; after that the store is an ordinary one.
    let mut d = Daemon::tracker_with(home, &data, "127.0.0.1:0", &["--init"]);
    lts(
        home,
        &d.addr,
        &["submit", "-g", "g", "--task-id", "kept", "--", "true"],
    )
    .ok();
    d.term();
    let d = Daemon::tracker(home, &data, "127.0.0.1:0");
    assert_eq!(job_json(home, &d.addr, "kept")["task_id"], "kept");
}

/// `lts --data DATA ARGS` with no tracker, `prepare` adjusting the command.
fn lts_offline(
    home: &std::path::Path,
    data: &std::path::Path,
    args: &[&str],
    prepare: impl FnOnce(&mut Command),
) -> Out {
    let mut cmd = Command::new(LTS);
    cmd.args(
        [
            &["--data", data.to_str().unwrap(), "--tracker", "127.0.0.1:9"][..],
            args,
        ]
        .concat(),
    )
    .env("XDG_CONFIG_HOME", home.join("config"))
    .env("HOME", home)
    .env("RUST_LOG", "warn")
    .env_remove("LTS_TRACKER")
    .env_remove("LTS_TOKEN")
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    prepare(&mut cmd);
    wait_output(cmd.spawn().expect("start lts"), PATIENCE)
}

/// Let the process write no byte beyond the end of any file: a full disk.
fn full_disk(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal and setrlimit are async-signal-safe and touch only this child.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn the_spool_lists_on_a_full_disk_and_refuses_an_empty_or_corrupt_file_in_one_line() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let data = sb.path("data");
    let spooled = lts_offline(
        home,
        &data,
        &[
            "submit",
            "--spool",
            "-g",
            "g",
            "--task-id",
            "waiting",
            "--",
            "true",
        ],
        |_| {},
    );
    assert_eq!(spooled.code, 0, "{spooled:?}");

    let listed = lts_offline(home, &data, &["-o", "json", "spool", "list"], full_disk);
    assert_eq!(listed.code, 0, "lists on a full disk: {listed:?}");
    assert!(listed.stdout.contains("waiting"), "{listed:?}");

    let one_line = |out: &Out, needle: &str| {
        assert_eq!(out.code, 1, "{out:?}");
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "one line: {out:?}");
        assert!(lines[0].contains(needle), "'{needle}' in {out:?}");
    };
    let spool = data.join("spool.db");
    std::fs::write(&spool, vec![0x41u8; 8192]).unwrap();
    one_line(
        &lts_offline(home, &data, &["spool", "list"], |_| {}),
        "spool.db",
    );
    std::fs::write(&spool, b"").unwrap();
    one_line(
        &lts_offline(home, &data, &["spool", "list"], |_| {}),
        "empty (0 bytes)",
    );
    let submit = lts_offline(
        home,
        &data,
        &["submit", "--spool", "-g", "g", "--", "true"],
        |_| {},
    );
    one_line(&submit, "empty (0 bytes)");
    assert_eq!(
        std::fs::metadata(&spool).unwrap().len(),
        0,
        "left as it was"
    );
}

#[test]
fn echoed_input_is_quoted_and_cut() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let d = Daemon::standalone(home, &sb.path("data"), &[]);
    let long = "x".repeat(100_000);
    for args in [
        vec!["submit", "-g", "g", "--task-id", &long, "--", "true"],
        vec!["submit", "-g", &long, "--", "true"],
        vec!["job", &long],
        vec!["submit", "-g", "g", "--cron", &long, "--", "true"],
        vec![
            "submit",
            "-g",
            "g",
            "--cron",
            "0 0 * * *",
            "--tz",
            &long,
            "--",
            "true",
        ],
    ] {
        let out = lts(home, &d.addr, &args);
        assert_ne!(out.code, 0, "{args:?}");
        let line = out.stderr.trim();
        assert_eq!(
            line.lines().count(),
            1,
            "one line: {}",
            &line[..line.len().min(500)]
        );
        assert!(line.len() < 600, "{} bytes: {}…", line.len(), &line[..500]);
        assert!(line.contains("'xxx"), "quoted: {line}");
    }
}

/// Jobs near the per-job limit travel in calls cut by bytes: 100 jobs of
/// 700 KB (70 MB in all, more than one 64 MiB frame) are submitted from a
/// file, listed, and run, where one call each used to exceed the frame.
#[test]
fn big_jobs_go_in_calls_cut_by_bytes() {
    let sb = Sandbox::new();
    let home = sb.dir.path();
    let t = Daemon::tracker(home, &sb.path("tracker"), "127.0.0.1:0");
    let blob = "x".repeat(700 * 1024);
    let lines: String = (0..100)
        .map(|i| format!("{{\"group\": \"big\", \"task_id\": \"big-{i:03}\", \"params\": {{\"blob\": \"{blob}\"}}}}\n"))
        .collect();
    let file = sb.path("big.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = lts_within(
        home,
        &t.addr,
        &["-o", "json", "submit", "--file", file.to_str().unwrap()],
        PATIENCE * 4,
    );
    let doc = out.json();
    assert_eq!(
        doc["submitted"].as_array().map(Vec::len),
        Some(100),
        "{}",
        &out.stderr
    );
    // A list page stops short of the frame, and says how many there are.
    let listed = lts(home, &t.addr, &["-o", "json", "jobs", "--limit", "100"]);
    let page = listed.json();
    let shown = page.as_array().map_or(0, Vec::len);
    assert!(
        (1..100).contains(&shown),
        "a page of {shown} jobs of 700 KB"
    );
    // One worker with slots for all of them pulls them in several pulls.
    let _w = Daemon::worker(
        home,
        &t.addr,
        "big",
        &["--runner", "builtin:noop", "--threads", "100"],
    );
    eventually("every big job to run", || {
        let stats = lts(home, &t.addr, &["-o", "json", "stats", "-g", "big"]).json();
        (stats["total"]["jobs"]["succeeded"] == 100).then_some(())
    });
    let lost = lts(home, &t.addr, &["-o", "json", "job", "big-000"]).json();
    assert_eq!(
        lost["runs"].as_array().map(Vec::len),
        Some(1),
        "run once, never lost: {lost}"
    );
}
