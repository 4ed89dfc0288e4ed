//! The client spool (LTS's FailStore and RetryJobClient): jobs submitted
//! while no tracker answered wait in a local SQLite file until a flush
//! delivers them.
//!
//! - [`Spool`] owns the file `spool.db` in a data dir: WAL mode and a busy
//!   timeout, so many `lts` processes may push and flush at once. A job is
//!   keyed by its group and task id, so spooling one twice keeps one.
//! - [`Spool::flush`] delivers in spool order, in batches, and removes what
//!   the tracker accepted. The task id is chosen before a job is spooled, so
//!   a flush that repeats an earlier one never submits twice: the tracker
//!   answers "exists", and a job it holds under that key that is the same
//!   job counts as delivered.
//! - [`SpoolingClient`] submits through a [`Client`], spools a job when no
//!   tracker answers, and keeps a background task that retries delivery with
//!   backoff until the spool is empty.
//!
//! ```no_run
//! use lts::client::Client;
//! use lts::model::{new_task_id, JobSpec};
//! use lts::spool::{Spool, SpoolingClient, Submitted};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let spool = Spool::open(&lts::config::default_data_dir())?;
//! let client = SpoolingClient::new(Client::new(vec!["127.0.0.1:7420".into()]), spool);
//! let mut job = JobSpec::new("reports", new_task_id());
//! job.command = vec!["echo".into(), "hello".into()];
//! match client.submit(job).await? {
//!     Submitted::Accepted(ack) => println!("accepted {}", ack.task_id),
//!     // Delivered by the background flusher once a tracker answers.
//!     Submitted::Spooled { task_id, .. } => println!("spooled {task_id}"),
//! }
//! # Ok(())
//! # }
//! ```

use crate::client::{Client, ClientError};
use crate::model::{now_ms, validate_job, JobSpec, Millis, ValidationError};
use crate::protocol::{JobRef, SubmitAck, WireError};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinHandle;

/// The spool's file name in the data dir.
pub const SPOOL_FILE: &str = "spool.db";
/// How many jobs one flush sends in one call.
pub const FLUSH_BATCH: usize = 200;
/// How long a writer waits for another process's lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// The schema version this build writes: the number of `MIGRATIONS`.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// The oldest schema whose jobs this build reads (`lts spool list` reads
/// without migrating).
const OLDEST_READABLE: i64 = 1;
/// The spool's migrations, in order; the schema version is the number
/// applied.
const MIGRATIONS: [&str; 2] = [SCHEMA, SET_ASIDE];
const SET_ASIDE: &str = r#"
-- Rows that could not be read as jobs, moved out of the way of the rest
-- (see `Spool::set_aside`), kept for whoever wants to look.
CREATE TABLE spool_bad (
    seq         INTEGER PRIMARY KEY,
    grp         TEXT,
    task_id     TEXT,
    spec        TEXT,
    spooled_at  INTEGER,
    error       TEXT    NOT NULL,
    set_aside_at INTEGER NOT NULL
);
"#;
const SCHEMA: &str = r#"
CREATE TABLE spool (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    grp         TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    spooled_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    UNIQUE (grp, task_id)
);
"#;

/// Why the spool could not be used.
#[derive(Debug, Error)]
pub enum SpoolError {
    /// The data dir or the file could not be created or opened.
    #[error("cannot open the spool {path}: {reason}")]
    Open { path: String, reason: String },
    /// The file is not a spool this build can read.
    #[error("the spool {path} is not usable: {reason}")]
    Corrupt { path: String, reason: String },
    /// Reading or writing the file failed.
    #[error("spool {path}: {}", one_line(&source.to_string()))]
    Sql {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The job is not acceptable; bad input is never spooled.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// `text` on one line: SQLite's messages may span several.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Refuse an empty spool file: it held jobs once (see [`Spool::open`]).
fn check_not_empty(path: &Path) -> Result<(), SpoolError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => Err(SpoolError::Corrupt {
            path: path.display().to_string(),
            reason: "it is empty (0 bytes), so the jobs it held are lost; move it aside to start a new spool".into(),
        }),
        _ => Ok(()),
    }
}

/// Whether the spool at `path` has a write-ahead log with something in it.
fn has_log(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// `path` for an SQLite URI: `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// Why [`SpoolingClient::submit`] neither delivered nor spooled a job.
#[derive(Debug, Error)]
pub enum SubmitError {
    /// The tracker answered and refused the job (or us).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No tracker answered and the spool could not take the job.
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// A job waiting in the spool.
#[derive(Debug, Clone, PartialEq)]
pub struct SpooledJob {
    /// Its place in the spool; flushes deliver in this order.
    pub seq: i64,
    pub job: JobSpec,
    pub spooled_at: Millis,
    /// How many flushes tried to deliver it.
    pub attempts: u32,
    /// What the tracker said the last time it refused the job.
    pub last_error: Option<String>,
}

/// A spooled row that could not be read as a job. It no longer stands in
/// the way of the others: a spool opened for writing moves it to the
/// table `spool_bad` of the same file (`kept_aside`); a read-only listing
/// passes over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub seq: i64,
    pub group: String,
    pub task_id: String,
    /// Why it cannot be read.
    pub error: String,
    pub kept_aside: bool,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::model::cut;
        write!(
            f,
            "spooled job #{} ('{}' in group '{}') cannot be read ({}); ",
            self.seq,
            cut(&self.task_id, 80),
            cut(&self.group, 80),
            cut(&self.error, 160)
        )?;
        if self.kept_aside {
            f.write_str("moved to the table spool_bad of the spool, the others go on")
        } else {
            f.write_str("passed over")
        }
    }
}

/// What [`Spool::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The job was added at the end of the spool.
    Added,
    /// A job with the same group and task id was spooled; this one (with
    /// `replace` set) took its place, at the end.
    Replaced,
    /// A job with the same group and task id was spooled already; it stays.
    AlreadySpooled,
}

/// A job a flush could not deliver, and why; it stays in the spool.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub task_id: String,
    pub group: String,
    pub error: WireError,
}

/// What one [`Spool::flush`] did.
#[derive(Debug, Default)]
pub struct FlushReport {
    /// Jobs the tracker accepted.
    pub delivered: Vec<SubmitAck>,
    /// Jobs the tracker held already: an earlier flush delivered them.
    pub already_delivered: Vec<JobRef>,
    /// Jobs the tracker refused; they stay in the spool with the error.
    pub refused: Vec<Refusal>,
    /// Why the flush stopped before the end of the spool (no tracker
    /// reachable, the tracker stopping, ..), when it did.
    pub stopped: Option<ClientError>,
    /// Jobs left in the spool afterwards.
    pub remaining: usize,
    /// Rows that could not be read as jobs, set aside (see [`Unreadable`]).
    pub unreadable: Vec<Unreadable>,
}

impl FlushReport {
    /// Jobs that left the spool.
    pub fn removed(&self) -> usize {
        self.delivered.len() + self.already_delivered.len()
    }

    /// Every job in the spool was delivered.
    pub fn is_complete(&self) -> bool {
        self.stopped.is_none() && self.refused.is_empty()
    }
}

/// Whether an error means no tracker took the call, so a job may be spooled
/// and tried again later: nothing answered, the connection broke (the
/// tracker may or may not have the job; the task id makes a retry safe), or
/// the tracker is stopping.
pub fn is_unavailable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Unreachable { .. }
            | ClientError::Transport { .. }
            | ClientError::Discovery(_)
            | ClientError::Wire(WireError::ShuttingDown)
    )
}

/// The local spool of jobs waiting for a tracker. Its methods block briefly
/// on the file (SQLite), except `flush`, which also talks to the tracker.
pub struct Spool {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Opened by `open_read_only`: an unreadable row is passed over, not
    /// moved.
    read_only: bool,
}

/// How one spooled job left a flush.
enum Settle {
    Delivered,
    Kept(String),
}

impl Spool {
    /// Open the spool in `dir`, creating the dir and the file when missing.
    /// An empty (0-byte) `spool.db` is refused: a spool is created whole
    /// (written aside, then linked into place), so an empty one is a spool
    /// that lost its jobs, and starting afresh over it would hide that.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        let path = dir.join(SPOOL_FILE);
        std::fs::create_dir_all(dir).map_err(|e| SpoolError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if !path.exists() {
            Spool::create(&path)?;
        }
        check_not_empty(&path)?;
        Spool::open_file(path, OpenFlags::empty())
    }

    /// Open the spool in `dir` if there is one; `None` when no job was ever
    /// spooled there. Nothing is created.
    pub fn open_existing(dir: &Path) -> Result<Option<Spool>, SpoolError> {
        let path = dir.join(SPOOL_FILE);
        if !path.exists() {
            return Ok(None);
        }
        check_not_empty(&path)?;
        Spool::open_file(path, OpenFlags::empty()).map(Some)
    }

    /// Write a new, empty spool next to `path` and link it into place,
    /// unless another process did first.
    fn create(path: &Path) -> Result<(), SpoolError> {
        let open_err = |reason: String| SpoolError::Open {
            path: path.display().to_string(),
            reason,
        };
        let fresh = path.with_extension(format!("new-{}", std::process::id()));
        let made = Spool::open_file(fresh.clone(), OpenFlags::SQLITE_OPEN_CREATE);
        let linked = made.and_then(|spool| {
            drop(spool);
            match std::fs::hard_link(&fresh, path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(open_err(e.to_string())),
            }
        });
        for suffix in ["", "-wal", "-shm"] {
            let mut name = fresh.as_os_str().to_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
        linked
    }

    /// Read the spool in `dir` without writing a byte: for listing it on a
    /// full disk or a read-only mount. `None` when there is none.
    pub fn open_read_only(dir: &Path) -> Result<Option<Spool>, SpoolError> {
        let path = dir.join(SPOOL_FILE);
        if !path.exists() {
            return Ok(None);
        }
        check_not_empty(&path)?;
        let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let shown = path.display().to_string();
        let open_err = |e: rusqlite::Error| SpoolError::Open {
            path: shown.clone(),
            reason: one_line(&e.to_string()),
        };
        let spool = |conn: Connection| Spool {
            path: path.clone(),
            conn: Mutex::new(conn),
            read_only: true,
        };
        let first = Connection::open_with_flags(&path, read_only)
            .and_then(|conn| conn.busy_timeout(BUSY_TIMEOUT).map(|()| conn))
            .map_err(open_err)
            .map(spool)
            .and_then(|s| s.check_version().map(|()| s));
        match first {
            Ok(spool) => Ok(Some(spool)),
            // Reading a WAL database needs its shared-memory file, which a
            // full disk may not let SQLite make; with no log to read, the
            // database file alone is the whole spool.
            Err(SpoolError::Sql { .. } | SpoolError::Open { .. }) if !has_log(&path) => {
                let uri = format!("file:{}?immutable=1", uri_path(&path));
                let conn = Connection::open_with_flags(uri, read_only | OpenFlags::SQLITE_OPEN_URI)
                    .map_err(open_err)?;
                let spool = spool(conn);
                spool.check_version()?;
                Ok(Some(spool))
            }
            Err(e) => Err(e),
        }
    }

    /// The schema version is one this build reads.
    fn check_version(&self) -> Result<(), SpoolError> {
        let version: i64 = self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        if !(OLDEST_READABLE..=SCHEMA_VERSION).contains(&version) {
            return Err(self.corrupt(format!("schema {version}, this lts reads {SCHEMA_VERSION}")));
        }
        Ok(())
    }

    fn open_file(path: PathBuf, extra: OpenFlags) -> Result<Spool, SpoolError> {
        let shown = path.display().to_string();
        let open_err = |e: rusqlite::Error| SpoolError::Open {
            path: shown.clone(),
            reason: one_line(&e.to_string()),
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let spool = Spool {
            path,
            conn: Mutex::new(conn),
            read_only: false,
        };
        spool.prepare()?;
        Ok(spool)
    }

    /// The spool file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done state behind:
        // every change is one SQLite transaction.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sql(&self, source: rusqlite::Error) -> SpoolError {
        let path = self.path.display().to_string();
        match &source {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                SpoolError::Corrupt {
                    path,
                    reason: one_line(&source.to_string()),
                }
            }
            _ => SpoolError::Sql { path, source },
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> SpoolError {
        SpoolError::Corrupt {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// WAL mode, then the schema, created once under a write lock so that
    /// processes opening a new spool together agree.
    fn prepare(&self) -> Result<(), SpoolError> {
        let mut conn = self.conn();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        if version > SCHEMA_VERSION {
            return Err(self.corrupt(format!(
                "it was written by a newer lts (schema {version}, this one knows {SCHEMA_VERSION})"
            )));
        }
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(|e| self.sql(e))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        if version == 0 {
            let tables: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            if tables > 0 {
                return Err(self.corrupt("it holds tables but no spool schema version"));
            }
        }
        for migration in MIGRATIONS.iter().skip(version.max(0) as usize) {
            tx.execute_batch(migration).map_err(|e| self.sql(e))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Keep a job until a flush delivers it. The job is checked first: bad
    /// input is refused, never spooled.
    /// It is kept with an idempotency key (its own, else a new one), so
    /// every flush sends it with the same key.
    pub fn push(&self, job: &JobSpec) -> Result<Pushed, SpoolError> {
        validate_job(job)?;
        let keyed = job.clone().keyed();
        let spec = serde_json::to_string(&keyed).map_err(|e| self.corrupt(e.to_string()))?;
        let verb = if job.replace {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        let existed: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM spool WHERE grp = ?1 AND task_id = ?2)",
                params![job.group, job.task_id],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        tx.execute(
            &format!(
                "{verb} INTO spool (grp, task_id, kind, spec, spooled_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            params![
                job.group,
                job.task_id,
                job.schedule.kind().as_str(),
                spec,
                now_ms()
            ],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(match (existed, job.replace) {
            (false, _) => Pushed::Added,
            (true, true) => Pushed::Replaced,
            (true, false) => Pushed::AlreadySpooled,
        })
    }

    /// Note why a spooled job is still waiting (the tracker could not be
    /// reached when it was spooled).
    pub fn note_error(&self, group: &str, task_id: &str, error: &str) -> Result<(), SpoolError> {
        self.conn()
            .execute(
                "UPDATE spool SET last_error = ?3 WHERE grp = ?1 AND task_id = ?2",
                params![group, task_id, error],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Every waiting job, in spool order. Rows that cannot be read as jobs
    /// are set aside (see [`Unreadable`]) with a warning in the log;
    /// [`Spool::scan`] says which.
    pub fn list(&self) -> Result<Vec<SpooledJob>, SpoolError> {
        Ok(self.scan()?.0)
    }

    /// Every waiting job, in spool order, and the rows that could not be
    /// read as jobs, set aside.
    pub fn scan(&self) -> Result<(Vec<SpooledJob>, Vec<Unreadable>), SpoolError> {
        let mut unreadable = Vec::new();
        let (jobs, _) = self.batch_after(0, usize::MAX, &mut unreadable)?;
        Ok((jobs, unreadable))
    }

    /// How many jobs wait.
    pub fn len(&self) -> Result<usize, SpoolError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM spool", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(n.max(0) as usize)
    }

    /// Whether no job waits.
    pub fn is_empty(&self) -> Result<bool, SpoolError> {
        Ok(self.len()? == 0)
    }

    /// Up to `limit` jobs after `seq`, in spool order. A row that cannot
    /// be read as a job (its spec not a job, a column of the wrong type) is
    /// set aside and added to `unreadable`, with a warning in the log; it
    /// never fails the rest. With the jobs, the last row's `seq`, where the
    /// next batch starts (`None`: there were no rows).
    fn batch_after(
        &self,
        seq: i64,
        limit: usize,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<(Vec<SpooledJob>, Option<i64>), SpoolError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.conn();
        // Each column read on its own, so that one of the wrong type names
        // its row rather than failing the query.
        let rows: Vec<(i64, Result<SpooledJob, String>, String, String)> = conn
            .prepare_cached(
                "SELECT seq, spec, spooled_at, attempts, last_error, grp, task_id FROM spool \
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(params![seq, limit], |r| {
                    let seq: i64 = r.get(0)?;
                    let text = |i: usize| r.get::<_, String>(i).unwrap_or_else(|_| "?".into());
                    let job = (|| {
                        let spec: String = r.get(1).map_err(|e| e.to_string())?;
                        Ok(SpooledJob {
                            seq,
                            job: serde_json::from_str(&spec).map_err(|e| e.to_string())?,
                            spooled_at: r.get(2).map_err(|e| e.to_string())?,
                            attempts: r.get(3).map_err(|e| e.to_string())?,
                            last_error: r.get(4).map_err(|e| e.to_string())?,
                        })
                    })();
                    Ok((seq, job, text(5), text(6)))
                })?
                .collect()
            })
            .map_err(|e| self.sql(e))?;
        drop(conn);
        let last = rows.last().map(|(seq, ..)| *seq);
        let mut jobs = Vec::with_capacity(rows.len());
        for (seq, job, group, task_id) in rows {
            match job {
                Ok(job) => jobs.push(job),
                Err(error) => {
                    let mut bad = Unreadable {
                        seq,
                        group,
                        task_id,
                        error,
                        kept_aside: false,
                    };
                    if !self.read_only {
                        self.set_aside(seq, &bad.error)?;
                        bad.kept_aside = true;
                    }
                    tracing::warn!("{bad}");
                    unreadable.push(bad);
                }
            }
        }
        Ok((jobs, last))
    }

    /// Move row `seq` to `spool_bad`, out of the way of the jobs.
    fn set_aside(&self, seq: i64, error: &str) -> Result<(), SpoolError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO spool_bad \
             (seq, grp, task_id, spec, spooled_at, error, set_aside_at) \
             SELECT seq, grp, task_id, spec, spooled_at, ?2, ?3 FROM spool WHERE seq = ?1",
            params![seq, error, now_ms()],
        )
        .and_then(|_| tx.execute("DELETE FROM spool WHERE seq = ?1", params![seq]))
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Remove delivered jobs and note why kept ones were refused, in one
    /// transaction. Jobs are named by `seq`, so a job spooled again under
    /// the same key meanwhile (with `replace`) is not removed.
    fn settle(&self, outcomes: &[(i64, Settle)]) -> Result<(), SpoolError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        for (seq, outcome) in outcomes {
            match outcome {
                Settle::Delivered => tx
                    .prepare_cached("DELETE FROM spool WHERE seq = ?1")
                    .and_then(|mut st| st.execute(params![seq])),
                Settle::Kept(error) => tx
                    .prepare_cached(
                        "UPDATE spool SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
                    )
                    .and_then(|mut st| st.execute(params![seq, error])),
            }
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Deliver every waiting job to the tracker, in spool order and in
    /// batches of [`FLUSH_BATCH`]. Accepted jobs (and jobs the tracker
    /// already holds) leave the spool; refused ones stay with their error.
    /// A tracker that cannot be reached ends the flush early; that is in the
    /// report, not an error: an error is the spool file failing.
    pub async fn flush(&self, client: &Client) -> Result<FlushReport, SpoolError> {
        let mut report = FlushReport::default();
        let mut after = 0;
        while report.stopped.is_none() {
            let (batch, last) = self.batch_after(after, FLUSH_BATCH, &mut report.unreadable)?;
            let Some(last) = last else {
                break;
            };
            after = last;
            if batch.is_empty() {
                // Nothing but unreadable rows, now set aside.
                continue;
            }
            let jobs = batch.iter().map(|b| b.job.clone()).collect();
            let answers = match client.submit_many(jobs).await {
                Ok(answers) if answers.len() == batch.len() => answers,
                Ok(answers) => {
                    report.stopped = Some(ClientError::Transport {
                        addr: client.addrs().join(","),
                        reason: format!(
                            "{} answers to {} submitted jobs",
                            answers.len(),
                            batch.len()
                        ),
                    });
                    break;
                }
                Err(e) => {
                    // Each job of the batch says why it is still here.
                    let error = e.to_string();
                    let kept: Vec<(i64, Settle)> = batch
                        .iter()
                        .map(|b| (b.seq, Settle::Kept(error.clone())))
                        .collect();
                    self.settle(&kept)?;
                    report.stopped = Some(e);
                    break;
                }
            };
            let mut outcomes = Vec::with_capacity(batch.len());
            for (entry, answer) in batch.iter().zip(answers) {
                let job = &entry.job;
                let refused = match answer {
                    Ok(ack) => {
                        report.delivered.push(ack);
                        outcomes.push((entry.seq, Settle::Delivered));
                        continue;
                    }
                    Err(WireError::ShuttingDown) => {
                        report.stopped = Some(ClientError::Wire(WireError::ShuttingDown));
                        continue;
                    }
                    Err(exists @ WireError::Exists { .. }) => {
                        match client.already_submitted(job).await {
                            Ok(Some(_)) => {
                                report.already_delivered.push(JobRef {
                                    task_id: job.task_id.clone(),
                                    group: Some(job.group.clone()),
                                });
                                outcomes.push((entry.seq, Settle::Delivered));
                                continue;
                            }
                            Ok(None) => exists,
                            Err(e) if is_unavailable(&e) => {
                                report.stopped = Some(e);
                                continue;
                            }
                            Err(ClientError::Wire(e)) => e,
                            Err(e) => WireError::Conflict(e.to_string()),
                        }
                    }
                    Err(e) => e,
                };
                outcomes.push((entry.seq, Settle::Kept(refused.to_string())));
                report.refused.push(Refusal {
                    task_id: job.task_id.clone(),
                    group: job.group.clone(),
                    error: refused,
                });
            }
            self.settle(&outcomes)?;
        }
        report.remaining = self.len()?;
        Ok(report)
    }
}

/// What [`submit_or_spool`] did with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The tracker committed it.
    Accepted(SubmitAck),
    /// No tracker answered; it waits in the spool for a flush.
    Spooled {
        task_id: String,
        group: String,
        /// What the spool did (a job already spooled under the key stays).
        pushed: Pushed,
        /// Why no tracker took it.
        reason: String,
    },
}

/// Where [`submit_or_spool`] finds the jobs waiting and keeps a job no
/// tracker took.
#[derive(Clone, Copy)]
pub enum SpoolAt<'a> {
    /// A spool already open.
    Open(&'a Spool),
    /// The spool in this data dir: read only if it exists, and created only
    /// when a job must wait in it.
    Dir(&'a Path),
}

/// What [`submit_or_spool`] did: with the jobs that were waiting, then
/// with the new one.
#[derive(Debug)]
pub struct SubmitReport {
    /// The flush of the jobs that were waiting, if any were.
    pub waiting: Option<FlushReport>,
    /// The spool could not be read, so the jobs waiting in it were not
    /// delivered; the new job was submitted all the same.
    pub unread: Option<SpoolError>,
    /// The new job.
    pub outcome: Result<Submitted, SubmitError>,
}

/// Submit `job`, else keep it in the spool: the one flow of `lts submit
/// [--spool]` and [`SpoolingClient::submit`].
///
/// 1. The job is checked first: bad input is refused, never sent nor spooled.
/// 2. Jobs waiting in the spool are delivered first ([`Spool::flush`]), so
///    jobs reach the tracker in the order they were submitted. A spool that
///    cannot be read does not stop a job a tracker takes (`unread` says so).
/// 3. The job is sent; the tracker's answer, acceptance or refusal, is final.
///
/// The rule for spooling: a job may wait in the spool only when no tracker
/// took the call ([`is_unavailable`]: nothing answered, the connection
/// broke, or the tracker is stopping), whether the flush of step 2 or the
/// job's own submission met it, and only with `spool_if_unavailable`;
/// otherwise that is the error. A refusal is an answer and is never spooled.
///
/// The rule for "already submitted": a job's key (group, task id) is
/// chosen before it is first sent, so sending it again is safe. When a
/// sending may repeat an earlier attempt whose answer was lost (a job
/// leaving the spool, a call [`Client::submit_many`] sent again after a
/// broken connection), "exists" for the same job ([`JobSpec::same_job`]:
/// every field but `replace`, asked by [`Client::already_submitted`]) means
/// that attempt delivered it, and it counts as delivered; a different job
/// under the key is a refusal. A job sent for the first time that meets
/// "exists" is refused, as SPEC's `--replace` says.
pub async fn submit_or_spool(
    client: &Client,
    spool: SpoolAt<'_>,
    job: &JobSpec,
    spool_if_unavailable: bool,
) -> SubmitReport {
    let (mut waiting, mut unread) = (None, None);
    // The key is chosen once: the job sent and the job spooled carry the
    // same, so a flush after a sending whose answer was lost is answered
    // as that sending.
    let job = &job.clone().keyed();
    let outcome = async {
        validate_job(job).map_err(SpoolError::from)?;
        let flushed = match spool {
            SpoolAt::Open(spool) => flush_waiting(client, Some(spool)).await,
            SpoolAt::Dir(dir) => match Spool::open_existing(dir) {
                Ok(found) => flush_waiting(client, found.as_ref()).await,
                Err(e) => Err(e),
            },
        };
        let stopped = match flushed {
            Ok(mut flush) => {
                let stopped = flush.stopped.take();
                waiting = Some(flush).filter(|f| {
                    f.removed() + f.refused.len() + f.remaining + f.unreadable.len() > 0
                });
                stopped
            }
            Err(e) => {
                unread = Some(e);
                None
            }
        };
        let unavailable = match stopped {
            // No tracker took the waiting jobs: the new one waits behind them.
            Some(e) if is_unavailable(&e) => e,
            Some(e) => return Err(e.into()),
            None => match client.submit(job.clone()).await {
                Ok(ack) => return Ok(Submitted::Accepted(ack)),
                Err(e) if is_unavailable(&e) => e,
                Err(e) => return Err(e.into()),
            },
        };
        if !spool_if_unavailable {
            return Err(unavailable.into());
        }
        keep(spool, job, &unavailable.to_string())
    }
    .await;
    SubmitReport {
        waiting,
        unread,
        outcome,
    }
}

/// Deliver the jobs waiting in `spool`, if there is one and it holds any.
async fn flush_waiting(client: &Client, spool: Option<&Spool>) -> Result<FlushReport, SpoolError> {
    match spool {
        Some(spool) if !spool.is_empty()? => spool.flush(client).await,
        _ => Ok(FlushReport::default()),
    }
}

/// Push `job` into the spool and note why it waits.
fn keep(spool: SpoolAt<'_>, job: &JobSpec, reason: &str) -> Result<Submitted, SubmitError> {
    let opened;
    let spool = match spool {
        SpoolAt::Open(spool) => spool,
        SpoolAt::Dir(dir) => {
            opened = Spool::open(dir)?;
            &opened
        }
    };
    let pushed = spool.push(job)?;
    spool.note_error(&job.group, &job.task_id, reason)?;
    Ok(Submitted::Spooled {
        task_id: job.task_id.clone(),
        group: job.group.clone(),
        pushed,
        reason: reason.to_string(),
    })
}

/// How the background flusher waits between tries: from `initial`,
/// doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

/// A client that does not lose a job when no tracker answers: it spools it,
/// and a background task (started on the tokio runtime when the first job
/// is spooled) retries delivery with backoff until the spool is empty.
/// Dropping the client stops that task; what it did not deliver stays in
/// the spool for the next flush.
pub struct SpoolingClient {
    client: Arc<Client>,
    spool: Arc<Spool>,
    backoff: Backoff,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl SpoolingClient {
    pub fn new(client: Client, spool: Spool) -> Self {
        SpoolingClient {
            client: Arc::new(client),
            spool: Arc::new(spool),
            backoff: Backoff::default(),
            flusher: Mutex::new(None),
        }
    }

    /// The same, with the background flusher's backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The client it submits through, for every other call.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Submit a job by [`submit_or_spool`]'s rules: jobs already waiting
    /// are delivered first, a job no tracker takes is spooled (and the
    /// background flusher started), a job the tracker refuses is an error.
    pub async fn submit(&self, job: JobSpec) -> Result<Submitted, SubmitError> {
        let report = submit_or_spool(&self.client, SpoolAt::Open(&self.spool), &job, true).await;
        if let Some(e) = &report.unread {
            tracing::warn!("spooled jobs not delivered: {e}");
        }
        if let Ok(Submitted::Spooled { .. }) = &report.outcome {
            self.flush_in_background();
        }
        report.outcome
    }

    /// Deliver what waits now, as [`Spool::flush`].
    pub async fn flush(&self) -> Result<FlushReport, SpoolError> {
        self.spool.flush(&self.client).await
    }

    /// Whether the background flusher is still trying to deliver.
    pub fn is_flushing(&self) -> bool {
        self.flusher_slot()
            .as_ref()
            .is_some_and(|task| !task.is_finished())
    }

    fn flusher_slot(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.flusher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Start the background flusher unless it runs: for jobs left in the
    /// spool by an earlier process. `submit` starts it when it spools.
    /// Call it from within a tokio runtime.
    pub fn flush_in_background(&self) {
        let mut slot = self.flusher_slot();
        if slot.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let (client, spool, backoff) = (self.client.clone(), self.spool.clone(), self.backoff);
        *slot = Some(tokio::spawn(flush_until_empty(client, spool, backoff)));
    }
}

impl Drop for SpoolingClient {
    fn drop(&mut self) {
        if let Some(task) = self.flusher_slot().take() {
            task.abort();
        }
    }
}

/// The background flusher: flush, and while jobs remain, wait (doubling)
/// and flush again.
async fn flush_until_empty(client: Arc<Client>, spool: Arc<Spool>, backoff: Backoff) {
    let mut delay = backoff.initial;
    loop {
        tokio::time::sleep(delay).await;
        match spool.flush(&client).await {
            Ok(report) if report.remaining == 0 => {
                tracing::info!(delivered = report.removed(), "spool flushed");
                return;
            }
            Ok(report) => {
                let why = report
                    .stopped
                    .as_ref()
                    .map(ToString::to_string)
                    .or_else(|| report.refused.first().map(|r| r.error.to_string()))
                    .unwrap_or_default();
                tracing::debug!(
                    delivered = report.removed(),
                    remaining = report.remaining,
                    "spool not flushed yet: {why}"
                );
            }
            Err(e) => tracing::warn!("spool flush failed: {e}"),
        }
        delay = (delay * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(task_id: &str) -> JobSpec {
        JobSpec::new("g", task_id)
    }

    #[test]
    fn push_keeps_one_job_per_key_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::open(dir.path()).expect("open");
        assert_eq!(spool.push(&job("a")).expect("push"), Pushed::Added);
        assert_eq!(spool.push(&job("b")).expect("push"), Pushed::Added);
        assert_eq!(spool.push(&job("a")).expect("push"), Pushed::AlreadySpooled);
        let mut other_group = job("a");
        other_group.group = "h".into();
        assert_eq!(spool.push(&other_group).expect("push"), Pushed::Added);
        let ids: Vec<_> = spool
            .list()
            .expect("list")
            .into_iter()
            .map(|s| format!("{}/{}", s.job.group, s.job.task_id))
            .collect();
        assert_eq!(ids, ["g/a", "g/b", "h/a"]);

        let mut replacing = job("a");
        replacing.replace = true;
        replacing.priority = 5;
        assert_eq!(spool.push(&replacing).expect("push"), Pushed::Replaced);
        let list = spool.list().expect("list");
        assert_eq!(list.len(), 3);
        assert!(
            list[2].job.same_job(&replacing),
            "a replaced job goes to the end"
        );
        assert!(
            list.iter().all(|s| s.job.idempotency_key.is_some()),
            "kept with a key, for every flush to send"
        );
    }

    #[test]
    fn bad_input_is_never_spooled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::open(dir.path()).expect("open");
        assert!(matches!(
            spool.push(&job("not valid")),
            Err(SpoolError::Invalid(_))
        ));
        assert!(spool.is_empty().expect("len"));
    }

    #[test]
    fn a_spool_survives_reopening_and_open_existing_creates_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(Spool::open_existing(dir.path()).expect("open").is_none());
        assert!(!dir.path().join(SPOOL_FILE).exists());
        Spool::open(dir.path())
            .expect("open")
            .push(&job("kept"))
            .expect("push");
        let again = Spool::open_existing(dir.path())
            .expect("open")
            .expect("exists");
        assert_eq!(again.list().expect("list")[0].job.task_id, "kept");
    }

    #[test]
    fn a_file_that_is_not_a_spool_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(SPOOL_FILE), "not a database at all, no").expect("write");
        assert!(matches!(
            Spool::open(dir.path()),
            Err(SpoolError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_spool_of_the_first_schema_is_read_then_migrated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join(SPOOL_FILE)).expect("create");
        conn.execute_batch(SCHEMA).expect("schema 1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        let spec = serde_json::to_string(&job("old")).expect("json");
        conn.execute(
            "INSERT INTO spool (grp, task_id, kind, spec, spooled_at) VALUES ('g', 'old', 'now', ?1, 1)",
            params![spec],
        )
        .expect("insert");
        drop(conn);
        let read = Spool::open_read_only(dir.path())
            .expect("open")
            .expect("exists");
        assert_eq!(read.list().expect("list")[0].job.task_id, "old");
        drop(read);
        let spool = Spool::open(dir.path()).expect("open");
        let version: i64 = spool
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(spool.list().expect("list").len(), 1);
    }

    #[tokio::test]
    async fn flush_without_a_tracker_keeps_everything() {
        let dir = tempfile::tempdir().expect("temp dir");
        let spool = Spool::open(dir.path()).expect("open");
        spool.push(&job("a")).expect("push");
        let client = Client::new(vec![]);
        let report = spool.flush(&client).await.expect("flush");
        assert!(report.stopped.as_ref().is_some_and(is_unavailable));
        assert_eq!(report.remaining, 1);
        assert_eq!(report.removed(), 0);
    }
}
