//! The shared store: PostgreSQL through the synchronous `postgres` crate.
//! Several trackers may use one database, each through its own
//! `StoreHandle`; this backend makes every primitive safe under that: queued
//! runs are claimed with `FOR UPDATE SKIP LOCKED`, fences come from a
//! sequence, job keys and ticks are unique in the schema, and the leader
//! lease row is locked by `check_leader` until the transaction ends.
//!
//! One connection per store: the store thread is the only user of it, and
//! group commit already batches callers, so a pool would add nothing. A lost
//! connection fails the transaction in hand and is re-opened at the next one.

mod listen;
mod schema;

pub use listen::{listen_work, WorkListener, WORK_CHANNEL};
pub use schema::SCHEMA_VERSION;

use super::{
    JobQuery, JobRecord, LogRecord, LogStats, Result, RunRecord, Store, StoreError, BUFFERED,
    LAGGED,
};
use crate::model::{
    Alert, AlertQuery, AlertRule, Delivery, FeedbackItem, JobSpec, JobState, Millis, MinuteCount,
    QueueCount, RunOutcome, RunState, StoreStats, Stream,
};
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};
use std::collections::HashMap;
use std::time::Duration;

/// How long opening a connection may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Notice a server that went away without closing the connection within
/// about half a minute, not the system's two hours, unless the URL says
/// otherwise (for the synchronous and the asynchronous client alike).
macro_rules! notice_dead_servers {
    ($config:expr) => {{
        let config = $config;
        if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(std::time::Duration::from_secs(10));
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(std::time::Duration::from_secs(5));
            config.keepalives_retries(3);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_secs(30));
        }
    }};
}
pub(crate) use notice_dead_servers;

/// How many consecutive fences one value of the `fence_blocks` sequence
/// stands for: `reserve_fences(n)` takes one value `v` and hands out
/// `v * FENCE_BLOCK ..`, so no two calls, in any tracker, overlap.
const FENCE_BLOCK: i64 = 1 << 16;

pub struct PostgresStore {
    client: Client,
    config: Config,
    /// The URL without its password, for messages.
    shown: String,
    statements: HashMap<String, Statement>,
    journal: super::Journal,
    /// The deadlock or serialization failure the transaction in progress
    /// met, if any: it is lost, whatever the operation did with the error.
    retryable: Option<StoreError>,
}

/// A `postgres` error as one line, with the server's message when it sent one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// A `postgres` error as a `StoreError`: a deadlock or a serialization
/// failure is `Retryable`, since the same transaction run again may succeed.
fn backend(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let retryable = e.code().is_some_and(|code| {
        *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
    });
    if retryable {
        StoreError::Retryable(describe(&e))
    } else {
        StoreError::Backend(describe(&e))
    }
}

/// `url` with any password replaced, so that it can be logged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Whether `store` names a PostgreSQL URL.
pub fn is_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

impl PostgresStore {
    fn reconnect(&mut self) -> Result<()> {
        tracing::warn!(store = %self.shown, "reconnecting to PostgreSQL");
        self.client = connect(&self.config, &self.shown)?;
        self.statements.clear();
        Ok(())
    }

    /// Connect to the database at `url` (`postgres://user@host:port/db`)
    /// and migrate it. Failing to parse, reach or log in is `StoreError::Open`.
    pub fn open(url: &str) -> Result<Self> {
        let shown = redact(url);
        let mut config: Config = url.parse().map_err(|e: postgres::Error| StoreError::Open {
            path: shown.clone(),
            reason: describe(&e),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("ltsd");
        }
        notice_dead_servers!(&mut config);
        let mut client = connect(&config, &shown)?;
        schema::migrate(&mut client, &shown)?;
        Ok(PostgresStore {
            client,
            config,
            shown,
            statements: HashMap::new(),
            journal: super::Journal::default(),
            retryable: None,
        })
    }

    /// A statement's error as a `StoreError`; a retryable one is kept, so
    /// that the actor learns of it even if the operation swallows it.
    fn failed(&mut self, e: postgres::Error) -> StoreError {
        let e = backend(e);
        if e.is_retryable() && self.retryable.is_none() {
            self.retryable = Some(e.clone());
        }
        e
    }

    /// A prepared statement for `sql`, prepared once per connection.
    fn stmt(&mut self, sql: &str) -> Result<Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let prepared = self.client.prepare(sql);
        let st = prepared.map_err(|e| self.failed(e))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let st = self.stmt(sql)?;
        let rows = self.client.query(&st, params);
        rows.map_err(|e| self.failed(e))
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let st = self.stmt(sql)?;
        let row = self.client.query_opt(&st, params);
        row.map_err(|e| self.failed(e))
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let st = self.stmt(sql)?;
        let row = self.client.query_one(&st, params);
        row.map_err(|e| self.failed(e))
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let st = self.stmt(sql)?;
        let n = self.client.execute(&st, params);
        n.map_err(|e| self.failed(e))
    }

    fn simple(&mut self, sql: &str) -> Result<()> {
        let done = self.client.batch_execute(sql);
        done.map_err(|e| self.failed(e))
    }

    fn jobs(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<JobRecord>> {
        self.query(sql, params)?.iter().map(job_from_row).collect()
    }

    fn runs(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<RunRecord>> {
        self.query(sql, params)?.iter().map(run_from_row).collect()
    }

    fn logs(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<LogRecord>> {
        self.query(sql, params)?.iter().map(log_from_row).collect()
    }

    fn min_millis(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Millis>> {
        let row = self.query_one(sql, params)?;
        row.try_get(0).map_err(backend)
    }
}

fn connect(config: &Config, shown: &str) -> Result<Client> {
    let open = |e: postgres::Error| StoreError::Open {
        path: shown.to_string(),
        reason: describe(&e),
    };
    let mut client = config.connect(NoTls).map_err(open)?;
    // A tracker stopped (SIGSTOP) inside a transaction would hold its locks,
    // the leader lease row among them, for as long as it stays stopped. The
    // store thread never waits between a transaction's statements, so a
    // session idle in one for this long is such a tracker: end it.
    client
        .batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}"
        ))
        .map_err(open)?;
    Ok(client)
}

/// How long a session may sit idle inside a transaction before the server
/// ends it (and its locks).
const IDLE_IN_TRANSACTION_MS: u64 = 5_000;

fn invalid(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("invalid {what} '{value}'"))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(backend)
}

fn get_u32(row: &Row, i: usize, what: &str) -> Result<u32> {
    let v: i64 = get(row, i)?;
    u32::try_from(v).map_err(|_| invalid(what, v))
}

fn get_u64(row: &Row, i: usize, what: &str) -> Result<u64> {
    let v: i64 = get(row, i)?;
    u64::try_from(v).map_err(|_| invalid(what, v))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The filters of `JobQuery` as `$1`..`$4`: group, state, kind, task-id text.
const JOB_FILTER: &str = "($1::text IS NULL OR grp = $1) AND ($2::text IS NULL OR state = $2) \
AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR strpos(task_id, $4) > 0)";
const JOB_COLUMNS: &str = "id, spec, state, submitted_at, updated_at, next_fire, run_count, note";

fn job_from_row(row: &Row) -> Result<JobRecord> {
    let spec: String = get(row, 1)?;
    let spec: JobSpec =
        serde_json::from_str(&spec).map_err(|e| StoreError::Invalid(format!("job spec: {e}")))?;
    let state: String = get(row, 2)?;
    Ok(JobRecord {
        id: get(row, 0)?,
        spec,
        state: JobState::parse(&state).ok_or_else(|| invalid("job state", &state))?,
        submitted_at: get(row, 3)?,
        updated_at: get(row, 4)?,
        next_fire: get(row, 5)?,
        run_count: get_u32(row, 6, "run count")?,
        note: get(row, 7)?,
    })
}

const RUN_COLUMNS: &str = "id, job_id, grp, priority, run, attempt, state, scheduled_at, due_at, \
     outcome, exit_code, worker, started_at, ended_at, lease_until, fence, reason";

/// `RUN_COLUMNS` of the table aliased `alias`, for a join.
fn run_columns_of(alias: &str) -> String {
    RUN_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_from_row(row: &Row) -> Result<RunRecord> {
    let state: String = get(row, 6)?;
    let outcome: Option<String> = get(row, 9)?;
    let outcome = match outcome {
        Some(o) => Some(RunOutcome::parse(&o).ok_or_else(|| invalid("run outcome", &o))?),
        None => None,
    };
    Ok(RunRecord {
        id: get(row, 0)?,
        job_id: get(row, 1)?,
        group: get(row, 2)?,
        priority: get(row, 3)?,
        run: get_u32(row, 4, "run number")?,
        attempt: get_u32(row, 5, "attempt")?,
        state: RunState::parse(&state).ok_or_else(|| invalid("run state", &state))?,
        scheduled_at: get(row, 7)?,
        due_at: get(row, 8)?,
        outcome,
        exit_code: get(row, 10)?,
        worker: get(row, 11)?,
        started_at: get(row, 12)?,
        ended_at: get(row, 13)?,
        lease_until: get(row, 14)?,
        fence: get(row, 15)?,
        reason: get(row, 16)?,
    })
}

const LOG_COLUMNS: &str = "run_id, seq, stream, line, at";

fn log_from_row(row: &Row) -> Result<LogRecord> {
    let stream: String = get(row, 2)?;
    let line: Vec<u8> = get(row, 3)?;
    Ok(LogRecord {
        run_id: get(row, 0)?,
        seq: get_u64(row, 1, "log seq")?,
        stream: Stream::parse(&stream).ok_or_else(|| invalid("stream", &stream))?,
        line: String::from_utf8(line).map_err(|_| invalid("log line", "not UTF-8"))?,
        at: get(row, 4)?,
    })
}

fn spec_json(spec: &JobSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Invalid(e.to_string()))
}

const ALERT_COLUMNS: &str = "id, key, rule, grp, task_id, run, condition, message, raised_at, \
     resolved_at, state, silence_until, folded, sent_folded, target, deliveries, next_attempt_at, \
     attempts, seq";

fn alert_from_row(row: &Row) -> Result<Alert> {
    let deliveries: String = get(row, 15)?;
    let deliveries: Vec<Delivery> = serde_json::from_str(&deliveries)
        .map_err(|e| StoreError::Invalid(format!("alert deliveries: {e}")))?;
    let run: Option<i64> = get(row, 5)?;
    Ok(Alert {
        id: get(row, 0)?,
        key: get(row, 1)?,
        rule: get(row, 2)?,
        group: get(row, 3)?,
        task_id: get(row, 4)?,
        run: run
            .map(|r| u32::try_from(r).map_err(|_| invalid("run number", r)))
            .transpose()?,
        condition: get(row, 6)?,
        message: get(row, 7)?,
        raised_at: get(row, 8)?,
        resolved_at: get(row, 9)?,
        state: get(row, 10)?,
        silence_until: get(row, 11)?,
        folded: get_u64(row, 12, "folded count")?,
        sent_folded: get_u64(row, 13, "folded count")?,
        target: get(row, 14)?,
        deliveries,
        next_attempt_at: get(row, 16)?,
        attempts: get_u32(row, 17, "attempts")?,
        seq: get(row, 18)?,
    })
}

fn deliveries_json(d: &[Delivery]) -> Result<String> {
    serde_json::to_string(d).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    fn alerts_where(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Alert>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts {sql}");
        self.query(&sql, params)?
            .iter()
            .map(alert_from_row)
            .collect()
    }
}

// Rows read to be written back (a job by id or key, a run by id, a worker's
// running runs) are read `FOR UPDATE`: another tracker's transaction on the
// same row waits for this one instead of overwriting it with what it read
// before (READ COMMITTED would let the last writer win).
impl Store for PostgresStore {
    fn journal(&mut self) -> &mut super::Journal {
        &mut self.journal
    }

    fn begin(&mut self) -> Result<()> {
        self.retryable = None;
        if self.client.is_closed() {
            // The connection was lost: the transaction that saw it failed;
            // this one starts on a new connection, or fails in turn.
            self.reconnect()?;
        }
        match self.simple("BEGIN") {
            // A connection the server dropped while idle (a restart) is
            // found only now, before anything was done: start again, once.
            Err(e) => {
                tracing::debug!(store = %self.shown, "BEGIN failed: {e}");
                self.reconnect()?;
                self.simple("BEGIN")
            }
            began => began,
        }
    }

    fn commit(&mut self) -> Result<()> {
        self.simple("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        if self.client.is_closed() {
            return Ok(());
        }
        self.simple("ROLLBACK")
    }

    fn savepoint(&mut self) -> Result<()> {
        self.simple("SAVEPOINT op")
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.simple("RELEASE SAVEPOINT op")
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.simple("ROLLBACK TO SAVEPOINT op")
    }

    fn retryable_failure(&self) -> Option<StoreError> {
        self.retryable.clone()
    }

    fn insert_job(&mut self, job: &JobRecord) -> Result<Option<i64>> {
        let spec = spec_json(&job.spec)?;
        let row = self.query_opt(
            "INSERT INTO jobs (grp, task_id, kind, state, spec, submitted_at, updated_at, \
             next_fire, run_count, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (grp, task_id) DO NOTHING RETURNING id",
            &[
                &job.spec.group,
                &job.spec.task_id,
                &job.spec.schedule.kind().as_str(),
                &job.state.as_str(),
                &spec,
                &job.submitted_at,
                &job.updated_at,
                &job.next_fire,
                &i64::from(job.run_count),
                &job.note,
            ],
        )?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn update_job(&mut self, job: &JobRecord) -> Result<()> {
        self.execute(
            "UPDATE jobs SET state = $2, updated_at = $3, next_fire = $4, run_count = $5, \
             note = $6 WHERE id = $1",
            &[
                &job.id,
                &job.state.as_str(),
                &job.updated_at,
                &job.next_fire,
                &i64::from(job.run_count),
                &job.note,
            ],
        )?;
        Ok(())
    }

    fn update_spec(&mut self, job: &JobRecord) -> Result<()> {
        let spec = spec_json(&job.spec)?;
        self.execute(
            "UPDATE jobs SET spec = $2, kind = $3 WHERE id = $1",
            &[&job.id, &spec, &job.spec.schedule.kind().as_str()],
        )?;
        Ok(())
    }

    fn delete_job(&mut self, id: i64) -> Result<()> {
        self.execute("DELETE FROM jobs WHERE id = $1", &[&id])?;
        Ok(())
    }

    fn job_by_key(&mut self, group: &str, task_id: &str) -> Result<Option<JobRecord>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE grp = $1 AND task_id = $2 FOR UPDATE");
        self.query_opt(&sql, &[&group, &task_id])?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    fn job_by_id(&mut self, id: i64) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE");
        self.query_opt(&sql, &[&id])?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    fn jobs_by_task_id(&mut self, task_id: &str) -> Result<Vec<JobRecord>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE task_id = $1 ORDER BY grp FOR UPDATE");
        self.jobs(&sql, &[&task_id])
    }

    fn list_jobs(&mut self, query: &JobQuery) -> Result<Vec<JobRecord>> {
        let n: Option<i64> = (query.limit != 0).then(|| limit(query.limit));
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE {JOB_FILTER} \
             AND id < $5 ORDER BY id DESC LIMIT $6"
        );
        let mut jobs = self.jobs(
            &sql,
            &[
                &query.group,
                &query.state.map(|s| s.as_str()),
                &query.kind.map(|k| k.as_str()),
                &query.text,
                // Always a range on the key: a deep page starts where it should.
                &query.before_id.unwrap_or(i64::MAX),
                &n,
            ],
        )?;
        jobs.reverse();
        Ok(jobs)
    }

    fn count_jobs(&mut self, query: &JobQuery) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM jobs WHERE {JOB_FILTER}");
        let row = self.query_one(
            &sql,
            &[
                &query.group,
                &query.state.map(|s| s.as_str()),
                &query.kind.map(|k| k.as_str()),
                &query.text,
            ],
        )?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn insert_run(&mut self, run: &RunRecord) -> Result<i64> {
        // DO NOTHING rather than an error: a unique violation would abort
        // the whole transaction on PostgreSQL, where SQLite fails only the
        // statement.
        let sql = format!(
            "INSERT INTO runs ({}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT DO NOTHING RETURNING id",
            &RUN_COLUMNS["id, ".len()..]
        );
        let row = self.query_opt(
            &sql,
            &[
                &run.job_id,
                &run.group,
                &run.priority,
                &i64::from(run.run),
                &i64::from(run.attempt),
                &run.state.as_str(),
                &run.scheduled_at,
                &run.due_at,
                &run.outcome.map(|o| o.as_str()),
                &run.exit_code,
                &run.worker,
                &run.started_at,
                &run.ended_at,
                &run.lease_until,
                &run.fence,
                &run.reason,
            ],
        )?;
        match row {
            Some(r) => get(&r, 0),
            None => Err(StoreError::Conflict(format!(
                "job {} already has run {} attempt {} (or a run for the tick at {})",
                run.job_id, run.run, run.attempt, run.scheduled_at
            ))),
        }
    }

    fn update_run(&mut self, run: &RunRecord) -> Result<()> {
        self.execute(
            "UPDATE runs SET state = $2, due_at = $3, outcome = $4, exit_code = $5, \
             worker = $6, started_at = $7, ended_at = $8, lease_until = $9, fence = $10, \
             reason = $11, priority = $12 WHERE id = $1",
            &[
                &run.id,
                &run.state.as_str(),
                &run.due_at,
                &run.outcome.map(|o| o.as_str()),
                &run.exit_code,
                &run.worker,
                &run.started_at,
                &run.ended_at,
                &run.lease_until,
                &run.fence,
                &run.reason,
                &run.priority,
            ],
        )?;
        Ok(())
    }

    fn run_by_id(&mut self, id: i64) -> Result<Option<RunRecord>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE");
        self.query_opt(&sql, &[&id])?
            .map(|r| run_from_row(&r))
            .transpose()
    }

    fn run_exists(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .query_opt("SELECT 1 FROM runs WHERE id = $1", &[&id])?
            .is_some())
    }

    fn job_if_free(&mut self, id: i64) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED");
        self.query_opt(&sql, &[&id])?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    fn job_of_run(&mut self, run_id: i64) -> Result<Option<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE id = (SELECT job_id FROM runs WHERE id = $1) FOR UPDATE"
        );
        self.query_opt(&sql, &[&run_id])?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    fn runs_before(
        &mut self,
        job_id: i64,
        before: Option<u32>,
        n: usize,
    ) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = $1 \
             AND ($2::bigint IS NULL OR run < $2) ORDER BY run DESC, attempt DESC LIMIT $3"
        );
        let before = before.map(i64::from);
        let mut runs = self.runs(&sql, &[&job_id, &before, &limit(n)])?;
        runs.reverse();
        Ok(runs)
    }

    fn runs_numbered(&mut self, job_id: i64, run: u32) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = $1 AND run = $2 ORDER BY attempt"
        );
        self.runs(&sql, &[&job_id, &i64::from(run)])
    }

    fn open_runs(&mut self, job_id: i64) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = $1 AND state != 'done' \
             ORDER BY run, attempt"
        );
        self.runs(&sql, &[&job_id])
    }

    fn tick_exists(&mut self, job_id: i64, scheduled_at: Millis) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM runs WHERE job_id = $1 AND scheduled_at = $2 LIMIT 1",
                &[&job_id, &scheduled_at],
            )?
            .is_some())
    }

    fn due_jobs(&mut self, now: Millis, n: usize) -> Result<Vec<JobRecord>> {
        // FOR UPDATE: a second tracker firing at the same moment waits, then
        // sees the job's moved `next_fire` and leaves it.
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE next_fire IS NOT NULL AND state != 'suspended' AND next_fire <= $1 \
             ORDER BY next_fire LIMIT $2 FOR UPDATE"
        );
        self.jobs(&sql, &[&now, &limit(n)])
    }

    fn next_fire_at(&mut self) -> Result<Option<Millis>> {
        self.min_millis(
            "SELECT min(next_fire) FROM jobs \
             WHERE next_fire IS NOT NULL AND state != 'suspended'",
            &[],
        )
    }

    fn due_runs(&mut self, group: &str, now: Millis, n: usize) -> Result<Vec<RunRecord>> {
        // SKIP LOCKED: runs another tracker is claiming right now are not
        // handed out here too.
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs \
             WHERE grp = $1 AND state = 'queued' AND due_at <= $2 \
             ORDER BY priority DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED"
        );
        self.runs(&sql, &[&group, &now, &limit(n)])
    }

    fn stats(&mut self, now: Millis, window_ms: i64) -> Result<StoreStats> {
        let pairs = |rows: Vec<Row>| -> Result<Vec<(String, String, i64)>> {
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<std::result::Result<_, postgres::Error>>()
                .map_err(backend)
        };
        let jobs = pairs(self.query(
            "SELECT grp, state, count(*) FROM jobs GROUP BY grp, state ORDER BY grp, state",
            &[],
        )?)?;
        // Buffered runs have `due_at = BUFFERED`, later than any `now`.
        let queues = self
            .query(
                "SELECT grp, count(*), min(due_at) FILTER (WHERE due_at <= $1) \
                 FROM runs WHERE state = 'queued' GROUP BY grp ORDER BY grp",
                &[&now],
            )?
            .iter()
            .map(|r| {
                Ok(QueueCount {
                    group: r.try_get(0)?,
                    runs: r.try_get::<_, i64>(1)?.max(0) as u64,
                    oldest_due: r.try_get(2)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(backend)?;
        let ended = pairs(self.query(
            "SELECT grp, outcome, count(*) FROM runs \
             WHERE state = 'done' AND ended_at > $1 AND outcome IS NOT NULL \
             GROUP BY grp, outcome ORDER BY grp, outcome",
            &[&(now - window_ms)],
        )?)?;
        super::stats_from_rows(now, window_ms, jobs, queues, ended)
    }

    fn runs_by_minute(&mut self, since: Millis) -> Result<Vec<MinuteCount>> {
        let sql = format!(
            "SELECT grp, ended_at - ended_at % {m} AS minute, outcome, count(*), \
             count(*) FILTER (WHERE {LAGGED}), \
             coalesce(sum(started_at - scheduled_at) FILTER (WHERE {LAGGED}), 0)::BIGINT, \
             coalesce(max(started_at - scheduled_at) FILTER (WHERE {LAGGED}), 0) \
             FROM runs WHERE state = 'done' AND ended_at >= $1 AND outcome IS NOT NULL \
             GROUP BY grp, minute, outcome ORDER BY grp, minute, outcome",
            m = super::MINUTE_MS
        );
        let rows = self
            .query(&sql, &[&since])?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    r.try_get(6)?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, postgres::Error>>()
            .map_err(backend)?;
        super::minutes_from_rows(rows)
    }

    fn next_due_at(&mut self, group: &str) -> Result<Option<Millis>> {
        self.min_millis(
            "SELECT min(due_at) FROM runs WHERE grp = $1 AND state = 'queued' AND due_at < $2",
            &[&group, &BUFFERED],
        )
    }

    fn expired_runs(&mut self, now: Millis, n: usize) -> Result<Vec<RunRecord>> {
        // The jobs too, as `due_runs` does: a lost run is queued again.
        let sql = format!(
            "SELECT {} FROM runs r JOIN jobs j ON j.id = r.job_id \
             WHERE r.state = 'running' AND r.lease_until < $1 \
             ORDER BY r.lease_until LIMIT $2 FOR UPDATE OF r, j SKIP LOCKED",
            run_columns_of("r")
        );
        self.runs(&sql, &[&now, &limit(n)])
    }

    fn running_runs_of(&mut self, worker: &str) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE state = 'running' AND worker = $1 ORDER BY id FOR UPDATE"
        );
        self.runs(&sql, &[&worker])
    }

    fn next_lease_expiry(&mut self) -> Result<Option<Millis>> {
        self.min_millis(
            "SELECT min(lease_until) FROM runs WHERE state = 'running'",
            &[],
        )
    }

    fn reserve_fences(&mut self, n: i64) -> Result<i64> {
        if !(0..=FENCE_BLOCK).contains(&n) {
            return Err(StoreError::Invalid(format!(
                "cannot reserve {n} fences at once (at most {FENCE_BLOCK})"
            )));
        }
        let row = self.query_one("SELECT nextval('fence_blocks')", &[])?;
        let block: i64 = get(&row, 0)?;
        block
            .checked_mul(FENCE_BLOCK)
            .ok_or_else(|| StoreError::Invalid("the fence sequence is exhausted".into()))
    }

    fn push_feedback(&mut self, item: &FeedbackItem) -> Result<i64> {
        let row = self.query_one(
            "INSERT INTO feedback (client_group, task_id, grp, run, attempt, outcome, \
             exit_code, reason, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
            &[
                &item.client_group,
                &item.task_id,
                &item.group,
                &i64::from(item.run),
                &i64::from(item.attempt),
                &item.outcome.as_str(),
                &item.exit_code,
                &item.reason,
                &item.ended_at,
            ],
        )?;
        get(&row, 0)
    }

    fn feedback_after(
        &mut self,
        client_group: &str,
        after_id: i64,
        n: usize,
    ) -> Result<Vec<FeedbackItem>> {
        let rows = self.query(
            "SELECT id, client_group, task_id, grp, run, attempt, outcome, exit_code, reason, \
             ended_at FROM feedback WHERE client_group = $1 AND id > $2 ORDER BY id LIMIT $3",
            &[&client_group, &after_id, &limit(n)],
        )?;
        rows.iter()
            .map(|row| {
                let outcome: String = get(row, 6)?;
                Ok(FeedbackItem {
                    id: get(row, 0)?,
                    client_group: get(row, 1)?,
                    task_id: get(row, 2)?,
                    group: get(row, 3)?,
                    run: get_u32(row, 4, "run number")?,
                    attempt: get_u32(row, 5, "attempt")?,
                    outcome: RunOutcome::parse(&outcome)
                        .ok_or_else(|| invalid("run outcome", &outcome))?,
                    exit_code: get(row, 7)?,
                    reason: get(row, 8)?,
                    ended_at: get(row, 9)?,
                })
            })
            .collect()
    }

    fn ack_feedback(&mut self, client_group: &str, up_to: i64) -> Result<usize> {
        let n = self.execute(
            "DELETE FROM feedback WHERE client_group = $1 AND id <= $2",
            &[&client_group, &up_to],
        )?;
        Ok(n as usize)
    }

    fn prune_jobs(&mut self, cutoff: Millis, n: usize) -> Result<usize> {
        let deleted = self.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
             WHERE kind IN ('now', 'at') AND state IN ('succeeded', 'failed', 'cancelled') \
             AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&cutoff, &limit(n)],
        )?;
        Ok(deleted as usize)
    }

    fn prune_runs(&mut self, cutoff: Millis, n: usize) -> Result<usize> {
        let deleted = self.execute(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs \
             WHERE state = 'done' AND ended_at < $1 ORDER BY ended_at LIMIT $2 \
             FOR UPDATE SKIP LOCKED)",
            &[&cutoff, &limit(n)],
        )?;
        Ok(deleted as usize)
    }

    fn log_stats(&mut self, run_id: i64) -> Result<LogStats> {
        let row = self.query_opt(
            "SELECT head_bytes, head_last, tail_bytes, dropped_lines, dropped_bytes \
             FROM run_log_stats WHERE run_id = $1",
            &[&run_id],
        )?;
        let Some(r) = row else {
            return Ok(LogStats::default());
        };
        let head_last: Option<i64> = get(&r, 1)?;
        Ok(LogStats {
            head_bytes: get_u64(&r, 0, "log bytes")?,
            head_last: head_last.map(|v| v as u64),
            tail_bytes: get_u64(&r, 2, "log bytes")?,
            dropped_lines: get_u64(&r, 3, "log lines")?,
            dropped_bytes: get_u64(&r, 4, "log bytes")?,
        })
    }

    fn set_log_stats(&mut self, run_id: i64, stats: &LogStats) -> Result<()> {
        self.execute(
            "INSERT INTO run_log_stats (run_id, head_bytes, head_last, tail_bytes, \
             dropped_lines, dropped_bytes) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (run_id) DO UPDATE SET head_bytes = EXCLUDED.head_bytes, \
             head_last = EXCLUDED.head_last, tail_bytes = EXCLUDED.tail_bytes, \
             dropped_lines = EXCLUDED.dropped_lines, dropped_bytes = EXCLUDED.dropped_bytes",
            &[
                &run_id,
                &(stats.head_bytes as i64),
                &stats.head_last.map(|v| v as i64),
                &(stats.tail_bytes as i64),
                &(stats.dropped_lines as i64),
                &(stats.dropped_bytes as i64),
            ],
        )?;
        Ok(())
    }

    fn trim_logs(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)> {
        // The oldest lines after `after_seq` up to the first that brings the
        // total to `bytes` (at least one line), as SQLite's loop does; a
        // line counts its bytes and its newline.
        let row = self.query_one(
            "WITH l AS (SELECT seq, octet_length(line) + 1 AS len, \
                 sum(octet_length(line) + 1) OVER (ORDER BY seq) AS cum \
                 FROM run_logs WHERE run_id = $1 AND seq > $2), \
             d AS (DELETE FROM run_logs r USING l WHERE r.run_id = $1 AND r.seq = l.seq \
                 AND l.cum - l.len < greatest($3::bigint, 1) RETURNING l.len) \
             SELECT count(*), coalesce(sum(len), 0)::bigint FROM d",
            &[
                &run_id,
                &(after_seq as i64),
                &(bytes.min(i64::MAX as u64) as i64),
            ],
        )?;
        Ok((get_u64(&row, 0, "lines")?, get_u64(&row, 1, "bytes")?))
    }

    fn append_logs(&mut self, lines: &[LogRecord]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let run_ids: Vec<i64> = lines.iter().map(|l| l.run_id).collect();
        let seqs: Vec<i64> = lines.iter().map(|l| l.seq as i64).collect();
        let streams: Vec<&str> = lines.iter().map(|l| l.stream.as_str()).collect();
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.line.as_bytes()).collect();
        let ats: Vec<i64> = lines.iter().map(|l| l.at).collect();
        self.execute(
            "INSERT INTO run_logs (run_id, seq, stream, line, at) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bytea[], \
             $5::bigint[]) ON CONFLICT DO NOTHING",
            &[&run_ids, &seqs, &streams, &texts, &ats],
        )?;
        Ok(())
    }

    fn logs_after(
        &mut self,
        run_id: i64,
        after_seq: Option<u64>,
        n: usize,
    ) -> Result<Vec<LogRecord>> {
        let after = after_seq.map(|s| s as i64).unwrap_or(-1);
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM run_logs WHERE run_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        self.logs(&sql, &[&run_id, &after, &limit(n)])
    }

    fn logs_tail(&mut self, run_id: i64, n: usize) -> Result<Vec<LogRecord>> {
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM run_logs WHERE run_id = $1 ORDER BY seq DESC LIMIT $2"
        );
        let mut lines = self.logs(&sql, &[&run_id, &limit(n)])?;
        lines.reverse();
        Ok(lines)
    }

    fn put_rule(&mut self, rule: &AlertRule, replace: bool) -> Result<bool> {
        let text = serde_json::to_string(rule).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let sql = if replace {
            "INSERT INTO alert_rules (name, rule) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET rule = excluded.rule"
        } else {
            "INSERT INTO alert_rules (name, rule) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        };
        Ok(self.execute(sql, &[&rule.name, &text])? == 1)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM alert_rules WHERE name = $1", &[&name])? == 1)
    }

    fn rules(&mut self) -> Result<Vec<AlertRule>> {
        let rows = self.query("SELECT rule FROM alert_rules ORDER BY name", &[])?;
        rows.iter()
            .map(|r| {
                let text: String = get(r, 0)?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Invalid(format!("alert rule: {e}")))
            })
            .collect()
    }

    fn insert_alert(&mut self, a: &Alert) -> Result<i64> {
        let deliveries = deliveries_json(&a.deliveries)?;
        let row = self.query_one(
            &format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (DEFAULT, $1, \
                 $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 nextval('alert_seq')) RETURNING id"
            ),
            &[
                &a.key,
                &a.rule,
                &a.group,
                &a.task_id,
                &a.run.map(i64::from),
                &a.condition,
                &a.message,
                &a.raised_at,
                &a.resolved_at,
                &a.state,
                &a.silence_until,
                &as_i64(a.folded),
                &as_i64(a.sent_folded),
                &a.target,
                &deliveries,
                &a.next_attempt_at,
                &i64::from(a.attempts),
            ],
        )?;
        get(&row, 0)
    }

    fn update_alert(&mut self, a: &Alert) -> Result<()> {
        let deliveries = deliveries_json(&a.deliveries)?;
        self.execute(
            "UPDATE alerts SET message = $2, resolved_at = $3, silence_until = $4, folded = $5, \
             sent_folded = $6, deliveries = $7, next_attempt_at = $8, attempts = $9, \
             seq = nextval('alert_seq'), run = $10, task_id = $11 WHERE id = $1",
            &[
                &a.id,
                &a.message,
                &a.resolved_at,
                &a.silence_until,
                &as_i64(a.folded),
                &as_i64(a.sent_folded),
                &deliveries,
                &a.next_attempt_at,
                &i64::from(a.attempts),
                &a.run.map(i64::from),
                &a.task_id,
            ],
        )?;
        Ok(())
    }

    fn latest_alert(&mut self, key: &str) -> Result<Option<Alert>> {
        // Trackers raising the same alert at once take turns until commit,
        // so the second sees the first's row and folds into it.
        self.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        Ok(self
            .alerts_where(
                "WHERE key = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE",
                &[&key],
            )?
            .pop())
    }

    fn alert_by_id(&mut self, id: i64) -> Result<Option<Alert>> {
        // Read to be written back (a delivery, a resolution): a fold by
        // another tracker waits rather than being overwritten.
        Ok(self.alerts_where("WHERE id = $1 FOR UPDATE", &[&id])?.pop())
    }

    fn list_alerts(&mut self, q: &AlertQuery) -> Result<Vec<Alert>> {
        let n = if q.limit == 0 {
            i64::MAX
        } else {
            i64::from(q.limit)
        };
        match q.after_seq {
            Some(after) => self.alerts_where(
                "WHERE seq > $1 AND ($2::text IS NULL OR grp = $2) ORDER BY seq LIMIT $3",
                &[&after, &q.group, &n],
            ),
            None => self.alerts_where(
                "WHERE ($1::text IS NULL OR grp = $1) ORDER BY id DESC LIMIT $2",
                &[&q.group, &n],
            ),
        }
    }

    fn due_alerts(&mut self, now: Millis, n: usize) -> Result<Vec<Alert>> {
        self.alerts_where(
            "WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2",
            &[&now, &limit(n)],
        )
    }

    fn next_alert_attempt(&mut self) -> Result<Option<Millis>> {
        self.min_millis(
            "SELECT min(next_attempt_at) FROM alerts WHERE next_attempt_at IS NOT NULL",
            &[],
        )
    }

    fn open_state_alerts(&mut self) -> Result<Vec<Alert>> {
        self.alerts_where("WHERE state AND resolved_at IS NULL ORDER BY id", &[])
    }

    fn prune_alerts(&mut self, cutoff: Millis, n: usize) -> Result<usize> {
        let deleted = self.execute(
            "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE raised_at < $1 \
             AND next_attempt_at IS NULL AND (NOT state OR resolved_at IS NOT NULL) \
             ORDER BY raised_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&cutoff, &limit(n)],
        )?;
        Ok(deleted as usize)
    }

    fn acquire_leadership(
        &mut self,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        let row = self.query_opt(
            "INSERT INTO leader (id, holder, epoch, expires_at) VALUES (1, $1, 1, $2::bigint + $3::bigint) \
             ON CONFLICT (id) DO UPDATE SET \
                 epoch = CASE WHEN leader.holder = EXCLUDED.holder THEN leader.epoch \
                         ELSE leader.epoch + 1 END, \
                 holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE leader.holder = EXCLUDED.holder OR leader.expires_at <= $2 \
             RETURNING epoch",
            &[&holder, &now, &ttl_ms],
        )?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn check_leader(&mut self, holder: &str, epoch: i64, now: Millis) -> Result<bool> {
        // FOR UPDATE: nobody takes the lease over until this transaction
        // ends, so what it writes is written under this epoch (fencing).
        Ok(self
            .query_opt(
                "SELECT 1 FROM leader WHERE id = 1 AND holder = $1 AND epoch = $2 \
                 AND expires_at > $3 FOR UPDATE",
                &[&holder, &epoch, &now],
            )?
            .is_some())
    }
}
