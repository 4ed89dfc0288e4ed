//! The embedded default store: SQLite in WAL mode with `synchronous=FULL`, so
//! a committed transaction survives a crash of the process or the machine.
//! The schema is versioned with `PRAGMA user_version` and migrated forward on
//! open; a file from a newer ltsd is refused rather than touched.

use super::sql::{Dialect, SqlBackend, SqlRow, Statements, Tx, Value};
use super::{Journal, LogRecord, Result, StoreError};
use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OpenFlags, Row};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// How SQLite spells what the shared statements leave open. One writer at a
/// time (`BEGIN IMMEDIATE`) already excludes every other transaction, so
/// nothing is locked row by row; queries name the partial index they need,
/// since with QPSG the planner no longer sees bound values.
pub(in crate::store) const DIALECT: Dialect = Dialect {
    dollar_params: false,
    for_update: "",
    skip_locked: "",
    skip_locked_runs_and_jobs: "",
    json_ints: "SELECT value FROM json_each({})",
    json_texts: "SELECT value FROM json_each({})",
    any_array: false,
    json_rows: "json_each({})",
    batch_rows: false,
    returning_id: "",
    indexed_by: true,
    instr: "instr",
    firing: "state = 1",
    not_firing: "state = 0",
};

static SQL: LazyLock<Statements> = LazyLock::new(|| Statements::new(&DIALECT));

/// Migrations, in order; the schema version is the number applied. A
/// `{name}` is the shared index of that name (`Indexes`).
pub(in crate::store) const MIGRATIONS: &[&str] = &[
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
{jobs_by_task_id}
{jobs_by_state}

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
{runs_queue}
{runs_due}
{runs_leases}

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
{runs_tick}
{runs_open}
{jobs_next_fire}
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
{feedback_by_group}
"#,
    r#"
-- Retention: finished one-off jobs and ended runs, oldest first.
{jobs_finished}
{runs_ended}
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
{jobs_by_group_state}
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
{alerts_by_key}
{alerts_due}
{alerts_open}
{alerts_by_seq}
{alerts_by_raised}
INSERT INTO meta (key, value) VALUES ('alert_seq', 0);
"#,
    super::sql::WAITING_RUN_STATES,
    super::sql::FAN_OUT_RUNS,
    super::sql::JOB_DEPENDENCIES_AND_FLOWS,
    super::sql::IDEMPOTENCY_KEYS,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    journal: Journal,
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
            journal: Journal::default(),
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
                 PRAGMA busy_timeout = 5000;
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(|e| self.classify(e))?;
        // Plan each statement once: without this, SQLite re-prepares every
        // query on `runs` at each execution to check its bound values against
        // the partial indexes' WHERE clauses.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| self.classify(e))?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let failed = |e: String| StoreError::Backend(format!("migration {}: {e}", i + 1));
            let migration = SQL.indexes.expand(migration).map_err(failed)?;
            let tx = self
                .conn
                .transaction()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            tx.execute_batch(&migration)
                .and_then(|()| tx.pragma_update(None, "user_version", (i + 1) as i64))
                .and_then(|()| tx.commit())
                .map_err(|e| failed(e.to_string()))?;
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

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

impl SqlRow for Row<'_> {
    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        match self.get_ref(i).map_err(|e| invalid(i, e))? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => Err(invalid(i, format!("{} for an integer", other.data_type()))),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.get_ref(i).map_err(|e| invalid(i, e))? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|t| Some(t.to_owned()))
                .map_err(|e| invalid(i, e)),
            other => Err(invalid(i, format!("{} for text", other.data_type()))),
        }
    }

    fn flag(&self, i: usize) -> Result<bool> {
        Ok(self.i64(i)? != 0)
    }
}

fn invalid(column: usize, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("column {column}: {e}"))
}

impl SqlBackend for SqliteStore {
    fn statements(&self) -> &'static Statements {
        &SQL
    }

    fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut decode: impl FnMut(&dyn SqlRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut st = self.conn.prepare_cached(sql).map_err(backend)?;
        let mut rows = st.query(params_from_iter(params)).map_err(backend)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(backend)? {
            out.push(decode(row)?);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute(params_from_iter(params)))
            .map(|n| n as u64)
            .map_err(backend)
    }

    fn insert_id(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<i64>> {
        let inserted = self.execute(sql, params)?;
        Ok((inserted == 1).then(|| self.conn.last_insert_rowid()))
    }

    fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    fn transaction(&mut self, step: Tx) -> Result<()> {
        match step {
            Tx::Begin => self.exec("BEGIN IMMEDIATE"),
            Tx::Commit => self.exec("COMMIT"),
            Tx::Rollback if self.conn.is_autocommit() => Ok(()),
            Tx::Rollback => self.exec("ROLLBACK"),
            Tx::Savepoint => self.exec_cached("SAVEPOINT op"),
            Tx::ReleaseSavepoint => self.exec_cached("RELEASE op"),
            Tx::RollbackToSavepoint => self.exec_cached("ROLLBACK TO op"),
        }
    }

    fn next_fences(&mut self, n: i64) -> Result<i64> {
        let sql = "UPDATE meta SET value = value + ?1 WHERE key = 'fence' RETURNING value";
        let last = self.query_one(sql, &[Value::Int(n)], |r| r.i64(0))?;
        Ok(last - n + 1)
    }

    fn next_alert_seq(&mut self) -> Result<i64> {
        let sql = "UPDATE meta SET value = value + 1 WHERE key = 'alert_seq' RETURNING value";
        self.query_one(sql, &[], |r| r.i64(0))
    }

    fn insert_log_lines(&mut self, lines: &[LogRecord]) -> Result<()> {
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

    fn delete_log_head(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)> {
        // Read only as far as `bytes` reach (at least one line); a line
        // counts its bytes and its newline.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunState;
    use crate::store::Store;

    /// A store written by the build before runs had waiting states: a
    /// buffered run was queued at the largest due time, a held one was
    /// ended as skipped with a reason. The migration gives both their state.
    #[test]
    fn waiting_runs_get_their_states_from_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lts.db");
        let conn = Connection::open(&path).unwrap();
        // The schema just before that migration; later ones apply at open.
        let before = MIGRATIONS
            .iter()
            .position(|m| *m == crate::store::sql::WAITING_RUN_STATES)
            .unwrap();
        for m in &MIGRATIONS[..before] {
            conn.execute_batch(&SQL.indexes.expand(m).unwrap()).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO jobs (id, grp, task_id, kind, state, spec, submitted_at, updated_at, run_count)
               VALUES (1, 'g', 'cron', 'cron', 'running', '{}', 0, 0, 2),
                      (2, 'g', 'held', 'at', 'suspended', '{}', 0, 0, 1);
             INSERT INTO runs (id, job_id, grp, priority, run, attempt, state, scheduled_at, due_at, outcome, ended_at, reason)
               VALUES (1, 1, 'g', 0, 1, 1, 'running', 10, 10, NULL, NULL, NULL),
                      (2, 1, 'g', 0, 2, 1, 'queued', 20, 9223372036854775807, NULL, NULL, 'overlap buffer-one: waits'),
                      (3, 2, 'g', 0, 1, 1, 'done', 30, 30, 'skipped', 40, 'the job was suspended before the run started');",
        )
        .unwrap();
        drop(conn);
        let mut s = SqliteStore::open(&path).unwrap();
        s.begin().unwrap();
        let buffered = s.run_by_id(2).unwrap().unwrap();
        assert_eq!((buffered.state, buffered.due_at), (RunState::Buffered, 20));
        let held = s.run_by_id(3).unwrap().unwrap();
        assert_eq!(
            (held.state, held.outcome, held.ended_at),
            (RunState::Held, None, None)
        );
        assert_eq!(s.run_by_id(1).unwrap().unwrap().state, RunState::Running);
        assert_eq!(s.next_due_at("g", "w").unwrap(), None);
        s.commit().unwrap();
    }
}
