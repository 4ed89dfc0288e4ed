//! Dependencies (`--after`): a job that runs after others waits (state
//! `waiting`: no run, no tick) until every one of them has succeeded, then
//! starts as it would have when submitted (queued, or scheduled for its
//! first tick). When one of them fails for good or is cancelled, it is
//! cancelled with a note naming that job, and the jobs waiting for it in
//! turn. A step of a flow run whose flow says `on_failure = "stop"` also
//! cancels the rest of its run when it fails.
//!
//! `resolve` and `attach` tie a submitted job to the jobs it runs after;
//! `settled` is the transition every rule calls, in its own transaction,
//! with the jobs it just ended for good, so a release or a cancellation is
//! committed exactly with the end that caused it.

use super::submit::first_tick;
use super::{break_schedule, cancel_job, new_tick, park, Outcome};
use crate::model::{cut, FlowRef, JobSpec, JobState, Millis, OnFailure};
use crate::protocol::WireError;
use crate::store::{JobRecord, Store};
use chrono_tz::Tz;
use std::collections::{BTreeSet, HashSet, VecDeque};

/// The most jobs a cycle check walks through before it gives up looking.
const MAX_WALK: usize = 100_000;

/// What releasing waiting jobs changed.
#[derive(Debug, Default)]
pub struct Released {
    /// Groups that got a run to dispatch.
    pub woken: BTreeSet<String>,
    /// A released job got a tick: the scheduler has a new one to wait for.
    pub scheduled: bool,
}

fn named(job: &JobRecord) -> String {
    format!(
        "job '{}' in group '{}'",
        cut(&job.spec.task_id, 80),
        cut(&job.spec.group, 80)
    )
}

/// The stored jobs `spec.after` names: a task id in the job's own group
/// first, else the one job with that task id in any group. `self_id` is the
/// job's own row (stored already): a job may only run after jobs stored
/// before it. `replacing` is the row of the job it replaces, which the jobs
/// it runs after must not (transitively) wait for. A refusal is the job's
/// own answer (`Ok(Err(..))`); `Err` is a store failure.
pub fn resolve(
    s: &mut dyn Store,
    spec: &JobSpec,
    self_id: Option<i64>,
    replacing: Option<i64>,
) -> Outcome<Result<Vec<JobRecord>, WireError>> {
    let mut deps: Vec<JobRecord> = Vec::with_capacity(spec.after.len());
    for id in &spec.after {
        let found = match s.job_by_key(&spec.group, id)? {
            Some(job) => Some(job),
            None => {
                let mut all = s.jobs_by_task_id(id)?;
                if all.len() > 1 {
                    let groups: Vec<String> = all.iter().map(|j| j.spec.group.clone()).collect();
                    return Ok(Err(WireError::InvalidInput(format!(
                        "--after: '{}' names jobs in several groups ({}); submit the job \
                         to the group of the one it runs after",
                        cut(id, 80),
                        cut(&groups.join(", "), 80)
                    ))));
                }
                all.pop()
            }
        };
        let Some(dep) = found else {
            return Ok(Err(WireError::InvalidInput(format!(
                "--after: no job '{}' (a job runs after jobs already submitted)",
                cut(id, 80)
            ))));
        };
        if self_id.is_some_and(|me| dep.id >= me) {
            return Ok(Err(WireError::InvalidInput(format!(
                "--after: '{}' comes later in the same batch; list the jobs it runs after first",
                cut(id, 80)
            ))));
        }
        if !deps.iter().any(|d| d.id == dep.id) {
            deps.push(dep);
        }
    }
    if let Some(old) = replacing {
        if let Some(via) = waits_for(s, &deps, old)? {
            return Ok(Err(WireError::InvalidInput(format!(
                "--after: a cycle: {} already waits (directly or through other jobs) for '{}', \
                 which would run after it",
                named(&via),
                cut(&spec.task_id, 80)
            ))));
        }
    }
    Ok(Ok(deps))
}

/// The first of `from` that waits, directly or through others, for job
/// `target` (or is it).
fn waits_for(s: &mut dyn Store, from: &[JobRecord], target: i64) -> Outcome<Option<JobRecord>> {
    for start in from {
        let mut seen = HashSet::new();
        let mut todo = vec![start.clone()];
        while let Some(job) = todo.pop() {
            if job.id == target {
                return Ok(Some(start.clone()));
            }
            if !seen.insert(job.id) || seen.len() > MAX_WALK {
                continue;
            }
            todo.extend(s.dependencies(job.id)?);
        }
    }
    Ok(None)
}

/// Tie a stored job to the jobs it runs after: it waits for them, or, when
/// one of them failed or was cancelled already, it is cancelled; when all
/// have succeeded it stays as submitted.
pub fn attach(
    s: &mut dyn Store,
    job: &mut JobRecord,
    deps: &[JobRecord],
    now: Millis,
) -> Outcome<()> {
    for dep in deps {
        s.insert_dep(job.id, dep.id)?;
    }
    if let Some(bad) = deps.iter().find(|d| failed(d.state)) {
        park(s, job, JobState::Cancelled, now);
        job.run_count = 0;
        job.note = Some(why_cancelled(bad));
        s.update_job(job)?;
    } else if !deps.iter().all(|d| d.state == JobState::Succeeded) {
        job.state = JobState::Waiting;
        job.next_fire = None;
        job.run_count = 0;
        job.note = Some(waiting_for(deps));
        s.update_job(job)?;
    }
    Ok(())
}

/// A dependency that will never succeed now.
fn failed(state: JobState) -> bool {
    matches!(state, JobState::Failed | JobState::Cancelled)
}

fn why_cancelled(dep: &JobRecord) -> String {
    format!("cancelled: {} it runs after {}", named(dep), dep.state)
}

fn waiting_for(deps: &[JobRecord]) -> String {
    let open: Vec<String> = deps
        .iter()
        .filter(|d| d.state != JobState::Succeeded)
        .map(|d| format!("'{}'", cut(&d.spec.task_id, 80)))
        .collect();
    format!("waiting for {}", cut(&open.join(", "), 200))
}

/// Jobs that just ended for good (succeeded, failed, cancelled), stored as
/// such: release the jobs waiting for them whose every dependency has now
/// succeeded, cancel those with one that failed or was cancelled, and
/// carry on through the jobs so cancelled. A failed step of a flow run
/// that stops on failure cancels the rest of its run.
pub fn settled(
    s: &mut dyn Store,
    ended: Vec<JobRecord>,
    now: Millis,
    zone: Tz,
) -> Outcome<Released> {
    let mut out = Released::default();
    let mut work: VecDeque<JobRecord> = ended.into_iter().filter(|j| j.state.is_final()).collect();
    let mut stopped: HashSet<(String, u32)> = HashSet::new();
    while !work.is_empty() {
        let batch: Vec<JobRecord> = work.drain(..).collect();
        for job in &batch {
            let Some(FlowRef {
                flow,
                run,
                step,
                on_failure: OnFailure::Stop,
            }) = &job.spec.flow
            else {
                continue;
            };
            if job.state == JobState::Succeeded || !stopped.insert((flow.clone(), *run)) {
                continue;
            }
            let reason = format!(
                "cancelled: step '{}' of this flow run {} (on_failure = stop)",
                cut(step, 64),
                job.state
            );
            for (_, mut other) in s.flow_jobs(flow, *run)? {
                if other.id != job.id && !other.state.is_final() {
                    cancel_job(s, &mut other, &reason, now, true)?;
                    work.push_back(other);
                }
            }
        }
        let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
        for mut waiter in s.dependents(&ids)? {
            if waiter.state != JobState::Waiting {
                continue;
            }
            let deps = s.dependencies(waiter.id)?;
            if let Some(bad) = deps.iter().find(|d| failed(d.state)) {
                cancel_job(s, &mut waiter, &why_cancelled(bad), now, true)?;
                work.push_back(waiter);
            } else if deps.iter().all(|d| d.state == JobState::Succeeded) {
                start(s, &mut waiter, now, zone, &mut out)?;
                if waiter.state.is_final() {
                    work.push_back(waiter);
                }
            } else {
                waiter.note = Some(waiting_for(&deps));
                waiter.updated_at = now;
                s.update_job(&waiter)?;
            }
        }
    }
    Ok(out)
}

/// A waiting job whose dependencies all succeeded starts as it would have
/// when submitted: its first run queued, or its first tick set.
fn start(
    s: &mut dyn Store,
    job: &mut JobRecord,
    now: Millis,
    zone: Tz,
    out: &mut Released,
) -> Outcome<()> {
    job.note = None;
    job.updated_at = now;
    match first_tick(&job.spec, now, zone) {
        Ok((JobState::Queued, _)) => {
            job.state = JobState::Queued;
            for run in new_tick(job, now, now) {
                s.insert_run(&run)?;
            }
            out.woken.insert(job.spec.group.clone());
        }
        Ok((state, next_fire)) => {
            job.state = state;
            job.next_fire = next_fire;
            out.scheduled = true;
        }
        Err(e) => break_schedule(s, job, format!("its schedule cannot start: {e}")),
    }
    s.update_job(job)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn spec(task_id: &str, after: &[&str]) -> JobSpec {
        let mut spec = JobSpec::new("g", task_id);
        spec.after = after.iter().map(|a| a.to_string()).collect();
        spec
    }

    fn state(s: &mut SqliteStore, id: &str) -> JobState {
        s.job_by_key("g", id).unwrap().unwrap().state
    }

    #[test]
    fn a_batch_runs_after_earlier_lines_and_settles_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let batch = vec![
            spec("a", &[]),
            spec("b", &["a"]),
            spec("c", &["d"]),
            spec("d", &[]),
            spec("e", &["b", "d"]),
        ];
        let (acks, _) = super::super::submit::submit(&mut s, batch, 1_000, chrono_tz::UTC).unwrap();
        assert!(matches!(&acks[1], Ok(a) if a.state == JobState::Waiting));
        assert!(
            matches!(&acks[2], Err(WireError::InvalidInput(e)) if e.contains("later in the same batch"))
        );
        assert!(
            s.job_by_key("g", "c").unwrap().is_none(),
            "a refused line is not stored"
        );
        assert!(matches!(&acks[4], Ok(a) if a.state == JobState::Waiting));
        // Only a and d have a run.
        let b = s.job_by_key("g", "b").unwrap().unwrap();
        assert!(s.recent_runs(b.id, 9).unwrap().is_empty());

        // a succeeds: b is released with its first run; e still waits for b.
        let mut a = s.job_by_key("g", "a").unwrap().unwrap();
        a.state = JobState::Succeeded;
        s.update_job(&a).unwrap();
        let released = settled(&mut s, vec![a], 2_000, chrono_tz::UTC).unwrap();
        assert_eq!(released.woken, BTreeSet::from(["g".to_string()]));
        assert_eq!(state(&mut s, "b"), JobState::Queued);
        assert_eq!(s.recent_runs(b.id, 9).unwrap().len(), 1);
        assert_eq!(state(&mut s, "e"), JobState::Waiting);

        // d is cancelled: e goes with it, naming d, and never gets a run.
        let mut d = s.job_by_key("g", "d").unwrap().unwrap();
        cancel_job(&mut s, &mut d, "cancelled by a user", 3_000, false).unwrap();
        settled(&mut s, vec![d], 3_000, chrono_tz::UTC).unwrap();
        let e = s.job_by_key("g", "e").unwrap().unwrap();
        assert_eq!(e.state, JobState::Cancelled);
        assert!(e.note.unwrap().contains("'d'"));
        assert!(s.recent_runs(e.id, 9).unwrap().is_empty());
    }
}
