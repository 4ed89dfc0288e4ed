//! `/jobs`: the jobs, newest first, filtered by group, state, kind and
//! task-id text, a page at a time; select many to suspend, resume or cancel
//! them in one form (`POST /jobs/bulk`), which goes back to the same list.

use super::super::auth::encode;
use super::layout::{badge, local_path, redirect, Ctx, Flash, Nav};
use crate::daemon::tracker::Action;
use crate::daemon::tracker::Tracker;
use crate::model::{json, JobKind, JobState, JobView};
use crate::protocol::{JobFilter, JobRef, WireError};
use axum::extract::Query;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

/// Jobs on one page.
pub const PAGE: usize = 50;
/// The most jobs one bulk action takes.
const BULK_MAX: usize = 500;

/// The list's query string, as the filter form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobsQuery {
    group: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    /// Where the page starts: the cursor the previous page handed out.
    after: Option<String>,
}

/// A query value that says something.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The filters of a query, checked.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    group: Option<String>,
    state: Option<JobState>,
    kind: Option<JobKind>,
    q: Option<String>,
    after: Option<String>,
}

impl JobsQuery {
    fn filters(&self) -> Result<Filters, String> {
        let state = match given(&self.state) {
            None => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| format!("'{s}' is not a job state"))?),
        };
        let kind = match given(&self.kind) {
            None => None,
            Some(k) => Some(JobKind::parse(k).ok_or_else(|| format!("'{k}' is not a job kind"))?),
        };
        Ok(Filters {
            group: given(&self.group).map(String::from),
            state,
            kind,
            q: given(&self.q).map(String::from),
            after: given(&self.after).map(String::from),
        })
    }
}

impl Filters {
    /// This list's URL, starting at `after`.
    fn href(&self, after: Option<&str>) -> String {
        let mut parts = Vec::new();
        if let Some(g) = &self.group {
            parts.push(format!("group={}", encode(g)));
        }
        if let Some(s) = self.state {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(k) = self.kind {
            parts.push(format!("kind={}", k.as_str()));
        }
        if let Some(q) = &self.q {
            parts.push(format!("q={}", encode(q)));
        }
        if let Some(a) = after {
            parts.push(format!("after={}", encode(a)));
        }
        if parts.is_empty() {
            "/jobs".into()
        } else {
            format!("/jobs?{}", parts.join("&"))
        }
    }
}

/// One page of the list.
struct Listing {
    /// Newest first.
    jobs: Vec<JobView>,
    /// The cursor of the next page, when the store hands one out.
    next: Option<String>,
    /// Whether more jobs match than this page shows.
    more: bool,
    /// How many match in all.
    total: u64,
}

/// The one place the list is read: paging and text search move into the
/// store's query as it learns them; the page only renders `Listing`.
async fn list(t: &Tracker, f: &Filters) -> Result<Listing, WireError> {
    let cursor = f.after.as_deref().and_then(|a| a.parse::<i64>().ok());
    let page = t
        .jobs(JobFilter {
            group: f.group.clone(),
            state: f.state,
            kind: f.kind,
            text: f.q.clone(),
            cursor,
            limit: PAGE as u32,
        })
        .await?;
    let mut jobs = page.jobs;
    jobs.reverse();
    Ok(Listing {
        jobs,
        more: page.next.is_some(),
        next: page.next.map(|n| n.to_string()),
        total: page.total,
    })
}

pub async fn page(ctx: Ctx, Query(query): Query<JobsQuery>) -> Response {
    let (filters, problem) = match query.filters() {
        Ok(f) => (f, None),
        Err(e) => (Filters::default(), Some(e)),
    };
    let listing = match list(&ctx.app.t, &filters).await {
        Ok(l) => l,
        Err(e) => return ctx.failure(Some(Nav::Jobs), e),
    };
    let back = filters.href(filters.after.as_deref());
    let body = html! {
        div.page-head {
            h1 { "Jobs" }
            a.button href="/submit" { "Submit a job" }
        }
        @if let Some(problem) = &problem { p.flash.error role="alert" { (problem) } }
        (filter_form(&ctx, &filters))
        form #bulk method="post" action="/jobs/bulk" {
            (ctx.csrf_field())
            input type="hidden" name="back" value=(back);
            div.toolbar {
                span.muted data-selected-count { "Select jobs to act on them" }
                button type="submit" name="action" value="suspend" data-needs-selection { "Suspend" }
                button type="submit" name="action" value="resume" data-needs-selection { "Resume" }
                button.danger type="submit" name="action" value="cancel" data-needs-selection data-confirm="Cancel the selected jobs? They will not run again." { "Cancel" }
            }
            @if listing.jobs.is_empty() {
                p.empty { "No job matches." }
            } @else {
                (table(&ctx, &listing.jobs))
            }
        }
        nav.pager aria-label="Pages" {
            @if filters.after.is_some() {
                a href=(filters.href(None)) { "← Newest" }
            }
            span.muted { (listing.jobs.len()) " shown of " (listing.total) " matching" }
            @if let Some(next) = listing.next.as_ref().filter(|_| listing.more) {
                a rel="next" href=(filters.href(Some(next))) { "Next page →" }
            }
        }
    };
    ctx.page(Some(Nav::Jobs), "Jobs", body)
}

fn filter_form(ctx: &Ctx, f: &Filters) -> Markup {
    let groups = ctx.worker_groups();
    let kinds = [JobKind::Now, JobKind::At, JobKind::Cron, JobKind::Repeat];
    html! {
        form.filters method="get" action="/jobs" role="search" {
            label {
                "Group"
                input type="text" name="group" list="groups" value=[f.group.as_deref()] placeholder="any" size="14";
            }
            datalist #groups { @for g in &groups { option value=(g) {} } }
            label {
                "State"
                select name="state" {
                    option value="" { "any" }
                    @for s in JobState::ALL {
                        option value=(s.as_str()) selected[f.state == Some(s)] { (s.as_str()) }
                    }
                }
            }
            label {
                "Kind"
                select name="kind" {
                    option value="" { "any" }
                    @for k in kinds {
                        option value=(k.as_str()) selected[f.kind == Some(k)] { (k.as_str()) }
                    }
                }
            }
            label.grow {
                "Task id contains"
                input type="search" name="q" value=[f.q.as_deref()] placeholder="text in the task id";
            }
            button.primary type="submit" { "Filter" }
            @if *f != Filters::default() { a.button href="/jobs" { "Clear" } }
        }
    }
}

/// A job's page.
pub fn job_href(group: &str, task_id: &str) -> String {
    format!("/jobs/{}/{}", encode(group), encode(task_id))
}

fn table(ctx: &Ctx, jobs: &[JobView]) -> Markup {
    html! {
        table.list {
            thead {
                tr {
                    th.check { input type="checkbox" data-select-all="job" aria-label="Select all"; }
                    th { "Task id" }
                    th { "Group" }
                    th { "Kind" }
                    th { "Schedule" }
                    th { "State" }
                    th { "Next fire" }
                    th.num { "Runs" }
                    th { "Updated" }
                }
            }
            tbody {
                @for job in jobs {
                    @let spec = &job.spec;
                    @let key = format!("{}/{}", spec.group, spec.task_id);
                    tr {
                        td.check {
                            input type="checkbox" name="job" value=(key) aria-label={ "Select " (spec.task_id) };
                        }
                        td.id {
                            a href=(job_href(&spec.group, &spec.task_id)) { (crate::model::cut(&spec.task_id, 60)) }
                            @if let Some(note) = &job.note { div.note { (note) } }
                        }
                        td { (spec.group) }
                        td { (spec.schedule.kind().as_str()) }
                        td.schedule title=(json::schedule(&spec.schedule)) {
                            (crate::model::cut(&json::schedule(&spec.schedule), 40))
                        }
                        td { (badge(job.state.as_str())) }
                        td {
                            @if job.state == JobState::Suspended {
                                span.muted { "held" }
                            } @else {
                                (ctx.maybe_time(job.next_fires.first().copied().or(job.next_fire)))
                            }
                        }
                        td.num { (job.runs) }
                        td { (ctx.time(job.updated_at)) }
                    }
                }
            }
        }
    }
}

/// `POST /jobs/bulk`: one action on every selected job, then back to the list.
pub async fn bulk(ctx: Ctx, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !ctx.csrf_ok(field("csrf").unwrap_or("")) {
        return ctx.forbidden();
    }
    let back = local_path(field("back").unwrap_or("/jobs"), "/jobs");
    let action = match field("action").and_then(Action::parse) {
        Some(a @ (Action::Suspend | Action::Resume | Action::Cancel)) => a,
        _ => {
            let flash = Flash {
                ok: false,
                text: "Choose suspend, resume or cancel.".into(),
            };
            return redirect(&back, flash);
        }
    };
    let selected: Vec<JobRef> = fields
        .iter()
        .filter(|(k, _)| k == "job")
        .filter_map(|(_, v)| v.split_once('/'))
        .map(|(group, task_id)| JobRef {
            task_id: task_id.to_string(),
            group: Some(group.to_string()),
        })
        .take(BULK_MAX + 1)
        .collect();
    if selected.is_empty() || selected.len() > BULK_MAX {
        let text = if selected.is_empty() {
            "Select at least one job first.".to_string()
        } else {
            format!(
                "Select at most {BULK_MAX} jobs at once; `lts {} --all` takes any number.",
                action.as_str()
            )
        };
        return redirect(&back, Flash { ok: false, text });
    }
    let mut done = 0usize;
    let mut failed = Vec::new();
    for job in &selected {
        match ctx.app.t.act(job.clone(), action).await {
            Ok(_) => done += 1,
            Err(e) => failed.push(e.to_string()),
        }
    }
    let verb = past(action);
    let flash = if failed.is_empty() {
        Flash {
            ok: true,
            text: format!("{verb} {done} {}.", plural(done, "job")),
        }
    } else {
        Flash {
            ok: false,
            text: format!(
                "{verb} {done} of {} jobs; {} refused: {}",
                selected.len(),
                failed.len(),
                failed.join("; ")
            ),
        }
    };
    redirect(&back, flash)
}

/// What an action did, in words.
pub fn past(action: Action) -> &'static str {
    match action {
        Action::Suspend => "Suspended",
        Action::Resume => "Resumed",
        Action::Cancel => "Cancelled",
        Action::Trigger => "Triggered",
        Action::Retry => "Retried",
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_round_trip_to_a_link() {
        let q = JobsQuery {
            group: Some("etl".into()),
            state: Some("queued".into()),
            kind: Some("".into()),
            q: Some(" a&b ".into()),
            after: None,
        };
        let f = q.filters().unwrap();
        assert_eq!(f.kind, None);
        assert_eq!(
            f.href(Some("x")),
            "/jobs?group=etl&state=queued&q=a%26b&after=x"
        );
        let bad = JobsQuery {
            state: Some("sleeping".into()),
            ..JobsQuery::default()
        };
        assert!(bad.filters().unwrap_err().contains("'sleeping'"));
    }
}
