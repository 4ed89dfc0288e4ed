//! Durable state behind one trait. `Store` offers row-level primitives
//! (jobs, runs, log lines) that the tracker composes inside a transaction;
//! `StoreHandle` runs them on one thread and commits whatever arrives together
//! in one transaction (group commit), acknowledging each caller only after the
//! commit. SQL lives in this module and nowhere else: `sql` holds what both
//! backends share (the statements, the index DDL, row decoding and the one
//! implementation of `Store`), and each backend (`sqlite`, the embedded
//! default, and `postgres`, shared by several trackers) only its dialect:
//! its connection, schema, transactions and locking.

mod actor;
pub mod alloc;
pub mod journal;
pub mod postgres;
mod records;
mod sql;
mod sqlite;

pub use actor::{Hook, Observer, StoreHandle};
pub use journal::{Journal, RunEvent};
pub use postgres::PostgresStore;
pub use records::{FlowRecord, JobRecord, LogRecord, RunRecord};
pub use sqlite::SqliteStore;

use crate::model::{
    Alert, AlertQuery, AlertRule, FeedbackItem, JobKind, JobState, Millis, MinuteCount, StoreStats,
};
use thiserror::Error;

/// A store failure. Cloneable, because a failed group commit fails every
/// caller in the batch.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the database at {path} is not an lts database or is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("the database at {path} has schema version {found}, newer than this ltsd supports ({supported}); run a newer ltsd")]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("stored data is invalid: {0}")]
    Invalid(String),
    /// A row that would break a unique key (a run for a tick or attempt
    /// that already has one); the rest of the transaction is unharmed.
    #[error("already stored: {0}")]
    Conflict(String),
    #[error("store error: {0}")]
    Backend(String),
    /// The transaction lost a race with another one (a deadlock, a
    /// serialization failure) and was rolled back; run again, it may well
    /// succeed. The group-commit actor does so before any caller hears of it.
    #[error("store conflict with a concurrent transaction: {0}")]
    Retryable(String),
    #[error("the store stopped before completing the operation")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retryable(_))
    }
}

/// How a run's stored log stands against the cap: the head is kept whole,
/// the tail is trimmed from its start; what was cut is counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub head_bytes: u64,
    /// The last line of the head, once the head is full.
    pub head_last: Option<u64>,
    pub tail_bytes: u64,
    pub dropped_lines: u64,
    pub dropped_bytes: u64,
}

/// A worker's claim of due runs (`Store::start_runs`).
#[derive(Debug, Clone)]
pub struct StartClaim {
    pub group: String,
    pub worker: String,
    pub now: Millis,
    pub lease_until: Millis,
    /// The claim's fencing token, shared by the runs it starts: a run and
    /// its token name one claim.
    pub fence: i64,
    pub limit: usize,
}

/// What `Store::start_runs` started.
#[derive(Debug, Default)]
pub struct Started {
    pub runs: Vec<(RunRecord, JobRecord)>,
    /// Due runs were left queued (the claim's payload was full, or it took
    /// its share of a tick's shards).
    pub busy: bool,
    /// A broadcast tick was fanned out: other workers of the group got runs.
    pub fanned_out: bool,
}

/// What `list_jobs` selects.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub group: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    /// Only task ids containing this text.
    pub text: Option<String>,
    /// Only jobs older than this one (a job's row id): the next page.
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// The width of `runs_by_minute`'s buckets.
pub const MINUTE_MS: Millis = 60_000;

/// Row-level operations on jobs, runs and log lines. Every call happens
/// inside a transaction that `StoreHandle` opens; `savepoint` and
/// `rollback_to_savepoint` let one caller's failure leave the others' work in
/// the same transaction intact.
pub trait Store: Send {
    /// The life-cycle events of the transaction in progress.
    fn journal(&mut self) -> &mut Journal;
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
    fn savepoint(&mut self) -> Result<()>;
    fn release_savepoint(&mut self) -> Result<()>;
    fn rollback_to_savepoint(&mut self) -> Result<()>;
    /// The retryable failure (`StoreError::Retryable`) that a statement of
    /// the transaction in progress met, if one did: the whole transaction is
    /// lost (PostgreSQL aborts it, and rolling back to a savepoint would keep
    /// the locks of the operations before it), so the actor rolls it back and
    /// runs its operations again, whatever each operation made of the error.
    /// `begin` forgets it.
    fn retryable_failure(&self) -> Option<StoreError> {
        None
    }

    /// Insert a job; returns its id, or `None` (and changes nothing) when
    /// its (group, task id) key is taken.
    fn insert_job(&mut self, job: &JobRecord) -> Result<Option<i64>>;
    /// Insert jobs in one statement, as `insert_job` one by one would: their
    /// ids, in `jobs`' order and increasing along it, `None` (and nothing
    /// stored) where the key is taken, by a stored job or by an earlier job
    /// of `jobs` (the first of a key the batch repeats is the one inserted).
    fn insert_jobs(&mut self, jobs: &[JobRecord]) -> Result<Vec<Option<i64>>>;
    /// Store a job's state, next fire, run count and note (its spec is fixed).
    fn update_job(&mut self, job: &JobRecord) -> Result<()>;
    /// Store a job's spec (and its kind) as `lts edit` changed it.
    fn update_spec(&mut self, job: &JobRecord) -> Result<()>;
    /// Delete a job with its runs and their log lines.
    fn delete_job(&mut self, id: i64) -> Result<()>;
    fn job_by_key(&mut self, group: &str, task_id: &str) -> Result<Option<JobRecord>>;
    fn job_by_id(&mut self, id: i64) -> Result<Option<JobRecord>>;
    /// The job submitted with idempotency key `key`, read to be written
    /// back (as `job_by_id`).
    fn job_by_idempotency_key(&mut self, key: &str) -> Result<Option<JobRecord>>;
    fn jobs_by_task_id(&mut self, task_id: &str) -> Result<Vec<JobRecord>>;
    /// Jobs matching the query, oldest first.
    fn list_jobs(&mut self, query: &JobQuery) -> Result<Vec<JobRecord>>;
    /// How many jobs match `query`'s filters (its cursor and limit aside).
    fn count_jobs(&mut self, query: &JobQuery) -> Result<u64>;

    /// Insert a run; `StoreError::Conflict` when the job already has that
    /// (run, attempt) or a run for that (tick, attempt).
    fn insert_run(&mut self, run: &RunRecord) -> Result<i64>;
    /// Insert runs in one statement; their ids, in `runs`' order and
    /// increasing along it (dispatch takes runs of a priority by id).
    /// `StoreError::Conflict` when one would conflict as `insert_run` says
    /// (with a stored run or an earlier one of `runs`); the others may be
    /// stored by then, so the caller's savepoint is to be rolled back.
    fn insert_runs(&mut self, runs: &[RunRecord]) -> Result<Vec<i64>>;
    fn update_run(&mut self, run: &RunRecord) -> Result<()>;
    fn run_by_id(&mut self, id: i64) -> Result<Option<RunRecord>>;
    /// Whether a run exists; unlike `run_by_id`, it locks nothing.
    fn run_exists(&mut self, id: i64) -> Result<bool>;
    /// A job read to be written back (as `job_by_id`), or `None` when
    /// another transaction holds it (or it does not exist): for a caller
    /// that holds one of its runs already and must not wait for the job.
    fn job_if_free(&mut self, id: i64) -> Result<Option<JobRecord>>;
    /// The job of a run, read to be written back (as `job_by_id`). Whoever
    /// changes a run and its job locks the job first, then the run: a writer
    /// that starts from a run (a worker's result) finds its job with this.
    fn job_of_run(&mut self, run_id: i64) -> Result<Option<JobRecord>>;
    /// A job's latest `limit` run attempts, in (run, attempt) order.
    fn recent_runs(&mut self, job_id: i64, limit: usize) -> Result<Vec<RunRecord>> {
        self.runs_before(job_id, None, limit)
    }
    /// The newest `limit` run attempts of a job whose run number is below
    /// `before` (all when `None`), oldest first.
    fn runs_before(
        &mut self,
        job_id: i64,
        before: Option<u32>,
        limit: usize,
    ) -> Result<Vec<RunRecord>>;
    /// Every attempt of run `run` of a job, in attempt order.
    fn runs_numbered(&mut self, job_id: i64, run: u32) -> Result<Vec<RunRecord>>;
    /// A job's runs that have not ended (queued or running).
    fn open_runs(&mut self, job_id: i64) -> Result<Vec<RunRecord>>;
    /// Whether the job already has a run for the tick at `scheduled_at`.
    fn tick_exists(&mut self, job_id: i64, scheduled_at: Millis) -> Result<bool>;
    /// Every attempt of the runs of a job's tick at `scheduled_at` (one,
    /// or a fanned-out tick's several), in (run, attempt) order.
    fn tick_runs(&mut self, job_id: i64, scheduled_at: Millis) -> Result<Vec<RunRecord>>;
    /// Jobs whose next tick is due at `now` (not suspended), earliest first.
    fn due_jobs(&mut self, now: Millis, limit: usize) -> Result<Vec<JobRecord>>;
    /// The earliest next tick of any job that is not suspended.
    fn next_fire_at(&mut self) -> Result<Option<Millis>>;
    /// Queued runs of `group` due at `now`: highest priority first, then oldest.
    /// Runs another open transaction has claimed are skipped, so concurrent
    /// claims (several trackers on PostgreSQL) never return the same run.
    fn due_runs(&mut self, group: &str, now: Millis, limit: usize) -> Result<Vec<RunRecord>>;
    /// Start up to `claim.limit` queued runs of its group due at its `now`
    /// (highest priority first, then oldest), none pinned to another
    /// worker, on its worker, in one
    /// statement: each becomes running under the claim's lease and fencing
    /// token. Returns them with their jobs, in that order. A due run whose
    /// job another transaction holds is passed over and stays queued.
    fn start_runs(&mut self, claim: &StartClaim) -> Result<Started>;
    /// Set the state of the jobs `ids` that are in one of `from` to `to`,
    /// as of `now` (their note is cleared), in one statement.
    fn move_jobs(
        &mut self,
        ids: &[i64],
        from: &[JobState],
        to: JobState,
        now: Millis,
    ) -> Result<()>;
    /// The jobs of runs `run_ids`, by id, read to be written back (locked
    /// in id order, as a job is locked before its runs).
    fn jobs_of_runs(&mut self, run_ids: &[i64]) -> Result<Vec<JobRecord>>;
    /// Runs by id, read to be written back.
    fn runs_by_ids(&mut self, ids: &[i64]) -> Result<Vec<RunRecord>>;
    /// The open runs of jobs `job_ids`, by job, run and attempt.
    fn open_runs_of(&mut self, job_ids: &[i64]) -> Result<Vec<RunRecord>>;
    /// `update_run` for many runs, in one statement.
    fn update_runs(&mut self, runs: &[RunRecord]) -> Result<()>;
    /// `update_job` for many jobs, in one statement.
    fn update_jobs(&mut self, jobs: &[JobRecord]) -> Result<()>;
    /// The earliest due time among queued runs of `group` that `worker`
    /// may claim: not those pinned to another worker (buffered and held
    /// runs wait for a predecessor or a resume, not for a time).
    fn next_due_at(&mut self, group: &str, worker: &str) -> Result<Option<Millis>>;
    /// The queued runs of `group` pinned to a worker (a broadcast's), by
    /// id; not locked (a writer locks the job, then re-reads the run).
    fn queued_pinned(&mut self, group: &str) -> Result<Vec<RunRecord>>;
    /// Jobs by (group, state), each group's queued runs with the oldest due
    /// time among those due at `now`, and runs that ended in the last
    /// `window_ms` by (group, outcome): a few aggregate queries on indexes.
    fn stats(&mut self, now: Millis, window_ms: i64) -> Result<StoreStats>;
    /// Runs that ended at or after `since`, by (group, minute of their end,
    /// outcome), with the fire lag of the first attempts among them; one
    /// aggregate query on the index of ended runs. Ordered by group, minute,
    /// outcome.
    fn runs_by_minute(&mut self, since: Millis) -> Result<Vec<MinuteCount>>;
    /// Running runs whose lease ended before `now`; like `due_runs`, those
    /// another transaction is changing, or whose job it is, are skipped.
    fn expired_runs(&mut self, now: Millis, limit: usize) -> Result<Vec<RunRecord>>;
    /// Runs a worker holds, as far as the tracker knows.
    fn running_runs_of(&mut self, worker: &str) -> Result<Vec<RunRecord>>;
    /// The earliest lease end among running runs.
    fn next_lease_expiry(&mut self) -> Result<Option<Millis>>;
    /// Reserve `n` fencing tokens; returns the first of `n` consecutive ones,
    /// all greater than any reserved before (there may be gaps between calls).
    fn reserve_fences(&mut self, n: i64) -> Result<i64>;

    /// Append a result to a client group's feedback queue; returns its id.
    fn push_feedback(&mut self, item: &FeedbackItem) -> Result<i64>;
    /// A client group's feedback after `after_id`, oldest first.
    fn feedback_after(
        &mut self,
        client_group: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackItem>>;
    /// Remove a client group's feedback up to and including `up_to`; returns how many.
    fn ack_feedback(&mut self, client_group: &str, up_to: i64) -> Result<usize>;

    /// Delete up to `limit` finished one-off jobs (with their runs and log
    /// lines) last updated before `cutoff`; returns how many.
    fn prune_jobs(&mut self, cutoff: Millis, limit: usize) -> Result<usize>;
    /// Delete up to `limit` ended runs (with their log lines) that ended
    /// before `cutoff`; returns how many.
    fn prune_runs(&mut self, cutoff: Millis, limit: usize) -> Result<usize>;

    /// How much of a run's log is stored and how much was cut.
    fn log_stats(&mut self, run_id: i64) -> Result<LogStats>;
    fn set_log_stats(&mut self, run_id: i64, stats: &LogStats) -> Result<()>;
    /// Delete the oldest lines after `after_seq` until at least `bytes` are
    /// gone; returns (lines, bytes) deleted.
    fn trim_logs(&mut self, run_id: i64, after_seq: u64, bytes: u64) -> Result<(u64, u64)>;

    /// Store log lines; a line already stored (same run and seq) is ignored.
    fn append_logs(&mut self, lines: &[LogRecord]) -> Result<()>;
    /// Lines of a run after `after_seq`, in order, at most `limit`.
    fn logs_after(
        &mut self,
        run_id: i64,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LogRecord>>;
    /// The last `n` lines of a run, in order.
    fn logs_tail(&mut self, run_id: i64, n: usize) -> Result<Vec<LogRecord>>;

    /// Store an alert rule. With `replace`, one of the same name is
    /// replaced; without, `false` (and nothing changes) when one exists.
    fn put_rule(&mut self, rule: &AlertRule, replace: bool) -> Result<bool>;
    /// Delete a rule; whether it existed.
    fn delete_rule(&mut self, name: &str) -> Result<bool>;
    /// Every rule, by name.
    fn rules(&mut self) -> Result<Vec<AlertRule>>;
    /// Insert an alert; returns its id. Its `seq` is assigned here.
    fn insert_alert(&mut self, alert: &Alert) -> Result<i64>;
    /// Store an alert's changes (resolution, folds, deliveries); its `seq`
    /// moves past every other.
    fn update_alert(&mut self, alert: &Alert) -> Result<()>;
    /// The newest alert with `key`. Concurrent callers with the same key
    /// (trackers sharing a store) wait for each other until commit, so
    /// two never both find none and raise the same alert twice.
    fn latest_alert(&mut self, key: &str) -> Result<Option<Alert>>;
    /// An alert, locked until the transaction ends (it is read to be
    /// written back; another tracker's fold waits for it).
    fn alert_by_id(&mut self, id: i64) -> Result<Option<Alert>>;
    /// With `after_seq`: alerts changed after it, oldest change first;
    /// without: the newest `limit` (0: all), newest first. Only `group`'s
    /// when given.
    fn list_alerts(&mut self, query: &AlertQuery) -> Result<Vec<Alert>>;
    /// Alerts with a delivery attempt due at `now`, earliest first.
    fn due_alerts(&mut self, now: Millis, limit: usize) -> Result<Vec<Alert>>;
    /// The earliest due delivery attempt.
    fn next_alert_attempt(&mut self) -> Result<Option<Millis>>;
    /// State alerts not resolved yet.
    fn open_state_alerts(&mut self) -> Result<Vec<Alert>>;
    /// Delete up to `limit` alerts raised before `cutoff` that need no more
    /// delivery and are not firing; returns how many.
    fn prune_alerts(&mut self, cutoff: Millis, limit: usize) -> Result<usize>;

    /// Record that job `job_id` runs after job `after_id` (once).
    fn insert_dep(&mut self, job_id: i64, after_id: i64) -> Result<()>;
    /// The jobs job `job_id` runs after, by id.
    fn dependencies(&mut self, job_id: i64) -> Result<Vec<JobRecord>>;
    /// The jobs that run after any of `job_ids`, by id, read to be written
    /// back: two transactions ending two jobs a third waits for take turns.
    fn dependents(&mut self, job_ids: &[i64]) -> Result<Vec<JobRecord>>;
    /// The jobs that ran after job `old` run after job `new` (a job
    /// replaced under its key keeps the jobs waiting for it).
    fn repoint_deps(&mut self, old: i64, new: i64) -> Result<()>;

    fn insert_flow(&mut self, flow: &FlowRecord) -> Result<()>;
    /// Store a flow's state, next tick, run count and note (its spec is fixed).
    fn update_flow(&mut self, flow: &FlowRecord) -> Result<()>;
    /// A flow, read to be written back.
    fn flow_by_id(&mut self, id: &str) -> Result<Option<FlowRecord>>;
    /// The newest `limit` flows (0: all), newest first.
    fn list_flows(&mut self, limit: usize) -> Result<Vec<FlowRecord>>;
    /// Active flows whose next tick is due at `now`, earliest first, read
    /// to be written back.
    fn due_flows(&mut self, now: Millis, limit: usize) -> Result<Vec<FlowRecord>>;
    /// Record that `step` of run `run` of flow `flow_id` is job `job_id`.
    fn insert_flow_step(&mut self, flow_id: &str, run: u32, step: &str, job_id: i64) -> Result<()>;
    /// The jobs of run `run` of a flow, with their steps' names, by job id,
    /// read to be written back.
    fn flow_jobs(&mut self, flow_id: &str, run: u32) -> Result<Vec<(String, JobRecord)>>;
    /// A flow, read only: nothing is locked (the console and `lts flow
    /// show` must not hold back a claim of its steps' runs).
    fn read_flow(&mut self, id: &str) -> Result<Option<FlowRecord>>;
    /// `flow_jobs`, read only: nothing is locked.
    fn read_flow_jobs(&mut self, flow_id: &str, run: u32) -> Result<Vec<(String, JobRecord)>>;

    /// Take or renew the tracker leader lease until `now + ttl_ms`. Returns
    /// the lease's epoch when `holder` holds it after the call, `None` when
    /// another holder's lease is still live at `now`. The epoch grows by one
    /// each time the holder changes, never when the same holder renews.
    fn acquire_leadership(&mut self, holder: &str, now: Millis, ttl_ms: i64)
        -> Result<Option<i64>>;
    /// Whether `holder` still holds the lease with `epoch`, unexpired at
    /// `now`. The lease row stays locked until the transaction ends, so no
    /// other holder can take over before what this transaction writes is
    /// committed (fencing).
    fn check_leader(&mut self, holder: &str, epoch: i64, now: Millis) -> Result<bool>;
}
