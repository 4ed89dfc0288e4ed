//! Workflows: a flow run is its steps submitted as jobs linked by
//! `--after` (`deps` then moves them on); a flow without a cron starts one
//! run when submitted, a flow with one starts a run at each tick, unless
//! its previous run is still open and its overlap policy is `skip` (the
//! default: the tick is skipped, and the flow says so; `allow` starts
//! another run beside it). Cancelling a flow cancels its open runs' steps
//! and stops its cron.

use super::{cancel_job, deps, submit, Outcome};
use crate::model::{
    cut, new_task_id, rfc3339, FlowRef, FlowSpec, FlowState, Millis, Overlap, Schedule,
};
use crate::protocol::WireError;
use crate::schedule::Plan;
use crate::store::{FlowRecord, Store};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// What a pass of the scheduler over flows did.
pub struct FlowPass {
    pub woken: BTreeSet<String>,
    /// More flows were due than one pass takes.
    pub more: bool,
}

fn invalid(e: impl ToString) -> WireError {
    WireError::InvalidInput(e.to_string())
}

/// Check a flow as the tracker stores it: its graph, and each step a job
/// that runs when the steps before it succeeded (no schedule of its own).
pub fn check(spec: &FlowSpec, now: Millis, zone: Tz) -> Outcome<Option<Millis>> {
    spec.layers().map_err(invalid)?;
    for step in &spec.steps {
        let mut job = step.job.clone();
        job.task_id = FlowSpec::task_id("flow", 1, &step.name);
        crate::model::validate_job(&job)
            .map_err(|e| invalid(format!("step '{}': {e}", cut(&step.name, 64))))?;
        if job.schedule != Schedule::Now {
            return Err(invalid(format!(
                "step '{}': a step runs when the steps before it succeed and has no schedule \
                 of its own; give the flow a cron instead",
                cut(&step.name, 64)
            )));
        }
    }
    let Some(schedule) = spec.schedule() else {
        return Ok(None);
    };
    let probe = crate::model::JobSpec {
        schedule: schedule.clone(),
        ..crate::model::JobSpec::new("flow", "flow")
    };
    crate::model::validate_job(&probe).map_err(invalid)?;
    let first = Plan::new(&schedule, now, zone)
        .map_err(invalid)?
        .first(now)
        .ok_or_else(|| invalid("cron: the schedule never fires again"))?;
    Ok(Some(first))
}

/// Store a new flow and, without a cron, start its one run now. Returns
/// the flow and the groups that got runs.
pub fn submit(
    s: &mut dyn Store,
    spec: FlowSpec,
    now: Millis,
    zone: Tz,
) -> Outcome<(FlowRecord, BTreeSet<String>)> {
    let next_fire = check(&spec, now, zone)?;
    let mut id = new_task_id();
    while s.read_flow(&id)?.is_some() {
        id = new_task_id();
    }
    let mut flow = FlowRecord {
        id,
        spec,
        state: FlowState::Active,
        created_at: now,
        updated_at: now,
        next_fire,
        run_count: 0,
        note: None,
    };
    s.insert_flow(&flow)?;
    let mut woken = BTreeSet::new();
    if flow.spec.cron.is_none() {
        woken = start_run(s, &mut flow, now, zone)?;
        s.update_flow(&flow)?;
    }
    Ok((flow, woken))
}

/// Start the flow's next run: each step a job, task id `FLOW.RUN.STEP`,
/// after the jobs of the steps it names, submitted in topological order.
pub fn start_run(
    s: &mut dyn Store,
    flow: &mut FlowRecord,
    now: Millis,
    zone: Tz,
) -> Outcome<BTreeSet<String>> {
    flow.run_count += 1;
    flow.updated_at = now;
    let run = flow.run_count;
    let order: Vec<usize> = flow.spec.layers().map_err(invalid)?.concat();
    let jobs: Vec<_> = order
        .iter()
        .map(|&i| {
            let step = &flow.spec.steps[i];
            let mut job = step.job.clone();
            job.task_id = FlowSpec::task_id(&flow.id, run, &step.name);
            job.after = step
                .after
                .iter()
                .map(|a| FlowSpec::task_id(&flow.id, run, a))
                .collect();
            job.replace = false;
            job.flow = Some(FlowRef {
                flow: flow.id.clone(),
                run,
                step: step.name.clone(),
                on_failure: flow.spec.on_failure,
            });
            job
        })
        .collect();
    let (acks, woken) = submit::submit(s, jobs, now, zone)?;
    for (ack, &i) in acks.into_iter().zip(&order) {
        let ack =
            ack.map_err(|e| invalid(format!("step '{}': {e}", cut(&flow.spec.steps[i].name, 64))))?;
        let job = s
            .job_by_key(&ack.group, &ack.task_id)?
            .ok_or_else(|| WireError::Store(format!("step job {} vanished", ack.task_id)))?;
        s.insert_flow_step(&flow.id, run, &flow.spec.steps[i].name, job.id)?;
    }
    Ok(woken)
}

/// Whether the flow's latest run has a step that has not ended (read
/// without locking its steps' jobs: a claim of their runs goes on).
pub fn run_open(s: &mut dyn Store, flow: &FlowRecord) -> Outcome<bool> {
    if flow.run_count == 0 {
        return Ok(false);
    }
    Ok(s.read_flow_jobs(&flow.id, flow.run_count)?
        .iter()
        .any(|(_, j)| !j.state.is_final()))
}

/// The flow's runs that have a step that has not ended: the latest, or,
/// when its ticks may overlap, any of its latest `MAX_OPEN_LOOKBACK`.
fn open_runs(s: &mut dyn Store, flow: &FlowRecord) -> Outcome<Vec<u32>> {
    let back = match flow.spec.overlap {
        Overlap::Allow => MAX_OPEN_LOOKBACK,
        _ => 1,
    };
    let mut open = Vec::new();
    for run in (1..=flow.run_count).rev().take(back) {
        if s.read_flow_jobs(&flow.id, run)?
            .iter()
            .any(|(_, j)| !j.state.is_final())
        {
            open.push(run);
        }
    }
    Ok(open)
}

/// How many of its latest runs a flow whose ticks may overlap has
/// cancelled when it is cancelled.
const MAX_OPEN_LOOKBACK: usize = 1_000;

/// Start a run of every flow whose tick is due, and set its next tick.
/// Ticks missed while no tracker ran start one run between them.
pub fn fire_due(s: &mut dyn Store, now: Millis, zone: Tz, limit: usize) -> Outcome<FlowPass> {
    let due = s.due_flows(now, limit)?;
    let more = due.len() == limit;
    let mut woken = BTreeSet::new();
    for mut flow in due {
        let Some(schedule) = flow.spec.schedule() else {
            flow.next_fire = None;
            s.update_flow(&flow)?;
            continue;
        };
        let tick = flow.next_fire.unwrap_or(now);
        flow.updated_at = now;
        match Plan::new(&schedule, flow.created_at, zone) {
            Ok(plan) => flow.next_fire = plan.after(now),
            Err(e) => {
                flow.next_fire = None;
                flow.note = Some(format!("its cron cannot be evaluated: {e}"));
                s.update_flow(&flow)?;
                continue;
            }
        }
        if flow.spec.overlap == Overlap::Skip && run_open(s, &flow)? {
            flow.note = Some(format!(
                "the tick at {} was skipped: run {} was still open",
                rfc3339(tick),
                flow.run_count
            ));
            tracing::info!(flow = %flow.id, "flow tick skipped: its previous run is open");
        } else {
            flow.note = None;
            woken.extend(start_run(s, &mut flow, now, zone)?);
        }
        s.update_flow(&flow)?;
    }
    Ok(FlowPass { woken, more })
}

/// Cancel a flow: no more ticks, and the steps of its open runs that have
/// not ended are cancelled (with the jobs waiting for them).
pub fn cancel(s: &mut dyn Store, id: &str, now: Millis, zone: Tz) -> Outcome<FlowRecord> {
    let mut flow = s
        .flow_by_id(id)?
        .ok_or_else(|| WireError::Missing(format!("no flow '{}'", cut(id, 80))))?;
    let open = open_runs(s, &flow)?;
    if open.is_empty() && (flow.state == FlowState::Cancelled || flow.spec.cron.is_none()) {
        return Err(WireError::Conflict(format!(
            "flow '{}' has no open run{}",
            cut(id, 80),
            if flow.state == FlowState::Cancelled {
                " and is cancelled already"
            } else {
                ""
            }
        )));
    }
    flow.state = FlowState::Cancelled;
    flow.next_fire = None;
    flow.updated_at = now;
    flow.note = Some("cancelled by a user".into());
    s.update_flow(&flow)?;
    let mut ended = Vec::new();
    for run in open {
        for (_, mut job) in s.flow_jobs(&flow.id, run)? {
            if job.state.is_final() {
                continue;
            }
            let why = "cancelled: its flow was cancelled by a user";
            cancel_job(s, &mut job, why, now, true)?;
            ended.push(job);
        }
    }
    deps::settled(s, ended, now, zone)?;
    Ok(flow)
}
