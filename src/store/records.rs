//! The rows a store keeps, as plain structs.

use crate::model::{
    FlowSpec, FlowState, JobSpec, JobState, JobView, Millis, Part, RunOutcome, RunState, RunView,
    Stream,
};

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: i64,
    pub spec: JobSpec,
    pub state: JobState,
    pub submitted_at: Millis,
    pub updated_at: Millis,
    pub next_fire: Option<Millis>,
    pub run_count: u32,
    pub note: Option<String>,
}

impl JobRecord {
    pub fn view(&self) -> JobView {
        JobView {
            spec: self.spec.clone(),
            state: self.state,
            submitted_at: self.submitted_at,
            updated_at: self.updated_at,
            next_fire: self.next_fire,
            next_fires: self.next_fire.into_iter().collect(),
            runs: self.run_count,
            note: self.note.clone(),
        }
    }
}

/// A stored run attempt. `group` and `priority` are copied from the job so the
/// queue can be read from one index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub job_id: i64,
    pub group: String,
    pub priority: i32,
    pub run: u32,
    pub attempt: u32,
    pub state: RunState,
    pub scheduled_at: Millis,
    /// When it may be dispatched (later than `scheduled_at` for a backoff).
    pub due_at: Millis,
    pub outcome: Option<RunOutcome>,
    pub exit_code: Option<i32>,
    pub worker: Option<String>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub lease_until: Option<Millis>,
    pub fence: i64,
    pub reason: Option<String>,
    /// Its place in a fanned-out tick; only a `Pinned` run's worker may
    /// claim it.
    pub part: Part,
}

impl RunRecord {
    /// A queued first attempt of run `run` of a job.
    pub fn queued(job: &JobRecord, run: u32, scheduled_at: Millis) -> Self {
        RunRecord {
            id: 0,
            job_id: job.id,
            group: job.spec.group.clone(),
            priority: job.spec.priority,
            run,
            attempt: 1,
            state: RunState::Queued,
            scheduled_at,
            due_at: scheduled_at,
            outcome: None,
            exit_code: None,
            worker: None,
            started_at: None,
            ended_at: None,
            lease_until: None,
            fence: 0,
            reason: None,
            part: Part::Whole,
        }
    }

    pub fn view(&self) -> RunView {
        RunView {
            run: self.run,
            attempt: self.attempt,
            state: self.state,
            scheduled_at: self.scheduled_at,
            outcome: self.outcome,
            exit_code: self.exit_code,
            worker: self.worker.clone(),
            started_at: self.started_at,
            ended_at: self.ended_at,
            reason: self.reason.clone(),
            part: self.part.clone(),
        }
    }
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub run_id: i64,
    pub seq: u64,
    pub stream: Stream,
    pub line: String,
    pub at: Millis,
}

/// A stored flow: its spec, whether it still starts runs, its next tick
/// (with a cron) and how many runs it started.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    pub id: String,
    pub spec: FlowSpec,
    pub state: FlowState,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub next_fire: Option<Millis>,
    pub run_count: u32,
    /// What the scheduler last had to say (a tick skipped while a run was open).
    pub note: Option<String>,
}
