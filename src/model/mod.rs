//! The job model: what a job is, its schedule, its runs and the nodes that run
//! them. Plain serde types with no I/O, shared by the CLI, the daemon roles and
//! the wire protocol. Times are milliseconds since the Unix epoch (UTC).

pub mod alert;
mod duration;
pub mod flow;
mod ids;
pub mod json;
pub mod stats;
mod validate;

pub use alert::{Alert, AlertQuery, AlertRule, Condition, Delivery};
pub use duration::{format_duration, parse_duration};
pub use flow::{FlowRef, FlowSpec, FlowState, FlowStep, FlowView, OnFailure, StepView};
pub use ids::{new_idempotency_key, new_task_id, task_id_for_key, valid_name};
pub use stats::{MinuteCount, OutcomeCount, QueueCount, StateCount, StoreStats};
pub use validate::{
    payload_bytes, validate_job, ValidationError, MAX_CALL_PAYLOAD_BYTES, MAX_DURATION_MS,
    MAX_PAYLOAD_BYTES, MAX_TIME_MS, MIN_INTERVAL_MS,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current wall-clock time in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// An instant as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Once, as soon as a worker of its group is free.
    Now,
    /// Once, at the given instant (`--at`, or `--delay` resolved at submit time).
    At { at_ms: Millis },
    /// A Quartz (6/7 fields) or Unix (5 fields) cron expression, in a time zone.
    Cron { expr: String, tz: Option<String> },
    /// `count` runs (`-1` forever), `interval_ms` apart, aligned to the first fire.
    Repeat { count: i64, interval_ms: u64 },
}

impl Schedule {
    pub fn kind(&self) -> JobKind {
        match self {
            Schedule::Now => JobKind::Now,
            Schedule::At { .. } => JobKind::At,
            Schedule::Cron { .. } => JobKind::Cron,
            Schedule::Repeat { .. } => JobKind::Repeat,
        }
    }
}

/// The kind of a job's schedule, as `lts jobs --kind` filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Now,
    At,
    Cron,
    Repeat,
}

/// What to do when a cron/repeat tick comes while the previous run still goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overlap {
    #[default]
    Skip,
    Allow,
    BufferOne,
    Replace,
}

/// What to do with ticks missed while no tracker ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Misfire {
    #[default]
    FireOnce,
    Skip,
    FireAll,
}

/// How a job's ticks fan out over its group's workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanOut {
    /// One run a tick, on whichever worker of the group takes it.
    #[default]
    One,
    /// One run a tick on every worker of the group live when the tick is
    /// picked up (`--broadcast`).
    Broadcast,
    /// `n` runs a tick, shard 0 to `n - 1`, spread over the group's workers
    /// (`--shards N`).
    Shards(u32),
}

/// The most shards a job may ask for.
pub const MAX_SHARDS: u32 = 1_000;

/// Which part of its tick a run is: its place in a fanned-out tick.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The whole tick: a job that does not fan out.
    #[default]
    Whole,
    /// Shard `index` of `of` (`LTS_SHARD`, `LTS_SHARDS`).
    Shard { index: u32, of: u32 },
    /// A broadcast tick no worker has picked up yet: the first worker of
    /// the group to claim it fans it out to every live worker.
    Broadcast,
    /// A broadcast tick's run for one worker, the only one that may claim
    /// it; `index` orders the tick's runs (the claiming worker's is 0).
    Pinned { index: u32, worker: String },
}

impl Part {
    /// The run's place among its tick's runs (0 for a whole tick).
    pub fn index(&self) -> u32 {
        match self {
            Part::Whole | Part::Broadcast => 0,
            Part::Shard { index, .. } | Part::Pinned { index, .. } => *index,
        }
    }

    /// The shard number, for a shard.
    pub fn shard(&self) -> Option<u32> {
        match self {
            Part::Shard { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The worker the run belongs to, for a broadcast run given out.
    pub fn pinned(&self) -> Option<&str> {
        match self {
            Part::Pinned { worker, .. } => Some(worker),
            _ => None,
        }
    }

    /// The part in words, for tables: `shard 2/4`, `broadcast` (not given
    /// out yet), `for WORKER`; `None` for a whole tick.
    pub fn label(&self) -> Option<String> {
        match self {
            Part::Whole => None,
            Part::Shard { index, of } => Some(format!("shard {index}/{of}")),
            Part::Broadcast => Some("broadcast".into()),
            Part::Pinned { worker, .. } => Some(format!("for {worker}")),
        }
    }

    /// Whether the run is one of several of its tick.
    pub fn fanned_out(&self) -> bool {
        !matches!(self, Part::Whole)
    }
}

/// Everything a caller says about a job. Every field of SPEC's table is here
/// and stored, even those whose behaviour arrives later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The caller's id; the client generates one when it is left out.
    pub task_id: String,
    /// The worker node group that may run it.
    pub group: String,
    pub params: BTreeMap<String, String>,
    /// A command of the job's own, run only by workers with `--allow-commands`.
    pub command: Vec<String>,
    pub schedule: Schedule,
    pub priority: i32,
    pub max_retries: u32,
    pub retry_backoff_ms: u64,
    pub timeout_ms: Option<u64>,
    pub replace: bool,
    pub overlap: Overlap,
    pub misfire: Misfire,
    pub catch_up_window_ms: Option<u64>,
    pub feedback: bool,
    pub client_group: Option<String>,
    /// Run outcomes that raise an alert (`--alert`; `failed` once retries are spent).
    #[serde(default)]
    pub alert: Vec<RunOutcome>,
    /// Where this job's alerts go (`--alert-to`).
    #[serde(default)]
    pub alert_to: Option<String>,
    /// How each tick fans out over the group's workers (`--broadcast`, `--shards`).
    #[serde(default)]
    pub fan_out: FanOut,
    /// The jobs (task ids) it waits for (`--after`): it runs once all of
    /// them succeeded.
    #[serde(default)]
    pub after: Vec<String>,
    /// The flow run this job is a step of.
    #[serde(default)]
    pub flow: Option<FlowRef>,
    /// Names this submission (`--idempotency-key`; else one the client
    /// makes up, `new_idempotency_key`, before it first sends the job): a
    /// job sent again with its key is answered as the first time, not
    /// refused as existing, and a key is never taken by a second job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl JobSpec {
    /// A run-now job with every other field at its default.
    pub fn new(group: impl Into<String>, task_id: impl Into<String>) -> Self {
        JobSpec {
            task_id: task_id.into(),
            group: group.into(),
            params: BTreeMap::new(),
            command: Vec::new(),
            schedule: Schedule::Now,
            priority: 0,
            max_retries: 0,
            retry_backoff_ms: 1_000,
            timeout_ms: None,
            replace: false,
            overlap: Overlap::Skip,
            misfire: Misfire::FireOnce,
            catch_up_window_ms: None,
            feedback: false,
            client_group: None,
            alert: Vec::new(),
            alert_to: None,
            fan_out: FanOut::One,
            after: Vec::new(),
            flow: None,
            idempotency_key: None,
        }
    }

    /// The job with an idempotency key: its own, or a new random one. The
    /// key is chosen once, before the job is first sent, so every sending
    /// of it (a retry, a flush of the spool) carries the same one.
    pub fn keyed(mut self) -> Self {
        if self.idempotency_key.is_none() {
            self.idempotency_key = Some(new_idempotency_key());
        }
        self
    }

    /// Whether `other` is this very job: every field equal but `replace`
    /// and the idempotency key, which say how a job was sent, not what it
    /// is. A tracker holding the same job under the key of one being sent
    /// again means an earlier attempt delivered it (see
    /// `crate::spool::submit_or_spool`); the tracker answers a job whose
    /// key it holds by this too (`lifecycle::submit`).
    pub fn same_job(&self, other: &JobSpec) -> bool {
        let mut other = other.clone();
        other.replace = self.replace;
        other.idempotency_key.clone_from(&self.idempotency_key);
        *self == other
    }
}

/// A job's state, as SPEC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Scheduled,
    /// Waiting for the jobs it runs after (`--after`) to succeed; it has no
    /// run and no tick until they have.
    Waiting,
    Queued,
    Running,
    Succeeded,
    Failed,
    Retrying,
    Suspended,
    Cancelled,
    /// Its stored row could not be read (a spec that is not a job, a
    /// state no build knows): set aside, so it is never claimed nor fired
    /// again, and shown with the reason in its note. Purge it, or submit
    /// it again with `--replace`.
    Broken,
}

impl JobState {
    pub const ALL: [JobState; 10] = [
        JobState::Scheduled,
        JobState::Waiting,
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Retrying,
        JobState::Suspended,
        JobState::Cancelled,
        JobState::Broken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Waiting => "waiting",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Retrying => "retrying",
            JobState::Suspended => "suspended",
            JobState::Cancelled => "cancelled",
            JobState::Broken => "broken",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A state no run will leave by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled | JobState::Broken
        )
    }

    /// The states a job ends in by its runs or an operator: what retention
    /// deletes in time (a broken job waits for an operator instead).
    pub const ENDED: [JobState; 3] = [JobState::Succeeded, JobState::Failed, JobState::Cancelled];
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Now => "now",
            JobKind::At => "at",
            JobKind::Cron => "cron",
            JobKind::Repeat => "repeat",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Now, JobKind::At, JobKind::Cron, JobKind::Repeat]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run is in its life. Only `Queued` runs are dispatched; `Done`
/// runs carry their outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Due at its `due_at`, waiting for a worker.
    Queued,
    /// Waiting for the run before it to end (overlap `buffer-one`, or a
    /// catch-up run taking its turn); then it is queued.
    Buffered,
    /// Held back because its job was suspended before it started; `resume`
    /// queues it again, `cancel` ends it.
    Held,
    Running,
    Done,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Buffered,
        RunState::Held,
        RunState::Running,
        RunState::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Buffered => "buffered",
            RunState::Held => "held",
            RunState::Running => "running",
            RunState::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the run has not started and is not ended: it waits, for a
    /// worker, a predecessor or a resume.
    pub fn is_waiting(self) -> bool {
        matches!(self, RunState::Queued | RunState::Buffered | RunState::Held)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Succeeded,
    Failed,
    TimedOut,
    Lost,
    Skipped,
    Cancelled,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Lost => "lost",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RunOutcome> {
        [
            RunOutcome::Succeeded,
            RunOutcome::Failed,
            RunOutcome::TimedOut,
            RunOutcome::Lost,
            RunOutcome::Skipped,
            RunOutcome::Cancelled,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as the tracker reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub spec: JobSpec,
    pub state: JobState,
    pub submitted_at: Millis,
    pub updated_at: Millis,
    /// The next time the schedule fires, when it has one.
    pub next_fire: Option<Millis>,
    /// The next few fire times (the tracker fills these in for `lts job`).
    pub next_fires: Vec<Millis>,
    /// How many runs (ticks) the job has had.
    pub runs: u32,
    /// Why the job is where it is, when that is worth saying
    /// (for example: no worker of its group is connected).
    pub note: Option<String>,
}

/// One attempt of one run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The run's number within its job (its tick), from 1.
    pub run: u32,
    /// The attempt within the run, from 1.
    pub attempt: u32,
    pub state: RunState,
    pub scheduled_at: Millis,
    pub outcome: Option<RunOutcome>,
    pub exit_code: Option<i32>,
    pub worker: Option<String>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub reason: Option<String>,
    /// Its place in a fanned-out tick (a shard, a broadcast worker).
    pub part: Part,
}

/// A job with its run history, newest last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobView,
    pub runs: Vec<RunView>,
}

impl JobDetail {
    /// Whether the first tick of the job has ended for good (no attempt of
    /// its runs is queued or running), or the job can no longer run: what
    /// `submit --wait` waits for.
    pub fn first_run_ended(&self) -> bool {
        if self.job.state.is_final() {
            return true;
        }
        let first = self.first_tick();
        !first.is_empty()
            && first.iter().all(|r| r.state == RunState::Done)
            && self.job.state != JobState::Retrying
    }

    /// Every attempt of the job's first tick: run 1 and, when the tick
    /// fanned out (shards, broadcast), the other runs of that tick.
    pub fn first_tick(&self) -> Vec<&RunView> {
        let Some(tick) = self
            .runs
            .iter()
            .find(|r| r.run == 1)
            .map(|r| r.scheduled_at)
        else {
            return Vec::new();
        };
        self.runs
            .iter()
            .filter(|r| r.run == 1 || (r.part.fanned_out() && r.scheduled_at == tick))
            .collect()
    }

    /// The latest attempt of each run of the first tick, in run order.
    pub fn first_tick_ends(&self) -> Vec<&RunView> {
        let mut last: BTreeMap<u32, &RunView> = BTreeMap::new();
        for run in self.first_tick() {
            let newer = last.get(&run.run).is_none_or(|r| r.attempt < run.attempt);
            if newer {
                last.insert(run.run, run);
            }
        }
        last.into_values().collect()
    }

    /// How the first tick ended: succeeded when each of its runs did, else
    /// the first run's outcome that did not succeed.
    pub fn first_tick_outcome(&self) -> Option<RunOutcome> {
        let ends = self.first_tick_ends();
        if ends.is_empty() {
            return None;
        }
        match ends
            .iter()
            .find(|r| r.outcome != Some(RunOutcome::Succeeded))
        {
            Some(r) => r.outcome,
            None => Some(RunOutcome::Succeeded),
        }
    }
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    pub fn parse(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// One line a run wrote, as stored and shown by `lts logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub run: u32,
    pub attempt: u32,
    pub seq: u64,
    pub stream: Stream,
    pub line: String,
    pub at: Millis,
}

/// A node's role in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Tracker,
    Worker,
    Registry,
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Tracker => "tracker",
            Role::Worker => "worker",
            Role::Registry => "registry",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Tracker, Role::Worker, Role::Registry, Role::Client]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node as `lts nodes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub id: String,
    pub role: Role,
    pub group: String,
    pub address: String,
    /// `up`, or `down` when it has not been heard from within its lease.
    pub state: String,
    pub master: bool,
    pub slots_used: u32,
    pub slots_free: u32,
    pub version: String,
    pub last_seen: Millis,
}

/// What changed in the cluster's membership, as the registry reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeEventKind {
    /// A node registered.
    Join,
    /// A node left: it said so, or its registration expired.
    Leave,
    /// A (role, group) has a new master, or none.
    Master,
}

impl NodeEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeEventKind::Join => "join",
            NodeEventKind::Leave => "leave",
            NodeEventKind::Master => "master",
        }
    }
}

/// One membership change, numbered by the registry in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEvent {
    /// Increases by one with each event, across registry restarts.
    pub seq: u64,
    pub at: Millis,
    pub kind: NodeEventKind,
    pub role: Role,
    pub group: String,
    /// The node that joined or left; for `master`, the new master, or `None`
    /// when the group has no live member left.
    pub node: Option<NodeView>,
    /// For `master`: the group's epoch after the change. It increases with
    /// every change of master and never goes back, across registry restarts.
    pub epoch: Option<u64>,
    /// For `leave`: `left` (the node said so) or `expired` (no heartbeat within the TTL).
    pub reason: Option<String>,
}

/// A (role, group) and its master as the registry sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMaster {
    pub role: Role,
    pub group: String,
    pub epoch: u64,
    /// The master's node id; `None` while the group has no live member.
    pub master: Option<String>,
}

/// A job's result waiting in its client group's feedback queue (LTS's
/// feedback), until that group reads and acknowledges it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackItem {
    /// Position in the queue; acknowledging an id acknowledges all before it.
    pub id: i64,
    pub client_group: String,
    pub task_id: String,
    pub group: String,
    pub run: u32,
    pub attempt: u32,
    pub outcome: RunOutcome,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub ended_at: Millis,
}

/// User text for a one-line message: control characters shown as escapes,
/// and at most `max` characters, with an ellipsis where it was cut.
pub fn cut(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
