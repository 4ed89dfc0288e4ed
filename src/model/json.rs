//! The JSON shapes of jobs, runs, nodes and log lines, as `lts -o json` prints
//! them and the HTTP API answers: one definition, stable snake_case names.

use super::{
    format_duration, FanOut, FlowView, JobDetail, JobView, LogEntry, Millis, NodeEvent, NodeView,
    RunView, Schedule,
};
use serde_json::{json, Value};
use std::time::Duration;

/// An instant as RFC 3339 in UTC.
pub fn time(ms: Millis) -> String {
    crate::model::rfc3339(ms)
}

fn opt_time(ms: Option<Millis>) -> Value {
    ms.map(|t| Value::String(time(t))).unwrap_or(Value::Null)
}

/// A schedule in words: `now`, `at T`, `cron EXPR [tz]`, `repeat N every DUR`.
pub fn schedule(s: &Schedule) -> String {
    match s {
        Schedule::Now => "now".into(),
        Schedule::At { at_ms } => format!("at {}", time(*at_ms)),
        Schedule::Cron { expr, tz: None } => format!("cron {expr}"),
        Schedule::Cron { expr, tz: Some(tz) } => format!("cron {expr} ({tz})"),
        Schedule::Repeat { count, interval_ms } => {
            let every = format_duration(Duration::from_millis(*interval_ms));
            if *count < 0 {
                format!("repeat forever every {every}")
            } else {
                format!("repeat {count} every {every}")
            }
        }
    }
}

/// How a job fans out, in words: `one`, `broadcast` or `shards N`.
pub fn fan_out(f: FanOut) -> String {
    match f {
        FanOut::One => "one".into(),
        FanOut::Broadcast => "broadcast".into(),
        FanOut::Shards(n) => format!("shards {n}"),
    }
}

/// A job as JSON, without its runs.
pub fn job_json(job: &JobView) -> Value {
    let spec = &job.spec;
    json!({
        "task_id": spec.task_id,
        "group": spec.group,
        "kind": spec.schedule.kind().as_str(),
        "state": job.state.as_str(),
        "schedule": schedule(&spec.schedule),
        "params": spec.params,
        "command": spec.command,
        "priority": spec.priority,
        "max_retries": spec.max_retries,
        "timeout_ms": spec.timeout_ms,
        "alert": spec.alert.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "alert_to": spec.alert_to,
        "fan_out": fan_out(spec.fan_out),
        "next_fires": job.next_fires.iter().map(|t| time(*t)).collect::<Vec<_>>(),
        "run_count": job.runs,
        "submitted_at": time(job.submitted_at),
        "updated_at": time(job.updated_at),
        "note": job.note,
        "after": spec.after,
        "flow": spec.flow.as_ref().map(|f| json!({
            "id": f.flow,
            "run": f.run,
            "step": f.step,
        })),
    })
}

/// A flow with its latest run's steps as JSON (`lts flow show -o json`,
/// `GET /api/v1/flows/{id}`).
pub fn flow_json(flow: &FlowView) -> Value {
    json!({
        "id": flow.id,
        "name": flow.name,
        "cron": flow.cron,
        "tz": flow.tz,
        "on_failure": flow.on_failure.as_str(),
        "overlap": if flow.overlap == super::Overlap::Allow { "allow" } else { "skip" },
        "state": flow.state.as_str(),
        "created_at": time(flow.created_at),
        "next_fire": opt_time(flow.next_fire),
        "runs": flow.runs,
        "run": flow.run,
        "run_open": flow.run_open,
        "note": flow.note,
        "steps": flow.steps.iter().map(|s| json!({
            "name": s.name,
            "after": s.after,
            "layer": s.layer,
            "group": s.group,
            "task_id": s.task_id,
            "state": s.state.map(|st| st.as_str()),
            "note": s.note,
        })).collect::<Vec<_>>(),
    })
}

pub fn run_json(run: &RunView) -> Value {
    json!({
        "run": run.run,
        "attempt": run.attempt,
        "state": run.state.as_str(),
        "scheduled_at": time(run.scheduled_at),
        "outcome": run.outcome.map(|o| o.as_str()),
        "exit_code": run.exit_code,
        "worker": run.worker,
        "started_at": opt_time(run.started_at),
        "ended_at": opt_time(run.ended_at),
        "reason": run.reason,
        "shard": run.part.shard(),
        "pinned": run.part.pinned(),
    })
}

/// A job with its runs as JSON, newest first.
pub fn job_detail_json(detail: &JobDetail) -> Value {
    let mut value = job_json(&detail.job);
    value["runs"] = Value::Array(detail.runs.iter().rev().map(run_json).collect());
    value
}

pub fn node_json(node: &NodeView) -> Value {
    json!({
        "id": node.id,
        "role": node.role.as_str(),
        "group": node.group,
        "address": node.address,
        "state": node.state,
        "master": node.master,
        "slots_used": node.slots_used,
        "slots_free": node.slots_free,
        "version": node.version,
        "last_seen": time(node.last_seen),
    })
}

/// A membership event as JSON (`lts nodes --watch -o json`).
pub fn node_event_json(event: &NodeEvent) -> Value {
    json!({
        "seq": event.seq,
        "event": event.kind.as_str(),
        "at": time(event.at),
        "role": event.role.as_str(),
        "group": event.group,
        "node": event.node.as_ref().map(node_json),
        "epoch": event.epoch,
        "reason": event.reason,
    })
}

pub fn log_json(line: &LogEntry) -> Value {
    json!({
        "run": line.run,
        "attempt": line.attempt,
        "stream": line.stream.as_str(),
        "line": line.line,
        "at": time(line.at),
    })
}

/// An instant in a zone, to the second with its offset, as cron previews show it.
pub fn zoned(at: chrono::DateTime<chrono::Utc>, tz: &chrono_tz::Tz) -> String {
    at.with_timezone(tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A cron preview: the expression, its zone and its next fire times.
pub fn cron_json(expr: &str, tz: &chrono_tz::Tz, fires: &[chrono::DateTime<chrono::Utc>]) -> Value {
    json!({
        "expr": expr,
        "tz": tz.name(),
        "next": fires.iter().map(|at| zoned(*at, tz)).collect::<Vec<_>>(),
    })
}
