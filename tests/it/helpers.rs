//! Starts the real `ltsd` and `lts` binaries for the tests: daemons listen on
//! port 0 in a temporary data dir and the test reads the bound address from
//! their log; every wait is bounded and polls for state, never sleeps blind.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const LTS: &str = env!("CARGO_BIN_EXE_lts");
pub const LTSD: &str = env!("CARGO_BIN_EXE_ltsd");

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A temporary directory that also isolates the config dir.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write an executable script and return its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod script");
        }
        path
    }
}

/// Environment that keeps the binaries away from the user's own config.
fn isolate(cmd: &mut Command, home: &Path) {
    cmd.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HOME", home)
        .env_remove("LTS_TRACKER")
        .env_remove("LTS_REGISTRY")
        .env_remove("LTS_TOKEN")
        .env_remove("LTS_TLS_CA")
        .env_remove("LTS_DATA")
        // Every tracker serves its console on a port of its own.
        .env("LTS_HTTP", "127.0.0.1:0")
        .env("RUST_LOG", "info,tarpc=warn");
}

/// A running daemon process whose stderr is collected.
pub struct Daemon {
    pub child: Child,
    /// The tracker address it listens on, if it is a tracker.
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Start `ltsd ARGS`; when `listens`, wait until it says where it listens.
    pub fn start(home: &Path, args: &[&str], listens: bool) -> Daemon {
        Daemon::start_with(home, args, listens, |_| {})
    }

    /// As `start`, with `prepare` adjusting the command first (its
    /// environment, limits set before exec).
    pub fn start_with(
        home: &Path,
        args: &[&str],
        listens: bool,
        prepare: impl FnOnce(&mut Command),
    ) -> Daemon {
        let mut cmd = Command::new(LTSD);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        isolate(&mut cmd, home);
        prepare(&mut cmd);
        let mut child = cmd.spawn().expect("start ltsd");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut daemon = Daemon {
            child,
            addr: String::new(),
            log,
        };
        if listens {
            daemon.addr = daemon.wait_for_log("tracker listening", |line| {
                line.split("address=").nth(1).map(|a| a.trim().to_string())
            });
        }
        daemon
    }

    /// `ltsd standalone` on port 0 in `data`, running job commands.
    pub fn standalone(home: &Path, data: &Path, extra: &[&str]) -> Daemon {
        let data = data.to_str().unwrap();
        let mut args = vec![
            "standalone",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--allow-commands",
        ];
        args.extend_from_slice(extra);
        Daemon::start(home, &args, true)
    }

    /// `ltsd tracker` on `listen` in `data`.
    pub fn tracker(home: &Path, data: &Path, listen: &str) -> Daemon {
        Daemon::tracker_with(home, data, listen, &[])
    }

    /// `ltsd tracker` on `listen` in `data`, with `extra` flags.
    pub fn tracker_with(home: &Path, data: &Path, listen: &str, extra: &[&str]) -> Daemon {
        let data = data.to_str().unwrap();
        let args = [&["tracker", "--listen", listen, "--data", data][..], extra].concat();
        Daemon::start(home, &args, true)
    }

    /// `ltsd registry` on `listen` in `data`, with a short TTL and `extra` flags.
    pub fn registry(home: &Path, data: &Path, listen: &str, extra: &[&str]) -> Daemon {
        let data = data.to_str().unwrap();
        let mut args = vec!["registry", "--listen", listen, "--data", data];
        args.extend_from_slice(extra);
        let mut daemon = Daemon::start(home, &args, false);
        daemon.addr = daemon.wait_for_log("registry listening", |line| {
            let rest = line.split("address=").nth(1)?;
            rest.split_whitespace().next().map(String::from)
        });
        daemon
    }

    /// `ltsd tracker` on port 0 in `data`, registered with `registry`.
    pub fn tracker_registered(home: &Path, data: &Path, registry: &str) -> Daemon {
        let data = data.to_str().unwrap();
        let args = [
            "tracker",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--registry",
            registry,
        ];
        Daemon::start(home, &args, true)
    }

    /// `ltsd worker` for `group` that finds its trackers through `registry`.
    pub fn worker_via_registry(home: &Path, registry: &str, group: &str, extra: &[&str]) -> Daemon {
        let mut args = vec!["worker", "--registry", registry, "--group", group];
        args.extend_from_slice(extra);
        let daemon = Daemon::start(home, &args, false);
        daemon.wait_for_log("worker starting", |_| Some(()));
        daemon
    }

    /// The console's base URL (`http://127.0.0.1:PORT/`), as the tracker logged it.
    pub fn console_url(&self) -> String {
        self.wait_for_log("console listening", |line| {
            let rest = line.split("url=").nth(1)?;
            rest.split_whitespace().next().map(String::from)
        })
    }

    /// A worker's `--http` base URL, as it logged it.
    pub fn worker_http_url(&self) -> String {
        self.wait_for_log("worker http listening", |line| {
            let rest = line.split("url=").nth(1)?;
            rest.split_whitespace().next().map(String::from)
        })
    }

    /// This worker's node id, as it logged it.
    pub fn worker_id(&self) -> String {
        self.wait_for_log("worker starting", |line| {
            let rest = line.split("worker=").nth(1)?;
            rest.split_whitespace().next().map(String::from)
        })
    }

    /// `ltsd worker` for `group` pulling from `tracker`.
    pub fn worker(home: &Path, tracker: &str, group: &str, extra: &[&str]) -> Daemon {
        let mut args = vec!["worker", "--tracker", tracker, "--group", group];
        args.extend_from_slice(extra);
        let daemon = Daemon::start(home, &args, false);
        daemon.wait_for_log("worker starting", |_| Some(()));
        daemon
    }

    /// Wait until a log line contains `needle`, and map it.
    pub fn wait_for_log<T>(&self, needle: &str, f: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self
                .log
                .lock()
                .unwrap()
                .lines()
                .filter(|l| l.contains(needle))
                .find_map(&f)
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "ltsd never logged '{needle}'; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling a child process this test started.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "ltsd did not exit within {within:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn term(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(PATIENCE)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an `lts` invocation did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert exit 0 and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "lts failed: {self:?}");
        &self.stdout
    }

    /// Parse stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok().trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Run `lts ARGS` against `tracker`, bounded in time.
pub fn lts(home: &Path, tracker: &str, args: &[&str]) -> Out {
    lts_env(home, tracker, &[], args)
}

/// `lts ARGS`, for a command that may take long (a big `submit --file`).
pub fn lts_within(home: &Path, tracker: &str, args: &[&str], within: Duration) -> Out {
    lts_cmd(home, tracker, &[], args, within)
}

/// `lts ARGS` with extra environment variables.
pub fn lts_env(home: &Path, tracker: &str, env: &[(&str, &str)], args: &[&str]) -> Out {
    lts_cmd(home, tracker, env, args, PATIENCE)
}

fn lts_cmd(
    home: &Path,
    tracker: &str,
    env: &[(&str, &str)],
    args: &[&str],
    within: Duration,
) -> Out {
    let mut cmd = Command::new(LTS);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    isolate(&mut cmd, home);
    if !tracker.is_empty() {
        cmd.env("LTS_TRACKER", tracker);
    }
    cmd.env("RUST_LOG", "warn");
    cmd.envs(env.iter().copied());
    let child = cmd.spawn().expect("start lts");
    wait_output(child, within)
}

/// Run `ltsd ARGS` to its end (for commands that exit, or roles that refuse
/// to start), bounded in time.
pub fn ltsd(home: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(LTSD);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    isolate(&mut cmd, home);
    let child = cmd.spawn().expect("start ltsd");
    wait_output(child, PATIENCE)
}

/// Start `lts ARGS` and hand back each line it prints as it comes (for
/// `--follow`); collect the rest with `wait_output`.
pub fn spawn_lines(
    home: &Path,
    tracker: &str,
    args: &[&str],
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut cmd = Command::new(LTS);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    isolate(&mut cmd, home);
    if !tracker.is_empty() {
        cmd.env("LTS_TRACKER", tracker);
    }
    cmd.env("RUST_LOG", "warn");
    let mut child = cmd.spawn().expect("start lts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Collect a child's output, killing it if it outlives `within`.
pub fn wait_output(mut child: Child, within: Duration) -> Out {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut out = String::new();
        let mut err = String::new();
        let err_thread = std::thread::spawn(move || {
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            err
        });
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut out);
        }
        let err = err_thread.join().unwrap_or_default();
        let _ = tx.send((out, err));
    });
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let (stdout, stderr) = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
            return Out {
                code: status.code().unwrap_or(-1),
                stdout,
                stderr,
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {pid} did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Poll `check` until it returns `Some`, failing after `PATIENCE`.
#[track_caller]
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A job's JSON (`lts -o json job ID`), with its runs put oldest first so
/// that tests read a job's history in the order it happened (`lts` prints
/// them newest first; `cli::runs_are_newest_first` checks that).
pub fn job_json(home: &Path, tracker: &str, id: &str) -> serde_json::Value {
    let mut job = lts(home, tracker, &["-o", "json", "job", id]).json();
    if let Some(runs) = job["runs"].as_array_mut() {
        runs.reverse();
    }
    job
}

/// Wait until a job reaches `state`.
#[track_caller]
pub fn wait_state(home: &Path, tracker: &str, id: &str, state: &str) -> serde_json::Value {
    eventually(&format!("job {id} to be {state}"), || {
        let job = job_json(home, tracker, id);
        (job["state"] == state).then_some(job)
    })
}
