//! Dispatch and results: a worker's pull claims due runs, its heartbeats
//! renew their leases, what it delivers (log lines, results) ends them and
//! moves their jobs on, and leases that ran out lose their runs. Each is one
//! store transaction made of the life cycle's transitions.

use super::{
    deps, end, end_all, give_up_orphans, lose, release_buffered, retry_later, settle, start_due,
    Ending, Fleet, Outcome,
};
use crate::model::{FeedbackItem, JobState, Millis, RunOutcome, RunState};
use crate::protocol::{Dispatch, Heartbeat, RunResult, Upstream};
use crate::store::{JobRecord, LogRecord, RunEvent, RunRecord, Store};
use chrono_tz::Tz;
use std::collections::{BTreeSet, HashMap};

/// What a claim found: runs to hand out, or when the next one falls due
/// (or may be taken: soon, when it was left because its job was busy).
pub struct Claim {
    pub dispatches: Vec<Dispatch>,
    pub next_due: Option<Millis>,
    /// A broadcast tick was fanned out: the group's other workers have runs.
    pub fanned_out: bool,
}

/// Claim up to `limit` due runs of `group` for `worker`, each with a lease
/// and a fencing token. `fleet` is the group's live workers: a broadcast
/// tick claimed fans out to them, runs pinned to workers gone from it are
/// given up, and one claim takes its share of a tick's shards.
#[allow(clippy::too_many_arguments)]
pub fn claim(
    s: &mut dyn Store,
    group: &str,
    worker: &str,
    limit: usize,
    now: Millis,
    lease_ms: u64,
    fleet: &Fleet,
) -> Outcome<Claim> {
    give_up_orphans(s, group, fleet, now)?;
    if limit == 0 {
        return Ok(Claim {
            dispatches: Vec::new(),
            next_due: s.next_due_at(group, worker)?,
            fanned_out: false,
        });
    }
    let max_bytes = crate::model::MAX_CALL_PAYLOAD_BYTES;
    let started = start_due(s, group, worker, limit, now, lease_ms, max_bytes, fleet)?;
    if started.runs.is_empty() && !started.busy {
        // A run due already but not started is held by another transaction
        // (a claim or a cancel on another tracker): try again soon.
        let next_due = s.next_due_at(group, worker)?;
        return Ok(Claim {
            dispatches: Vec::new(),
            fanned_out: false,
            next_due: next_due.map(|at| {
                if at <= now {
                    now + BUSY_JOB_RETRY_MS
                } else {
                    at
                }
            }),
        });
    }
    let dispatches = started
        .runs
        .into_iter()
        .map(|(run, job)| Dispatch {
            run_id: run.id,
            fence: run.fence,
            job: job.spec,
            run: run.run,
            attempt: run.attempt,
            scheduled_at: run.scheduled_at,
            lease_ms,
            part: run.part,
        })
        .collect();
    Ok(Claim {
        dispatches,
        fanned_out: started.fanned_out,
        next_due: started.busy.then_some(now + BUSY_JOB_RETRY_MS),
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
                super::renew(s, &mut run, now, lease_ms)?;
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
        let ending = Ending::by_tracker(RunOutcome::Lost, now, reason);
        if let Some(group) = lose(s, &mut run, ending, now)? {
            woken.insert(group);
        }
    }
    Ok(Beat { stop, woken })
}

/// What a delivery changed.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Groups that got runs to dispatch (retries).
    pub woken: BTreeSet<String>,
    /// Runs that got log lines or ended: their followers wake.
    pub runs: Vec<i64>,
    /// A job released from waiting got a tick for the scheduler.
    pub scheduled: bool,
}

/// Apply what a worker sent, in order: log lines of live runs are stored,
/// results end their runs and move their jobs on.
pub fn deliver(
    s: &mut dyn Store,
    items: Vec<Upstream>,
    now: Millis,
    max_log_bytes: u64,
    zone: Tz,
) -> Outcome<Delivered> {
    let mut woken = BTreeSet::new();
    let mut runs = Vec::new();
    let mut known: HashMap<i64, bool> = HashMap::new();
    let mut lines = Vec::new();
    let mut results = Vec::new();
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
                runs.push(result.run_id);
                results.push(result);
            }
        }
    }
    // One transaction: the lines are stored with the ends of their runs.
    store_lines(s, &lines, max_log_bytes)?;
    let ended = finish_all(s, results, now, &mut woken)?;
    // The jobs that ended for good release (or cancel) those waiting for them.
    let released = deps::settled(s, ended, now, zone)?;
    woken.extend(released.woken);
    runs.extend(
        known
            .into_iter()
            .filter(|(_, exists)| *exists)
            .map(|(id, _)| id),
    );
    Ok(Delivered {
        woken,
        runs,
        scheduled: released.scheduled,
    })
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

/// End runs with their workers' results, set-based where the rules allow:
/// a result that ends its job's only open run for good (a success, or a
/// failure with no retry left) is read, ended and settled with the others
/// in a few statements; the rest (retries, lost runs, jobs with other open
/// runs, stale results) go one by one through `finish_run`. Returns the
/// jobs that ended for good.
fn finish_all(
    s: &mut dyn Store,
    results: Vec<RunResult>,
    now: Millis,
    woken: &mut BTreeSet<String>,
) -> Outcome<Vec<JobRecord>> {
    let mut ended_jobs = Vec::new();
    let mut one_by_one = Vec::new();
    if results.len() < 2 {
        one_by_one = results;
    } else {
        let ids: Vec<i64> = results.iter().map(|r| r.run_id).collect();
        // The jobs first, then the runs: the order every writer locks them in.
        let mut jobs: HashMap<i64, JobRecord> = s
            .jobs_of_runs(&ids)?
            .into_iter()
            .map(|j| (j.id, j))
            .collect();
        let runs: HashMap<i64, RunRecord> = s
            .runs_by_ids(&ids)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let job_ids: Vec<i64> = jobs.keys().copied().collect();
        let mut open: HashMap<i64, usize> = HashMap::new();
        for run in s.open_runs_of(&job_ids)? {
            *open.entry(run.job_id).or_default() += 1;
        }
        let mut ended = Vec::new();
        for result in results {
            let fast = runs.get(&result.run_id).filter(|run| {
                let Some(job) = jobs.get(&run.job_id) else {
                    return false;
                };
                let for_good = result.outcome == RunOutcome::Succeeded
                    || run.attempt > job.spec.max_retries
                    || job.state.is_final()
                    || job.state == JobState::Suspended;
                run.state == RunState::Running
                    && run.fence == result.fence
                    && result.outcome != RunOutcome::Lost
                    && open.get(&run.job_id) == Some(&1)
                    && for_good
            });
            match fast {
                Some(run) => {
                    // Its job's only open run: no other result of this
                    // batch can touch that job.
                    open.remove(&run.job_id);
                    let ending = Ending {
                        outcome: result.outcome,
                        at: result.ended_at,
                        exit_code: result.exit_code,
                        reason: result.reason.clone(),
                    };
                    ended.push((run.clone(), ending));
                }
                None => one_by_one.push(result),
            }
        }
        let ended = end_all(s, ended)?;
        let mut settled = Vec::with_capacity(ended.len());
        for run in &ended {
            let Some(mut job) = jobs.remove(&run.job_id) else {
                continue;
            };
            push_feedback(s, &job, run)?;
            job.updated_at = now;
            settle(s, &mut job, &[], Some(run), now)?;
            settled.push(job);
        }
        s.update_jobs(&settled)?;
        ended_jobs.extend(settled.into_iter().filter(|j| j.state.is_final()));
    }
    for result in one_by_one {
        if let Some(group) = finish_run(s, &result, now, &mut ended_jobs)? {
            woken.insert(group);
        }
    }
    Ok(ended_jobs)
}

/// End a run with a worker's result. A result for a run that is no longer
/// running under that fence (cancelled, lost, replaced) changes nothing.
/// A job it ends for good is added to `ended`.
fn finish_run(
    s: &mut dyn Store,
    result: &RunResult,
    now: Millis,
    ended: &mut Vec<JobRecord>,
) -> Outcome<Option<String>> {
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
    let ending = Ending {
        outcome: result.outcome,
        at: result.ended_at,
        exit_code: result.exit_code,
        reason: result.reason.clone(),
    };
    if result.outcome == RunOutcome::Lost {
        // The worker gave the run back (it is stopping): run it elsewhere.
        return lose(s, &mut run, ending, now);
    }
    let Some(mut job) = job else {
        end(s, &mut run, ending, false)?;
        return Ok(None);
    };
    job.updated_at = now;
    let group = job.spec.group.clone();
    // The job's other runs, read once: the retry check, the buffered run and
    // the job's state all follow from them.
    let mut others = s.open_runs(job.id)?;
    others.retain(|r| r.id != run.id);
    // Never a second open attempt of one run (a resume may have queued one).
    let retry_open = others.iter().any(|r| r.run == run.run);
    let retrying = result.outcome != RunOutcome::Succeeded
        && run.attempt <= job.spec.max_retries
        && !job.state.is_final()
        && job.state != JobState::Suspended
        && !retry_open;
    end(s, &mut run, ending, retrying)?;
    if retrying {
        retry_later(s, &mut job, &run, now)?;
        return Ok(Some(group));
    }
    push_feedback(s, &job, &run)?;
    let released = release_buffered(s, &mut others, now)?;
    settle(s, &mut job, &others, Some(&run), now)?;
    s.update_job(&job)?;
    if job.state.is_final() {
        ended.push(job);
    }
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
    s.journal().push(RunEvent::Feedback {
        client_group: client_group.clone(),
    });
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

/// Mark runs whose lease ran out as `lost` and queue them again. Returns the
/// groups that got runs to dispatch.
pub fn expire_leases(s: &mut dyn Store, now: Millis) -> Outcome<BTreeSet<String>> {
    let mut woken = BTreeSet::new();
    for mut run in s.expired_runs(now, 1000)? {
        let worker = run.worker.clone().unwrap_or_default();
        let reason = format!("lease expired: worker {worker} stopped heartbeating");
        let ending = Ending::by_tracker(RunOutcome::Lost, now, reason);
        if let Some(group) = lose(s, &mut run, ending, now)? {
            woken.insert(group);
        }
    }
    Ok(woken)
}
