//! Submit: a job is stored with its first tick, or, when it runs now,
//! with its first run queued, in the transaction that acknowledges it.

use super::Outcome;
use crate::model::{validate_job, JobSpec, JobState, Millis, Schedule};
use crate::protocol::{SubmitAck, WireError};
use crate::schedule::Plan;
use crate::store::{JobRecord, RunEvent, RunRecord, Store, StoreError};
use chrono_tz::Tz;
use std::collections::BTreeSet;

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
        // Run 1, already counted in the stored job.
        s.insert_run(&RunRecord::queued(&job, 1, now))?;
    }
    Ok(Ok(SubmitAck {
        task_id: job.spec.task_id,
        group: job.spec.group,
        state: job.state,
        replaced,
    }))
}
