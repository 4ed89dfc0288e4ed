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
//! A tick has one run, or several when the job fans out (`new_tick`: one
//! per shard; a broadcast's one run, fanned out to every live worker by the
//! claim that starts it, `start_due`): each is a run like any other, with
//! its own number and attempts, and the tick's outcome is all of theirs
//! (`tick_outcome`).
//!
//! A job's state follows from its runs and its schedule (`settle`), except
//! where an operator parks it (`suspended`, `cancelled`), its schedule
//! breaks (`failed`), it waits for the jobs it runs after (`waiting`,
//! until `deps::settled` releases or cancels it), or the store cannot read
//! its row (`broken`: set aside by the store as it reads it; its runs end
//! when a claim meets them, and nothing but purge or `--replace` moves it).
//! Every transition that ends or starts a run records it in the store's
//! journal, which metrics and alerts read after commit; every rule that
//! ends a job for good hands it to `deps::settled` in the same transaction.

pub mod control;
pub mod deps;
pub mod dispatch;
pub mod flows;
pub mod submit;
pub mod ticks;

use crate::model::{FanOut, JobSpec, JobState, Millis, Part, RunOutcome, RunState};
use crate::protocol::WireError;
use crate::store::{JobRecord, RunEvent, RunRecord, StartClaim, Started, Store, StoreError};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

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

/// One record of `job` (its next run number) for the tick at `scheduled_at`,
/// whatever its fan-out: what a tick the overlap or misfire policy skipped
/// leaves (`skip_tick`). A tick that runs takes `new_tick`'s runs instead.
pub fn new_run(job: &mut JobRecord, scheduled_at: Millis, now: Millis) -> RunRecord {
    job.run_count += 1;
    let mut run = RunRecord::queued(job, job.run_count, scheduled_at);
    run.due_at = scheduled_at.min(now);
    run
}

/// The runs of one tick of `spec`, numbered from `first`, queued for
/// `scheduled_at`: one; one per shard (`--shards`); or, for a broadcast, one
/// that the first worker to claim it fans out (`start_due`).
pub fn tick_runs(job: &JobRecord, first: u32, scheduled_at: Millis) -> Vec<RunRecord> {
    let parts = match job.spec.fan_out {
        FanOut::One => vec![Part::Whole],
        FanOut::Broadcast => vec![Part::Broadcast],
        FanOut::Shards(of) => (0..of.max(1))
            .map(|index| Part::Shard { index, of })
            .collect(),
    };
    parts
        .into_iter()
        .zip(first..)
        .map(|(part, number)| {
            let mut run = RunRecord::queued(job, number, scheduled_at);
            run.part = part;
            run
        })
        .collect()
}

/// How many runs a tick of `spec` starts with.
pub fn tick_size(spec: &JobSpec) -> u32 {
    match spec.fan_out {
        FanOut::Shards(of) => of.max(1),
        FanOut::One | FanOut::Broadcast => 1,
    }
}

/// A new tick of `job` at `scheduled_at`: its runs (`tick_runs`, each with
/// its own run number), queued, due then or now if that has passed. The
/// caller inserts them (`insert_tick`), as they are or after choosing them
/// another state (`buffer`).
pub fn new_tick(job: &mut JobRecord, scheduled_at: Millis, now: Millis) -> Vec<RunRecord> {
    let mut runs = tick_runs(job, job.run_count + 1, scheduled_at);
    job.run_count += runs.len() as u32;
    for run in &mut runs {
        run.due_at = scheduled_at.min(now);
    }
    runs
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
    // A shard is retried as that shard; a broadcast run on its worker.
    again.part = prev.part.clone();
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

/// The workers of a group as this tracker knows them, for a claim: who
/// gets a broadcast's runs, and how many shards of one tick one claim takes.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    /// The ids of the group's live workers, the claiming one among them.
    pub live: Vec<String>,
    /// Whether a worker not in `live` is surely gone (the tracker has
    /// heard from its workers for a lease since it started), so runs
    /// pinned to it can be given up.
    pub settled: bool,
}

/// Start up to `limit` due runs of `group` on `worker`, set-based in the
/// store: each runs under a lease and the claim's fencing token, and their
/// jobs are running. Past `max_bytes` of job payload the rest go back to
/// the queue for the next claim (`busy` then says so); so do the shards of
/// a tick past this worker's share of them (⌈shards / live workers⌉), left
/// for the group's other workers. A broadcast tick the claim starts is fanned
/// out: its run is this worker's, and every other live worker of the group
/// gets one pinned to it (`fanned_out` then says so).
#[allow(clippy::too_many_arguments)]
pub fn start_due(
    s: &mut dyn Store,
    group: &str,
    worker: &str,
    limit: usize,
    now: Millis,
    lease_ms: u64,
    max_bytes: usize,
    fleet: &Fleet,
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
    let workers = (fleet.live.len() as u32).max(1);
    let mut bytes = 0;
    let mut full = false;
    let mut shares: HashMap<(i64, Millis), u32> = HashMap::new();
    let mut kept = Vec::with_capacity(started.runs.len());
    for (mut run, job) in std::mem::take(&mut started.runs) {
        full |= bytes >= max_bytes;
        let past_share = match run.part {
            Part::Shard { of, .. } => {
                let taken = shares.entry((run.job_id, run.scheduled_at)).or_default();
                *taken += 1;
                *taken > of.div_ceil(workers)
            }
            _ => false,
        };
        if full || past_share {
            // Back to the queue as it was: it never left the tracker.
            run.state = RunState::Queued;
            run.worker = None;
            run.started_at = None;
            run.lease_until = None;
            s.update_run(&run)?;
            started.busy = true;
            continue;
        }
        bytes += crate::model::payload_bytes(&job.spec);
        kept.push((run, job));
    }
    started.runs = kept;
    fan_out_broadcasts(s, &mut started, worker, now, fleet)?;
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

/// Fan out the broadcast ticks a claim started: each started run becomes
/// `worker`'s, and every other live worker of the group gets a run of the
/// tick pinned to it, with a run number of its own.
fn fan_out_broadcasts(
    s: &mut dyn Store,
    started: &mut Started,
    worker: &str,
    now: Millis,
    fleet: &Fleet,
) -> Outcome<()> {
    let others: Vec<&String> = fleet.live.iter().filter(|w| *w != worker).collect();
    let mut counted: BTreeMap<i64, JobRecord> = BTreeMap::new();
    for (run, job) in &mut started.runs {
        if run.part != Part::Broadcast {
            continue;
        }
        run.part = Part::Pinned {
            index: 0,
            worker: worker.to_string(),
        };
        s.update_run(run)?;
        let job = counted.entry(job.id).or_insert_with(|| job.clone());
        for (index, other) in (1..).zip(&others) {
            job.run_count += 1;
            let mut sibling = RunRecord::queued(job, job.run_count, run.scheduled_at);
            sibling.due_at = now;
            sibling.reason = run.reason.clone();
            sibling.part = Part::Pinned {
                index,
                worker: (*other).clone(),
            };
            s.insert_run(&sibling)?;
            started.fanned_out = true;
        }
    }
    for job in counted.values_mut() {
        job.updated_at = now;
        s.update_job(job)?;
    }
    Ok(())
}

/// Give up the queued runs of `group` pinned to workers that are gone (a
/// broadcast's, given out before their worker left): no other worker may
/// run them, so each ends `lost` and its job settles.
pub fn give_up_orphans(s: &mut dyn Store, group: &str, fleet: &Fleet, now: Millis) -> Outcome<()> {
    if !fleet.settled {
        return Ok(());
    }
    for orphan in s.queued_pinned(group)? {
        let Some(worker) = orphan.part.pinned() else {
            continue;
        };
        if fleet.live.iter().any(|w| w == worker) {
            continue;
        }
        let reason = format!("worker {worker} is gone");
        // The job first, then the run, as every writer locks them.
        let job = s.job_by_id(orphan.job_id)?;
        let Some(mut run) = s
            .run_by_id(orphan.id)?
            .filter(|r| r.state == RunState::Queued)
        else {
            continue;
        };
        give_up(
            s,
            job,
            &mut run,
            Ending::by_tracker(RunOutcome::Lost, now, reason),
            now,
        )?;
    }
    Ok(())
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

/// A broadcast run lost with its worker: no other worker may run it, so it
/// ends for good and its job settles (a tick fails when one of its runs did).
fn give_up(
    s: &mut dyn Store,
    job: Option<JobRecord>,
    run: &mut RunRecord,
    mut ending: Ending,
    now: Millis,
) -> Outcome<Option<String>> {
    if let Some(reason) = &mut ending.reason {
        reason.push_str("; a broadcast run belongs to its worker and is not run elsewhere");
    }
    end(s, run, ending, false)?;
    let Some(mut job) = job else {
        return Ok(None);
    };
    dispatch::push_feedback(s, &job, run)?;
    let open = s.open_runs(job.id)?;
    job.updated_at = now;
    settle(s, &mut job, &open, Some(run), now)?;
    s.update_job(&job)?;
    Ok(None)
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
        run_id: run.id,
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
    if insert_tick(s, job, vec![run])? {
        s.journal().push(RunEvent::Skipped {
            group,
            reason: why,
            job_id: job.id,
            run: number,
        });
    }
    Ok(())
}

/// Insert a tick's runs (one, or a fanned-out tick's several), unless the
/// tick already has one (the unique key is the last line of defence; this
/// keeps a repeat from failing the pass). Returns whether they were
/// inserted.
pub fn insert_tick(s: &mut dyn Store, job: &mut JobRecord, runs: Vec<RunRecord>) -> Outcome<bool> {
    let Some(first) = runs.first() else {
        return Ok(false);
    };
    if s.tick_exists(job.id, first.scheduled_at)? {
        job.run_count -= runs.len() as u32;
        tracing::warn!(task_id = %job.spec.task_id, at = first.scheduled_at, "tick already fired; not firing it again");
        return Ok(false);
    }
    for run in &runs {
        s.insert_run(run)?;
    }
    Ok(true)
}

/// A run was lost (its worker died, stopped heartbeating, or gave it back):
/// end it, and queue its next attempt at once unless its job is parked or
/// finished; a lost shard is run again alone. A broadcast run, which only
/// its worker may run, ends for good instead (`give_up`). Returns the group
/// that got a run to dispatch.
pub fn lose(
    s: &mut dyn Store,
    run: &mut RunRecord,
    ending: Ending,
    now: Millis,
) -> Outcome<Option<String>> {
    let job = s.job_by_id(run.job_id)?;
    if run.part.pinned().is_some() {
        return give_up(s, job, run, ending, now);
    }
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
    // open_runs is in (run, attempt) order: the first is the oldest tick,
    // whose runs all go (a fanned-out tick has several).
    let Some(first) = open.iter().find(|r| r.state == RunState::Buffered) else {
        return Ok(false);
    };
    let (id, tick) = (first.id, first.scheduled_at);
    for next in open.iter_mut().filter(|r| {
        r.state == RunState::Buffered
            && (r.id == id || (r.part.fanned_out() && r.scheduled_at == tick))
    }) {
        next.state = RunState::Queued;
        next.due_at = now;
        if next
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("overlap buffer-one"))
        {
            next.reason = Some(
                "overlap buffer-one: buffered tick, started when the run before it ended".into(),
            );
        }
        s.update_run(next)?;
    }
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

/// Whether an operator parked the job, it finished, or it waits for the
/// jobs it runs after: its state is not what its runs say.
fn fixed(job: &JobRecord) -> bool {
    job.state.is_final() || matches!(job.state, JobState::Suspended | JobState::Waiting)
}

/// Put a job in the state its open runs and its schedule say. `last` is the
/// run that just ended, whose tick decides a job that is done; when it is
/// `None` and the job is done, its latest run is looked up. A fanned-out
/// tick (shards, a broadcast) succeeded when each of its runs did.
pub fn settle(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &[RunRecord],
    last: Option<&RunRecord>,
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
        let latest;
        let last = match last {
            Some(run) => Some(run),
            None => {
                latest = s.recent_runs(job.id, 1)?;
                latest.first()
            }
        };
        let outcome = match last {
            Some(run) if run.part.fanned_out() => tick_outcome(s, job.id, run.scheduled_at)?,
            Some(run) => run.outcome,
            None => None,
        };
        match outcome {
            Some(RunOutcome::Succeeded) => JobState::Succeeded,
            Some(RunOutcome::Skipped | RunOutcome::Cancelled) => JobState::Cancelled,
            _ => JobState::Failed,
        }
    };
    Ok(())
}

/// How the tick of a job at `scheduled_at` ended, over the last attempt of
/// each of its runs: the first failure (failed, timed out, lost) if one
/// failed, else cancelled or skipped if one was, else succeeded.
pub fn tick_outcome(
    s: &mut dyn Store,
    job_id: i64,
    scheduled_at: Millis,
) -> Outcome<Option<RunOutcome>> {
    // In (run, attempt) order: each run's last attempt is kept.
    let last: BTreeMap<u32, Option<RunOutcome>> = s
        .tick_runs(job_id, scheduled_at)?
        .into_iter()
        .map(|r| (r.run, r.outcome))
        .collect();
    let outcomes: Vec<RunOutcome> = last.into_values().flatten().collect();
    let failed = |o: &&RunOutcome| {
        matches!(
            o,
            RunOutcome::Failed | RunOutcome::TimedOut | RunOutcome::Lost
        )
    };
    let stopped = |o: &&RunOutcome| matches!(o, RunOutcome::Cancelled | RunOutcome::Skipped);
    Ok(outcomes
        .iter()
        .find(failed)
        .or_else(|| outcomes.iter().find(stopped))
        .or(outcomes.first())
        .copied())
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
pub fn park(s: &mut dyn Store, job: &mut JobRecord, state: JobState, now: Millis) {
    debug_assert!(matches!(state, JobState::Suspended | JobState::Cancelled));
    s.journal().push(RunEvent::JobStopped { job_id: job.id });
    job.state = state;
    job.updated_at = now;
    if state == JobState::Cancelled {
        job.next_fire = None;
        job.note = None;
    }
}

/// Cancel a job: its runs that have not ended end as cancelled with
/// `reason` (a running one is stopped at its worker's next heartbeat), and
/// the job is parked as cancelled, with `reason` as its note when `noted`.
/// The caller hands it to `deps::settled`.
pub fn cancel_job(
    s: &mut dyn Store,
    job: &mut JobRecord,
    reason: &str,
    now: Millis,
    noted: bool,
) -> Outcome<()> {
    for mut run in s.open_runs(job.id)? {
        let ending = Ending::by_tracker(RunOutcome::Cancelled, now, reason);
        end(s, &mut run, ending, false)?;
        dispatch::push_feedback(s, job, &run)?;
    }
    park(s, job, JobState::Cancelled, now);
    if noted {
        job.note = Some(reason.to_string());
    }
    s.update_job(job)?;
    Ok(())
}

/// A job whose schedule cannot be evaluated any more: it fails, saying why.
pub fn break_schedule(s: &mut dyn Store, job: &mut JobRecord, why: String) {
    s.journal().push(RunEvent::JobStopped { job_id: job.id });
    job.state = JobState::Failed;
    job.next_fire = None;
    job.note = Some(why);
}

#[cfg(test)]
mod tests {
    use super::dispatch::{claim, deliver};
    use super::*;
    use crate::model::{FanOut, JobSpec};
    use crate::protocol::{RunResult, Upstream};
    use crate::store::SqliteStore;

    const LEASE: u64 = 10_000;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        (dir, s)
    }

    fn fleet(live: &[&str]) -> Fleet {
        Fleet {
            live: live.iter().map(|w| w.to_string()).collect(),
            settled: true,
        }
    }

    fn submit_job(s: &mut SqliteStore, task_id: &str, fan_out: FanOut, retries: u32) -> JobRecord {
        let mut spec = JobSpec::new("g", task_id);
        spec.fan_out = fan_out;
        spec.max_retries = retries;
        let (acks, _) = submit::submit(s, vec![spec], 1_000, chrono_tz::UTC).unwrap();
        assert!(acks[0].is_ok(), "{acks:?}");
        s.job_by_key("g", task_id).unwrap().unwrap()
    }

    fn result(run_id: i64, fence: i64, outcome: RunOutcome) -> Upstream {
        Upstream::Done(RunResult {
            run_id,
            fence,
            outcome,
            exit_code: Some(i32::from(outcome != RunOutcome::Succeeded)),
            ended_at: 2_000,
            reason: None,
        })
    }

    #[test]
    fn a_claim_takes_its_share_of_a_ticks_shards() {
        let (_dir, mut s) = store();
        let job = submit_job(&mut s, "split", FanOut::Shards(5), 0);
        assert_eq!(job.run_count, 5);
        let two = fleet(&["a", "b"]);
        let a = claim(&mut s, "g", "a", 10, 1_000, LEASE, &two).unwrap();
        assert_eq!(a.dispatches.len(), 3, "⌈5 / 2⌉ shards for a");
        let b = claim(&mut s, "g", "b", 10, 1_000, LEASE, &two).unwrap();
        assert_eq!(b.dispatches.len(), 2);
        let shards: Vec<Option<u32>> = a
            .dispatches
            .iter()
            .chain(&b.dispatches)
            .map(|d| d.part.shard())
            .collect();
        assert_eq!(shards, [0, 1, 2, 3, 4].map(Some));
        // Alone in its group, a worker takes every shard.
        submit_job(&mut s, "alone", FanOut::Shards(3), 0);
        let c = claim(&mut s, "g", "c", 10, 1_000, LEASE, &fleet(&["c"])).unwrap();
        assert_eq!(c.dispatches.len(), 3);
    }

    #[test]
    fn a_sharded_tick_fails_when_one_shard_fails_for_good_and_retries_it_alone() {
        let (_dir, mut s) = store();
        submit_job(&mut s, "split", FanOut::Shards(2), 1);
        let got = claim(&mut s, "g", "a", 10, 1_000, LEASE, &fleet(&["a"])).unwrap();
        let (zero, one) = (&got.dispatches[0], &got.dispatches[1]);
        let items = vec![
            result(zero.run_id, zero.fence, RunOutcome::Succeeded),
            result(one.run_id, one.fence, RunOutcome::Failed),
        ];
        deliver(&mut s, items, 2_000, 0, chrono_tz::UTC).unwrap();
        let job = s.job_by_key("g", "split").unwrap().unwrap();
        assert_eq!(job.state, JobState::Retrying);
        // Only shard 1 runs again, as shard 1.
        let again = claim(&mut s, "g", "a", 10, 60_000, LEASE, &fleet(&["a"])).unwrap();
        assert_eq!(again.dispatches.len(), 1);
        let retry = &again.dispatches[0];
        assert_eq!((retry.part.shard(), retry.attempt), (Some(1), 2));
        let failed = vec![result(retry.run_id, retry.fence, RunOutcome::Failed)];
        deliver(&mut s, failed, 61_000, 0, chrono_tz::UTC).unwrap();
        let job = s.job_by_key("g", "split").unwrap().unwrap();
        assert_eq!(job.state, JobState::Failed, "shard 1 failed for good");
    }

    #[test]
    fn a_broadcast_fans_out_to_the_live_workers_when_claimed() {
        let (_dir, mut s) = store();
        submit_job(&mut s, "cast", FanOut::Broadcast, 0);
        let three = fleet(&["a", "b", "c"]);
        let a = claim(&mut s, "g", "a", 10, 1_000, LEASE, &three).unwrap();
        assert!(a.fanned_out);
        assert_eq!(a.dispatches.len(), 1);
        assert_eq!(a.dispatches[0].part.pinned(), Some("a"));
        // Each other worker gets its own run, and only that one.
        assert!(claim(&mut s, "g", "a", 10, 1_000, LEASE, &three)
            .unwrap()
            .dispatches
            .is_empty());
        assert_eq!(s.next_due_at("g", "a").unwrap(), None);
        let c = claim(&mut s, "g", "c", 10, 1_000, LEASE, &three).unwrap();
        assert_eq!(c.dispatches[0].part.pinned(), Some("c"));
        let job = s.job_by_key("g", "cast").unwrap().unwrap();
        assert_eq!(job.run_count, 3);
        let done: Vec<Upstream> = [&a.dispatches[0], &c.dispatches[0]]
            .iter()
            .map(|d| result(d.run_id, d.fence, RunOutcome::Succeeded))
            .collect();
        deliver(&mut s, done, 2_000, 0, chrono_tz::UTC).unwrap();
        let job = s.job_by_key("g", "cast").unwrap().unwrap();
        assert_eq!(job.state, JobState::Queued, "b's run still waits");
        // b leaves the group before it claims its run: the run is given up
        // and the tick fails.
        let two = fleet(&["a", "c"]);
        claim(&mut s, "g", "a", 10, 3_000, LEASE, &two).unwrap();
        let job = s.job_by_key("g", "cast").unwrap().unwrap();
        assert_eq!(job.state, JobState::Failed);
        let runs = s.recent_runs(job.id, 10).unwrap();
        let b = runs.iter().find(|r| r.part.pinned() == Some("b")).unwrap();
        assert_eq!(b.outcome, Some(RunOutcome::Lost));
    }

    #[test]
    fn a_lost_broadcast_run_is_not_run_elsewhere() {
        let (_dir, mut s) = store();
        submit_job(&mut s, "cast", FanOut::Broadcast, 3);
        let a = claim(&mut s, "g", "a", 10, 1_000, LEASE, &fleet(&["a"])).unwrap();
        assert!(!a.fanned_out, "a is alone");
        let lost = vec![result(
            a.dispatches[0].run_id,
            a.dispatches[0].fence,
            RunOutcome::Lost,
        )];
        deliver(&mut s, lost, 2_000, 0, chrono_tz::UTC).unwrap();
        let job = s.job_by_key("g", "cast").unwrap().unwrap();
        assert_eq!(job.state, JobState::Failed);
        assert!(s.open_runs(job.id).unwrap().is_empty());
    }
}
