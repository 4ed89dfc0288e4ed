//! Runs a job as a child process in its own process group: the job JSON on
//! stdin, params and run facts in the environment, every stdout/stderr line
//! to the run's log. Stopping it signals the whole group: SIGTERM, then
//! SIGKILL after a grace.

use super::runner::{RunContext, RunLog};
use crate::model::{RunOutcome, Stream};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

/// How long a stopped run has between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long output may keep coming after the main process exited
/// (a background child holding the pipes open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// Lines longer than this are cut.
const MAX_LINE: usize = 64 * 1024;

/// How a process run ended.
pub struct Ended {
    pub outcome: RunOutcome,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// The environment variable that carries param `key`.
pub fn param_var(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("LTS_PARAM_{cleaned}")
}

/// Why a run is being stopped before it ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The tracker no longer assigns the run here (cancelled, replaced).
    Cancel,
    /// It ran past its `--timeout`.
    Timeout,
    /// The worker is stopping and gives the run back to run elsewhere.
    GiveBack,
}

/// Run `program args` for `ctx`, until it exits or `stop` says why not.
pub async fn run(
    program: &str,
    args: &[String],
    ctx: &RunContext,
    log: Arc<RunLog>,
    mut stop: watch::Receiver<Option<Stop>>,
) -> Ended {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LTS_TASK_ID", &ctx.task_id)
        .env("LTS_GROUP", &ctx.group)
        .env("LTS_RUN", ctx.run.to_string())
        .env("LTS_ATTEMPT", ctx.attempt.to_string())
        .env("LTS_SCHEDULED_AT", &ctx.scheduled_at)
        .env("LTS_RUN_ID", ctx.run_id())
        .kill_on_drop(true);
    for (key, value) in &ctx.params {
        cmd.env(param_var(key), value);
    }
    if let (Some(shard), Some(shards)) = (ctx.shard, ctx.shards) {
        cmd.env("LTS_SHARD", shard.to_string())
            .env("LTS_SHARDS", shards.to_string());
    }
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Ended {
                outcome: RunOutcome::Failed,
                exit_code: None,
                reason: Some(format!("cannot start {program}: {e}")),
            }
        }
    };
    let pgid = child.id().map(|id| id as i32);
    if let Some(mut stdin) = child.stdin.take() {
        let body = serde_json::to_vec(ctx).unwrap_or_default();
        tokio::spawn(async move {
            // A runner that does not read stdin closes it; that is fine.
            let _ = stdin.write_all(&body).await;
            let _ = stdin.write_all(b"\n").await;
        });
    }
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(pump(out, Stream::Stdout, log.clone()))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(pump(err, Stream::Stderr, log.clone()))),
    ];
    let mut was_stopped = false;
    let status = tokio::select! {
        status = child.wait() => status,
        _ = stopped(&mut stop) => {
            was_stopped = true;
            signal_group(pgid, Signal::Term);
            match tokio::time::timeout(KILL_GRACE, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    signal_group(pgid, Signal::Kill);
                    child.wait().await
                }
            }
        }
    };
    if was_stopped {
        // Whatever is left of a stopped run's group goes with its leader.
        signal_group(pgid, Signal::Kill);
    }
    for reader in readers.into_iter().flatten() {
        let abort = reader.abort_handle();
        if tokio::time::timeout(DRAIN_AFTER_EXIT, reader)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    match status {
        Ok(status) if was_stopped => Ended {
            outcome: RunOutcome::Cancelled,
            exit_code: status.code(),
            reason: Some("stopped".into()),
        },
        Ok(status) => {
            let code = status.code();
            Ended {
                outcome: if status.success() {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::Failed
                },
                exit_code: code,
                reason: match code {
                    Some(0) => None,
                    Some(c) => Some(format!("exited with code {c}")),
                    None => Some(signal_reason(&status)),
                },
            }
        }
        Err(e) => Ended {
            outcome: RunOutcome::Failed,
            exit_code: None,
            reason: Some(format!("lost track of the process: {e}")),
        },
    }
}

/// Resolve once `stop` names a reason (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<Option<Stop>>) {
    let _ = stop.wait_for(|s| s.is_some()).await;
}

/// Send each line of `io` to the run's log. A line is kept to `MAX_LINE`
/// bytes as it is read (the rest is dropped up to its newline), so one huge
/// line cannot grow the worker's memory.
async fn pump(io: impl AsyncRead + Unpin, stream: Stream, log: Arc<RunLog>) {
    let mut reader = BufReader::new(io);
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let (used, ended) = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => {
                let newline = chunk.iter().position(|b| *b == b'\n');
                let part = &chunk[..newline.unwrap_or(chunk.len())];
                let room = MAX_LINE.saturating_sub(line.len());
                line.extend_from_slice(&part[..part.len().min(room)]);
                cut |= part.len() > room;
                (newline.map_or(chunk.len(), |i| i + 1), newline.is_some())
            }
        };
        reader.consume(used);
        if ended {
            emit(&mut line, &mut cut, stream, &log);
        }
    }
    if !line.is_empty() || cut {
        emit(&mut line, &mut cut, stream, &log);
    }
}

fn emit(line: &mut Vec<u8>, cut: &mut bool, stream: Stream, log: &RunLog) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut text = String::from_utf8_lossy(line).into_owned();
    if *cut {
        text.push_str(" [lts: line cut at 64 KiB]");
    }
    log.line(stream, text);
    line.clear();
    *cut = false;
}

enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pgid: Option<i32>, signal: Signal) {
    let Some(pgid) = pgid.filter(|p| *p > 0) else {
        return;
    };
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) with a negative pid signals the process group this
    // worker created for the run; it has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

#[cfg(not(unix))]
fn signal_group(_pgid: Option<i32>, _signal: Signal) {}

#[cfg(unix)]
fn signal_reason(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(sig) => format!("killed by signal {sig}"),
        None => "ended without an exit code".into(),
    }
}

#[cfg(not(unix))]
fn signal_reason(_status: &std::process::ExitStatus) -> String {
    "ended without an exit code".into()
}
