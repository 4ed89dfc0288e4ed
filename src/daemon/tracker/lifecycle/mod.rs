//! The job and run life cycle, in one place: the states a run moves through
//! and the few transitions that move it, each written once. Submit
//! (`submit`), dispatch and results (`dispatch`), the operator's actions
//! (`control`) and the scheduler (`ticks`) are rules made of these
//! transitions; none of them sets a state by hand. No I/O but the store; no
//! SQL.
//!
//! A run (`RunState`):
//!
//! ```text
//!   new_run ──▶ queued ──start──▶ running ──end──▶ done(outcome)
//!     │          ▲  │                 │ renew        │
//!     │  release │  │ hold            ▼              ├─ failed, retries left ─▶ next_attempt (queued after a backoff)
//!     │          │  ▼                                └─ lost ─▶ next_attempt (queued now)
//!     │         held ──release──▶ buffered
//!     ├──▶ buffered ──the run before it ended──▶ queued
//!     └──▶ done(skipped)                        (a tick the overlap or misfire policy skipped)
//! ```
//!
//! A job's state follows from its runs and its schedule (`settle`), except
//! where an operator parks it (`suspended`, `cancelled`), its schedule
//! breaks (`failed`), or the store cannot read its row (`broken`: set aside
//! by the store as it reads it; its runs end when a claim meets them, and
//! nothing but purge or `--replace` moves it). Every transition that ends or starts a run records it
//! in the store's journal, which metrics and alerts read after commit.

pub mod control;
pub mod dispatch;
pub mod submit;
pub mod ticks;

use crate::model::{JobState, Millis, RunOutcome, RunState};
use crate::protocol::WireError;
use crate::store::{JobRecord, RunEvent, RunRecord, StartClaim, Started, Store, StoreError};
use rand::Rng;

impl From<StoreError> for WireError {
    fn from(e: StoreError) -> Self {
        // The backend's own message, without a second "store error:".
        match e {
            StoreError::Backend(message) => WireError::Store(message),
            other => WireError::Store(other.to_string()),
        }
    }
}

pub type Outcome<T> = Result<T, WireError>;

/// The longest a retry waits, whatever the backoff.
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// The reason a held run carries.
const HELD: &str = "held: the job was suspended before the run started";

// ---- runs ----

/// A new run of `job` (its next run number) for the tick at `scheduled_at`:
/// queued, due then or now if that has passed. The caller inserts it, as it
/// is or after choosing it another state (`buffer`, `skip_tick`).
pub fn new_run(job: &mut JobRecord, scheduled_at: Millis, now: Millis) -> RunRecord {
    job.run_count += 1;
    let mut run = RunRecord::queued(job, job.run_count, scheduled_at);
    run.due_at = scheduled_at.min(now);
    run
}

/// Make a new run wait for the run before it.
pub fn buffer(run: &mut RunRecord, reason: String) {
    run.state = RunState::Buffered;
    run.reason = Some(reason);
}

/// Queue the next attempt of `prev`, due at `due_at`: a failed run retried
/// after its backoff, a lost one run again, one the operator retries.
pub fn next_attempt(
    s: &mut dyn Store,
    job: &JobRecord,
    prev: &RunRecord,
    due_at: Millis,
) -> Outcome<RunRecord> {
    let mut again = RunRecord::queued(job, prev.run, prev.scheduled_at);
    again.attempt = prev.attempt + 1;
    again.due_at = due_at;
    again.id = s.insert_run(&again)?;
    Ok(again)
}

/// A run failed with retries left: its next attempt is queued after the
/// backoff, and the job is retrying meanwhile.
pub fn retry_later(
    s: &mut dyn Store,
    job: &mut JobRecord,
    failed: &RunRecord,
    now: Millis,
) -> Outcome<()> {
    let backoff = backoff_ms(job.spec.retry_backoff_ms, failed.attempt) as i64;
    next_attempt(s, job, failed, now + backoff)?;
    job.state = JobState::Retrying;
    job.updated_at = now;
    s.update_job(job)?;
    Ok(())
}

/// Start up to `limit` due runs of `group` on `worker`, set-based in the
/// store: each runs under a lease and the claim's fencing token, and their
/// jobs are running. Past `max_bytes` of job payload the rest go back to
/// the queue for the next claim (`busy` then says so).
pub fn start_due(
    s: &mut dyn Store,
    group: &str,
    worker: &str,
    limit: usize,
    now: Millis,
    lease_ms: u64,
    max_bytes: usize,
) -> Outcome<Started> {
    let claim = StartClaim {
        group: group.to_string(),
        worker: worker.to_string(),
        now,
        lease_until: now + lease_ms as i64,
        fence: s.reserve_fences(1)?,
        limit,
    };
    let mut started = s.start_runs(&claim)?;
    set_aside_runs_of_broken(s, &mut started, now)?;
    let mut bytes = 0;
    let keep = started
        .runs
        .iter()
        .position(|(_, job)| {
            let full = bytes >= max_bytes;
            bytes += crate::model::payload_bytes(&job.spec);
            full
        })
        .unwrap_or(started.runs.len());
    for (mut run, _) in started.runs.drain(keep..) {
        // Back to the queue as it was: it never left the tracker.
        run.state = RunState::Queued;
        run.worker = None;
        run.started_at = None;
        run.lease_until = None;
        s.update_run(&run)?;
        started.busy = true;
    }
    const STARTABLE: [JobState; 3] = [JobState::Queued, JobState::Retrying, JobState::Scheduled];
    let mut moved: Vec<i64> = started
        .runs
        .iter()
        .filter(|(_, job)| STARTABLE.contains(&job.state))
        .map(|(_, job)| job.id)
        .collect();
    moved.sort_unstable();
    moved.dedup();
    s.move_jobs(&moved, &STARTABLE, JobState::Running, now)?;
    for (run, job) in &mut started.runs {
        if STARTABLE.contains(&job.state) {
            job.state = JobState::Running;
            job.note = None;
            job.updated_at = now;
        }
        s.journal().push(RunEvent::Started {
            group: run.group.clone(),
            scheduled_at: run.scheduled_at,
            due_at: run.due_at,
            at: now,
        });
    }
    Ok(started)
}

/// The runs a claim started whose job is broken (its stored row cannot be
/// read, see `JobState::Broken`) never reach a worker: each ends, cancelled
/// with that reason, and the claim goes on with the others.
fn set_aside_runs_of_broken(s: &mut dyn Store, started: &mut Started, now: Millis) -> Outcome<()> {
    let (broken, runs): (Vec<_>, Vec<_>) = std::mem::take(&mut started.runs)
        .into_iter()
        .partition(|(_, job)| job.state == JobState::Broken);
    started.runs = runs;
    for (mut run, job) in broken {
        let why = "not run: its job is broken (its stored row cannot be read)";
        run.worker = None;
        run.started_at = None;
        end(
            s,
            &mut run,
            Ending::by_tracker(RunOutcome::Cancelled, now, why),
            false,
        )?;
        tracing::warn!(
            job = job.id,
            task_id = %crate::model::cut(&job.spec.task_id, 80),
            run = run.run,
            "{why}"
        );
    }
    Ok(())
}

/// Renew the lease of a running run.
pub fn renew(s: &mut dyn Store, run: &mut RunRecord, now: Millis, lease_ms: u64) -> Outcome<()> {
    run.lease_until = Some(now + lease_ms as i64);
    s.update_run(run)?;
    Ok(())
}

/// How a run ends.
pub struct Ending {
    pub outcome: RunOutcome,
    pub at: Millis,
    pub exit_code: Option<i32>,
    /// Why; `None` keeps the reason the run had.
    pub reason: Option<String>,
}

impl Ending {
    /// An ending the tracker decides (not a worker's result).
    pub fn by_tracker(outcome: RunOutcome, at: Millis, reason: impl Into<String>) -> Self {
        Ending {
            outcome,
            at,
            exit_code: None,
            reason: Some(reason.into()),
        }
    }
}

/// End a run, whatever its state: every way a run ends comes here (or to
/// `end_all`, the same for many). `retrying` when another attempt of it
/// follows.
pub fn end(s: &mut dyn Store, run: &mut RunRecord, ending: Ending, retrying: bool) -> Outcome<()> {
    apply_ending(run, ending);
    s.update_run(run)?;
    journal_end(s, run, retrying);
    Ok(())
}

/// `end` for many runs, none of which is retried, in one statement.
pub fn end_all(s: &mut dyn Store, ended: Vec<(RunRecord, Ending)>) -> Outcome<Vec<RunRecord>> {
    let runs: Vec<RunRecord> = ended
        .into_iter()
        .map(|(mut run, ending)| {
            apply_ending(&mut run, ending);
            run
        })
        .collect();
    s.update_runs(&runs)?;
    for run in &runs {
        journal_end(s, run, false);
    }
    Ok(runs)
}

/// A run's fields as `ending` leaves them.
fn apply_ending(run: &mut RunRecord, ending: Ending) {
    run.state = RunState::Done;
    run.outcome = Some(ending.outcome);
    run.exit_code = ending.exit_code.or(run.exit_code);
    run.ended_at = Some(ending.at);
    run.lease_until = None;
    if ending.reason.is_some() {
        run.reason = ending.reason;
    }
}

/// Record that `run` ended.
fn journal_end(s: &mut dyn Store, run: &RunRecord, retrying: bool) {
    let (Some(outcome), Some(ended_at)) = (run.outcome, run.ended_at) else {
        return;
    };
    s.journal().push(RunEvent::Ended {
        group: run.group.clone(),
        outcome,
        started_at: run.started_at,
        ended_at,
        job_id: run.job_id,
        run: run.run,
        retrying,
        exit_code: run.exit_code,
    });
}

/// Insert a new run that ends as it is born: a tick the overlap or misfire
/// policy skipped, for `why` (a bounded label: `overlap`, `misfire`) with
/// the full `reason`. A tick that already has a run is left alone.
pub fn skip_tick(
    s: &mut dyn Store,
    job: &mut JobRecord,
    mut run: RunRecord,
    now: Millis,
    why: &'static str,
    reason: String,
) -> Outcome<()> {
    run.state = RunState::Done;
    run.outcome = Some(RunOutcome::Skipped);
    run.ended_at = Some(now);
    run.reason = Some(reason);
    let (group, number) = (run.group.clone(), run.run);
    if insert_tick(s, job, run)? {
        s.journal().push(RunEvent::Skipped {
            group,
            reason: why,
            job_id: job.id,
            run: number,
        });
    }
    Ok(())
}

/// Insert a tick's run, unless the tick already has one (the unique key is
/// the last line of defence; this keeps a repeat from failing the pass).
/// Returns whether it was inserted.
pub fn insert_tick(s: &mut dyn Store, job: &mut JobRecord, run: RunRecord) -> Outcome<bool> {
    if s.tick_exists(job.id, run.scheduled_at)? {
        job.run_count -= 1;
        tracing::warn!(task_id = %job.spec.task_id, at = run.scheduled_at, "tick already fired; not firing it again");
        return Ok(false);
    }
    s.insert_run(&run)?;
    Ok(true)
}

/// A run was lost (its worker died, stopped heartbeating, or gave it back):
/// end it, and queue its next attempt at once unless its job is parked or
/// finished. Returns the group that got a run to dispatch.
pub fn lose(
    s: &mut dyn Store,
    run: &mut RunRecord,
    ending: Ending,
    now: Millis,
) -> Outcome<Option<String>> {
    let job = s.job_by_id(run.job_id)?;
    let Some(mut job) = job.filter(|j| !j.state.is_final() && j.state != JobState::Suspended)
    else {
        end(s, run, ending, false)?;
        return Ok(None);
    };
    end(s, run, ending, true)?;
    next_attempt(s, &job, run, now)?;
    job.state = JobState::Queued;
    job.updated_at = now;
    s.update_job(&job)?;
    Ok(Some(job.spec.group))
}

/// Hold a suspended job's runs that have not started: they wait for
/// `release`.
pub fn hold(s: &mut dyn Store, open: &[RunRecord]) -> Outcome<()> {
    for run in open.iter().filter(|r| r.state.is_waiting()) {
        let mut run = run.clone();
        run.state = RunState::Held;
        run.reason = Some(HELD.into());
        s.update_run(&run)?;
    }
    Ok(())
}

/// Let a resumed job's held runs go: they take their turns again, the
/// oldest first. Returns the runs as they now stand.
pub fn release(s: &mut dyn Store, open: Vec<RunRecord>, now: Millis) -> Outcome<Vec<RunRecord>> {
    let mut released = Vec::with_capacity(open.len());
    for mut run in open {
        if run.state == RunState::Held {
            run.state = RunState::Buffered;
            run.reason = Some("held while the job was suspended; released by resume".into());
            s.update_run(&run)?;
        }
        released.push(run);
    }
    release_buffered(s, &mut released, now)?;
    Ok(released)
}

/// When none of a job's runs is queued or running any more, queue the
/// oldest buffered one (a buffered tick, or a catch-up run waiting its
/// turn). Returns whether one was queued.
pub fn release_buffered(s: &mut dyn Store, open: &mut [RunRecord], now: Millis) -> Outcome<bool> {
    if open
        .iter()
        .any(|r| matches!(r.state, RunState::Queued | RunState::Running))
    {
        return Ok(false);
    }
    // open_runs is in (run, attempt) order: the first is the oldest tick.
    let Some(next) = open.iter_mut().find(|r| r.state == RunState::Buffered) else {
        return Ok(false);
    };
    next.state = RunState::Queued;
    next.due_at = now;
    if next
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("overlap buffer-one"))
    {
        next.reason =
            Some("overlap buffer-one: buffered tick, started when the run before it ended".into());
    }
    s.update_run(next)?;
    Ok(true)
}

/// Exponential backoff from `base_ms`, doubled per attempt, capped at an
/// hour, with up to 20% jitter either way.
pub fn backoff_ms(base_ms: u64, attempt: u32) -> u64 {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(32))
        .min(MAX_BACKOFF_MS);
    let jitter = (exp / 5).max(1);
    let mut rng = rand::rng();
    exp.saturating_sub(jitter)
        .saturating_add(rng.random_range(0..=2 * jitter))
        .min(MAX_BACKOFF_MS)
}

// ---- jobs ----

/// Whether an operator parked the job or it finished: its state is no
/// longer what its runs say.
fn fixed(job: &JobRecord) -> bool {
    job.state.is_final() || job.state == JobState::Suspended
}

/// Put a job in the state its open runs and its schedule say. `last` is the
/// outcome of the run that just ended, which decides a job that is done;
/// when it is `None` and the job is done, its latest run is looked up.
pub fn settle(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &[RunRecord],
    last: Option<RunOutcome>,
    now: Millis,
) -> Outcome<()> {
    if fixed(job) {
        return Ok(());
    }
    job.state = if open.iter().any(|r| r.state == RunState::Running) {
        JobState::Running
    } else if open
        .iter()
        .any(|r| r.state == RunState::Queued && r.attempt > 1 && r.due_at > now)
    {
        // A failed run waits for its backoff.
        JobState::Retrying
    } else if !open.is_empty() {
        JobState::Queued
    } else if job.next_fire.is_some() {
        JobState::Scheduled
    } else {
        let last = match last {
            Some(outcome) => Some(outcome),
            None => s.recent_runs(job.id, 1)?.first().and_then(|r| r.outcome),
        };
        match last {
            Some(RunOutcome::Succeeded) => JobState::Succeeded,
            Some(RunOutcome::Skipped | RunOutcome::Cancelled) => JobState::Cancelled,
            _ => JobState::Failed,
        }
    };
    Ok(())
}

/// `settle`, reading the job's open runs.
pub fn settle_now(s: &mut dyn Store, job: &mut JobRecord, now: Millis) -> Outcome<()> {
    if fixed(job) {
        return Ok(());
    }
    let open = s.open_runs(job.id)?;
    settle(s, job, &open, None, now)
}

/// A parked job the operator resumes: its state follows its runs again.
pub fn unpark(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &[RunRecord],
    now: Millis,
) -> Outcome<()> {
    job.state = JobState::Scheduled;
    job.updated_at = now;
    settle(s, job, open, None, now)
}

/// Park a job where only an operator moves it: `suspended` or `cancelled`.
pub fn park(job: &mut JobRecord, state: JobState, now: Millis) {
    debug_assert!(matches!(state, JobState::Suspended | JobState::Cancelled));
    job.state = state;
    job.updated_at = now;
    if state == JobState::Cancelled {
        job.next_fire = None;
        job.note = None;
    }
}

/// A job whose schedule cannot be evaluated any more: it fails, saying why.
pub fn break_schedule(job: &mut JobRecord, why: String) {
    job.state = JobState::Failed;
    job.next_fire = None;
    job.note = Some(why);
}
