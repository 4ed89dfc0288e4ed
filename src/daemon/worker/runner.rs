//! What runs a job on a worker: an external program (`--runner PATH`), the
//! job's own command (`--allow-commands`), a built-in runner, or a Rust
//! `JobRunner` of a program that embeds the worker.

use super::outbox::Outbox;
use crate::model::{Part, Stream};
use crate::protocol::{Dispatch, Upstream};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a runner knows about the run it is given. It is also the JSON a
/// runner program reads on stdin.
#[derive(Debug, Clone, Serialize)]
pub struct RunContext {
    pub task_id: String,
    pub group: String,
    pub params: BTreeMap<String, String>,
    pub command: Vec<String>,
    /// The run's number within its job (stable across retries of one tick).
    pub run: u32,
    pub attempt: u32,
    /// When the run was scheduled, RFC 3339.
    pub scheduled_at: String,
    /// For a shard of a sharded job (`--shards N`): its number, 0 to N-1
    /// (`LTS_SHARD`), and N (`LTS_SHARDS`).
    pub shard: Option<u32>,
    pub shards: Option<u32>,
}

impl RunContext {
    /// An id for this run that stays the same across its retries:
    /// `GROUP/TASK_ID/RUN`. Runners use it to be idempotent.
    pub fn run_id(&self) -> String {
        format!("{}/{}/{}", self.group, self.task_id, self.run)
    }

    pub fn from_dispatch(d: &Dispatch) -> Self {
        RunContext {
            task_id: d.job.task_id.clone(),
            group: d.job.group.clone(),
            params: d.job.params.clone(),
            command: d.job.command.clone(),
            run: d.run,
            attempt: d.attempt,
            scheduled_at: crate::model::rfc3339(d.scheduled_at),
            shard: d.part.shard(),
            shards: match d.part {
                Part::Shard { of, .. } => Some(of),
                _ => None,
            },
        }
    }
}

/// The run's log (LTS's BizLogger): lines go to the tracker in order, and
/// `lts logs` shows them.
pub struct RunLog {
    run_id: i64,
    seq: AtomicU64,
    outbox: Outbox,
}

impl RunLog {
    pub(crate) fn new(run_id: i64, outbox: Outbox) -> Self {
        RunLog {
            run_id,
            seq: AtomicU64::new(0),
            outbox,
        }
    }

    /// A line on the run's stdout.
    pub fn info(&self, line: impl Into<String>) {
        self.line(Stream::Stdout, line.into());
    }

    /// A line on the run's stderr.
    pub fn error(&self, line: impl Into<String>) {
        self.line(Stream::Stderr, line.into());
    }

    pub(crate) fn line(&self, stream: Stream, line: String) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        self.outbox.send(Upstream::Log {
            run_id: self.run_id,
            seq,
            stream,
            line,
            at: crate::model::now_ms(),
        });
    }
}

/// A job runner inside the worker's process. `run` is called on a blocking
/// thread; `Ok` is success, `Err` a failure with its message.
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, job: &RunContext, log: &RunLog) -> Result<(), String>;
}

/// The worker's runner, from `--runner`.
#[derive(Clone)]
pub enum Runner {
    /// No runner: only jobs with their own command (with `--allow-commands`).
    None,
    /// An external program: the job as JSON on stdin, params in the environment.
    Program(PathBuf),
    /// `builtin:noop`: succeed at once.
    Noop,
    /// `builtin:sleep:DUR`: sleep, then succeed.
    Sleep(Duration),
    /// A Rust runner of an embedding program.
    InProcess(Arc<dyn JobRunner>),
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runner::None => write!(f, "none"),
            Runner::Program(p) => write!(f, "{}", p.display()),
            Runner::Noop => write!(f, "builtin:noop"),
            Runner::Sleep(d) => write!(f, "builtin:sleep:{d:?}"),
            Runner::InProcess(_) => write!(f, "in-process"),
        }
    }
}

impl Runner {
    /// Parse `--runner`: `builtin:noop`, `builtin:sleep:DUR`, or the path of
    /// an executable file, checked now so a typo fails at start-up.
    pub fn parse(spec: Option<&str>) -> Result<Runner, String> {
        let Some(spec) = spec else {
            return Ok(Runner::None);
        };
        if let Some(builtin) = spec.strip_prefix("builtin:") {
            return match builtin.split_once(':') {
                None if builtin == "noop" => Ok(Runner::Noop),
                Some(("sleep", dur)) => crate::model::parse_duration(dur)
                    .map(Runner::Sleep)
                    .map_err(|e| format!("--runner {spec}: {e}")),
                _ => Err(format!(
                    "--runner {spec}: unknown built-in runner (known: builtin:noop, builtin:sleep:DUR)"
                )),
            };
        }
        let path = PathBuf::from(spec);
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("--runner {spec}: cannot use it: {e}"))?;
        if !meta.is_file() {
            return Err(format!("--runner {spec}: not a file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Err(format!("--runner {spec}: not executable"));
            }
        }
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(Runner::Program(path))
    }
}
