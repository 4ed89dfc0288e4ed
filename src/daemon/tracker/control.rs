//! What an operator does to a job: cancel, suspend, resume, trigger, retry,
//! edit.
//! Each runs in one store transaction and leaves run records that say what
//! happened.

use super::queue::{end_run, push_feedback, resolve, settle, Outcome};
use super::scheduler::{apply_misfire, Missed};
use crate::model::{JobKind, JobState, Millis, RunOutcome, RunState, Schedule};
use crate::protocol::{BulkAction, JobEdit, JobRef, WireError};
use crate::schedule::Plan;
use crate::store::{JobRecord, RunRecord, Store};
use chrono_tz::Tz;

/// The reason of a queued run that `suspend` ended; `resume` runs it again.
const HELD_BY_SUSPEND: &str = "the job was suspended before the run started";

fn describe(job: &JobRecord) -> String {
    format!(
        "job '{}' in group '{}'",
        crate::model::cut(&job.spec.task_id, 80),
        crate::model::cut(&job.spec.group, 80)
    )
}

fn refuse(job: &JobRecord, why: &str) -> WireError {
    WireError::Conflict(format!("{} {why}", describe(job)))
}

/// End the job's open runs with `outcome` and `reason`.
fn end_open_runs(
    s: &mut dyn Store,
    job: &JobRecord,
    only_queued: bool,
    outcome: RunOutcome,
    reason: &str,
    now: Millis,
) -> Outcome<()> {
    for mut run in s.open_runs(job.id)? {
        if only_queued && run.state != RunState::Queued {
            continue;
        }
        end_run(s, &mut run, outcome, now, reason.to_string())?;
        if outcome == RunOutcome::Cancelled {
            push_feedback(s, job, &run)?;
        }
    }
    Ok(())
}

/// Cancel a job: no more ticks; a queued run leaves the queue and a running
/// one is stopped at its worker's next heartbeat.
pub fn cancel(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let mut job = resolve(s, r)?;
    match job.state {
        JobState::Cancelled => return Err(refuse(&job, "has already been cancelled")),
        JobState::Succeeded => return Err(refuse(&job, "has already succeeded")),
        JobState::Failed => return Err(refuse(&job, "has already failed")),
        _ => {}
    }
    end_open_runs(
        s,
        &job,
        false,
        RunOutcome::Cancelled,
        "cancelled by a user",
        now,
    )?;
    job.state = JobState::Cancelled;
    job.next_fire = None;
    job.updated_at = now;
    job.note = None;
    s.update_job(&job)?;
    Ok(job)
}

/// Suspend a job: no more ticks and no queued run starts; a running run
/// finishes. Its pending tick is kept for `resume`.
pub fn suspend(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let mut job = resolve(s, r)?;
    if job.state.is_final() {
        return Err(refuse(
            &job,
            &format!("has {}; there is nothing to suspend", job.state),
        ));
    }
    if job.state == JobState::Suspended {
        return Err(refuse(&job, "is already suspended"));
    }
    end_open_runs(s, &job, true, RunOutcome::Skipped, HELD_BY_SUSPEND, now)?;
    job.state = JobState::Suspended;
    job.updated_at = now;
    s.update_job(&job)?;
    Ok(job)
}

/// Resume a suspended job: ticks missed while it was suspended follow its
/// misfire policy; the next tick is computed from now. Returns whether a run
/// was queued.
pub fn resume(s: &mut dyn Store, r: &JobRef, now: Millis, zone: Tz) -> Outcome<(JobRecord, bool)> {
    let mut job = resolve(s, r)?;
    if job.state != JobState::Suspended {
        return Err(refuse(&job, &format!("is {}, not suspended", job.state)));
    }
    job.state = JobState::Scheduled;
    job.updated_at = now;
    let mut queued = false;
    // A run the suspension held back (or that was lost meanwhile) runs now,
    // unless a run of the job is still going.
    if s.open_runs(job.id)?.is_empty() {
        let last = s.recent_runs(job.id, 1)?;
        let last = last.first();
        let interrupted = last.is_some_and(|r| {
            r.outcome == Some(RunOutcome::Lost) || r.reason.as_deref() == Some(HELD_BY_SUSPEND)
        });
        let never_ran = job.spec.schedule.kind() == JobKind::Now && last.is_none();
        if interrupted || never_ran {
            queued = queue_again(s, &job, last, now)?;
        }
    }
    if let Some(pending) = job
        .next_fire
        .filter(|_| job.spec.schedule.kind() != JobKind::Now)
    {
        let plan = Plan::new(&job.spec.schedule, job.submitted_at, zone)
            .map_err(|e| WireError::InvalidInput(e.to_string()))?;
        if pending <= now {
            let (next, caught_up) = apply_misfire(
                s,
                &mut job,
                &plan,
                (pending, now + 1),
                Missed::Suspended,
                now,
            )?;
            job.next_fire = next;
            queued = caught_up;
        }
    }
    settle(s, &mut job, None)?;
    s.update_job(&job)?;
    Ok((job, queued))
}

/// Queue a new attempt of `last` (or run 1 when there is none), due now.
fn queue_again(
    s: &mut dyn Store,
    job: &JobRecord,
    last: Option<&RunRecord>,
    now: Millis,
) -> Outcome<bool> {
    let (run, scheduled_at, attempt) = match last {
        Some(r) => (r.run, r.scheduled_at, r.attempt + 1),
        None => (1, now, 1),
    };
    let mut again = RunRecord::queued(job, run, scheduled_at);
    again.attempt = attempt;
    again.due_at = now;
    s.insert_run(&again)?;
    Ok(true)
}

/// A cancelled or suspended job takes no extra runs.
fn refuse_if_parked(job: &JobRecord) -> Outcome<()> {
    if matches!(job.state, JobState::Cancelled | JobState::Suspended) {
        return Err(refuse(
            job,
            &format!("is {}; resume or resubmit it first", job.state),
        ));
    }
    Ok(())
}

/// A job that just got a run queued: a finished one is active again.
fn back_in_queue(s: &mut dyn Store, mut job: JobRecord, now: Millis) -> Outcome<JobRecord> {
    if job.state.is_final() {
        job.state = JobState::Queued;
    }
    settle(s, &mut job, None)?;
    job.updated_at = now;
    s.update_job(&job)?;
    Ok(job)
}

/// One extra run now; the schedule is untouched.
pub fn trigger(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let mut job = resolve(s, r)?;
    refuse_if_parked(&job)?;
    // A tick of its own: never the same instant as a scheduled one.
    let mut at = now;
    while s.tick_exists(job.id, at)? {
        at += 1;
    }
    job.run_count += 1;
    let mut run = RunRecord::queued(&job, job.run_count, at);
    run.due_at = now;
    run.reason = Some("triggered by a user".into());
    s.insert_run(&run)?;
    back_in_queue(s, job, now)
}

/// Run the job's latest run again, when it did not succeed.
pub fn retry(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let job = resolve(s, r)?;
    refuse_if_parked(&job)?;
    if !s.open_runs(job.id)?.is_empty() {
        return Err(refuse(
            &job,
            "has a run queued or running; nothing to retry",
        ));
    }
    let last = s.recent_runs(job.id, 1)?;
    let Some(last) = last.first() else {
        return Err(refuse(&job, "has not run yet; nothing to retry"));
    };
    if last.outcome == Some(RunOutcome::Succeeded) {
        return Err(refuse(
            &job,
            &format!("succeeded in its last run ({}); nothing to retry", last.run),
        ));
    }
    queue_again(s, &job, Some(last), now)?;
    back_in_queue(s, job, now)
}

/// Change a job's schedule, params, command or limits; its runs stay. A
/// new schedule takes effect from now: its next tick is the first one after
/// now (a repeat stays aligned to the job's first fire and counts its runs
/// from there). A run already queued or running keeps going; the next
/// dispatch carries the new spec.
pub fn edit(
    s: &mut dyn Store,
    r: &JobRef,
    edit: &JobEdit,
    now: Millis,
    zone: Tz,
) -> Outcome<JobRecord> {
    let mut job = resolve(s, r)?;
    if job.state.is_final() {
        return Err(refuse(
            &job,
            &format!(
                "has {}; submit it again to run it (--replace keeps its task id)",
                job.state
            ),
        ));
    }
    let mut spec = job.spec.clone();
    if let Some(schedule) = &edit.schedule {
        if spec.schedule.kind() == JobKind::Now {
            return Err(refuse(
                &job,
                "runs now and has no schedule to change; submit it again with --replace",
            ));
        }
        if schedule.kind() == JobKind::Now {
            return Err(WireError::InvalidInput(
                "a schedule is needed (--cron, --at, --delay or --repeat-count); \
                 to run the job once more now, use lts trigger"
                    .into(),
            ));
        }
        spec.schedule = schedule.clone();
    }
    if edit.replace_params {
        spec.params = edit.set_params.clone();
    } else {
        spec.params.extend(edit.set_params.clone());
    }
    if let Some(command) = &edit.command {
        spec.command = command.clone();
    }
    if let Some(priority) = edit.priority {
        spec.priority = priority;
    }
    if let Some(retries) = edit.max_retries {
        spec.max_retries = retries;
    }
    if let Some(backoff) = edit.retry_backoff_ms {
        spec.retry_backoff_ms = backoff;
    }
    if let Some(timeout) = edit.timeout_ms {
        spec.timeout_ms = timeout;
    }
    if let Some(overlap) = edit.overlap {
        spec.overlap = overlap;
    }
    if let Some(misfire) = edit.misfire {
        spec.misfire = misfire;
    }
    if let Some(window) = edit.catch_up_window_ms {
        spec.catch_up_window_ms = window;
    }
    crate::model::validate_job(&spec).map_err(|e| WireError::InvalidInput(e.to_string()))?;
    if edit.schedule.is_some() && spec.schedule != job.spec.schedule {
        let next = match &spec.schedule {
            Schedule::At { at_ms } => Some((*at_ms).max(now)),
            schedule => Plan::new(schedule, job.submitted_at, zone)
                .map_err(|e| WireError::InvalidInput(e.to_string()))?
                .after(now),
        };
        if next.is_none() {
            return Err(WireError::InvalidInput(
                "the new schedule has no tick after now (a repeat counts its runs from the \
                 job's first fire)"
                    .into(),
            ));
        }
        job.next_fire = next;
    }
    job.spec = spec;
    job.updated_at = now;
    s.update_spec(&job)?;
    settle(s, &mut job, None)?;
    s.update_job(&job)?;
    Ok(job)
}

/// Whether `action` applies to a job in `state`: bulk actions select only
/// the jobs they can change, so a finished job is never "refused".
pub fn bulk_applies(action: BulkAction, state: JobState) -> bool {
    match action {
        BulkAction::Cancel => !state.is_final(),
        BulkAction::Suspend => !state.is_final() && state != JobState::Suspended,
        BulkAction::Resume => state == JobState::Suspended,
    }
}
