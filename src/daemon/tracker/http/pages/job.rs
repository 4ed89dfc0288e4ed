//! `/jobs/{group}/{task_id}`: one job. Its spec, next fires in the job's
//! own zone, its runs, a run's log (`?run=N`), and, while the job has a run
//! queued or running, that log live (the script follows `data-stream`, an
//! event stream of `line` events ending with `end`). Trigger, suspend,
//! resume, cancel and retry are POST forms
//! (`/jobs/{group}/{task_id}/{action}`) answered with a redirect back and a
//! flash message.

use super::fmt;
use super::jobs::{job_href, past};
use super::layout::{badge, redirect, Ctx, Flash, Nav};
use crate::daemon::tracker::Action;
use crate::model::{json, JobDetail, JobState, LogEntry, RunState, RunView, Schedule, Stream};
use crate::protocol::{JobRef, LogPage, LogQuery, RunsPage, WireError};
use crate::schedule::parse_zone;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

/// Log lines shown on the page (and replayed before following live).
pub const LOG_TAIL: u32 = 500;

#[derive(Debug, Deserialize)]
pub struct JobQuery {
    /// The run whose log is shown; the latest that started by default.
    run: Option<String>,
    /// `all`: every attempt the tracker handed out, not only the latest few.
    runs: Option<String>,
}

/// Attempts listed unless all are asked for.
const RUNS_SHOWN: usize = 10;

#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
}

fn job_ref(group: &str, task_id: &str) -> JobRef {
    JobRef {
        task_id: task_id.to_string(),
        group: Some(group.to_string()),
    }
}

/// The page for a job that does not exist; the id is shown as text.
fn missing(ctx: &Ctx, group: &str, task_id: &str) -> Response {
    ctx.page_with(
        StatusCode::NOT_FOUND,
        Some(Nav::Jobs),
        "No such job",
        html! {
            h1 { "No such job" }
            p.error role="alert" {
                "There is no job " code { (task_id) } " in group " code { (group) } "."
            }
            p { a href="/jobs" { "All jobs" } }
        },
    )
}

pub async fn page(
    ctx: Ctx,
    Path((group, task_id)): Path<(String, String)>,
    Query(query): Query<JobQuery>,
) -> Response {
    let t = &ctx.app.t;
    let detail = match t.job(job_ref(&group, &task_id), RunsPage::default()).await {
        Ok(d) => d,
        Err(WireError::NotFound { .. }) => return missing(&ctx, &group, &task_id),
        Err(e) => return ctx.failure(Some(Nav::Jobs), e),
    };
    let asked = query.run.as_deref().filter(|r| !r.is_empty()).map(|r| {
        r.parse::<u32>()
            .map_err(|_| format!("'{r}' is not a run number"))
    });
    let (run, run_problem) = match asked {
        Some(Ok(n)) => (Some(n), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let log = t
        .logs(LogQuery {
            job: job_ref(&group, &task_id),
            run,
            tail: Some(LOG_TAIL),
            after_seq: None,
            attempt: None,
            wait_ms: 0,
        })
        .await;
    let title = format!("{task_id} · {group}");
    let body = html! {
        (head(&ctx, &detail))
        div.columns {
            (spec(&ctx, &detail))
            div {
                (fires(&ctx, &detail))
                (params(&detail))
            }
        }
        (runs(&ctx, &detail, log.as_ref().ok().and_then(|l| l.run), query.runs.as_deref() == Some("all")))
        @if let Some(problem) = run_problem { p.flash.error role="alert" { (problem) } }
        (log_section(&ctx, &detail, run, log))
    };
    ctx.page(Some(Nav::Jobs), &title, body)
}

/// Why an action does not apply to a job now, if it does not.
fn refusal(action: Action, detail: &JobDetail) -> Option<&'static str> {
    let state = detail.job.state;
    let parked = matches!(state, JobState::Cancelled | JobState::Suspended);
    let waiting = state == JobState::Waiting;
    match action {
        Action::Trigger | Action::Retry | Action::Suspend if waiting => {
            Some("it waits for the jobs it runs after")
        }
        Action::Trigger if parked => Some("resume or resubmit it first"),
        Action::Suspend if state.is_final() => Some("it has ended"),
        Action::Suspend if state == JobState::Suspended => Some("it is suspended"),
        Action::Resume if state != JobState::Suspended => Some("it is not suspended"),
        Action::Cancel if state.is_final() => Some("it has ended"),
        Action::Retry if parked => Some("resume or resubmit it first"),
        Action::Retry => {
            let open = detail.runs.iter().any(|r| r.state != RunState::Done);
            let last = detail.runs.iter().max_by_key(|r| (r.run, r.attempt));
            match last {
                None => Some("it has not run yet"),
                Some(_) if open => Some("a run is queued or running"),
                Some(r) if r.outcome == Some(crate::model::RunOutcome::Succeeded) => {
                    Some("its latest run succeeded")
                }
                Some(_) => None,
            }
        }
        _ => None,
    }
}

fn head(ctx: &Ctx, detail: &JobDetail) -> Markup {
    let spec = &detail.job.spec;
    let base = job_href(&spec.group, &spec.task_id);
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/jobs" { "Jobs" } " / "
            a href={ "/jobs?group=" (super::super::auth::encode(&spec.group)) } { (spec.group) } " / "
        }
        div.page-head {
            h1.id { (spec.task_id) }
            (badge(detail.job.state.as_str()))
            span.muted { (spec.schedule.kind().as_str()) " job" }
        }
        @if let Some(note) = &detail.job.note { p.note role="note" { (note) } }
        @if let Some(flow) = &spec.flow {
            p.flow-link {
                "Step " strong { (flow.step) } " of run " (flow.run) " of flow "
                a href=(super::flows::flow_href(&flow.flow)) { (flow.flow) }
            }
        }
        @if !spec.after.is_empty() {
            p.muted {
                "Runs after: "
                @for (i, id) in spec.after.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (id) }
                }
            }
        }
        div.actions {
            @for action in Action::ALL {
                form method="post" action={ (base) "/" (action.as_str()) } {
                    (ctx.csrf_field())
                    @let cancel = action == Action::Cancel;
                    @let confirm = cancel.then_some("Cancel this job? It will not run again.");
                    @match refusal(action, detail) {
                        Some(why) => button.danger[cancel] type="submit" disabled title={ "Not now: " (why) } { (label(action)) },
                        None => button.danger[cancel] type="submit" data-confirm=[confirm] { (label(action)) },
                    }
                }
            }
            @if detail.job.state.is_final() {
                span.button.disabled aria-disabled="true" title="Not now: the job has ended" { "Edit" }
            } @else {
                a.button href={ (base) "/edit" } { "Edit" }
            }
        }
    }
}

fn label(action: Action) -> &'static str {
    match action {
        Action::Trigger => "Trigger now",
        Action::Suspend => "Suspend",
        Action::Resume => "Resume",
        Action::Cancel => "Cancel",
        Action::Retry => "Retry",
    }
}

/// The zone a job's times are shown in: its cron zone, or the tracker's.
fn job_zone(ctx: &Ctx, schedule: &Schedule) -> Tz {
    match schedule {
        Schedule::Cron { tz: Some(name), .. } => parse_zone(name).unwrap_or(ctx.zone()),
        _ => ctx.zone(),
    }
}

/// A policy's name as the flags spell it.
fn word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn spec(ctx: &Ctx, detail: &JobDetail) -> Markup {
    let job = &detail.job;
    let spec = &job.spec;
    let ms = |v: u64| fmt::duration(i64::try_from(v).unwrap_or(i64::MAX));
    html! {
        section.panel aria-labelledby="spec-h" {
            h2 #spec-h { "Spec" }
            dl.kv {
                dt { "Group" } dd { (spec.group) }
                dt { "Schedule" } dd { (json::schedule(&spec.schedule)) }
                @if let Schedule::Cron { tz, .. } = &spec.schedule {
                    dt { "Time zone" }
                    dd {
                        @match tz {
                            Some(tz) => (tz),
                            None => { (ctx.zone().name()) span.muted { " (the tracker's)" } },
                        }
                    }
                }
                dt { "Command" }
                dd {
                    @if spec.command.is_empty() {
                        span.muted { "none: the worker's runner gets the params" }
                    } @else {
                        code.command { (fmt::shell_join(&spec.command)) }
                    }
                }
                dt { "Priority" } dd { (spec.priority) }
                @if spec.fan_out != crate::model::FanOut::One {
                    dt { "Fan-out" } dd { (json::fan_out(spec.fan_out)) }
                }
                dt { "Retries" }
                dd {
                    @if spec.max_retries == 0 { "none" } @else {
                        "up to " (spec.max_retries) ", backoff from " (ms(spec.retry_backoff_ms))
                    }
                }
                dt { "Timeout" }
                dd { @match spec.timeout_ms { Some(t) => (ms(t)), None => span.muted { "none" } } }
                @if spec.schedule.kind() != crate::model::JobKind::Now && spec.schedule.kind() != crate::model::JobKind::At {
                    dt { "Overlap" } dd { (word(&spec.overlap)) }
                    dt { "Misfire" }
                    dd {
                        (word(&spec.misfire))
                        @if let Some(w) = spec.catch_up_window_ms { ", catch up " (ms(w)) }
                    }
                }
                @if let Some(client) = &spec.client_group {
                    dt { "Client group" }
                    dd { (client) @if spec.feedback { " (feedback kept)" } }
                }
                dt { "Submitted" } dd { (ctx.time(job.submitted_at)) }
                dt { "Updated" } dd { (ctx.time(job.updated_at)) }
                dt { "Runs" } dd { (job.runs) }
            }
        }
    }
}

fn fires(ctx: &Ctx, detail: &JobDetail) -> Markup {
    let job = &detail.job;
    let zone = job_zone(ctx, &job.spec.schedule);
    html! {
        section.panel aria-labelledby="fires-h" {
            h2 #fires-h { "Next fires" span.muted { " in " (zone.name()) } }
            @if job.state == JobState::Suspended {
                p.muted { "None while suspended." }
            } @else if job.next_fires.is_empty() {
                p.muted { "None scheduled." }
            } @else {
                ol.fires {
                    @for at in &job.next_fires {
                        li {
                            span.abs { (fmt::absolute(*at, zone)) }
                            " " span.muted { (fmt::relative(ctx.now, *at)) }
                        }
                    }
                }
            }
        }
    }
}

fn params(detail: &JobDetail) -> Markup {
    let params = &detail.job.spec.params;
    html! {
        @if !params.is_empty() {
            section.panel aria-labelledby="params-h" {
                h2 #params-h { "Params" }
                table.params {
                    tbody {
                        @for (k, v) in params {
                            tr { th scope="row" { (k) } td { (v) } }
                        }
                    }
                }
            }
        }
    }
}

fn run_badge(run: &RunView) -> Markup {
    match run.outcome {
        Some(o) => badge(o.as_str()),
        None => badge(run.state.as_str()),
    }
}

fn runs(ctx: &Ctx, detail: &JobDetail, shown: Option<u32>, all: bool) -> Markup {
    let mut runs: Vec<&RunView> = detail.runs.iter().collect();
    runs.sort_by_key(|r| std::cmp::Reverse((r.run, r.attempt)));
    let loaded = runs.len();
    if !all {
        runs.truncate(RUNS_SHOWN);
    }
    let run_param = shown.map(|r| format!("run={r}&")).unwrap_or_default();
    html! {
        section aria-labelledby="runs-h" {
            h2 #runs-h { "Runs" }
            @if runs.is_empty() {
                p.muted { "No runs yet." }
            } @else {
                table.list {
                    thead {
                        tr {
                            th.num { "Run" } th.num { "Attempt" } th { "Outcome" } th { "Scheduled" }
                            th { "Started" } th { "Took" } th { "Part" } th { "Worker" } th.num { "Exit" } th { "Reason" } th { "Log" }
                        }
                    }
                    tbody {
                        @for r in &runs {
                            tr.selected[shown == Some(r.run)] {
                                td.num { (r.run) }
                                td.num { (r.attempt) }
                                td { (run_badge(r)) }
                                td { (ctx.time(r.scheduled_at)) }
                                td { (ctx.maybe_time(r.started_at)) }
                                td {
                                    @match (r.started_at, r.ended_at) {
                                        (Some(s), Some(e)) => (fmt::duration(e - s)),
                                        (Some(s), None) => span.muted { (fmt::duration(ctx.now - s)) " so far" },
                                        _ => span.muted { "–" },
                                    }
                                }
                                td.mono {
                                    @match r.part.label() {
                                        Some(part) => (part),
                                        None => span.muted { "–" },
                                    }
                                }
                                td.mono { (r.worker.as_deref().unwrap_or("–")) }
                                td.num { @match r.exit_code { Some(c) => (c), None => span.muted { "–" } } }
                                td.reason { (r.reason.as_deref().unwrap_or("")) }
                                td { a href={ "?run=" (r.run) "#log" } { "log" } }
                            }
                        }
                    }
                }
                p.muted.small {
                    @if runs.len() < loaded {
                        "The latest " (runs.len()) " attempts; "
                        a href={ "?" (run_param) "runs=all#runs-h" } { "show " (loaded) }
                        "; "
                    } @else if runs.len() == 1 {
                        "The latest attempt; "
                    } @else {
                        "The latest " (runs.len()) " attempts; "
                    }
                    code { "lts job " (detail.job.spec.task_id) " --runs N" } " pages through older ones."
                }
            }
        }
    }
}

fn log_line(ctx: &Ctx, line: &LogEntry) -> Markup {
    let err = line.stream == Stream::Stderr;
    html! {
        div.line.err[err] {
            span.at title=(fmt::absolute(line.at, ctx.zone())) { (fmt::clock(line.at, ctx.zone())) }
            span.text { (line.line) }
        }
    }
}

fn log_section(
    ctx: &Ctx,
    detail: &JobDetail,
    asked: Option<u32>,
    log: Result<LogPage, WireError>,
) -> Markup {
    let spec = &detail.job.spec;
    let latest = detail.runs.iter().map(|r| r.run).max();
    html! {
        section #log aria-labelledby="log-h" {
            @match log {
                Err(e) => {
                    h2 #log-h { "Log" }
                    p.error role="alert" { (e.to_string()) }
                }
                Ok(page) => {
                    // A held run (its job is suspended) writes nothing until a resume.
                    @let open = detail.runs.iter().any(|r| !matches!(r.state, RunState::Done | RunState::Held));
                    @let live = open && !page.done && (asked.is_none() || asked == latest);
                    @let stream = live.then(|| log_stream_href(&spec.group, &spec.task_id, page.run.or(asked), LOG_TAIL));
                    div.log-head {
                        h2 #log-h {
                            "Log"
                            @if let Some(run) = page.run {
                                span.muted { " of run " (run) @if let Some(a) = page.attempt { ", attempt " (a) } }
                            }
                        }
                        @if live {
                            span.live data-live-status { "following live" }
                        }
                    }
                    div.log data-stream=[stream] data-tail=(LOG_TAIL) aria-live="polite" {
                        @for line in &page.lines { (log_line(ctx, line)) }
                        @if page.lines.is_empty() {
                            div.empty-log {
                                @if page.run.is_none() { "No run has started yet." } @else { "No output." }
                            }
                        }
                    }
                    @if page.lines.len() as u32 >= LOG_TAIL {
                        p.muted.small {
                            "The last " (LOG_TAIL) " lines; "
                            code { "lts logs " (spec.task_id) " --group " (spec.group) @if let Some(r) = page.run { " --run " (r) } }
                            " prints them all."
                        }
                    }
                }
            }
        }
    }
}

/// `POST /jobs/{group}/{task_id}/{action}`: act, then back to the job.
pub async fn act(
    ctx: Ctx,
    Path((group, task_id, action)): Path<(String, String, String)>,
    Form(form): Form<ActForm>,
) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.forbidden();
    }
    let Some(action) = Action::parse(&action) else {
        return ctx.page_with(
            StatusCode::NOT_FOUND,
            Some(Nav::Jobs),
            "No such action",
            html! {
                h1 { "No such action" }
                p.error { "A job can be triggered, suspended, resumed, cancelled or retried, not " code { (action) } "." }
            },
        );
    };
    let back = job_href(&group, &task_id);
    match ctx.app.t.act(job_ref(&group, &task_id), action).await {
        Ok(job) => {
            let text = format!(
                "{} {}: it is {} now.",
                past(action),
                job.spec.task_id,
                job.state
            );
            redirect(&back, Flash { ok: true, text })
        }
        Err(WireError::NotFound { .. }) => missing(&ctx, &group, &task_id),
        Err(e) => redirect(
            &back,
            Flash {
                ok: false,
                text: format!("Could not {} it: {e}", action.as_str()),
            },
        ),
    }
}

/// The live tail of a run's log: the API's Server-Sent-Events stream, which
/// replays the last `tail` lines and then follows the run until it ends.
fn log_stream_href(group: &str, task_id: &str, run: Option<u32>, tail: u32) -> String {
    let run = run.map(|r| format!("run={r}&")).unwrap_or_default();
    format!(
        "/api/v1/jobs/{}/{}/logs?{run}tail={tail}",
        super::super::auth::encode(group),
        super::super::auth::encode(task_id)
    )
}
