//! `/submit`: a job from a form. The form's fields are the flags of `lts
//! submit`; on POST they become `jobline::JobFields`, the fields `lts submit`
//! builds its job from (so they are checked exactly as `lts submit` checks
//! them), and then go through `Tracker::submit`. A refusal shows the form again, filled in,
//! with the reason. The cron field previews its next fire times as you type
//! (the script asks `data-preview`).

use super::fmt;
use super::jobs::job_href;
use super::layout::{redirect, Ctx, Flash, Nav};
/// Where the form's cron preview asks: the API.
const CRON_PREVIEW: &str = "/api/v1/cron";
use crate::jobline::{parse_misfire, parse_overlap, JobFields, ScheduleFields};
use crate::model::{parse_duration, JobSpec};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::time::Duration;

/// The form as sent; every field is text, checked on the way to a job.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubmitForm {
    csrf: String,
    group: String,
    task_id: String,
    command: String,
    params: String,
    when: String,
    at: String,
    delay: String,
    cron: String,
    tz: String,
    repeat_count: String,
    repeat_interval: String,
    priority: String,
    max_retries: String,
    retry_backoff: String,
    timeout: String,
    overlap: String,
    misfire: String,
    after: String,
    replace: Option<String>,
    broadcast: Option<String>,
    shards: String,
}

const WHEN: [(&str, &str); 5] = [
    ("now", "Now"),
    ("at", "At a time"),
    ("delay", "After a delay"),
    ("cron", "Cron"),
    ("repeat", "Repeat"),
];

fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        format!(
            "{field}: '{}' is not a whole number",
            crate::model::cut(text, 40)
        )
    })
}

fn dur(field: &str, text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    parse_duration(text)
        .map(Some)
        .map_err(|e| format!("{field}: {e}"))
}

fn text(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

impl SubmitForm {
    /// The fields this form stands for.
    fn fields(&self) -> Result<JobFields, String> {
        let group = text(&self.group).ok_or("Group: say which worker group runs the job")?;
        let command = fmt::split_words(&self.command).map_err(|e| format!("Command: {e}"))?;
        let (mut params, mut params_json) = (Vec::new(), None);
        if self.params.trim_start().starts_with('{') {
            params_json = Some(self.params.clone());
        } else {
            for (i, line) in self.params.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match line.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => {
                        params.push((k.trim().to_string(), v.to_string()))
                    }
                    _ => {
                        return Err(format!(
                            "Params line {}: '{}' is not KEY=VALUE",
                            i + 1,
                            crate::model::cut(line, 60)
                        ))
                    }
                }
            }
        }
        let when = self.when.as_str();
        let repeating = matches!(when, "cron" | "repeat");
        // Policies apply to repeating schedules only; run-now jobs refuse them.
        let overlap = match text(&self.overlap).filter(|_| repeating) {
            None => None,
            Some(o) => {
                Some(parse_overlap(&o).ok_or_else(|| format!("Overlap: '{o}' is not a policy"))?)
            }
        };
        let misfire = match text(&self.misfire).filter(|_| repeating) {
            None => None,
            Some(m) => {
                Some(parse_misfire(&m).ok_or_else(|| format!("Misfire: '{m}' is not a policy"))?)
            }
        };
        let mut schedule = ScheduleFields::default();
        match when {
            "now" | "" => {}
            "at" => {
                schedule.at =
                    Some(text(&self.at).ok_or("At: give a time, e.g. 2026-01-31T09:30:00Z")?)
            }
            "delay" => {
                schedule.delay =
                    Some(dur("Delay", &self.delay)?.ok_or("Delay: give a duration, e.g. 15m")?)
            }
            "cron" => {
                schedule.cron =
                    Some(text(&self.cron).ok_or("Cron: give an expression, e.g. 0 */5 * * * ?")?);
                schedule.tz = text(&self.tz);
            }
            "repeat" => {
                schedule.repeat_count = Some(
                    number("Repeat count", &self.repeat_count)?
                        .ok_or("Repeat count: give a number of runs, -1 for ever")?,
                );
                schedule.repeat_interval = Some(
                    dur("Repeat interval", &self.repeat_interval)?
                        .ok_or("Repeat interval: give a duration, e.g. 30s")?,
                );
            }
            other => {
                return Err(format!(
                    "When: '{}' is not a schedule",
                    crate::model::cut(other, 20)
                ))
            }
        }
        Ok(JobFields {
            task_id: text(&self.task_id),
            idempotency_key: None,
            group: Some(group),
            params,
            params_json,
            schedule,
            priority: number("Priority", &self.priority)?.unwrap_or(0),
            max_retries: number("Retries", &self.max_retries)?.unwrap_or(0),
            retry_backoff: dur("Retry backoff", &self.retry_backoff)?
                .unwrap_or(Duration::from_secs(1)),
            timeout: dur("Timeout", &self.timeout)?,
            replace: self.replace.is_some(),
            overlap,
            rely_on_prev_cycle: false,
            misfire,
            catch_up_window: None,
            feedback: false,
            client_group: None,
            alert: Vec::new(),
            alert_to: None,
            broadcast: self.broadcast.is_some(),
            shards: number("Shards", &self.shards)?,
            after: self
                .after
                .split(',')
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty())
                .collect(),
            command,
        })
    }

    /// The job, checked as `lts submit` checks it.
    fn job(&self) -> Result<JobSpec, String> {
        self.fields()?.job().map_err(|e| e.0)
    }
}

pub async fn page(ctx: Ctx) -> Response {
    let form = SubmitForm {
        when: "now".into(),
        ..SubmitForm::default()
    };
    ctx.page(Some(Nav::Submit), "Submit", render(&ctx, &form, None))
}

pub async fn submit(ctx: Ctx, Form(form): Form<SubmitForm>) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.forbidden();
    }
    let refused = |ctx: &Ctx, form: &SubmitForm, e: String| {
        ctx.page_with(
            StatusCode::BAD_REQUEST,
            Some(Nav::Submit),
            "Submit",
            render(ctx, form, Some(&e)),
        )
    };
    let job = match form.job() {
        Ok(job) => job,
        Err(e) => return refused(&ctx, &form, e),
    };
    let ack = ctx.app.t.submit(vec![job]).await.into_iter().next();
    match ack {
        Some(Ok(ack)) => {
            let verb = if ack.replaced {
                "Replaced"
            } else {
                "Submitted"
            };
            let text = format!("{verb} {}: it is {} now.", ack.task_id, ack.state);
            redirect(
                &job_href(&ack.group, &ack.task_id),
                Flash { ok: true, text },
            )
        }
        Some(Err(e)) => refused(&ctx, &form, e.to_string()),
        None => refused(&ctx, &form, "the tracker gave no answer".into()),
    }
}

fn render(ctx: &Ctx, f: &SubmitForm, error: Option<&str>) -> Markup {
    let groups = ctx.worker_groups();
    let when = if f.when.is_empty() {
        "now"
    } else {
        f.when.as_str()
    };
    let example_at = crate::model::rfc3339(ctx.now + 3_600_000 - ctx.now % 60_000);
    html! {
        div.page-head { h1 { "Submit a job" } }
        @if let Some(error) = error { p.flash.error role="alert" { (error) } }
        form.submit method="post" action="/submit" {
            (ctx.csrf_field())
            div.columns {
                fieldset.panel {
                    legend { "Job" }
                    label {
                        "Group"
                        input type="text" name="group" value=(f.group) list="groups" required placeholder="default" autocomplete="off";
                    }
                    datalist #groups { @for g in &groups { option value=(g) {} } }
                    label {
                        "Task id " span.muted { "(generated when empty)" }
                        input type="text" name="task_id" value=(f.task_id) autocomplete="off";
                    }
                    label {
                        "Command " span.muted { "(split like a shell line; only workers with --allow-commands run it)" }
                        input.mono type="text" name="command" value=(f.command) placeholder="sh -c 'echo hello'" autocomplete="off";
                    }
                    label {
                        "Params " span.muted { "(KEY=VALUE a line, or a JSON object)" }
                        textarea.mono name="params" rows="4" placeholder="region=eu\nbatch=42" { (f.params) }
                    }
                    label {
                        "After " span.muted { "(task ids, comma-separated: it waits until they have succeeded)" }
                        input.mono type="text" name="after" value=(f.after) autocomplete="off";
                    }
                }
                fieldset.panel {
                    legend { "When" }
                    label {
                        "Schedule"
                        select name="when" data-when-select {
                            @for (value, text) in WHEN {
                                option value=(value) selected[when == value] { (text) }
                            }
                        }
                    }
                    div data-when="at" {
                        label {
                            "At " span.muted { "(RFC 3339)" }
                            input.mono type="text" name="at" value=(f.at) placeholder=(example_at);
                        }
                    }
                    div data-when="delay" {
                        label {
                            "Delay"
                            input type="text" name="delay" value=(f.delay) placeholder="15m, 1h30m, 3d";
                        }
                    }
                    div data-when="cron" {
                        label {
                            "Cron " span.muted { "(Quartz with seconds, or 5-field Unix)" }
                            input.mono #cron type="text" name="cron" value=(f.cron) placeholder="0 */5 * * * ?" autocomplete="off" data-cron-input;
                        }
                        label {
                            "Time zone " span.muted { "(empty: the tracker's, " (ctx.zone().name()) ")" }
                            input #tz type="text" name="tz" value=(f.tz) list="zones" autocomplete="off" data-cron-tz;
                        }
                        datalist #zones { @for z in chrono_tz::TZ_VARIANTS { option value=(z.name()) {} } }
                        div.cron-preview data-preview=(CRON_PREVIEW) aria-live="polite" {
                            span.muted { "Type an expression to see its next fire times." }
                        }
                    }
                    div data-when="repeat" {
                        div.row {
                            label {
                                "Runs " span.muted { "(-1: for ever)" }
                                input type="number" name="repeat_count" value=(f.repeat_count) min="-1" placeholder="10";
                            }
                            label {
                                "Every"
                                input type="text" name="repeat_interval" value=(f.repeat_interval) placeholder="30s";
                            }
                        }
                    }
                    div data-when="cron repeat" {
                        div.row {
                            label {
                                "Overlap"
                                select name="overlap" {
                                    @for o in ["skip", "allow", "buffer-one", "replace"] {
                                        option value=(o) selected[f.overlap == o] { (o) }
                                    }
                                }
                            }
                            label {
                                "Misfire"
                                select name="misfire" {
                                    @for m in ["fire-once", "skip", "fire-all"] {
                                        option value=(m) selected[f.misfire == m] { (m) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            fieldset.panel {
                legend { "Fan-out" }
                div.row {
                    label.check { input type="checkbox" name="broadcast" value="on" checked[f.broadcast.is_some()]; " Broadcast: one run on every live worker of the group" }
                    label { "Shards" input type="number" name="shards" value=(f.shards) min="1" max="1000" placeholder="none"; }
                }
            }
            fieldset.panel {
                legend { "Limits" }
                div.row {
                    label { "Retries" input type="number" name="max_retries" value=(f.max_retries) min="0" placeholder="0"; }
                    label { "Retry backoff" input type="text" name="retry_backoff" value=(f.retry_backoff) placeholder="1s"; }
                    label { "Timeout" input type="text" name="timeout" value=(f.timeout) placeholder="none"; }
                    label { "Priority" input type="number" name="priority" value=(f.priority) placeholder="0"; }
                    label.check { input type="checkbox" name="replace" value="on" checked[f.replace.is_some()]; " Replace a job with the same id" }
                }
            }
            div.form-actions {
                button.primary type="submit" { "Submit job" }
                a.button href="/jobs" { "Cancel" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Overlap, Schedule};

    fn form(when: &str) -> SubmitForm {
        SubmitForm {
            group: "etl".into(),
            task_id: "nightly".into(),
            when: when.into(),
            command: "sh -c 'echo hi; exit 0'".into(),
            params: "a=1\n\nb = two=2\n".into(),
            cron: "0 */5 * * * ?".into(),
            tz: "Europe/Paris".into(),
            overlap: "allow".into(),
            ..SubmitForm::default()
        }
    }

    #[test]
    fn a_form_becomes_the_job_lts_submit_would_make() {
        let job = form("cron").job().unwrap();
        assert_eq!(job.command, vec!["sh", "-c", "echo hi; exit 0"]);
        assert_eq!(job.params["a"], "1");
        assert_eq!(job.params["b"], " two=2");
        assert_eq!(
            job.schedule,
            Schedule::Cron {
                expr: "0 */5 * * * ?".into(),
                tz: Some("Europe/Paris".into())
            }
        );
        assert_eq!(job.overlap, Overlap::Allow);
        // A run-now job takes no overlap policy from fields it does not show.
        let now = form("now").job().unwrap();
        assert_eq!((now.schedule, now.overlap), (Schedule::Now, Overlap::Skip));
    }

    #[test]
    fn refusals_name_the_field() {
        let mut f = form("cron");
        f.cron = "61 * * * * ?".into();
        assert!(f.job().unwrap_err().starts_with("--cron"));
        let mut f = form("now");
        f.group = "".into();
        assert!(f.job().unwrap_err().starts_with("Group"));
        let mut f = form("now");
        f.params = "novalue".into();
        assert!(f.job().unwrap_err().starts_with("Params line 1"));
        let mut f = form("repeat");
        f.repeat_count = "x".into();
        assert!(f.job().unwrap_err().starts_with("Repeat count"));
        let mut f = form("now");
        f.task_id = "<script>".into();
        assert!(f.job().unwrap_err().starts_with("--task-id"));
    }
}
