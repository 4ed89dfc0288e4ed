//! The tracker's rules for jobs and runs, as functions over a `Store` that
//! run inside one store transaction each: submit, claim, heartbeat, deliver,
//! cancel, expire leases. No I/O but the store; no SQL.

use crate::model::{
    validate_job, FeedbackItem, JobDetail, JobSpec, JobState, JobView, LogEntry, Millis,
    RunOutcome, RunState, RunView, Schedule, Stream,
};
use crate::protocol::{
    Dispatch, Heartbeat, JobRef, RunResult, RunsPage, SubmitAck, Upstream, WireError,
};
use crate::schedule::Plan;
use crate::store::BUFFERED;
use crate::store::{JobRecord, LogRecord, RunEvent, RunRecord, Store, StoreError};
use chrono_tz::Tz;
use rand::Rng;
use std::collections::{BTreeSet, HashMap};

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

/// Find the job a caller names.
pub fn resolve(s: &mut dyn Store, r: &JobRef) -> Outcome<JobRecord> {
    let not_found = || WireError::NotFound {
        task_id: r.task_id.clone(),
        group: r.group.clone(),
    };
    if let Some(group) = &r.group {
        return s.job_by_key(group, &r.task_id)?.ok_or_else(not_found);
    }
    let mut found = s.jobs_by_task_id(&r.task_id)?;
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found.remove(0)),
        _ => Err(WireError::Ambiguous {
            task_id: r.task_id.clone(),
            groups: found.into_iter().map(|j| j.spec.group).collect(),
        }),
    }
}

/// Store submitted jobs. Each job gets its own answer; the groups that got
/// runs to dispatch are returned so their workers can be woken.
pub fn submit(
    s: &mut dyn Store,
    jobs: Vec<JobSpec>,
    now: Millis,
    zone: Tz,
) -> Outcome<(Vec<Outcome<SubmitAck>>, BTreeSet<String>)> {
    let mut acks = Vec::with_capacity(jobs.len());
    let mut woken = BTreeSet::new();
    for spec in jobs {
        let ack = submit_one(s, spec, now, zone)?;
        if let Ok(ack) = &ack {
            s.journal().push(RunEvent::Submitted {
                group: ack.group.clone(),
            });
            if ack.state == JobState::Queued {
                woken.insert(ack.group.clone());
            }
        }
        acks.push(ack);
    }
    Ok((acks, woken))
}

/// One job: `Err` is a store failure (the whole batch fails), `Ok(Err)` a
/// refusal of this job alone.
fn submit_one(
    s: &mut dyn Store,
    spec: JobSpec,
    now: Millis,
    zone: Tz,
) -> Outcome<Outcome<SubmitAck>> {
    if let Err(e) = validate_job(&spec) {
        return Ok(Err(WireError::InvalidInput(e.to_string())));
    }
    let (state, next_fire) = match &spec.schedule {
        Schedule::Now => (JobState::Queued, None),
        // An --at in the past runs now rather than as a missed tick.
        Schedule::At { at_ms } => (JobState::Scheduled, Some((*at_ms).max(now))),
        Schedule::Cron { .. } | Schedule::Repeat { .. } => {
            let plan = match Plan::new(&spec.schedule, now, zone) {
                Ok(plan) => plan,
                Err(e) => return Ok(Err(WireError::InvalidInput(e.to_string()))),
            };
            match plan.first(now) {
                Some(first) => (JobState::Scheduled, Some(first)),
                None => {
                    return Ok(Err(WireError::InvalidInput(
                        "--cron: the schedule never fires again".into(),
                    )))
                }
            }
        }
    };
    let queued_now = spec.schedule == Schedule::Now;
    let mut job = JobRecord {
        id: 0,
        spec,
        state,
        submitted_at: now,
        updated_at: now,
        next_fire,
        run_count: u32::from(queued_now),
        note: None,
    };
    // The key is usually free: try it first, and look at the job holding it
    // only when it is not.
    let mut replaced = false;
    job.id = match s.insert_job(&job)? {
        Some(id) => id,
        None => {
            if !job.spec.replace {
                return Ok(Err(WireError::Exists {
                    task_id: job.spec.task_id,
                    group: job.spec.group,
                }));
            }
            // Only now, with the new job known to be good, may the old one go.
            if let Some(existing) = s.job_by_key(&job.spec.group, &job.spec.task_id)? {
                s.delete_job(existing.id)?;
            }
            replaced = true;
            s.insert_job(&job)?.ok_or_else(|| {
                StoreError::Invalid(format!(
                    "job {} in group {} kept its key after being replaced",
                    job.spec.task_id, job.spec.group
                ))
            })?
        }
    };
    if queued_now {
        s.insert_run(&RunRecord::queued(&job, 1, now))?;
    }
    Ok(Ok(SubmitAck {
        task_id: job.spec.task_id,
        group: job.spec.group,
        state: job.state,
        replaced,
    }))
}

/// What a claim found: runs to hand out, or when the next one falls due
/// (or may be taken: soon, when it was left because its job was busy).
pub struct Claim {
    pub dispatches: Vec<Dispatch>,
    pub next_due: Option<Millis>,
}

/// Claim up to `limit` due runs of `group` for `worker`, each with a lease
/// and a fencing token.
pub fn claim(
    s: &mut dyn Store,
    group: &str,
    worker: &str,
    limit: usize,
    now: Millis,
    lease_ms: u64,
) -> Outcome<Claim> {
    let runs = if limit == 0 {
        Vec::new()
    } else {
        s.due_runs(group, now, limit)?
    };
    if runs.is_empty() {
        return Ok(Claim {
            dispatches: Vec::new(),
            next_due: s.next_due_at(group)?,
        });
    }
    let first_fence = s.reserve_fences(runs.len() as i64)?;
    let mut dispatches = Vec::with_capacity(runs.len());
    let mut busy = false;
    let mut bytes = 0;
    for (i, mut run) in runs.into_iter().enumerate() {
        // One pull carries at most so much payload; the rest stays queued
        // for the next pull (which comes at once: the worker has free slots).
        if bytes >= crate::model::MAX_CALL_PAYLOAD_BYTES {
            busy = true;
            break;
        }
        // Holding the run, never wait for its job: a cancel or a tick locks
        // the job first, then its runs, and waiting here would close a cycle
        // (a deadlock between trackers). A run whose job another
        // transaction is changing stays queued for the next pull.
        let Some(mut job) = s.job_if_free(run.job_id)? else {
            busy = true;
            continue;
        };
        run.state = RunState::Running;
        run.worker = Some(worker.to_string());
        run.started_at = Some(now);
        run.lease_until = Some(now + lease_ms as i64);
        run.fence = first_fence + i as i64;
        s.update_run(&run)?;
        s.journal().push(RunEvent::Started {
            group: run.group.clone(),
            scheduled_at: run.scheduled_at,
            due_at: run.due_at,
            at: now,
        });
        if matches!(
            job.state,
            JobState::Queued | JobState::Retrying | JobState::Scheduled
        ) {
            job.state = JobState::Running;
            job.note = None;
            job.updated_at = now;
            s.update_job(&job)?;
        }
        bytes += crate::model::payload_bytes(&job.spec);
        dispatches.push(Dispatch {
            run_id: run.id,
            fence: run.fence,
            job: job.spec,
            run: run.run,
            attempt: run.attempt,
            scheduled_at: run.scheduled_at,
            lease_ms,
        });
    }
    Ok(Claim {
        dispatches,
        next_due: busy.then_some(now + BUSY_JOB_RETRY_MS),
    })
}

/// How soon a pull tries again for a run it left because its job was busy.
const BUSY_JOB_RETRY_MS: Millis = 50;

/// A run started this recently may be on its way to the worker still, so a
/// heartbeat that does not mention it proves nothing yet.
const RECONCILE_AFTER_MS: i64 = 5_000;

/// What a heartbeat changed.
pub struct Beat {
    /// Runs the worker should stop (cancelled, replaced, no longer its).
    pub stop: Vec<i64>,
    /// Groups that got runs to dispatch (runs the worker no longer had).
    pub woken: BTreeSet<String>,
}

/// Renew the leases a worker still holds, name the runs it should stop, and
/// reconcile: a run the tracker thinks the worker holds but the worker did
/// not report is lost, and queued again at once.
pub fn heartbeat(s: &mut dyn Store, beat: &Heartbeat, now: Millis, lease_ms: u64) -> Outcome<Beat> {
    let mut stop = Vec::new();
    for &(run_id, fence) in &beat.runs {
        match s.run_by_id(run_id)? {
            Some(mut run)
                if run.state == RunState::Running
                    && run.fence == fence
                    && run.worker.as_deref() == Some(beat.worker.id.as_str()) =>
            {
                run.lease_until = Some(now + lease_ms as i64);
                s.update_run(&run)?;
            }
            _ => stop.push(run_id),
        }
    }
    let mut woken = BTreeSet::new();
    for mut run in s.running_runs_of(&beat.worker.id)? {
        let reported = beat.runs.iter().any(|(id, _)| *id == run.id);
        let settled_in = run.started_at.is_some_and(|t| now - t > RECONCILE_AFTER_MS);
        if reported || !settled_in {
            continue;
        }
        let reason = format!("worker {} no longer holds the run", beat.worker.id);
        end_run(s, &mut run, RunOutcome::Lost, now, reason)?;
        if let Some(group) = requeue(s, &run, now)? {
            woken.insert(group);
        }
    }
    Ok(Beat { stop, woken })
}

/// End `run` with `outcome` and store it; the life cycle records the move.
/// A worker's own result ends its run in `finish_run` instead.
pub fn end_run(
    s: &mut dyn Store,
    run: &mut RunRecord,
    outcome: RunOutcome,
    now: Millis,
    reason: String,
) -> Outcome<()> {
    run.end(outcome, now, reason);
    s.update_run(run)?;
    journal_ended(s, run, false);
    Ok(())
}

/// Record that `run` (stored, done) ended; `retrying` when another attempt
/// of it follows.
fn journal_ended(s: &mut dyn Store, run: &RunRecord, retrying: bool) {
    if let (Some(outcome), Some(ended_at)) = (run.outcome, run.ended_at) {
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
}

/// What a delivery changed.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Groups that got runs to dispatch (retries).
    pub woken: BTreeSet<String>,
    /// Runs that got log lines or ended: their followers wake.
    pub runs: Vec<i64>,
}

/// Apply what a worker sent, in order: log lines of live runs are stored,
/// results end their runs and move their jobs on.
pub fn deliver(
    s: &mut dyn Store,
    items: Vec<Upstream>,
    now: Millis,
    max_log_bytes: u64,
) -> Outcome<Delivered> {
    let mut woken = BTreeSet::new();
    let mut runs = Vec::new();
    let mut known: HashMap<i64, bool> = HashMap::new();
    let mut lines = Vec::new();
    for item in items {
        match item {
            Upstream::Log {
                run_id,
                seq,
                stream,
                line,
                at,
            } => {
                let exists = match known.get(&run_id) {
                    Some(exists) => *exists,
                    None => {
                        // Not locked: a cancel may be ending the run, and a
                        // line of it is welcome all the same.
                        let exists = s.run_exists(run_id)?;
                        known.insert(run_id, exists);
                        exists
                    }
                };
                if exists {
                    lines.push(LogRecord {
                        run_id,
                        seq,
                        stream,
                        line,
                        at,
                    });
                }
            }
            Upstream::Done(result) => {
                store_lines(s, &lines, max_log_bytes)?;
                lines.clear();
                runs.push(result.run_id);
                if let Some(group) = finish_run(s, &result, now)? {
                    woken.insert(group);
                }
            }
        }
    }
    store_lines(s, &lines, max_log_bytes)?;
    runs.extend(
        known
            .into_iter()
            .filter(|(_, exists)| *exists)
            .map(|(id, _)| id),
    );
    Ok(Delivered { woken, runs })
}

/// Store log lines under the per-run cap (`0`: no cap): a run keeps the
/// first half of the cap whole and the latest lines within the other half;
/// what falls between is deleted and counted, and `read_logs` marks the cut.
fn store_lines(s: &mut dyn Store, lines: &[LogRecord], cap: u64) -> Outcome<()> {
    if cap == 0 {
        s.append_logs(lines)?;
        return Ok(());
    }
    let mut runs: Vec<i64> = lines.iter().map(|l| l.run_id).collect();
    runs.dedup();
    runs.sort_unstable();
    runs.dedup();
    for run_id in runs {
        let mut stats = s.log_stats(run_id)?;
        let mine: Vec<LogRecord> = lines
            .iter()
            .filter(|l| l.run_id == run_id)
            .cloned()
            .collect();
        for line in &mine {
            let len = line.line.len() as u64 + 1;
            if stats.head_last.is_none() && stats.head_bytes + len <= cap / 2 {
                stats.head_bytes += len;
            } else {
                stats.head_last.get_or_insert(line.seq.saturating_sub(1));
                stats.tail_bytes += len;
            }
        }
        s.append_logs(&mine)?;
        if let Some(head_last) = stats.head_last {
            if stats.tail_bytes > cap / 2 {
                // Trim a little below the limit so that not every line trims.
                let excess = stats.tail_bytes - cap / 2 + cap / 8;
                let (lines, bytes) = s.trim_logs(run_id, head_last, excess)?;
                stats.tail_bytes = stats.tail_bytes.saturating_sub(bytes);
                stats.dropped_lines += lines;
                stats.dropped_bytes += bytes;
            }
        }
        s.set_log_stats(run_id, &stats)?;
    }
    Ok(())
}

/// Delete what retention no longer keeps, in one small batch; returns how
/// many jobs, runs and alerts went.
pub fn prune(s: &mut dyn Store, cutoff: Millis, batch: usize) -> Outcome<usize> {
    let jobs = s.prune_jobs(cutoff, batch)?;
    let runs = s.prune_runs(cutoff, batch)?;
    let alerts = s.prune_alerts(cutoff, batch)?;
    Ok(jobs + runs + alerts)
}

/// End a run with a worker's result. A result for a run that is no longer
/// running under that fence (cancelled, lost, replaced) changes nothing.
fn finish_run(s: &mut dyn Store, result: &RunResult, now: Millis) -> Outcome<Option<String>> {
    // The job first, then the run: the order in which a cancel or a tick
    // locks them, so that two trackers never wait on each other.
    let job = s.job_of_run(result.run_id)?;
    let Some(mut run) = s.run_by_id(result.run_id)? else {
        return Ok(None);
    };
    if run.state != RunState::Running || run.fence != result.fence {
        if run.fence == result.fence && run.outcome == Some(RunOutcome::Lost) {
            // Recorded, but it changes nothing: the run was already given
            // to another attempt.
            let code = result
                .exit_code
                .map(|c| format!(", exit {c}"))
                .unwrap_or_default();
            let note = format!(
                "a late result arrived from its worker: {}{code}; not applied",
                result.outcome
            );
            run.reason = Some(match run.reason.take() {
                Some(reason) => format!("{reason}; {note}"),
                None => note,
            });
            s.update_run(&run)?;
        }
        tracing::debug!(run = run.id, "ignored a stale result");
        return Ok(None);
    }
    run.state = RunState::Done;
    run.outcome = Some(result.outcome);
    run.exit_code = result.exit_code;
    run.ended_at = Some(result.ended_at);
    run.lease_until = None;
    run.reason = result.reason.clone().or(run.reason);
    s.update_run(&run)?;
    if result.outcome == RunOutcome::Lost {
        journal_ended(s, &run, true);
        // The worker gave the run back (it is stopping): run it elsewhere.
        return requeue(s, &run, now);
    }
    let Some(mut job) = job else {
        journal_ended(s, &run, false);
        return Ok(None);
    };
    job.updated_at = now;
    let group = job.spec.group.clone();
    let succeeded = result.outcome == RunOutcome::Succeeded;
    let may_retry = !job.state.is_final() && job.state != JobState::Suspended;
    // The job's other runs, read once: the retry check, the buffered run and
    // the job's state all follow from them.
    let open = s.open_runs(job.id)?;
    // Never a second open attempt of one run (a resume may have queued one).
    let retry_open = open.iter().any(|r| r.run == run.run);
    let retrying = !succeeded && run.attempt <= job.spec.max_retries && may_retry && !retry_open;
    journal_ended(s, &run, retrying);
    if retrying {
        let mut retry = RunRecord::queued(&job, run.run, run.scheduled_at);
        retry.attempt = run.attempt + 1;
        retry.due_at = now + backoff_ms(job.spec.retry_backoff_ms, run.attempt) as i64;
        s.insert_run(&retry)?;
        job.state = JobState::Retrying;
        s.update_job(&job)?;
        return Ok(Some(group));
    }
    push_feedback(s, &job, &run)?;
    let released = release_held(s, &open, now)?;
    settle_by(s, &mut job, &open, Some(result.outcome))?;
    s.update_job(&job)?;
    Ok(released.then_some(group))
}

/// Leave the final result of a run in its job's client group's feedback
/// queue, when the job asked for feedback.
pub fn push_feedback(s: &mut dyn Store, job: &JobRecord, run: &RunRecord) -> Outcome<()> {
    let (true, Some(client_group), Some(outcome)) =
        (job.spec.feedback, &job.spec.client_group, run.outcome)
    else {
        return Ok(());
    };
    s.push_feedback(&FeedbackItem {
        id: 0,
        client_group: client_group.clone(),
        task_id: job.spec.task_id.clone(),
        group: job.spec.group.clone(),
        run: run.run,
        attempt: run.attempt,
        outcome,
        exit_code: run.exit_code,
        reason: run.reason.clone(),
        ended_at: run.ended_at.unwrap_or_default(),
    })?;
    Ok(())
}

/// When no run of the job is active any more, let the oldest of its held
/// runs go (a buffered tick, or a catch-up waiting its turn). Returns
/// whether one was released.
fn release_held(s: &mut dyn Store, open: &[RunRecord], now: Millis) -> Outcome<bool> {
    if open.iter().any(|r| r.due_at != BUFFERED) {
        return Ok(false);
    }
    // open_runs is in (run, attempt) order: the first is the oldest tick.
    let Some(mut next) = open.first().cloned() else {
        return Ok(false);
    };
    next.due_at = now;
    if next
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with("overlap buffer-one"))
    {
        next.reason =
            Some("overlap buffer-one: buffered tick, started when the run before it ended".into());
    }
    s.update_run(&next)?;
    Ok(true)
}

/// Put a job in the state its open runs and its schedule say. `last` is the
/// outcome of the run that just ended, which decides a job that is done;
/// when it is `None` and the job is done, its latest run is looked up.
pub fn settle(s: &mut dyn Store, job: &mut JobRecord, last: Option<RunOutcome>) -> Outcome<()> {
    if job.state.is_final() || job.state == JobState::Suspended {
        return Ok(());
    }
    let open = s.open_runs(job.id)?;
    settle_by(s, job, &open, last)
}

/// `settle`, given the job's open runs.
fn settle_by(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &[RunRecord],
    last: Option<RunOutcome>,
) -> Outcome<()> {
    if job.state.is_final() || job.state == JobState::Suspended {
        return Ok(());
    }
    job.state = if open.iter().any(|r| r.state == RunState::Running) {
        JobState::Running
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

/// Mark runs whose lease ran out as `lost` and queue them again. Returns the
/// groups that got runs to dispatch.
pub fn expire_leases(s: &mut dyn Store, now: Millis) -> Outcome<BTreeSet<String>> {
    let mut woken = BTreeSet::new();
    for mut run in s.expired_runs(now, 1000)? {
        let worker = run.worker.clone().unwrap_or_default();
        let reason = format!("lease expired: worker {worker} stopped heartbeating");
        end_run(s, &mut run, RunOutcome::Lost, now, reason)?;
        if let Some(group) = requeue(s, &run, now)? {
            woken.insert(group);
        }
    }
    Ok(woken)
}

/// Queue a new attempt of a run that was lost (not failed): its job goes
/// back to `queued` for any worker of the group. Returns that group.
fn requeue(s: &mut dyn Store, lost: &RunRecord, now: Millis) -> Outcome<Option<String>> {
    let Some(mut job) = s.job_by_id(lost.job_id)? else {
        return Ok(None);
    };
    if job.state.is_final() || job.state == JobState::Suspended {
        return Ok(None);
    }
    let mut again = RunRecord::queued(&job, lost.run, lost.scheduled_at);
    again.attempt = lost.attempt + 1;
    again.due_at = now;
    s.insert_run(&again)?;
    job.state = JobState::Queued;
    job.updated_at = now;
    s.update_job(&job)?;
    Ok(Some(job.spec.group))
}

/// How many runs `lts job` shows.
const RECENT_RUNS: usize = 50;
/// How many next fire times `lts job` shows.
const NEXT_FIRES: usize = 5;

/// A job with a page of its runs (the latest by default) and its next fire times.
pub fn detail(s: &mut dyn Store, r: &JobRef, zone: Tz, page: RunsPage) -> Outcome<JobDetail> {
    let job = resolve(s, r)?;
    let limit = match page.limit {
        0 => RECENT_RUNS,
        n => n as usize,
    };
    let mut runs: Vec<RunView> = s
        .runs_before(job.id, page.before, limit)?
        .iter()
        .map(RunRecord::view)
        .collect();
    // The first run decides `--wait`: keep it on the latest page even when it is old.
    if page.before.is_none() && runs.first().is_some_and(|r| r.run != 1) {
        let first = s.runs_numbered(job.id, 1)?;
        runs.splice(0..0, first.iter().map(RunRecord::view));
    }
    Ok(JobDetail {
        job: view(&job, zone),
        runs,
    })
}

/// A job as the tracker shows it, with its next fire times.
pub fn view(job: &JobRecord, zone: Tz) -> JobView {
    let mut view = job.view();
    if job.state == JobState::Suspended {
        // The pending tick is kept for `resume`, but nothing fires meanwhile.
        view.next_fire = None;
        view.next_fires.clear();
        return view;
    }
    if let Some(next) = job.next_fire {
        view.next_fires = match Plan::new(&job.spec.schedule, job.submitted_at, zone) {
            Ok(plan) => {
                let mut fires = vec![next];
                fires.extend(plan.upcoming(next, NEXT_FIRES - 1));
                fires
            }
            Err(_) => vec![next],
        };
    }
    view
}

/// The lines a log query wants, with the run they belong to and whether that
/// run has ended.
pub struct LogSlice {
    pub lines: Vec<LogEntry>,
    /// The chosen attempt's row id: what a follower waits on.
    pub run_id: Option<i64>,
    pub run: Option<u32>,
    pub attempt: Option<u32>,
    pub done: bool,
}

/// Read a job's log lines: the chosen run's latest attempt, after a cursor
/// or its last `tail` lines.
pub fn read_logs(
    s: &mut dyn Store,
    query: &crate::protocol::LogQuery,
    limit: usize,
) -> Outcome<LogSlice> {
    let job = resolve(s, &query.job)?;
    let chosen = match query.run {
        Some(n) => {
            let attempts = s.runs_numbered(job.id, n)?;
            match query
                .attempt
                .and_then(|a| attempts.iter().find(|r| r.attempt == a))
            {
                // Stay on the cursor's attempt until it ended and was read
                // to its last line; then go on to the next attempt.
                Some(current) => {
                    let unread = !s.logs_after(current.id, query.after_seq, 1)?.is_empty();
                    if current.state != RunState::Done || unread {
                        Some(current.clone())
                    } else {
                        let next = attempts.iter().find(|r| r.attempt > current.attempt);
                        next.or(Some(current)).cloned()
                    }
                }
                None => attempts.into_iter().max_by_key(|r| r.attempt),
            }
        }
        // The latest run that started: skipped ticks have no output.
        None => {
            let recent = s.recent_runs(job.id, RECENT_RUNS)?;
            let started = recent.iter().rposition(|r| r.started_at.is_some());
            started
                .or(recent.len().checked_sub(1))
                .map(|i| recent[i].clone())
        }
    };
    let chosen = chosen.as_ref();
    let Some(run) = chosen else {
        if let Some(n) = query.run {
            if job.state.is_final() || n > job.run_count {
                return Err(WireError::Missing(format!(
                    "job '{}' has no run {n} (it has {})",
                    crate::model::cut(&job.spec.task_id, 80),
                    job.run_count
                )));
            }
        }
        return Ok(LogSlice {
            lines: Vec::new(),
            run_id: None,
            run: None,
            attempt: None,
            done: job.state.is_final(),
        });
    };
    // A cursor into another attempt says nothing about this one's lines.
    let after_seq = query
        .after_seq
        .filter(|_| query.attempt.is_none_or(|a| a == run.attempt));
    let records = match (after_seq, query.tail) {
        (None, Some(n)) => s.logs_tail(run.id, n as usize)?,
        (after, _) => s.logs_after(run.id, after, limit)?,
    };
    let complete = after_seq.is_none() && query.tail.is_some() || records.len() < limit;
    // A retry of the run may still come: then more lines will too.
    let newer = s
        .runs_numbered(job.id, run.run)?
        .iter()
        .any(|r| r.attempt > run.attempt);
    let done = run.state == RunState::Done && complete && !newer;
    let entry = |seq: u64, stream, line: String, at| LogEntry {
        run: run.run,
        attempt: run.attempt,
        seq,
        stream,
        line,
        at,
    };
    let stats = s.log_stats(run.id)?;
    let mut lines = Vec::with_capacity(records.len() + 1);
    for l in records {
        // Mark the cut where the head ends and the kept tail begins.
        if let Some(head_last) = stats.head_last.filter(|_| stats.dropped_lines > 0) {
            let cursor = lines.last().map(|e: &LogEntry| e.seq).or(after_seq);
            let showing_head = query.tail.is_none() || after_seq.is_some();
            if showing_head && l.seq > head_last && cursor.is_none_or(|c| c <= head_last) {
                let marker = format!(
                    "[lts: {} lines ({} bytes) omitted here: this run's log exceeded the tracker's --max-log-bytes]",
                    stats.dropped_lines, stats.dropped_bytes
                );
                lines.push(entry(l.seq - 1, Stream::Stderr, marker, l.at));
            }
        }
        lines.push(entry(l.seq, l.stream, l.line, l.at));
    }
    Ok(LogSlice {
        lines,
        run_id: Some(run.id),
        run: Some(run.run),
        attempt: Some(run.attempt),
        done,
    })
}
