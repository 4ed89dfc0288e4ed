//! The wire protocol between `lts`, workers, trackers and the registry: the
//! tracker's tarpc service (`TrackerRpc`) with its request and reply types,
//! the registry's service (`registry`), typed wire errors, and the handshake
//! every connection starts with (TLS, the version check and the cluster
//! token's challenge-response: `Security`). `PROTOCOL_VERSION` is defined here
//! and nowhere else.

pub mod auth;
mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
mod handshake;
pub mod registry;
mod security;
pub mod tls;
mod transport;

pub use auth::Token;
pub use error::WireError;
pub use handshake::{Hello, Welcome, AT_LIMIT, CLIENT_ROLE, HANDSHAKE_TIMEOUT, WRONG_TOKEN};
pub use security::{Access, Security};
pub use tls::TlsError;
pub use transport::{
    accept, connect, context, dial, serve_connection, transport, Accepted, BoxedIo, ConnectError,
    Connected, Transport, CONNECT_TIMEOUT, REDIAL_AFTER,
};

use crate::model::{
    Alert, AlertQuery, AlertRule, FeedbackItem, FlowSpec, FlowView, JobDetail, JobKind, JobSpec,
    JobState, JobView, LogEntry, Millis, Misfire, NodeView, Overlap, Part, RunOutcome, Schedule,
    StoreStats, Stream,
};
use registry::EventPage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped whenever a message changes shape; peers must agree exactly.
pub const PROTOCOL_VERSION: u32 = 11;

/// How a caller names a job: by task id, with its group when the id alone is
/// not unique in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub task_id: String,
    pub group: Option<String>,
}

/// What `lts jobs` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    pub group: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    /// Only task ids that contain this text.
    pub text: Option<String>,
    /// The next page: jobs older than the one this cursor names (a
    /// `JobPage::next` of an earlier answer).
    pub cursor: Option<i64>,
    /// At most this many, the newest; 0 means all.
    pub limit: u32,
}

/// One page of jobs: the newest that match, oldest first, with how many
/// match in all and the cursor of the next (older) page when there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    pub total: u64,
    pub next: Option<i64>,
}

/// Which of a job's runs to show: the newest `limit` (0: the default, 50)
/// whose run number is below `before`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsPage {
    pub limit: u32,
    pub before: Option<u32>,
}

/// The tracker's answer to one submitted job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAck {
    pub task_id: String,
    pub group: String,
    pub state: JobState,
    /// True when `--replace` replaced an existing job.
    pub replaced: bool,
}

/// A request for a job's log lines after a cursor, waiting up to `wait_ms`
/// for new ones when there are none yet and the run has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    pub job: JobRef,
    /// The run number; `None` means the latest run.
    pub run: Option<u32>,
    /// Only the last `tail` lines (before any waiting).
    pub tail: Option<u32>,
    /// Lines after this sequence number of the chosen run's latest attempt.
    pub after_seq: Option<u64>,
    /// The attempt `after_seq` belongs to; a newer attempt starts from its
    /// first line.
    pub attempt: Option<u32>,
    pub wait_ms: u64,
}

impl LogQuery {
    /// Move the cursor past `page`, the answer to this query: a new attempt
    /// starts its lines afresh, and once a run is known the query stays on
    /// it (and reads on from the cursor rather than a tail).
    pub fn advance(&mut self, page: &LogPage) {
        if page.attempt != self.attempt {
            self.after_seq = None;
            self.attempt = page.attempt;
        }
        if let Some(last) = page.lines.last() {
            self.after_seq = Some(last.seq);
        }
        if self.run.is_none() {
            self.run = page.run;
        }
        if self.run.is_some() {
            self.tail = None;
        }
    }
}

/// Log lines, and whether more can come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<LogEntry>,
    /// The run the lines belong to, once one exists.
    pub run: Option<u32>,
    /// The attempt of that run the lines belong to.
    pub attempt: Option<u32>,
    /// The run has ended and every line it wrote is in this page or before.
    pub done: bool,
}

/// A worker introducing itself; sent with every pull so a restarted tracker
/// learns about its workers without a separate registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub id: String,
    pub group: String,
    pub threads: u32,
    pub version: String,
    pub started_at: Millis,
    /// Where the worker serves its metrics and health checks, when it does.
    #[serde(default)]
    pub http: Option<String>,
}

/// A worker asking for up to `free` runs, waiting up to `wait_ms` for work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub worker: WorkerInfo,
    pub running: u32,
    pub free: u32,
    pub wait_ms: u64,
}

/// One run handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The run's id; results and heartbeats name it.
    pub run_id: i64,
    /// A token that must come back with the result; a result with a stale
    /// token is recorded but changes nothing.
    pub fence: i64,
    pub job: JobSpec,
    pub run: u32,
    pub attempt: u32,
    pub scheduled_at: Millis,
    /// How long the lease lasts without a heartbeat.
    pub lease_ms: u64,
    /// The run's place in a fanned-out tick: a shard is run with
    /// `LTS_SHARD` and `LTS_SHARDS`.
    pub part: Part,
}

/// All the runs a worker holds, renewed in one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub worker: WorkerInfo,
    pub runs: Vec<(i64, i64)>,
}

/// What the worker should stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Runs cancelled (or no longer this worker's): stop them.
    pub stop: Vec<i64>,
}

/// Something a worker sends upstream, in the order it happened: the log lines
/// of a run always come before its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upstream {
    Log {
        run_id: i64,
        seq: u64,
        stream: Stream,
        line: String,
        at: Millis,
    },
    Done(RunResult),
}

/// How a run ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: i64,
    pub fence: i64,
    pub outcome: RunOutcome,
    pub exit_code: Option<i32>,
    pub ended_at: Millis,
    pub reason: Option<String>,
}

/// What `lts edit` changes in a job: each field that is `Some` replaces the
/// job's own; the rest stay. The job keeps its task id, group and history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEdit {
    pub schedule: Option<Schedule>,
    /// Parameters to set (added or replaced).
    pub set_params: BTreeMap<String, String>,
    /// Replace every parameter with `set_params` rather than merging.
    pub replace_params: bool,
    pub command: Option<Vec<String>>,
    pub priority: Option<i32>,
    pub max_retries: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
    /// `Some(None)` removes the timeout.
    pub timeout_ms: Option<Option<u64>>,
    pub overlap: Option<Overlap>,
    pub misfire: Option<Misfire>,
    pub catch_up_window_ms: Option<Option<u64>>,
    /// The run outcomes that raise an alert; `Some(vec![])` stops alerting.
    pub alert: Option<Vec<RunOutcome>>,
    /// Where the alerts go; `Some(None)` removes the target.
    pub alert_to: Option<Option<String>>,
}

impl JobEdit {
    /// Whether the edit changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == JobEdit::default()
    }
}

/// What `suspend | resume | cancel --all` does to each job it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Suspend,
    Resume,
    Cancel,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Suspend => "suspend",
            BulkAction::Resume => "resume",
            BulkAction::Cancel => "cancel",
        }
    }
}

/// One job a bulk action or a purge left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub task_id: String,
    pub group: String,
    pub reason: String,
}

/// What a bulk action or a purge did: how many jobs it selected, changed
/// (or deleted), and the first of those it left alone with why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    pub matched: u64,
    pub done: u64,
    /// How many were left alone in all (`skipped` holds at most 100).
    pub skipped_count: u64,
    pub skipped: Vec<Skipped>,
}

/// What `lts purge` deletes: ended jobs of the filter's group and state
/// that last changed before `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeFilter {
    pub group: Option<String>,
    pub state: Option<JobState>,
    pub before: Millis,
}

/// A tracker at a glance, for `lts status` and `lts version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerStatus {
    pub id: String,
    pub version: String,
    pub protocol: u32,
    pub address: String,
    /// The console and HTTP API, when served.
    pub http: Option<String>,
    /// `sqlite`, or the PostgreSQL URL without its password.
    pub store: String,
    /// Whether this tracker fires ticks, expires leases and prunes.
    pub leader: bool,
    pub started_at: Millis,
    pub now: Millis,
}

/// The tracker's service. Client calls first, then the worker's.
#[tarpc::service]
pub trait TrackerRpc {
    /// Store jobs; each gets its own answer. Acknowledged only once committed.
    async fn submit(jobs: Vec<JobSpec>) -> Vec<Result<SubmitAck, WireError>>;
    async fn jobs(filter: JobFilter) -> Result<JobPage, WireError>;
    async fn job(job: JobRef, runs: RunsPage) -> Result<JobDetail, WireError>;
    async fn cancel(job: JobRef) -> Result<JobView, WireError>;
    async fn suspend(job: JobRef) -> Result<JobView, WireError>;
    async fn resume(job: JobRef) -> Result<JobView, WireError>;
    async fn trigger(job: JobRef) -> Result<JobView, WireError>;
    async fn retry(job: JobRef) -> Result<JobView, WireError>;
    /// Wait up to `wait_ms` for the job's first run to end; the job as it is then.
    async fn wait(job: JobRef, wait_ms: u64) -> Result<JobDetail, WireError>;
    async fn logs(query: LogQuery) -> Result<LogPage, WireError>;
    async fn nodes() -> Result<Vec<NodeView>, WireError>;
    /// Job counts by group and state, queues and their age, and the runs
    /// that ended in the last `window_ms`; only `group`'s when given.
    async fn stats(group: Option<String>, window_ms: i64) -> Result<StoreStats, WireError>;
    /// A client group's feedback after `after_id`, waiting up to `wait_ms`
    /// for some when there is none.
    async fn feedback(
        client_group: String,
        after_id: i64,
        wait_ms: u64,
    ) -> Result<Vec<FeedbackItem>, WireError>;
    /// Acknowledge (remove) a client group's feedback up to `up_to`.
    async fn ack_feedback(client_group: String, up_to: i64) -> Result<u64, WireError>;
    /// Change a job's schedule, params, command or limits; its runs stay.
    async fn edit(job: JobRef, edit: JobEdit) -> Result<JobView, WireError>;
    /// Suspend, resume or cancel every job the filter selects (its limit
    /// aside) that the action applies to; with `dry_run`, only count them.
    async fn act_all(
        filter: JobFilter,
        action: BulkAction,
        dry_run: bool,
    ) -> Result<BulkOutcome, WireError>;
    /// Delete ended jobs, with their runs and log lines, now; with
    /// `dry_run`, only count them.
    async fn purge(filter: PurgeFilter, dry_run: bool) -> Result<BulkOutcome, WireError>;
    /// The tracker's version, store, leadership and addresses.
    async fn status() -> Result<TrackerStatus, WireError>;
    /// Membership events (workers joining, leaving, changing master) after
    /// `after_seq` (`None`: from now), waiting up to `wait_ms` for one: what
    /// a registry's watch answers, for a tracker that keeps membership itself.
    async fn watch_nodes(after_seq: Option<u64>, wait_ms: u64) -> Result<EventPage, WireError>;

    /// Every alert rule, by name.
    async fn alert_rules() -> Result<Vec<AlertRule>, WireError>;
    /// Store an alert rule (replacing one of the same name with `replace`);
    /// whether one was replaced.
    async fn add_alert_rule(rule: AlertRule, replace: bool) -> Result<bool, WireError>;
    async fn remove_alert_rule(name: String) -> Result<(), WireError>;
    /// Raise a test alert for a rule; the alert after its first delivery
    /// attempt, or after `wait_ms`.
    async fn test_alert(name: String, wait_ms: u64) -> Result<Alert, WireError>;
    /// Alerts raised and their deliveries; with a cursor, those changed
    /// after it, waiting up to `wait_ms` for one.
    async fn alerts(query: AlertQuery, wait_ms: u64) -> Result<Vec<Alert>, WireError>;

    /// Store a flow; without a cron its one run starts now. The flow as stored.
    async fn flow_submit(flow: FlowSpec) -> Result<FlowView, WireError>;
    /// A flow with its latest run's steps.
    async fn flow(id: String) -> Result<FlowView, WireError>;
    /// The newest `limit` flows (0: all), newest first.
    async fn flows(limit: u32) -> Result<Vec<FlowView>, WireError>;
    /// Cancel a flow's open run and stop its cron.
    async fn flow_cancel(id: String) -> Result<FlowView, WireError>;

    /// Claim up to `free` due runs for the worker's group (long poll).
    async fn pull(request: PullRequest) -> Result<Vec<Dispatch>, WireError>;
    async fn heartbeat(beat: Heartbeat) -> Result<HeartbeatReply, WireError>;
    /// Log lines and results, applied in order in one transaction.
    async fn deliver(worker_id: String, items: Vec<Upstream>) -> Result<(), WireError>;
}
