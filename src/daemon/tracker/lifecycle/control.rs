//! What an operator does to a job: cancel, suspend, resume, trigger, retry,
//! edit. Each runs in one store transaction, made of the life cycle's
//! transitions, and leaves run records that say what happened.

use super::ticks::{apply_misfire, Missed};
use super::{
    cancel_job, deps, hold, new_tick, next_attempt, park, release, settle_now, unpark, Outcome,
};
use crate::daemon::tracker::views::resolve;
use crate::model::{JobKind, JobState, Millis, RunOutcome, Schedule};
use crate::protocol::{BulkAction, JobEdit, JobRef, WireError};
use crate::schedule::Plan;
use crate::store::RunRecord;
use crate::store::{JobRecord, Store};
use chrono_tz::Tz;
use std::collections::BTreeMap;

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

/// The job `r` names, unless it is broken: an operator's action needs a
/// job whose stored spec can be read.
fn usable(s: &mut dyn Store, r: &JobRef) -> Outcome<JobRecord> {
    let job = resolve(s, r)?;
    if job.state == JobState::Broken {
        return Err(refuse(
            &job,
            "is broken (its stored row cannot be read; see lts job): \
             purge it, or submit it again with --replace",
        ));
    }
    Ok(job)
}

/// Cancel a job: no more ticks; a run that has not started ends, and a
/// running one is stopped at its worker's next heartbeat.
pub fn cancel(s: &mut dyn Store, r: &JobRef, now: Millis, zone: Tz) -> Outcome<JobRecord> {
    let mut job = usable(s, r)?;
    match job.state {
        JobState::Cancelled => return Err(refuse(&job, "has already been cancelled")),
        JobState::Succeeded => return Err(refuse(&job, "has already succeeded")),
        JobState::Failed => return Err(refuse(&job, "has already failed")),
        _ => {}
    }
    cancel_job(s, &mut job, "cancelled by a user", now, false)?;
    deps::settled(s, vec![job.clone()], now, zone)?;
    Ok(job)
}

/// Suspend a job: no more ticks, and its runs that have not started are
/// held; a running run finishes. Its pending tick is kept for `resume`.
pub fn suspend(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let mut job = usable(s, r)?;
    if job.state.is_final() {
        return Err(refuse(
            &job,
            &format!("has {}; there is nothing to suspend", job.state),
        ));
    }
    if job.state == JobState::Suspended {
        return Err(refuse(&job, "is already suspended"));
    }
    if job.state == JobState::Waiting {
        return Err(refuse(
            &job,
            "is waiting for the jobs it runs after and has nothing to suspend; cancel it instead",
        ));
    }
    let open = s.open_runs(job.id)?;
    hold(s, &open)?;
    park(s, &mut job, JobState::Suspended, now);
    s.update_job(&job)?;
    Ok(job)
}

/// Resume a suspended job: its held runs take their turns again, ticks
/// missed while it was suspended follow its misfire policy, and the next
/// tick is computed from now. Returns whether a run was queued.
pub fn resume(s: &mut dyn Store, r: &JobRef, now: Millis, zone: Tz) -> Outcome<(JobRecord, bool)> {
    let mut job = usable(s, r)?;
    if job.state != JobState::Suspended {
        return Err(refuse(&job, &format!("is {}, not suspended", job.state)));
    }
    let open = s.open_runs(job.id)?;
    let open = release(s, open, now)?;
    let mut queued = open
        .iter()
        .any(|r| r.state == crate::model::RunState::Queued);
    if open.is_empty() {
        // A run lost while the job was suspended runs now; so does a
        // run-now job suspended before it was ever queued.
        let last = s.recent_runs(job.id, 1)?;
        match last.first() {
            Some(lost) if lost.outcome == Some(RunOutcome::Lost) => {
                next_attempt(s, &job, lost, now)?;
                queued = true;
            }
            None if job.spec.schedule.kind() == JobKind::Now => {
                job.run_count = 0;
                for run in new_tick(&mut job, now, now) {
                    s.insert_run(&run)?;
                }
                queued = true;
            }
            _ => {}
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
            queued |= caught_up;
        }
    }
    let open = s.open_runs(job.id)?;
    unpark(s, &mut job, &open, now)?;
    s.update_job(&job)?;
    Ok((job, queued))
}

/// A cancelled, suspended or waiting job takes no extra runs.
fn refuse_if_parked(job: &JobRecord) -> Outcome<()> {
    if job.state == JobState::Waiting {
        return Err(refuse(
            job,
            "is waiting for the jobs it runs after; it runs when they have succeeded",
        ));
    }
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
    let open = s.open_runs(job.id)?;
    unpark(s, &mut job, &open, now)?;
    s.update_job(&job)?;
    Ok(job)
}

/// One extra run now; the schedule is untouched.
pub fn trigger(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let mut job = usable(s, r)?;
    refuse_if_parked(&job)?;
    // A tick of its own: never the same instant as a scheduled one.
    let mut at = now;
    while s.tick_exists(job.id, at)? {
        at += 1;
    }
    for mut run in new_tick(&mut job, at, now) {
        run.reason = Some("triggered by a user".into());
        s.insert_run(&run)?;
    }
    back_in_queue(s, job, now)
}

/// Run the job's latest run again, when it did not succeed.
pub fn retry(s: &mut dyn Store, r: &JobRef, now: Millis) -> Outcome<JobRecord> {
    let job = usable(s, r)?;
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
    if !last.part.fanned_out() {
        if last.outcome == Some(RunOutcome::Succeeded) {
            return Err(refuse(
                &job,
                &format!("succeeded in its last run ({}); nothing to retry", last.run),
            ));
        }
        next_attempt(s, &job, last, now)?;
        return back_in_queue(s, job, now);
    }
    // A fanned-out tick: each of its runs that did not succeed runs again.
    let mut ends: BTreeMap<u32, RunRecord> = BTreeMap::new();
    for run in s.tick_runs(job.id, last.scheduled_at)? {
        ends.insert(run.run, run);
    }
    let again: Vec<&RunRecord> = ends
        .values()
        .filter(|r| r.outcome != Some(RunOutcome::Succeeded))
        .collect();
    if again.is_empty() {
        return Err(refuse(
            &job,
            "succeeded in each run of its last tick; nothing to retry",
        ));
    }
    for run in again {
        next_attempt(s, &job, run, now)?;
    }
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
    let mut job = usable(s, r)?;
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
    if let Some(alert) = &edit.alert {
        spec.alert = alert.clone();
    }
    if let Some(to) = &edit.alert_to {
        spec.alert_to = to.clone();
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
        // A waiting job gets its first tick when it is released.
        if job.state != JobState::Waiting {
            job.next_fire = next;
        }
    }
    job.spec = spec;
    job.updated_at = now;
    s.update_spec(&job)?;
    settle_now(s, &mut job, now)?;
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
