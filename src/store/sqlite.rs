//! The embedded default store: SQLite in WAL mode with `synchronous=FULL`, so
//! a committed transaction survives a crash of the process or the machine.
//! The schema is versioned with `PRAGMA user_version` and migrated forward on
//! open; a file from a newer ltsd is refused rather than touched.

use super::{
    JobQuery, JobRecord, LogRecord, LogStats, Result, RunRecord, Store, StoreError, LAGGED,
};
use crate::model::{
    Alert, AlertQuery, AlertRule, Delivery, FeedbackItem, JobSpec, JobState, Millis, MinuteCount,
    QueueCount, RunOutcome, RunState, StoreStats, Stream,
};
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use std::path::{Path, PathBuf};

/// Migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    grp           TEXT    NOT NULL,
    task_id       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    spec          TEXT    NOT NULL,
    submitted_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    next_fire     INTEGER,
    run_count     INTEGER NOT NULL DEFAULT 0,
    note          TEXT,
    UNIQUE (grp, task_id)
);
CREATE INDEX jobs_by_task_id ON jobs (task_id);
CREATE INDEX jobs_by_state ON jobs (state, id);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    grp           TEXT    NOT NULL,
    priority      INTEGER NOT NULL,
    run           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    scheduled_at  INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    outcome       TEXT,
    exit_code     INTEGER,
    worker        TEXT,
    started_at    INTEGER,
    ended_at      INTEGER,
    lease_until   INTEGER,
    fence         INTEGER NOT NULL DEFAULT 0,
    reason        TEXT,
    UNIQUE (job_id, run, attempt)
);
CREATE INDEX runs_queue ON runs (grp, priority DESC, id) WHERE state = 'queued';
CREATE INDEX runs_due ON runs (grp, due_at) WHERE state = 'queued';
CREATE INDEX runs_leases ON runs (lease_until) WHERE state = 'running';

CREATE TABLE run_logs (
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    stream  TEXT    NOT NULL,
    line    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('fence', 0);
"#,
    r#"
-- The scheduler: one run per (job, tick, attempt), even across a crash;
-- a job's open runs and the jobs due to fire, each from an index.
CREATE UNIQUE INDEX runs_tick ON runs (job_id, scheduled_at, attempt);
CREATE INDEX runs_open ON runs (job_id) WHERE state != 'done';
CREATE INDEX jobs_next_fire ON jobs (next_fire) WHERE next_fire IS NOT NULL AND state != 'suspended';
"#,
    r#"
-- Results kept for the client group that asked for them, until read.
CREATE TABLE feedback (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_group  TEXT    NOT NULL,
    task_id       TEXT    NOT NULL,
    grp           TEXT    NOT NULL,
    run           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    exit_code     INTEGER,
    reason        TEXT,
    ended_at      INTEGER NOT NULL
);
CREATE INDEX feedback_by_group ON feedback (client_group, id);
"#,
    r#"
-- Retention: finished one-off jobs and ended runs, oldest first.
CREATE INDEX jobs_finished ON jobs (updated_at)
    WHERE kind IN ('now', 'at') AND state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX runs_ended ON runs (ended_at) WHERE state = 'done';
-- The per-run log cap: how much of each run's log is kept and was cut.
CREATE TABLE run_log_stats (
    run_id         INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    head_bytes     INTEGER NOT NULL,
    head_last      INTEGER,
    tail_bytes     INTEGER NOT NULL,
    dropped_lines  INTEGER NOT NULL,
    dropped_bytes  INTEGER NOT NULL
);
"#,
    r#"
-- The tracker leader lease (one row), as on PostgreSQL.
CREATE TABLE leader (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    holder      TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
"#,
    r#"
-- `lts stats`: jobs counted by (group, state) from the index alone.
CREATE INDEX jobs_by_group_state ON jobs (grp, state);
"#,
    r#"
-- Alerts: the rules (`lts alert add`), and every alert raised with its
-- delivery attempts (a JSON array) and when the next attempt is due.
CREATE TABLE alert_rules (
    name  TEXT PRIMARY KEY,
    rule  TEXT NOT NULL
);
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    key              TEXT    NOT NULL,
    rule             TEXT,
    grp              TEXT,
    task_id          TEXT,
    run              INTEGER,
    condition        TEXT    NOT NULL,
    message          TEXT    NOT NULL,
    raised_at        INTEGER NOT NULL,
    resolved_at      INTEGER,
    state            INTEGER NOT NULL,
    silence_until    INTEGER NOT NULL,
    folded           INTEGER NOT NULL,
    sent_folded      INTEGER NOT NULL,
    target           TEXT    NOT NULL,
    deliveries       TEXT    NOT NULL,
    next_attempt_at  INTEGER,
    attempts         INTEGER NOT NULL,
    seq              INTEGER NOT NULL
);
CREATE INDEX alerts_by_key ON alerts (key, id);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX alerts_open ON alerts (id) WHERE state = 1 AND resolved_at IS NULL;
CREATE INDEX alerts_by_seq ON alerts (seq);
CREATE INDEX alerts_by_raised ON alerts (raised_at);
INSERT INTO meta (key, value) VALUES ('alert_seq', 0);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    journal: super::Journal,
}

/// `text` on one line: SQLite's messages (and `quick_check`'s) may span several.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Refuse to create a store at `path` over the remains of one: an empty
/// (0-byte) file, or a write-ahead log without its database. An absent file
/// is a new store; a file that is there but empty held a store once (SQLite
/// writes its header with the first table), so it is refused unless `init`
/// says to begin afresh (which also clears a stale log).
pub fn check_not_lost(path: &Path, init: bool) -> Result<()> {
    let shown = path.display().to_string();
    let lost = |what: &str| {
        StoreError::Open {
        path: shown.clone(),
        reason: format!(
            "{what}: a store is never re-created silently; restore it from a backup, or start with --init to begin an empty one"
        ),
    }
    };
    let side = |suffix: &str| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    let wal = side("-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).ok();
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => {
            if !init {
                return Err(lost("it is empty (0 bytes)"));
            }
        }
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if wal_len.is_some_and(|len| len > 0) && !init {
                return Err(lost(
                    "it is missing but its write-ahead log (-wal) is there",
                ));
            }
        }
        Err(e) => {
            return Err(StoreError::Open {
                path: shown.clone(),
                reason: e.to_string(),
            })
        }
    }
    if init {
        for stale in [wal, side("-shm")] {
            match std::fs::remove_file(&stale) {
                Ok(()) => tracing::warn!(file = %stale.display(), "--init: removed a stale file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Open {
                        path: stale.display().to_string(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Open the database at `path` and migrate it, creating it when it is
    /// absent; the remains of a lost store are refused unless `init` (see
    /// `check_not_lost`).
    pub fn open_or_init(path: &Path, init: bool) -> Result<Self> {
        check_not_lost(path, init)?;
        SqliteStore::open(path)
    }

    /// Open (creating when missing) the database at `path` and migrate it.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            journal: super::Journal::default(),
        };
        store.prepare()?;
        Ok(store)
    }

    fn classify(&self, e: rusqlite::Error) -> StoreError {
        let path = self.path.display().to_string();
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                StoreError::Corrupt {
                    path,
                    reason: one_line(&e.to_string()),
                }
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::ReadOnly
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::PermissionDenied
                ) =>
            {
                StoreError::Open {
                    path,
                    reason: e.to_string(),
                }
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }

    fn prepare(&mut self) -> Result<()> {
        // Reading the schema version first is what finds a file that is not
        // a database at all.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.display().to_string(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.classify(e))?;
            if tables > 0 {
                return Err(StoreError::Corrupt {
                    path: self.path.display().to_string(),
                    reason: "it holds tables but no lts schema version".into(),
                });
            }
        }
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.classify(e))?;
        // Plan each statement once: without this, SQLite re-prepares every
        // query on `runs` at each execution to check its bound values against
        // the partial indexes' WHERE clauses.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| self.classify(e))?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self
                .conn
                .transaction()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            tx.execute_batch(migration)
                .and_then(|()| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|()| tx.commit())
                .map_err(|e| StoreError::Backend(format!("migration {}: {e}", i + 1)))?;
        }
        // Check the file is sound before trusting it with new work.
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: self.path.display().to_string(),
                reason: one_line(&check),
            });
        }
        Ok(())
    }

    /// Run a statement that is executed often, from the statement cache.
    fn exec_cached(&self, sql: &str) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(|e| self.classify(e))
    }

    fn exec(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| self.classify(e))
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn invalid(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("invalid {what} '{value}'").into(),
    )
}

/// The filters of `JobQuery` as `?1`..`?4`: group, state, kind, task-id text.
const JOB_FILTER: &str = "(?1 IS NULL OR grp = ?1) AND (?2 IS NULL OR state = ?2) \
AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR instr(task_id, ?4) > 0)";

const JOB_COLUMNS: &str = "id, spec, state, submitted_at, updated_at, next_fire, run_count, note";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let spec: String = row.get(1)?;
    let spec: JobSpec = serde_json::from_str(&spec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
    })?;
    let state: String = row.get(2)?;
    Ok(JobRecord {
        id: row.get(0)?,
        spec,
        state: JobState::parse(&state).ok_or_else(|| invalid("job state", &state))?,
        submitted_at: row.get(3)?,
        updated_at: row.get(4)?,
        next_fire: row.get(5)?,
        run_count: row.get(6)?,
        note: row.get(7)?,
    })
}

const RUN_COLUMNS: &str = "id, job_id, grp, priority, run, attempt, state, scheduled_at, due_at, \
     outcome, exit_code, worker, started_at, ended_at, lease_until, fence, reason";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let state: String = row.get(6)?;
    let outcome: Option<String> = row.get(9)?;
    let outcome = match outcome {
        Some(o) => Some(RunOutcome::parse(&o).ok_or_else(|| invalid("run outcome", &o))?),
        None => None,
    };
    Ok(RunRecord {
        id: row.get(0)?,
        job_id: row.get(1)?,
        group: row.get(2)?,
        priority: row.get(3)?,
        run: row.get(4)?,
        attempt: row.get(5)?,
        state: RunState::parse(&state).ok_or_else(|| invalid("run state", &state))?,
        scheduled_at: row.get(7)?,
        due_at: row.get(8)?,
        outcome,
        exit_code: row.get(10)?,
        worker: row.get(11)?,
        started_at: row.get(12)?,
        ended_at: row.get(13)?,
        lease_until: row.get(14)?,
        fence: row.get(15)?,
        reason: row.get(16)?,
    })
}

fn log_from_row(row: &Row<'_>) -> rusqlite::Result<LogRecord> {
    let stream: String = row.get(2)?;
    Ok(LogRecord {
        run_id: row.get(0)?,
        seq: row.get::<_, i64>(1)? as u64,
        stream: Stream::parse(&stream).ok_or_else(|| invalid("stream", &stream))?,
        line: row.get(3)?,
        at: row.get(4)?,
    })
}

fn spec_json(spec: &JobSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Invalid(e.to_string()))
}

const ALERT_COLUMNS: &str = "id, key, rule, grp, task_id, run, condition, message, raised_at, \
     resolved_at, state, silence_until, folded, sent_folded, target, deliveries, next_attempt_at, \
     attempts, seq";

fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let deliveries: String = row.get(15)?;
    let deliveries: Vec<Delivery> = serde_json::from_str(&deliveries).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(Alert {
        id: row.get(0)?,
        key: row.get(1)?,
        rule: row.get(2)?,
        group: row.get(3)?,
        task_id: row.get(4)?,
        run: row.get(5)?,
        condition: row.get(6)?,
        message: row.get(7)?,
        raised_at: row.get(8)?,
        resolved_at: row.get(9)?,
        state: row.get(10)?,
        silence_until: row.get(11)?,
        folded: row.get::<_, i64>(12)?.max(0) as u64,
        sent_folded: row.get::<_, i64>(13)?.max(0) as u64,
        target: row.get(14)?,
        deliveries,
        next_attempt_at: row.get(16)?,
        attempts: row.get(17)?,
        seq: row.get(18)?,
    })
}

fn deliveries_json(d: &[Delivery]) -> Result<String> {
    serde_json::to_string(d).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl SqliteStore {
    fn next_alert_seq(&mut self) -> Result<i64> {
        self.conn
            .prepare_cached(
                "UPDATE meta SET value = value + 1 WHERE key = 'alert_seq' RETURNING value",
            )
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn alerts_where(&mut self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Alert>> {
        self.conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts {sql}"))
            .and_then(|mut st| st.query_map(params, alert_from_row)?.collect())
            .map_err(backend)
    }
}

impl Store for SqliteStore {
    fn journal(&mut self) -> &mut super::Journal {
        &mut self.journal
    }

    fn begin(&mut self) -> Result<()> {
        self.exec("BEGIN IMMEDIATE")
    }

    fn commit(&mut self) -> Result<()> {
        self.exec("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.exec("ROLLBACK")
    }

    fn savepoint(&mut self) -> Result<()> {
        self.exec_cached("SAVEPOINT op")
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.exec_cached("RELEASE op")
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.exec_cached("ROLLBACK TO op")
    }

    fn insert_job(&mut self, job: &JobRecord) -> Result<Option<i64>> {
        let spec = spec_json(&job.spec)?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO jobs (grp, task_id, kind, state, spec, submitted_at, updated_at, \
                 next_fire, run_count, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (grp, task_id) DO NOTHING",
            )
            .and_then(|mut st| {
                st.execute(params![
                    job.spec.group,
                    job.spec.task_id,
                    job.spec.schedule.kind().as_str(),
                    job.state.as_str(),
                    spec,
                    job.submitted_at,
                    job.updated_at,
                    job.next_fire,
                    job.run_count,
                    job.note,
                ])
            })
            .map_err(backend)?;
        Ok((inserted == 1).then(|| self.conn.last_insert_rowid()))
    }

    fn update_job(&mut self, job: &JobRecord) -> Result<()> {
        // The spec never changes after insert (--replace inserts anew).
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = ?2, updated_at = ?3, next_fire = ?4, run_count = ?5, \
                 note = ?6 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    job.id,
                    job.state.as_str(),
                    job.updated_at,
                    job.next_fire,
                    job.run_count,
                    job.note,
                ])
            })
            .map_err(backend)?;
        Ok(())
    }

    fn update_spec(&mut self, job: &JobRecord) -> Result<()> {
        let spec = spec_json(&job.spec)?;
        self.conn
            .prepare_cached("UPDATE jobs SET spec = ?2, kind = ?3 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![job.id, spec, job.spec.schedule.kind().as_str()]))
            .map_err(backend)?;
        Ok(())
    }

    fn delete_job(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM jobs WHERE id = ?1", [id])
            .map_err(backend)?;
        Ok(())
    }

    fn job_by_key(&mut self, group: &str, task_id: &str) -> Result<Option<JobRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE grp = ?1 AND task_id = ?2"
            ))
            .and_then(|mut st| {
                st.query_row(params![group, task_id], job_from_row)
                    .optional()
            })
            .map_err(backend)
    }

    fn job_by_id(&mut self, id: i64) -> Result<Option<JobRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
            .and_then(|mut st| st.query_row([id], job_from_row).optional())
            .map_err(backend)
    }

    fn jobs_by_task_id(&mut self, task_id: &str) -> Result<Vec<JobRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE task_id = ?1 ORDER BY grp"
            ))
            .and_then(|mut st| st.query_map([task_id], job_from_row)?.collect())
            .map_err(backend)
    }

    fn list_jobs(&mut self, query: &JobQuery) -> Result<Vec<JobRecord>> {
        let limit = if query.limit == 0 {
            -1
        } else {
            query.limit as i64
        };
        self.conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE {JOB_FILTER} \
                 AND id < ?5 ORDER BY id DESC LIMIT ?6"
            ))
            .and_then(|mut st| {
                let mut jobs: Vec<JobRecord> = st
                    .query_map(
                        params![
                            query.group,
                            query.state.map(|s| s.as_str()),
                            query.kind.map(|k| k.as_str()),
                            query.text,
                            // Always a range on the key, so a deep page
                            // starts where it should rather than scanning to it.
                            query.before_id.unwrap_or(i64::MAX),
                            limit
                        ],
                        job_from_row,
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                jobs.reverse();
                Ok(jobs)
            })
            .map_err(backend)
    }

    fn count_jobs(&mut self, query: &JobQuery) -> Result<u64> {
        self.conn
            .prepare_cached(&format!("SELECT count(*) FROM jobs WHERE {JOB_FILTER}"))
            .and_then(|mut st| {
                st.query_row(
                    params![
                        query.group,
                        query.state.map(|s| s.as_str()),
                        query.kind.map(|k| k.as_str()),
                        query.text,
                    ],
                    |row| row.get::<_, i64>(0),
                )
            })
            .map(|n| n.max(0) as u64)
            .map_err(backend)
    }

    fn insert_run(&mut self, run: &RunRecord) -> Result<i64> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES \
                 (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    run.job_id,
                    run.group,
                    run.priority,
                    run.run,
                    run.attempt,
                    run.state.as_str(),
                    run.scheduled_at,
                    run.due_at,
                    run.outcome.map(|o| o.as_str()),
                    run.exit_code,
                    run.worker,
                    run.started_at,
                    run.ended_at,
                    run.lease_until,
                    run.fence,
                    run.reason,
                ])
            })
            .map_err(|e| match &e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    StoreError::Conflict(format!(
                        "job {} already has run {} attempt {} (or a run for the tick at {}): {e}",
                        run.job_id, run.run, run.attempt, run.scheduled_at
                    ))
                }
                _ => backend(e),
            })?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_run(&mut self, run: &RunRecord) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE runs SET state = ?2, due_at = ?3, outcome = ?4, exit_code = ?5, \
                 worker = ?6, started_at = ?7, ended_at = ?8, lease_until = ?9, fence = ?10, \
                 reason = ?11, priority = ?12 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    run.id,
                    run.state.as_str(),
                    run.due_at,
                    run.outcome.map(|o| o.as_str()),
                    run.exit_code,
                    run.worker,
                    run.started_at,
                    run.ended_at,
                    run.lease_until,
                    run.fence,
                    run.reason,
                    run.priority,
                ])
            })
            .map_err(backend)?;
        Ok(())
    }

    fn run_by_id(&mut self, id: i64) -> Result<Option<RunRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut st| st.query_row([id], run_from_row).optional())
            .map_err(backend)
    }

    fn run_exists(&mut self, id: i64) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM runs WHERE id = ?1")
            .and_then(|mut st| st.exists([id]))
            .map_err(backend)
    }

    fn job_if_free(&mut self, id: i64) -> Result<Option<JobRecord>> {
        // One writer at a time: no other transaction holds it.
        self.job_by_id(id)
    }

    fn job_of_run(&mut self, run_id: i64) -> Result<Option<JobRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = (SELECT job_id FROM runs WHERE id = ?1)"
            ))
            .and_then(|mut st| st.query_row([run_id], job_from_row).optional())
            .map_err(backend)
    }

    fn runs_before(
        &mut self,
        job_id: i64,
        before: Option<u32>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?1 AND (?2 IS NULL OR run < ?2) \
                 ORDER BY run DESC, attempt DESC LIMIT ?3"
            ))
            .and_then(|mut st| {
                let mut runs: Vec<RunRecord> = st
                    .query_map(params![job_id, before, limit as i64], run_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
                runs.reverse();
                Ok(runs)
            })
            .map_err(backend)
    }

    fn runs_numbered(&mut self, job_id: i64, run: u32) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?1 AND run = ?2 ORDER BY attempt"
            ))
            .and_then(|mut st| st.query_map(params![job_id, run], run_from_row)?.collect())
            .map_err(backend)
    }

    fn open_runs(&mut self, job_id: i64) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_open \
                 WHERE job_id = ?1 AND state != 'done' ORDER BY run, attempt"
            ))
            .and_then(|mut st| st.query_map([job_id], run_from_row)?.collect())
            .map_err(backend)
    }

    fn tick_exists(&mut self, job_id: i64, scheduled_at: Millis) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM runs WHERE job_id = ?1 AND scheduled_at = ?2 LIMIT 1")
            .and_then(|mut st| st.exists(params![job_id, scheduled_at]))
            .map_err(backend)
    }

    fn due_jobs(&mut self, now: Millis, limit: usize) -> Result<Vec<JobRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_next_fire \
                 WHERE next_fire IS NOT NULL AND state != 'suspended' AND next_fire <= ?1 \
                 ORDER BY next_fire LIMIT ?2"
            ))
            .and_then(|mut st| {
                st.query_map(params![now, limit as i64], job_from_row)?
                    .collect()
            })
            .map_err(backend)
    }

    fn next_fire_at(&mut self) -> Result<Option<Millis>> {
        self.conn
            .prepare_cached(
                "SELECT min(next_fire) FROM jobs INDEXED BY jobs_next_fire \
                 WHERE next_fire IS NOT NULL AND state != 'suspended'",
            )
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn due_runs(&mut self, group: &str, now: Millis, limit: usize) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_queue \
                 WHERE grp = ?1 AND state = 'queued' AND due_at <= ?2 \
                 ORDER BY priority DESC, id LIMIT ?3"
            ))
            .and_then(|mut st| {
                st.query_map(params![group, now, limit as i64], run_from_row)?
                    .collect()
            })
            .map_err(backend)
    }

    fn stats(&mut self, now: Millis, window_ms: i64) -> Result<StoreStats> {
        let jobs = self
            .conn
            .prepare_cached(
                "SELECT grp, state, count(*) FROM jobs INDEXED BY jobs_by_group_state \
                 GROUP BY grp, state ORDER BY grp, state",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<(String, String, i64)>>>()
            })
            .map_err(backend)?;
        // The oldest due time among runs due at `now`; buffered runs have
        // `due_at = BUFFERED`, later than any `now`, so they never age.
        let queues = self
            .conn
            .prepare_cached(
                "SELECT grp, count(*), min(CASE WHEN due_at <= ?1 THEN due_at END) \
                 FROM runs INDEXED BY runs_due WHERE state = 'queued' \
                 GROUP BY grp ORDER BY grp",
            )
            .and_then(|mut st| {
                st.query_map(params![now], |r| {
                    Ok(QueueCount {
                        group: r.get(0)?,
                        runs: r.get::<_, i64>(1)? as u64,
                        oldest_due: r.get(2)?,
                    })
                })?
                .collect()
            })
            .map_err(backend)?;
        let ended = self
            .conn
            .prepare_cached(
                "SELECT grp, outcome, count(*) FROM runs INDEXED BY runs_ended \
                 WHERE state = 'done' AND ended_at > ?1 AND outcome IS NOT NULL \
                 GROUP BY grp, outcome ORDER BY grp, outcome",
            )
            .and_then(|mut st| {
                st.query_map(params![now - window_ms], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<(String, String, i64)>>>()
            })
            .map_err(backend)?;
        super::stats_from_rows(now, window_ms, jobs, queues, ended)
    }

    fn runs_by_minute(&mut self, since: Millis) -> Result<Vec<MinuteCount>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT grp, ended_at - ended_at % {m} AS minute, outcome, count(*), \
                 count(CASE WHEN {LAGGED} THEN 1 END), \
                 coalesce(sum(CASE WHEN {LAGGED} THEN started_at - scheduled_at END), 0), \
                 coalesce(max(CASE WHEN {LAGGED} THEN started_at - scheduled_at END), 0) \
                 FROM runs INDEXED BY runs_ended \
                 WHERE state = 'done' AND ended_at >= ?1 AND outcome IS NOT NULL \
                 GROUP BY grp, minute, outcome ORDER BY grp, minute, outcome",
                m = super::MINUTE_MS
            ))
            .and_then(|mut st| {
                st.query_map(params![since], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(backend)
            .and_then(super::minutes_from_rows)
    }

    fn next_due_at(&mut self, group: &str) -> Result<Option<Millis>> {
        self.conn
            .prepare_cached(
                "SELECT min(due_at) FROM runs INDEXED BY runs_due \
                 WHERE grp = ?1 AND state = 'queued' AND due_at < ?2",
            )
            .and_then(|mut st| st.query_row(params![group, super::BUFFERED], |r| r.get(0)))
            .map_err(backend)
    }

    fn expired_runs(&mut self, now: Millis, limit: usize) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE state = 'running' AND lease_until < ?1 \
                 ORDER BY lease_until LIMIT ?2"
            ))
            .and_then(|mut st| {
                st.query_map(params![now, limit as i64], run_from_row)?
                    .collect()
            })
            .map_err(backend)
    }

    fn running_runs_of(&mut self, worker: &str) -> Result<Vec<RunRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_leases \
                 WHERE state = 'running' AND worker = ?1"
            ))
            .and_then(|mut st| st.query_map([worker], run_from_row)?.collect())
            .map_err(backend)
    }

    fn next_lease_expiry(&mut self) -> Result<Option<Millis>> {
        self.conn
            .prepare_cached("SELECT min(lease_until) FROM runs WHERE state = 'running'")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn reserve_fences(&mut self, n: i64) -> Result<i64> {
        self.conn
            .prepare_cached(
                "UPDATE meta SET value = value + ?1 WHERE key = 'fence' RETURNING value",
            )
            .and_then(|mut st| st.query_row([n], |r| r.get::<_, i64>(0)))
            .map(|last| last - n + 1)
            .map_err(backend)
    }

    fn prune_jobs(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        self.conn
            .prepare_cached(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_finished \
                 WHERE kind IN ('now', 'at') AND state IN ('succeeded', 'failed', 'cancelled') \
                 AND updated_at < ?1 ORDER BY updated_at LIMIT ?2)",
            )
            .and_then(|mut st| st.execute(params![cutoff, limit as i64]))
            .map_err(backend)
    }

    fn prune_runs(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        self.conn
            .prepare_cached(
                "DELETE FROM runs WHERE id IN (SELECT id FROM runs INDEXED BY runs_ended \
                 WHERE state = 'done' AND ended_at < ?1 ORDER BY ended_at LIMIT ?2)",
            )
            .and_then(|mut st| st.execute(params![cutoff, limit as i64]))
            .map_err(backend)
    }

    fn log_stats(&mut self, run_id: i64) -> Result<LogStats> {
        self.conn
            .prepare_cached(
                "SELECT head_bytes, head_last, tail_bytes, dropped_lines, dropped_bytes \
                 FROM run_log_stats WHERE run_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([run_id], |r| {
                    Ok(LogStats {
                        head_bytes: r.get::<_, i64>(0)? as u64,
                        head_last: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                        tail_bytes: r.get::<_, i64>(2)? as u64,
                        dropped_lines: r.get::<_, i64>(3)? as u64,
                        dropped_bytes: r.get::<_, i64>(4)? as u64,
                    })
                })
                .optional()
            })
            .map(Option::unwrap_or_default)
            .map_err(backend)
    }

    fn set_log_stats(&mut self, run_id: i64, stats: &LogStats) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO run_log_stats (run_id, head_bytes, head_last, tail_bytes, \
                 dropped_lines, dropped_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    run_id,
                    stats.head_bytes as i64,
                    stats.head_last.map(|v| v as i64),
                    stats.tail_bytes as i64,
                    stats.dropped_lines as i64,
                    stats.dropped_bytes as i64,
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    fn trim_logs(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)> {
        let doomed: Vec<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT seq, length(CAST(line AS BLOB)) + 1 FROM run_logs \
                 WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
            )
            .and_then(|mut st| {
                let mut out = Vec::new();
                let mut total = 0;
                let mut rows = st.query(params![run_id, after_seq as i64])?;
                while let Some(row) = rows.next()? {
                    let (seq, len): (i64, i64) = (row.get(0)?, row.get(1)?);
                    out.push((seq, len));
                    total += len;
                    if total as u64 >= bytes {
                        break;
                    }
                }
                Ok(out)
            })
            .map_err(backend)?;
        let Some(&(last, _)) = doomed.last() else {
            return Ok((0, 0));
        };
        self.conn
            .prepare_cached("DELETE FROM run_logs WHERE run_id = ?1 AND seq > ?2 AND seq <= ?3")
            .and_then(|mut st| st.execute(params![run_id, after_seq as i64, last]))
            .map_err(backend)?;
        Ok((doomed.len() as u64, doomed.iter().map(|d| d.1 as u64).sum()))
    }

    fn push_feedback(&mut self, item: &FeedbackItem) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO feedback (client_group, task_id, grp, run, attempt, outcome, \
                 exit_code, reason, ended_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    item.client_group,
                    item.task_id,
                    item.group,
                    item.run,
                    item.attempt,
                    item.outcome.as_str(),
                    item.exit_code,
                    item.reason,
                    item.ended_at,
                ])
            })
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn feedback_after(
        &mut self,
        client_group: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackItem>> {
        self.conn
            .prepare_cached(
                "SELECT id, client_group, task_id, grp, run, attempt, outcome, exit_code, reason, \
                 ended_at FROM feedback WHERE client_group = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![client_group, after_id, limit as i64], |row| {
                    let outcome: String = row.get(6)?;
                    Ok(FeedbackItem {
                        id: row.get(0)?,
                        client_group: row.get(1)?,
                        task_id: row.get(2)?,
                        group: row.get(3)?,
                        run: row.get(4)?,
                        attempt: row.get(5)?,
                        outcome: RunOutcome::parse(&outcome)
                            .ok_or_else(|| invalid("run outcome", &outcome))?,
                        exit_code: row.get(7)?,
                        reason: row.get(8)?,
                        ended_at: row.get(9)?,
                    })
                })?
                .collect()
            })
            .map_err(backend)
    }

    fn ack_feedback(&mut self, client_group: &str, up_to: i64) -> Result<usize> {
        self.conn
            .prepare_cached("DELETE FROM feedback WHERE client_group = ?1 AND id <= ?2")
            .and_then(|mut st| st.execute(params![client_group, up_to]))
            .map_err(backend)
    }

    fn append_logs(&mut self, lines: &[LogRecord]) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO run_logs (run_id, seq, stream, line, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(backend)?;
        for l in lines {
            st.execute(params![
                l.run_id,
                l.seq as i64,
                l.stream.as_str(),
                l.line,
                l.at
            ])
            .map_err(backend)?;
        }
        Ok(())
    }

    fn logs_after(
        &mut self,
        run_id: i64,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LogRecord>> {
        let after = after_seq.map(|s| s as i64).unwrap_or(-1);
        self.conn
            .prepare_cached(
                "SELECT run_id, seq, stream, line, at FROM run_logs \
                 WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![run_id, after, limit as i64], log_from_row)?
                    .collect()
            })
            .map_err(backend)
    }

    fn logs_tail(&mut self, run_id: i64, n: usize) -> Result<Vec<LogRecord>> {
        self.conn
            .prepare_cached(
                "SELECT run_id, seq, stream, line, at FROM run_logs \
                 WHERE run_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )
            .and_then(|mut st| {
                let mut lines: Vec<LogRecord> = st
                    .query_map(params![run_id, n as i64], log_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
                lines.reverse();
                Ok(lines)
            })
            .map_err(backend)
    }

    fn put_rule(&mut self, rule: &AlertRule, replace: bool) -> Result<bool> {
        let text = serde_json::to_string(rule).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let sql = if replace {
            "INSERT INTO alert_rules (name, rule) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET rule = excluded.rule"
        } else {
            "INSERT INTO alert_rules (name, rule) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING"
        };
        let n = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute(params![rule.name, text]))
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM alert_rules WHERE name = ?1")
            .and_then(|mut st| st.execute([name]))
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn rules(&mut self) -> Result<Vec<AlertRule>> {
        let texts: Vec<String> = self
            .conn
            .prepare_cached("SELECT rule FROM alert_rules ORDER BY name")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(backend)?;
        texts
            .iter()
            .map(|t| {
                serde_json::from_str(t).map_err(|e| StoreError::Invalid(format!("alert rule: {e}")))
            })
            .collect()
    }

    fn insert_alert(&mut self, a: &Alert) -> Result<i64> {
        let seq = self.next_alert_seq()?;
        let deliveries = deliveries_json(&a.deliveries)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                 ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    a.key,
                    a.rule,
                    a.group,
                    a.task_id,
                    a.run,
                    a.condition,
                    a.message,
                    a.raised_at,
                    a.resolved_at,
                    a.state,
                    a.silence_until,
                    a.folded as i64,
                    a.sent_folded as i64,
                    a.target,
                    deliveries,
                    a.next_attempt_at,
                    a.attempts,
                    seq,
                ])
            })
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_alert(&mut self, a: &Alert) -> Result<()> {
        let seq = self.next_alert_seq()?;
        let deliveries = deliveries_json(&a.deliveries)?;
        self.conn
            .prepare_cached(
                "UPDATE alerts SET message = ?2, resolved_at = ?3, silence_until = ?4, \
                 folded = ?5, sent_folded = ?6, deliveries = ?7, next_attempt_at = ?8, \
                 attempts = ?9, seq = ?10, run = ?11, task_id = ?12 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    a.id,
                    a.message,
                    a.resolved_at,
                    a.silence_until,
                    a.folded as i64,
                    a.sent_folded as i64,
                    deliveries,
                    a.next_attempt_at,
                    a.attempts,
                    seq,
                    a.run,
                    a.task_id,
                ])
            })
            .map_err(backend)?;
        Ok(())
    }

    fn latest_alert(&mut self, key: &str) -> Result<Option<Alert>> {
        // BEGIN IMMEDIATE already excludes every other writer.
        Ok(self
            .alerts_where("WHERE key = ?1 ORDER BY id DESC LIMIT 1", [key])?
            .pop())
    }

    fn alert_by_id(&mut self, id: i64) -> Result<Option<Alert>> {
        Ok(self.alerts_where("WHERE id = ?1", [id])?.pop())
    }

    fn list_alerts(&mut self, q: &AlertQuery) -> Result<Vec<Alert>> {
        let limit = if q.limit == 0 { -1 } else { i64::from(q.limit) };
        match q.after_seq {
            Some(after) => self.alerts_where(
                "WHERE seq > ?1 AND (?2 IS NULL OR grp = ?2) ORDER BY seq LIMIT ?3",
                params![after, q.group, limit],
            ),
            None => self.alerts_where(
                "WHERE (?1 IS NULL OR grp = ?1) ORDER BY id DESC LIMIT ?2",
                params![q.group, limit],
            ),
        }
    }

    fn due_alerts(&mut self, now: Millis, limit: usize) -> Result<Vec<Alert>> {
        self.alerts_where(
            "INDEXED BY alerts_due WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at LIMIT ?2",
            params![now, limit as i64],
        )
    }

    fn next_alert_attempt(&mut self) -> Result<Option<Millis>> {
        self.conn
            .prepare_cached(
                "SELECT min(next_attempt_at) FROM alerts INDEXED BY alerts_due \
                 WHERE next_attempt_at IS NOT NULL",
            )
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(backend)
    }

    fn open_state_alerts(&mut self) -> Result<Vec<Alert>> {
        self.alerts_where(
            "INDEXED BY alerts_open WHERE state = 1 AND resolved_at IS NULL ORDER BY id",
            [],
        )
    }

    fn prune_alerts(&mut self, cutoff: Millis, limit: usize) -> Result<usize> {
        self.conn
            .prepare_cached(
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts INDEXED BY alerts_by_raised \
                 WHERE raised_at < ?1 AND next_attempt_at IS NULL \
                 AND (state = 0 OR resolved_at IS NOT NULL) ORDER BY raised_at LIMIT ?2)",
            )
            .and_then(|mut st| st.execute(params![cutoff, limit as i64]))
            .map_err(backend)
    }

    fn acquire_leadership(
        &mut self,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        self.conn
            .prepare_cached(
                "INSERT INTO leader (id, holder, epoch, expires_at) VALUES (1, ?1, 1, ?2 + ?3) \
                 ON CONFLICT (id) DO UPDATE SET \
                     epoch = CASE WHEN leader.holder = excluded.holder THEN leader.epoch \
                             ELSE leader.epoch + 1 END, \
                     holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leader.holder = excluded.holder OR leader.expires_at <= ?2 \
                 RETURNING epoch",
            )
            .and_then(|mut st| {
                st.query_row(params![holder, now, ttl_ms], |r| r.get(0))
                    .optional()
            })
            .map_err(backend)
    }

    fn check_leader(&mut self, holder: &str, epoch: i64, now: Millis) -> Result<bool> {
        // The transaction is BEGIN IMMEDIATE: it already excludes every
        // other writer until it ends.
        self.conn
            .prepare_cached(
                "SELECT 1 FROM leader WHERE id = 1 AND holder = ?1 AND epoch = ?2 \
                 AND expires_at > ?3",
            )
            .and_then(|mut st| st.exists(params![holder, epoch, now]))
            .map_err(backend)
    }
}
