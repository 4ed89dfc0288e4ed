//! Read models: a job as callers see it (with its next fires and a page of
//! runs) and a run's log lines. They read the store and change nothing; the
//! rules that change jobs and runs are in `lifecycle`.

use super::lifecycle::Outcome;
use crate::model::{
    FlowState, FlowView, JobDetail, JobState, JobView, LogEntry, RunState, RunView, StepView,
    Stream,
};
use crate::protocol::{JobRef, RunsPage, WireError};
use crate::schedule::Plan;
use crate::store::{FlowRecord, JobRecord, RunRecord, Store};
use chrono_tz::Tz;
use std::collections::HashMap;

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

/// How many runs `lts job` shows.
const RECENT_RUNS: usize = 50;
/// How many next fire times `lts job` shows.
const NEXT_FIRES: usize = 5;

/// A job with a page of its runs (the latest by default) and its next fire times.
pub fn detail(s: &mut dyn Store, r: &JobRef, zone: Tz, page: RunsPage) -> Outcome<JobDetail> {
    let job = resolve(s, r)?;
    detail_of(s, &job, zone, page)
}

/// `detail` of a job already read.
pub fn detail_of(
    s: &mut dyn Store,
    job: &JobRecord,
    zone: Tz,
    page: RunsPage,
) -> Outcome<JobDetail> {
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
        job: view(job, zone),
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

/// A flow with its latest run's steps, in topological order.
pub fn flow(s: &mut dyn Store, id: &str) -> Outcome<FlowView> {
    let flow = s
        .read_flow(id)?
        .ok_or_else(|| WireError::Missing(format!("no flow '{}'", crate::model::cut(id, 80))))?;
    flow_view(s, &flow)
}

/// The newest `limit` flows, newest first.
pub fn flows(s: &mut dyn Store, limit: usize) -> Outcome<Vec<FlowView>> {
    let flows = s.list_flows(limit)?;
    flows.iter().map(|f| flow_view(s, f)).collect()
}

fn flow_view(s: &mut dyn Store, flow: &FlowRecord) -> Outcome<FlowView> {
    let layers = flow
        .spec
        .layers()
        .map_err(|e| WireError::Store(format!("flow '{}': {e}", flow.id)))?;
    let jobs: HashMap<String, JobRecord> = if flow.run_count > 0 {
        s.read_flow_jobs(&flow.id, flow.run_count)?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    let mut steps = Vec::with_capacity(flow.spec.steps.len());
    for (layer, members) in layers.iter().enumerate() {
        for &i in members {
            let step = &flow.spec.steps[i];
            let job = jobs.get(&step.name);
            steps.push(StepView {
                name: step.name.clone(),
                after: step.after.clone(),
                layer: layer as u32,
                group: step.job.group.clone(),
                task_id: job.map(|j| j.spec.task_id.clone()),
                state: job.map(|j| j.state),
                note: job.and_then(|j| j.note.clone()),
            });
        }
    }
    let run_open = jobs.values().any(|j| !j.state.is_final());
    let state = match flow.state {
        FlowState::Active if flow.spec.cron.is_none() && flow.run_count > 0 && !run_open => {
            if jobs.values().all(|j| j.state == JobState::Succeeded) {
                FlowState::Done
            } else {
                FlowState::Failed
            }
        }
        state => state,
    };
    Ok(FlowView {
        id: flow.id.clone(),
        name: flow.spec.name.clone(),
        cron: flow.spec.cron.clone(),
        tz: flow.spec.tz.clone(),
        on_failure: flow.spec.on_failure,
        overlap: flow.spec.overlap,
        state,
        created_at: flow.created_at,
        next_fire: flow.next_fire,
        runs: flow.run_count,
        run: (flow.run_count > 0).then_some(flow.run_count),
        run_open,
        steps,
        note: flow.note.clone(),
    })
}
