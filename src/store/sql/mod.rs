//! The SQL both stores share. The statements (`Statements`), the shared
//! index DDL (`Indexes`), the row decoders and the whole `Store`
//! implementation (`store`) are written once; a backend implements
//! `SqlBackend` (run a statement with neutral `Value`s, read a row through
//! `SqlRow`) and the few operations only its dialect can express, and says
//! how its dialect spells locks, index hints and parameters in a `Dialect`.
//! State names in SQL are the model's own (`RunState::as_str`, ...),
//! formatted in once when the statements are built.

mod statements;
mod store;

pub use statements::Statements;

use super::{FlowRecord, JobRecord, Journal, LogRecord, LogStats, Result, RunRecord, StoreError};
use crate::model::{Alert, FeedbackItem, JobSpec, JobState, Part, RunOutcome, RunState, Stream};
use std::borrow::Cow;

/// The migration both schemas take, in the same words: runs that wait get
/// states of their own. It restates the state names of its day, as a
/// migration must.
pub const WAITING_RUN_STATES: &str = r#"
-- Runs that wait have states of their own: `buffered` (until now a queued
-- run due at the largest integer) and `held` (until now a run ended as
-- skipped, with this reason, when its job was suspended before it started).
UPDATE runs SET state = 'buffered', due_at = scheduled_at
 WHERE state = 'queued' AND due_at = 9223372036854775807;
UPDATE runs SET state = 'held', outcome = NULL, ended_at = NULL,
       reason = 'held: the job was suspended before the run started'
 WHERE state = 'done' AND outcome = 'skipped'
   AND reason = 'the job was suspended before the run started'
   AND job_id IN (SELECT id FROM jobs WHERE state = 'suspended');
"#;

/// The migration both schemas take, in the same words: a tick may have
/// several runs (a broadcast's, one per worker; a sharded job's, one per
/// shard), each a `part` of it, so the tick's unique key counts the part.
/// `fan` says how the tick fanned out (NULL: it did not; `shard`;
/// `broadcast`, before a worker picked it up; `pinned`, one worker's);
/// `part_of` is a shard's count of shards; `pinned` the only worker that
/// may claim the run.
pub const FAN_OUT_RUNS: &str = r#"
ALTER TABLE runs ADD COLUMN fan TEXT;
ALTER TABLE runs ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN part_of INTEGER;
ALTER TABLE runs ADD COLUMN pinned TEXT;
DROP INDEX runs_tick;
{runs_tick_part}
{runs_pinned}
"#;

/// A run's part as its columns: fan, part, part_of, pinned.
pub fn part_columns(p: &Part) -> (Option<&'static str>, u32, Option<u32>, Option<&str>) {
    match p {
        Part::Whole => (None, 0, None, None),
        Part::Shard { index, of } => (Some("shard"), *index, Some(*of), None),
        Part::Broadcast => (Some("broadcast"), 0, None, None),
        Part::Pinned { index, worker } => (Some("pinned"), *index, None, Some(worker)),
    }
}

/// A run's part from its columns `i..i + 4` (fan, part, part_of, pinned).
fn part(r: &dyn SqlRow, i: usize) -> Result<Part> {
    let index = r.u32(i + 1)?;
    let missing = |what: &str| StoreError::Invalid(format!("a {what} run without its {what}"));
    Ok(match r.opt_text(i)?.as_deref() {
        None => Part::Whole,
        Some("shard") => Part::Shard {
            index,
            of: r.opt_u32(i + 2)?.ok_or_else(|| missing("shard"))?,
        },
        Some("broadcast") => Part::Broadcast,
        Some("pinned") => Part::Pinned {
            index,
            worker: r.opt_text(i + 3)?.ok_or_else(|| missing("pinned"))?,
        },
        Some(other) => {
            return Err(StoreError::Invalid(format!(
                "unknown run fan-out '{other}'"
            )))
        }
    })
}

/// The migration both schemas take, in the same words: jobs that run after
/// others (`--after`) and workflows. `job_deps` says who waits for whom
/// (read both ways: a job's dependencies by its key, the jobs waiting for
/// one by `job_deps_waiting`); `flows` holds each flow with its next tick,
/// and `flow_steps` the job of each step of each flow run.
pub const JOB_DEPENDENCIES_AND_FLOWS: &str = r#"
CREATE TABLE job_deps (
    job_id    BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    after_id  BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, after_id)
);
CREATE INDEX job_deps_waiting ON job_deps (after_id, job_id);
CREATE TABLE flows (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    spec        TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    next_fire   BIGINT,
    run_count   BIGINT NOT NULL,
    note        TEXT
);
CREATE INDEX flows_next_fire ON flows (next_fire) WHERE next_fire IS NOT NULL;
CREATE TABLE flow_steps (
    flow_id  TEXT   NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    run      BIGINT NOT NULL,
    step     TEXT   NOT NULL,
    job_id   BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (flow_id, run, step)
);
CREATE INDEX flow_steps_by_job ON flow_steps (job_id);
"#;

/// The migration both schemas take, in the same words: a job keeps the
/// idempotency key it was submitted with, unique in the store, for as long
/// as the job row lives.
pub const IDEMPOTENCY_KEYS: &str = r#"
-- A submit's idempotency key: a job sent again with its key is answered as
-- the first time; no two jobs hold one key. Jobs stored before have none.
ALTER TABLE jobs ADD COLUMN idem_key TEXT;
{jobs_idem_key}
"#;

/// How one SQL dialect spells what the shared statements leave open.
pub struct Dialect {
    /// Parameters are `$N` (PostgreSQL) rather than `?N` (SQLite).
    pub dollar_params: bool,
    /// Ends a query of rows read to be written back: they stay locked
    /// until the transaction ends.
    pub for_update: &'static str,
    /// Ends a query that claims rows, passing over those another
    /// transaction holds.
    pub skip_locked: &'static str,
    /// Ends `expired_runs`' query, runs `r` joined with their jobs `j`.
    pub skip_locked_runs_and_jobs: &'static str,
    /// A subquery of the integers in a JSON array parameter (`{}` is the
    /// parameter): a list of row ids in one statement.
    pub json_ints: &'static str,
    /// The same, of the strings in a JSON array parameter.
    pub json_texts: &'static str,
    /// Whether `col` being one of a subquery's values is best said
    /// `col = ANY(ARRAY(subquery))` (PostgreSQL: the set is computed once
    /// and each value looked up in the index, where `IN` plans a hash join
    /// over a scan of the table) rather than `col IN (subquery)`.
    pub any_array: bool,
    /// A row source of the elements of a JSON array parameter (`{}` is the
    /// parameter), one row each, its column `value` the element: an array
    /// (`value ->> N` reads its Nth item) or an object (`value ->> 'name'`).
    /// Many rows written in one statement.
    pub json_rows: &'static str,
    /// Whether writing many rows goes as one statement (`json_rows`) rather
    /// than a prepared statement a row: yes where each statement is a round
    /// trip (PostgreSQL), no where statements are calls into the process and
    /// decoding the JSON costs more than the statements it saves (SQLite).
    pub batch_rows: bool,
    /// How a one-row insert gives its id: ` RETURNING id` (PostgreSQL), or
    /// nothing and the connection's last row id (SQLite, where RETURNING
    /// makes every insert keep a statement journal).
    pub returning_id: &'static str,
    /// Whether queries name the index they must use (`INDEXED BY`).
    pub indexed_by: bool,
    /// The function `f(text, part)` giving where `part` starts in `text`.
    pub instr: &'static str,
    /// An alert that is firing (`state`), and one that is not, in the
    /// dialect's spelling of booleans (as the partial index `alerts_open`).
    pub firing: &'static str,
    pub not_firing: &'static str,
}

impl Dialect {
    /// `col` is one of the values `set` (a subquery) selects.
    fn in_set(&self, col: &str, set: &str) -> String {
        if self.any_array {
            format!("{col} = ANY(ARRAY({set}))")
        } else {
            format!("{col} IN ({set})")
        }
    }

    /// ` INDEXED BY name` where the dialect names indexes, else nothing.
    fn index(&self, name: &str) -> String {
        if self.indexed_by {
            format!(" INDEXED BY {name}")
        } else {
            String::new()
        }
    }

    /// A shared statement, written with `?N` parameters, in this dialect.
    fn finish(&self, sql: String) -> String {
        if self.dollar_params {
            dollar_params(&sql)
        } else {
            sql
        }
    }
}

/// `sql` with its `?N` parameters written `$N`; quoted text is left alone.
pub fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        let numbered = chars.peek().is_some_and(|n| n.is_ascii_digit());
        out.push(if c == '?' && numbered && !quoted {
            '$'
        } else {
            c
        });
    }
    out
}

/// A name as an SQL string literal (names never hold a quote).
pub fn quoted(name: &str) -> String {
    format!("'{name}'")
}

/// A statement parameter, as both backends bind it. Integers are stored in
/// whatever width the column has (PostgreSQL's INTEGER or BIGINT).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
    Bool(bool),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value<'_> {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}

/// Counts and sizes beyond `i64::MAX` are stored as `i64::MAX`.
impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value<'_> {
    fn from(v: usize) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Cow::Owned(v))
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().into()
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// `[Value; N]` from anything each converts from.
macro_rules! values {
    ($($v:expr),* $(,)?) => { [$($crate::store::sql::Value::from($v)),*] };
}
pub(crate) use values;

/// One row of a result, read by column number. A value of the wrong type
/// or out of range is `StoreError::Invalid`, never a panic.
pub trait SqlRow {
    /// An integer column of any width; `None` for NULL.
    fn opt_i64(&self, i: usize) -> Result<Option<i64>>;
    /// A text column (PostgreSQL's BYTEA too, as UTF-8); `None` for NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    /// A boolean column (SQLite's INTEGER 0 or 1).
    fn flag(&self, i: usize) -> Result<bool>;

    fn i64(&self, i: usize) -> Result<i64> {
        self.opt_i64(i)?.ok_or_else(|| null(i))
    }

    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| null(i))
    }

    fn opt_i32(&self, i: usize) -> Result<Option<i32>> {
        self.opt_i64(i)?.map(|v| narrow(v, i)).transpose()
    }

    fn i32(&self, i: usize) -> Result<i32> {
        narrow(self.i64(i)?, i)
    }

    fn opt_u32(&self, i: usize) -> Result<Option<u32>> {
        self.opt_i64(i)?.map(|v| narrow(v, i)).transpose()
    }

    fn u32(&self, i: usize) -> Result<u32> {
        narrow(self.i64(i)?, i)
    }

    fn opt_u64(&self, i: usize) -> Result<Option<u64>> {
        self.opt_i64(i)?.map(|v| narrow(v, i)).transpose()
    }

    fn u64(&self, i: usize) -> Result<u64> {
        narrow(self.i64(i)?, i)
    }

    /// A count, which is never negative.
    fn count(&self, i: usize) -> Result<u64> {
        Ok(self.i64(i)?.max(0) as u64)
    }
}

fn null(i: usize) -> StoreError {
    StoreError::Invalid(format!("column {i} is NULL"))
}

fn narrow<T: TryFrom<i64>>(v: i64, i: usize) -> Result<T> {
    T::try_from(v).map_err(|_| StoreError::Invalid(format!("column {i}: {v} is out of range")))
}

/// A column holding a name the model parses (a state, an outcome, ...).
fn named<T>(r: &dyn SqlRow, i: usize, what: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let name = r.text(i)?;
    parse(&name).ok_or_else(|| StoreError::Invalid(format!("unknown {what} '{name}'")))
}

/// A column holding JSON.
fn json<T: serde::de::DeserializeOwned>(r: &dyn SqlRow, i: usize, what: &str) -> Result<T> {
    serde_json::from_str(&r.text(i)?).map_err(|e| StoreError::Invalid(format!("{what}: {e}")))
}

/// `value` as JSON text, for a column.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// A row of `JOB_COLUMNS`, as `job` reads it: the job, and when the row
/// could not be read as one and is not set aside yet, why.
pub struct JobRow {
    pub job: JobRecord,
    pub unreadable: Option<String>,
}

/// A row of `JOB_COLUMNS`. Only its id must be readable: a row whose spec,
/// state or another column is not what a job holds comes back as a
/// `broken` job (its key, a stub spec, the reason in its note), and
/// `unreadable` says why unless the row was set aside already; one bad row
/// never fails a whole list, claim or tick.
pub fn job(r: &dyn SqlRow) -> Result<JobRow> {
    let id = r.i64(0)?;
    let stored_state = r.text(2);
    let set_aside = matches!(&stored_state, Ok(s) if s == JobState::Broken.as_str());
    let read = || -> Result<JobRecord> {
        Ok(JobRecord {
            id,
            spec: json(r, 1, "spec")?,
            state: named(r, 2, "state", JobState::parse)?,
            submitted_at: r.i64(3)?,
            updated_at: r.i64(4)?,
            next_fire: r.opt_i64(5)?,
            run_count: r.u32(6)?,
            note: r.opt_text(7)?,
        })
    };
    let error = match read() {
        Ok(job) => {
            return Ok(JobRow {
                job,
                unreadable: None,
            })
        }
        Err(StoreError::Invalid(why)) => why,
        Err(e) => e.to_string(),
    };
    // What can still be read of it: the key, and the times.
    let key = |i: usize| r.text(i).unwrap_or_else(|_| "?".into());
    let (group, task_id) = (key(8), key(9));
    let note = r.opt_text(7).ok().flatten();
    let unreadable = (!set_aside).then(|| {
        let was = match &stored_state {
            Ok(state) => format!("; it was '{}'", crate::model::cut(state, 40)),
            Err(_) => String::new(),
        };
        format!(
            "broken: its stored row cannot be read ({}){was}",
            crate::model::cut(&error, 200)
        )
    });
    Ok(JobRow {
        job: JobRecord {
            id,
            // The spec itself when only another column is wrong.
            spec: json(r, 1, "spec").unwrap_or_else(|_| JobSpec::new(group, task_id)),
            state: JobState::Broken,
            submitted_at: r.i64(3).unwrap_or(0),
            updated_at: r.i64(4).unwrap_or(0),
            next_fire: None,
            run_count: r.u32(6).unwrap_or(0),
            note: unreadable.clone().or(note),
        },
        unreadable,
    })
}

/// A row of `FLOW_COLUMNS`.
pub fn flow(r: &dyn SqlRow) -> Result<FlowRecord> {
    Ok(FlowRecord {
        id: r.text(0)?,
        spec: json(r, 1, "flow spec")?,
        state: named(r, 2, "flow state", crate::model::FlowState::parse)?,
        created_at: r.i64(3)?,
        updated_at: r.i64(4)?,
        next_fire: r.opt_i64(5)?,
        run_count: r.u32(6)?,
        note: r.opt_text(7)?,
    })
}

/// A row of `RUN_COLUMNS`.
pub fn run(r: &dyn SqlRow) -> Result<RunRecord> {
    let outcome = match r.opt_text(9)? {
        Some(o) => Some(
            RunOutcome::parse(&o)
                .ok_or_else(|| StoreError::Invalid(format!("unknown run outcome '{o}'")))?,
        ),
        None => None,
    };
    Ok(RunRecord {
        id: r.i64(0)?,
        job_id: r.i64(1)?,
        group: r.text(2)?,
        priority: r.i32(3)?,
        run: r.u32(4)?,
        attempt: r.u32(5)?,
        state: named(r, 6, "run state", RunState::parse)?,
        scheduled_at: r.i64(7)?,
        due_at: r.i64(8)?,
        outcome,
        exit_code: r.opt_i32(10)?,
        worker: r.opt_text(11)?,
        started_at: r.opt_i64(12)?,
        ended_at: r.opt_i64(13)?,
        lease_until: r.opt_i64(14)?,
        fence: r.i64(15)?,
        reason: r.opt_text(16)?,
        part: part(r, 17)?,
    })
}

/// A row of `LOG_COLUMNS`.
pub fn log(r: &dyn SqlRow) -> Result<LogRecord> {
    Ok(LogRecord {
        run_id: r.i64(0)?,
        seq: r.u64(1)?,
        stream: named(r, 2, "stream", Stream::parse)?,
        line: r.text(3)?,
        at: r.i64(4)?,
    })
}

/// A row of `LOG_STATS_COLUMNS`.
pub fn log_stats(r: &dyn SqlRow) -> Result<LogStats> {
    Ok(LogStats {
        head_bytes: r.u64(0)?,
        head_last: r.opt_u64(1)?,
        tail_bytes: r.u64(2)?,
        dropped_lines: r.u64(3)?,
        dropped_bytes: r.u64(4)?,
    })
}

/// A row of `FEEDBACK_COLUMNS`.
pub fn feedback(r: &dyn SqlRow) -> Result<FeedbackItem> {
    Ok(FeedbackItem {
        id: r.i64(0)?,
        client_group: r.text(1)?,
        task_id: r.text(2)?,
        group: r.text(3)?,
        run: r.u32(4)?,
        attempt: r.u32(5)?,
        outcome: named(r, 6, "run outcome", RunOutcome::parse)?,
        exit_code: r.opt_i32(7)?,
        reason: r.opt_text(8)?,
        ended_at: r.i64(9)?,
    })
}

/// A row of `ALERT_COLUMNS`.
pub fn alert(r: &dyn SqlRow) -> Result<Alert> {
    Ok(Alert {
        id: r.i64(0)?,
        key: r.text(1)?,
        rule: r.opt_text(2)?,
        group: r.opt_text(3)?,
        task_id: r.opt_text(4)?,
        run: r.opt_u32(5)?,
        condition: r.text(6)?,
        message: r.text(7)?,
        raised_at: r.i64(8)?,
        resolved_at: r.opt_i64(9)?,
        state: r.flag(10)?,
        silence_until: r.i64(11)?,
        folded: r.u64(12)?,
        sent_folded: r.u64(13)?,
        target: r.text(14)?,
        deliveries: json(r, 15, "alert deliveries")?,
        next_attempt_at: r.opt_i64(16)?,
        attempts: r.u32(17)?,
        seq: r.i64(18)?,
    })
}

/// A step of a transaction, or of the savepoint (`op`) inside it that each
/// operation runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tx {
    Begin,
    Commit,
    Rollback,
    Savepoint,
    ReleaseSavepoint,
    RollbackToSavepoint,
}

/// What a backend gives the shared `Store` implementation: statements run
/// with neutral values, transactions, and the operations whose SQL only
/// its dialect can write. Implementing it implements `Store`.
pub trait SqlBackend: Send {
    /// The shared statements in this backend's dialect.
    fn statements(&self) -> &'static Statements;

    /// Run `sql`, decoding each row it returns with `decode`.
    fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        decode: impl FnMut(&dyn SqlRow) -> Result<T>,
    ) -> Result<Vec<T>>;
    /// Run `sql`; how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64>;

    /// The first row of `sql`, if any.
    fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        decode: impl FnMut(&dyn SqlRow) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.query(sql, params, decode)?.into_iter().next())
    }

    /// The first row of `sql`, which must return one.
    fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        decode: impl FnMut(&dyn SqlRow) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, decode)?
            .ok_or_else(|| StoreError::Invalid("a statement returned no row".into()))
    }

    /// Whether `sql` returns a row.
    fn exists(&mut self, sql: &str, params: &[Value<'_>]) -> Result<bool> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// `Store::journal`.
    fn journal_mut(&mut self) -> &mut Journal;
    /// `Store::begin`, `commit`, ...: a step of the transaction or of the
    /// savepoint each operation runs in.
    fn transaction(&mut self, step: Tx) -> Result<()>;
    /// `Store::retryable_failure`.
    fn retryable(&self) -> Option<StoreError> {
        None
    }

    /// Run an `INSERT … ON CONFLICT DO NOTHING` of one row (ending in
    /// `Dialect::returning_id`): the new row's id, or `None` when it
    /// conflicted.
    fn insert_id(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<i64>>;
    /// `Store::reserve_fences`.
    fn next_fences(&mut self, n: i64) -> Result<i64>;
    /// The next alert change number (`alerts.seq`).
    fn next_alert_seq(&mut self) -> Result<i64>;
    /// Make concurrent callers with alert `key` wait for each other until
    /// commit (nothing to do where one writer excludes the others).
    fn lock_alert_key(&mut self, _key: &str) -> Result<()> {
        Ok(())
    }
    /// `Store::append_logs`.
    fn insert_log_lines(&mut self, lines: &[LogRecord]) -> Result<()>;
    /// `Store::trim_logs`.
    fn delete_log_head(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_params_renumber_parameters_outside_quotes() {
        assert_eq!(
            dollar_params("SELECT ?1, ?12 FROM t WHERE a = '?3' AND b = ? AND c = ?2"),
            "SELECT $1, $12 FROM t WHERE a = '?3' AND b = ? AND c = $2"
        );
    }

    #[test]
    fn values_convert_without_loss_or_wrap() {
        assert_eq!(Value::from(u64::MAX), Value::Int(i64::MAX));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(&Some("x".to_string())), Value::Text("x".into()));
        assert_eq!(values![3u32, true], [Value::Int(3), Value::Bool(true)]);
    }

    struct Ints(Vec<Option<i64>>);

    impl SqlRow for Ints {
        fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
            Ok(self.0[i])
        }
        fn opt_text(&self, _: usize) -> Result<Option<String>> {
            Err(StoreError::Invalid("not text".into()))
        }
        fn flag(&self, _: usize) -> Result<bool> {
            Ok(false)
        }
    }

    #[test]
    fn decoding_out_of_range_or_null_is_invalid() {
        let row = Ints(vec![
            Some(-1),
            None,
            Some(i64::from(u32::MAX) + 1),
            Some(-5),
        ]);
        assert!(matches!(row.u32(0), Err(StoreError::Invalid(_))));
        assert!(matches!(row.i64(1), Err(StoreError::Invalid(_))));
        assert!(matches!(row.u32(2), Err(StoreError::Invalid(_))));
        assert_eq!(row.count(3).ok(), Some(0));
        assert!(matches!(run(&row), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn a_job_row_that_cannot_be_read_is_broken_not_an_error() {
        // Its id reads; its spec, state and key do not.
        let row = Ints(vec![Some(7), None, None, Some(1), Some(2), None, Some(0)]);
        let decoded = job(&row).expect("a broken job, not an error");
        assert_eq!(decoded.job.id, 7);
        assert_eq!(decoded.job.state, JobState::Broken);
        assert_eq!(decoded.job.next_fire, None);
        assert_eq!(decoded.job.spec.task_id, "?");
        let why = decoded.unreadable.expect("why");
        assert!(why.contains("cannot be read"), "{why}");
        assert_eq!(decoded.job.note.as_deref(), Some(why.as_str()));
        // Without an id there is nothing to set aside.
        assert!(job(&Ints(vec![None])).is_err());
    }
}
