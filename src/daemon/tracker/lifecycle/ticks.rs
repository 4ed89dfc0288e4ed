//! Firing ticks. A job's next tick is stored with it; firing a tick creates
//! its run record (queued, or skipped with a reason) in the same transaction
//! that advances the job to its following tick, and the (job, tick, attempt)
//! key is unique, so a tick never yields two runs, even across a crash.
//!
//! Ticks that fell while no tracker ran (before this tracker started, or while
//! a job was suspended) follow the job's misfire policy; ticks that come while
//! the previous run still goes follow its overlap policy. Every tick that is
//! skipped or coalesced leaves a run record saying so.

use super::{
    break_schedule, buffer, end, insert_tick, new_run, new_tick, settle, skip_tick, Ending, Outcome,
};
use crate::model::{
    format_duration, rfc3339, JobState, Millis, Misfire, Overlap, RunOutcome, RunState,
};
use crate::schedule::Plan;
use crate::store::{JobRecord, RunRecord, Store};
use chrono_tz::Tz;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// The most ticks of one job fired in one pass; the rest wait for the next.
const MAX_TICKS_PER_PASS: usize = 1_000;
/// The most missed ticks counted one by one before the count is cut short.
const MAX_MISSED_COUNTED: u64 = 100_000;
/// The most catch-up runs `fire-all` queues.
const MAX_CATCH_UP_RUNS: usize = 1_000;

/// What the scheduler needs to know besides the store.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The zone of cron jobs that name none.
    pub zone: Tz,
    /// Ticks before this instant were missed while no tracker ran.
    pub started_at: Millis,
}

/// What one pass did.
pub struct Pass {
    /// Groups that got runs to dispatch.
    pub woken: BTreeSet<String>,
    /// The earliest tick still to fire.
    pub next: Option<Millis>,
    /// More jobs were due than one pass takes.
    pub more: bool,
}

/// Fire every tick due at `now`, for up to `limit` jobs.
pub fn fire_due(s: &mut dyn Store, now: Millis, clock: Clock, limit: usize) -> Outcome<Pass> {
    let due = s.due_jobs(now, limit)?;
    let mut more = due.len() == limit;
    let mut woken = BTreeSet::new();
    let mut ended = Vec::new();
    for mut job in due {
        if fire_job(s, &mut job, now, clock)? {
            woken.insert(job.spec.group.clone());
        }
        if job.state.is_final() {
            ended.push(job);
        }
    }
    // A job whose last tick ended it releases (or cancels) those waiting for it.
    woken.extend(super::deps::settled(s, ended, now, clock.zone)?.woken);
    let flows = super::flows::fire_due(s, now, clock.zone, limit)?;
    woken.extend(flows.woken);
    more |= flows.more;
    Ok(Pass {
        woken,
        next: s.next_fire_at()?,
        more,
    })
}

/// Fire a job's due ticks and store its next one. Returns whether a run was
/// queued.
fn fire_job(s: &mut dyn Store, job: &mut JobRecord, now: Millis, clock: Clock) -> Outcome<bool> {
    // A broken job has no next tick (the store clears it when it sets the
    // job aside); a stub spec is never planned.
    let Some(first) = job.next_fire.filter(|_| job.state != JobState::Broken) else {
        return Ok(false);
    };
    let plan = match Plan::new(&job.spec.schedule, job.submitted_at, clock.zone) {
        Ok(plan) => plan,
        Err(e) => {
            break_schedule(s, job, format!("its schedule cannot be evaluated: {e}"));
            s.update_job(job)?;
            return Ok(false);
        }
    };
    let mut queued = false;
    let mut tick = Some(first);
    if first < clock.started_at {
        let missed = (first, clock.started_at.min(now + 1));
        let (next, caught_up) = apply_misfire(s, job, &plan, missed, Missed::NoTracker, now)?;
        queued |= caught_up;
        tick = next;
    }
    // The job's open runs, read once and kept up to date as ticks fire.
    let mut open = s.open_runs(job.id)?;
    let mut fired = 0;
    while let Some(t) = tick.filter(|t| *t <= now) {
        if fired == MAX_TICKS_PER_PASS {
            break;
        }
        queued |= fire_tick(s, job, &mut open, t, now)?;
        fired += 1;
        tick = plan.after(t);
    }
    job.next_fire = tick;
    job.updated_at = now;
    settle(s, job, &open, None, now)?;
    s.update_job(job)?;
    Ok(queued)
}

/// Fire one tick under the job's overlap policy, given the job's `open`
/// runs (kept up to date). Returns whether a run was queued. A tick that
/// runs has its runs (`new_tick`: several for a fanned-out job); one that
/// is skipped or coalesced leaves one record saying so.
fn fire_tick(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &mut Vec<RunRecord>,
    tick: Millis,
    now: Millis,
) -> Outcome<bool> {
    let active = |r: &RunRecord| matches!(r.state, RunState::Queued | RunState::Running);
    let Some(previous) = open.iter().find(|r| active(r)) else {
        let runs = new_tick(job, tick, now);
        return add_tick(s, job, open, runs);
    };
    let state = previous.state.as_str();
    let (previous_run, still) = (
        previous.run,
        format!("run {} was still {state}", previous.run),
    );
    match job.spec.overlap {
        Overlap::Allow => {
            let runs = new_tick(job, tick, now);
            add_tick(s, job, open, runs)
        }
        Overlap::Skip => {
            let run = new_run(job, tick, now);
            let reason = format!("overlap skip: {still}");
            skip_tick(s, job, run, now, "overlap", reason).map(|_| false)
        }
        Overlap::BufferOne => {
            if let Some(buffered) = open.iter().find(|r| r.state == RunState::Buffered) {
                let reason = format!(
                    "overlap buffer-one: coalesced into run {}, which waits for run {previous_run} ({state}) to end",
                    buffered.run
                );
                let run = new_run(job, tick, now);
                skip_tick(s, job, run, now, "overlap", reason).map(|_| false)
            } else {
                let reason =
                    format!("overlap buffer-one: waits for run {previous_run} ({state}) to end");
                let mut runs = new_tick(job, tick, now);
                for run in &mut runs {
                    buffer(run, reason.clone());
                }
                add_tick(s, job, open, runs).map(|_| false)
            }
        }
        Overlap::Replace => {
            let (old, kept): (Vec<RunRecord>, Vec<RunRecord>) =
                std::mem::take(open).into_iter().partition(|r| active(r));
            *open = kept;
            let runs = new_tick(job, tick, now);
            let first = runs.first().map_or(job.run_count, |r| r.run);
            for mut old in old {
                let reason = format!("overlap replace: replaced by run {first}");
                let ending = Ending::by_tracker(RunOutcome::Cancelled, now, reason);
                end(s, &mut old, ending, false)?;
            }
            add_tick(s, job, open, runs)
        }
    }
}

/// `insert_tick`, noting the new runs among the job's open ones. Returns
/// whether they were inserted.
fn add_tick(
    s: &mut dyn Store,
    job: &mut JobRecord,
    open: &mut Vec<RunRecord>,
    runs: Vec<RunRecord>,
) -> Outcome<bool> {
    let kept = runs.clone();
    let inserted = insert_tick(s, job, runs)?;
    if inserted {
        open.extend(kept);
    }
    Ok(inserted)
}

/// Why ticks were missed, for the records that say so.
#[derive(Debug, Clone, Copy)]
pub enum Missed {
    /// No tracker was running.
    NoTracker,
    /// The job was suspended.
    Suspended,
}

impl Missed {
    fn as_str(self) -> &'static str {
        match self {
            Missed::NoTracker => "missed while no tracker was firing ticks",
            Missed::Suspended => "missed while the job was suspended",
        }
    }
}

/// Apply the misfire policy to the ticks from `first` up to (not including)
/// `boundary`, which were missed. Returns the first tick at or after the
/// boundary and whether a catch-up run was queued.
pub fn apply_misfire(
    s: &mut dyn Store,
    job: &mut JobRecord,
    plan: &Plan,
    (first, boundary): (Millis, Millis),
    why: Missed,
    now: Millis,
) -> Outcome<(Option<Millis>, bool)> {
    let window_start = job.spec.catch_up_window_ms.map_or(Millis::MIN, |w| {
        now.saturating_sub(i64::try_from(w).unwrap_or(i64::MAX))
    });
    let mut count: u64 = 0;
    let mut last = first;
    let mut catch_up: VecDeque<Millis> = VecDeque::new();
    let mut capped = false;
    let mut tick = Some(first);
    while let Some(t) = tick.filter(|t| *t < boundary) {
        count += 1;
        last = t;
        if t >= window_start {
            catch_up.push_back(t);
            if catch_up.len() > MAX_CATCH_UP_RUNS {
                catch_up.pop_front();
            }
        }
        tick = plan.after(t);
        if count == MAX_MISSED_COUNTED && !capped {
            // Too many to count one by one: skip to what decides the outcome,
            // the catch-up window or the last hour before the boundary (the
            // latest missed tick, and the newest catch-up runs, are there).
            capped = true;
            let from = window_start.max(boundary.saturating_sub(3_600_000)).max(t);
            tick = plan.after(from);
        }
    }
    let next = tick.filter(|t| *t >= boundary);
    if count == 0 {
        return Ok((next, false));
    }
    let counted = if capped {
        format!("more than {count}")
    } else {
        count.to_string()
    };
    let span = if count == 1 {
        format!("the tick at {}", rfc3339(first))
    } else {
        format!(
            "{counted} ticks from {} to {}",
            rfc3339(first),
            rfc3339(last)
        )
    };
    let policy = match job.spec.misfire {
        Misfire::FireOnce => "fire-once",
        Misfire::Skip => "skip",
        Misfire::FireAll => "fire-all",
    };
    // The ticks that get a real run, oldest first.
    let runs: Vec<Millis> = match job.spec.misfire {
        Misfire::Skip => Vec::new(),
        Misfire::FireOnce => vec![last],
        Misfire::FireAll => catch_up.into(),
    };
    let skipped_count = count.saturating_sub(runs.len() as u64);
    if skipped_count > 0 {
        let window = job
            .spec
            .catch_up_window_ms
            .filter(|_| job.spec.misfire == Misfire::FireAll)
            .map(|w| {
                format!(
                    " outside the catch-up window of {}",
                    format_duration(Duration::from_millis(w))
                )
            })
            .unwrap_or_default();
        let not_run = if capped {
            "the rest".to_string()
        } else {
            skipped_count.to_string()
        };
        let reason = format!(
            "misfire {policy}: {span} {}{window}; {not_run} not run",
            why.as_str()
        );
        let tick = new_run(job, first, now);
        skip_tick(s, job, tick, now, "misfire", reason)?;
    }
    // Catch-up runs are never dropped by the overlap policy, but unless it is
    // `allow` they take turns: each waits for the run before it to end.
    let note = format!("misfire {policy}: catch-up for {span} {}", why.as_str());
    let mut queued = false;
    for t in runs {
        let mut tick = new_tick(job, t, now);
        let wait = job.spec.overlap != Overlap::Allow && !s.open_runs(job.id)?.is_empty();
        for run in &mut tick {
            run.reason = Some(note.clone());
            if wait {
                buffer(run, note.clone());
            }
        }
        queued |= insert_tick(s, job, tick)? && !wait;
    }
    Ok((next, queued))
}
