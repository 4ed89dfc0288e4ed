//! `/jobs/{group}/{task_id}/edit`: change a job's schedule, params, command
//! and limits in place, its history kept. The form shows the job as it is;
//! what was changed becomes a change as `lts edit` and `PATCH` make it
//! (`jobline::edit_from_line`) and goes through `Tracker::edit`.

use super::fmt;
use super::jobs::job_href;
use super::layout::{redirect, Ctx, Flash, Nav};
use crate::model::{format_duration, JobSpec, Schedule};
use crate::protocol::{JobRef, RunsPage, WireError};
use axum::extract::Path;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// What the form sends: every field as text, as shown.
#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    tz: String,
    #[serde(default)]
    repeat_count: String,
    #[serde(default)]
    repeat_interval: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    params: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    max_retries: String,
    #[serde(default)]
    retry_backoff: String,
    #[serde(default)]
    timeout: String,
}

fn job_ref(group: &str, task_id: &str) -> JobRef {
    JobRef {
        task_id: task_id.to_string(),
        group: Some(group.to_string()),
    }
}

fn dur(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

impl EditForm {
    /// The form filled with the job as it is.
    fn of(spec: &JobSpec) -> EditForm {
        let (cron, tz, repeat_count, repeat_interval) = match &spec.schedule {
            Schedule::Cron { expr, tz } => (
                expr.clone(),
                tz.clone().unwrap_or_default(),
                String::new(),
                String::new(),
            ),
            Schedule::Repeat { count, interval_ms } => (
                String::new(),
                String::new(),
                count.to_string(),
                dur(*interval_ms),
            ),
            _ => Default::default(),
        };
        EditForm {
            csrf: String::new(),
            cron,
            tz,
            repeat_count,
            repeat_interval,
            command: fmt::shell_join(&spec.command),
            params: spec
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            priority: spec.priority.to_string(),
            max_retries: spec.max_retries.to_string(),
            retry_backoff: dur(spec.retry_backoff_ms),
            timeout: spec.timeout_ms.map(dur).unwrap_or_default(),
        }
    }

    /// The change: each field that differs from the job as it is, keyed as
    /// `lts edit`'s flags.
    fn change(&self, spec: &JobSpec) -> Result<Value, String> {
        let was = EditForm::of(spec);
        let mut change = Map::new();
        let trimmed = |s: &str| s.trim().to_string();
        if trimmed(&self.cron) != was.cron || trimmed(&self.tz) != was.tz {
            change.insert("cron".into(), json!(trimmed(&self.cron)));
            if !self.tz.trim().is_empty() {
                change.insert("tz".into(), json!(trimmed(&self.tz)));
            }
        }
        if trimmed(&self.repeat_count) != was.repeat_count
            || trimmed(&self.repeat_interval) != was.repeat_interval
        {
            let count: i64 = self.repeat_count.trim().parse().map_err(|_| {
                format!(
                    "Runs: '{}' is not a whole number",
                    crate::model::cut(&self.repeat_count, 20)
                )
            })?;
            change.insert("repeat_count".into(), json!(count));
            change.insert(
                "repeat_interval".into(),
                json!(trimmed(&self.repeat_interval)),
            );
        }
        if trimmed(&self.command) != was.command {
            change.insert("command".into(), json!(fmt::split_words(&self.command)?));
        }
        if self.params.trim() != was.params.trim() {
            let mut params = Map::new();
            for (i, line) in self.params.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let Some((k, v)) = line.split_once('=').filter(|(k, _)| !k.trim().is_empty())
                else {
                    return Err(format!(
                        "Params line {}: '{}' is not KEY=VALUE",
                        i + 1,
                        crate::model::cut(line, 60)
                    ));
                };
                params.insert(k.trim().to_string(), json!(v));
            }
            change.insert("params".into(), Value::Object(params));
            change.insert("replace_params".into(), json!(true));
        }
        let number = |field: &str, text: &str| -> Result<i64, String> {
            text.trim().parse().map_err(|_| {
                format!(
                    "{field}: '{}' is not a whole number",
                    crate::model::cut(text, 20)
                )
            })
        };
        if trimmed(&self.priority) != was.priority {
            change.insert(
                "priority".into(),
                json!(number("Priority", &self.priority)?),
            );
        }
        if trimmed(&self.max_retries) != was.max_retries {
            change.insert(
                "max_retries".into(),
                json!(number("Retries", &self.max_retries)?),
            );
        }
        if trimmed(&self.retry_backoff) != was.retry_backoff {
            change.insert("retry_backoff".into(), json!(trimmed(&self.retry_backoff)));
        }
        if trimmed(&self.timeout) != was.timeout {
            let timeout = trimmed(&self.timeout);
            let value = if timeout.is_empty() {
                Value::Null
            } else {
                json!(timeout)
            };
            change.insert("timeout".into(), value);
        }
        if change.is_empty() {
            return Err("Nothing was changed.".into());
        }
        Ok(Value::Object(change))
    }
}

async fn load(ctx: &Ctx, group: &str, task_id: &str) -> Result<JobSpec, Response> {
    match ctx
        .app
        .t
        .job(
            job_ref(group, task_id),
            RunsPage {
                limit: 1,
                before: None,
            },
        )
        .await
    {
        Ok(detail) => Ok(detail.job.spec),
        Err(e @ WireError::NotFound { .. }) => Err(ctx.failure(Some(Nav::Jobs), e)),
        Err(e) => Err(ctx.failure(Some(Nav::Jobs), e)),
    }
}

pub async fn page(ctx: Ctx, Path((group, task_id)): Path<(String, String)>) -> Response {
    match load(&ctx, &group, &task_id).await {
        Ok(spec) => {
            let form = EditForm::of(&spec);
            let body = render(&ctx, &spec, &form, None);
            ctx.page(Some(Nav::Jobs), &format!("Edit {task_id}"), body)
        }
        Err(response) => response,
    }
}

pub async fn save(
    ctx: Ctx,
    Path((group, task_id)): Path<(String, String)>,
    Form(form): Form<EditForm>,
) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.forbidden();
    }
    let spec = match load(&ctx, &group, &task_id).await {
        Ok(spec) => spec,
        Err(response) => return response,
    };
    let refused = |error: String| {
        let body = render(&ctx, &spec, &form, Some(&error));
        ctx.page(Some(Nav::Jobs), &format!("Edit {task_id}"), body)
    };
    let change = match form
        .change(&spec)
        .and_then(|line| crate::jobline::edit_from_line(line).map_err(|e| e.0))
    {
        Ok(change) => change,
        Err(e) => return refused(e),
    };
    match ctx.app.t.edit(job_ref(&group, &task_id), change).await {
        Ok(job) => redirect(
            &job_href(&group, &task_id),
            Flash {
                ok: true,
                text: format!("Changed {}: it is {} now.", job.spec.task_id, job.state),
            },
        ),
        Err(e) => refused(e.to_string()),
    }
}

fn render(ctx: &Ctx, spec: &JobSpec, f: &EditForm, error: Option<&str>) -> Markup {
    let base = job_href(&spec.group, &spec.task_id);
    let cron = matches!(spec.schedule, Schedule::Cron { .. });
    let repeat = matches!(spec.schedule, Schedule::Repeat { .. });
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/jobs" { "Jobs" } " / "
            a href=(base) { (spec.group) " / " (spec.task_id) }
        }
        div.page-head { h1 { "Edit " span.id { (spec.task_id) } } span.muted { "its runs and history stay" } }
        @if let Some(error) = error { p.flash.error role="alert" { (error) } }
        form.submit method="post" action={ (base) "/edit" } {
            (ctx.csrf_field())
            div.columns {
                fieldset.panel {
                    legend { "Job" }
                    label {
                        "Command " span.muted { "(split like a shell line)" }
                        input.mono type="text" name="command" value=(f.command) autocomplete="off";
                    }
                    label {
                        "Params " span.muted { "(KEY=VALUE a line; these replace the job's)" }
                        textarea.mono name="params" rows="4" { (f.params) }
                    }
                    div.row {
                        label { "Priority" input type="number" name="priority" value=(f.priority); }
                        label { "Retries" input type="number" name="max_retries" value=(f.max_retries) min="0"; }
                    }
                    div.row {
                        label { "Retry backoff" input type="text" name="retry_backoff" value=(f.retry_backoff); }
                        label { "Timeout " span.muted { "(empty: none)" } input type="text" name="timeout" value=(f.timeout); }
                    }
                }
                fieldset.panel {
                    legend { "When" }
                    @if cron {
                        label {
                            "Cron"
                            input.mono #cron type="text" name="cron" value=(f.cron) autocomplete="off" data-cron-input;
                        }
                        label {
                            "Time zone " span.muted { "(empty: the tracker's)" }
                            input #tz type="text" name="tz" value=(f.tz) autocomplete="off" data-cron-tz;
                        }
                        div.cron-preview data-preview="/api/v1/cron" aria-live="polite" {
                            span.muted { "Change the expression to see its next fire times." }
                        }
                    } @else if repeat {
                        div.row {
                            label { "Runs " span.muted { "(-1: for ever)" } input type="number" name="repeat_count" value=(f.repeat_count) min="-1"; }
                            label { "Every" input type="text" name="repeat_interval" value=(f.repeat_interval); }
                        }
                    } @else {
                        p.muted { "A " (spec.schedule.kind().as_str()) " job keeps its schedule here; submit it again with --replace to change it." }
                    }
                }
            }
            div.actions {
                button.primary type="submit" { "Save changes" }
                a.button href=(base) { "Back" }
            }
        }
    }
}
