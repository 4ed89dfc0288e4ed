//! `/flows` and `/flows/{id}`: workflows. A flow's page draws its latest
//! run as a graph, in inline SVG laid out here (one column per topological
//! layer, an arrow for each `after`), each step a box in its job's state
//! colour linking to its job's page; below it, the steps as a table and a
//! cancel form. Read through the same operations as `lts flow`.

use super::jobs::job_href;
use super::layout::{badge, redirect, Ctx, Flash, Nav};
use crate::model::{cut, FlowView, StepView};
use crate::protocol::WireError;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// How many of the newest flows the list shows.
const SHOWN: u32 = 200;

/// The graph's geometry, in SVG user units (pixels at 100%).
const NODE_W: i64 = 190;
const NODE_H: i64 = 54;
const GAP_X: i64 = 70;
const GAP_Y: i64 = 22;
const PAD: i64 = 16;

pub fn flow_href(id: &str) -> String {
    format!("/flows/{}", super::super::auth::encode(id))
}

pub async fn list(ctx: Ctx) -> Response {
    let flows = match ctx.app.t.flows(SHOWN).await {
        Ok(flows) => flows,
        Err(e) => return ctx.failure(Some(Nav::Flows), e),
    };
    let body = html! {
        div.page-head {
            h1 { "Flows" }
            p.muted { (flows.len()) " shown, newest first · " code { "lts flow submit FILE" } " adds one" }
        }
        @if flows.is_empty() {
            p.empty { "No flows. A flow is named steps, each a job, that run after one another; submit one with "
                code { "lts flow submit nightly-etl.toml" } "." }
        } @else {
            table.list {
                thead { tr { th { "Flow" } th { "Name" } th { "State" } th { "Cron" } th.num { "Runs" } th { "Latest run" } th { "Next" } } }
                tbody {
                    @for f in &flows {
                        tr {
                            td.mono { a href=(flow_href(&f.id)) { (f.id) } }
                            td { (f.name) }
                            td { (badge(f.state.as_str())) }
                            td.mono { (f.cron.as_deref().unwrap_or("–")) }
                            td.num { (f.runs) }
                            td { (progress(f)) }
                            td { (ctx.maybe_time(f.next_fire)) }
                        }
                    }
                }
            }
        }
    };
    ctx.page(Some(Nav::Flows), "Flows", body)
}

/// How many of the latest run's steps succeeded, of how many.
fn progress(flow: &FlowView) -> Markup {
    let done = flow
        .steps
        .iter()
        .filter(|s| s.state == Some(crate::model::JobState::Succeeded))
        .count();
    html! {
        @if flow.run.is_some() {
            (done) " of " (flow.steps.len()) " steps succeeded"
            @if flow.run_open { span.muted { " · open" } }
        } @else {
            span.muted { "none yet" }
        }
    }
}

pub async fn page(ctx: Ctx, Path(id): Path<String>) -> Response {
    let flow = match ctx.app.t.flow(id.clone()).await {
        Ok(flow) => flow,
        Err(WireError::Missing(_)) => {
            return ctx.page_with(
                StatusCode::NOT_FOUND,
                Some(Nav::Flows),
                "No such flow",
                html! {
                    h1 { "No such flow" }
                    p.error role="alert" { "There is no flow " code { (id) } "." }
                    p { a href="/flows" { "All flows" } }
                },
            )
        }
        Err(e) => return ctx.failure(Some(Nav::Flows), e),
    };
    let title = format!("{} · flow", flow.name);
    let cancellable = flow.run_open || (flow.cron.is_some() && flow.next_fire.is_some());
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/flows" { "Flows" } " / " }
        div.page-head {
            h1 { (flow.name) }
            (badge(flow.state.as_str()))
            span.muted.mono { (flow.id) }
        }
        p.muted {
            @match &flow.cron {
                Some(cron) => { "cron " code { (cron) } @if let Some(tz) = &flow.tz { " (" (tz) ")" } " · " },
                None => { "runs once · " },
            }
            "on failure: " strong { (flow.on_failure.as_str()) } " · "
            @match flow.run {
                Some(run) => { "run " (run) " of " (flow.runs) @if flow.run_open { " (open)" } },
                None => { "no run yet" },
            }
            @if let Some(next) = flow.next_fire { " · next " (ctx.time(next)) }
        }
        @if let Some(note) = &flow.note { p.note role="note" { (note) } }
        div.actions {
            form method="post" action={ (flow_href(&flow.id)) "/cancel" } {
                (ctx.csrf_field())
                @if cancellable {
                    button.danger type="submit" data-confirm="Cancel this flow? Its open steps are cancelled and its cron stops." { "Cancel flow" }
                } @else {
                    button.danger type="submit" disabled title="Not now: no run is open and no tick is due" { "Cancel flow" }
                }
            }
        }
        section.panel aria-labelledby="graph-h" {
            h2 #graph-h { "Graph" @if let Some(run) = flow.run { span.muted { " · run " (run) } } }
            (graph(&flow))
        }
        section aria-labelledby="steps-h" {
            h2 #steps-h { "Steps" }
            table.list {
                thead { tr { th { "Step" } th { "State" } th { "After" } th { "Group" } th { "Job" } th { "Note" } } }
                tbody {
                    @for step in &flow.steps {
                        tr {
                            td { strong { (step.name) } }
                            td { (state_badge(step)) }
                            td.mono { @if step.after.is_empty() { span.muted { "–" } } @else { (step.after.join(", ")) } }
                            td.mono { (step.group) }
                            td.mono {
                                @match &step.task_id {
                                    Some(task_id) => a href=(job_href(&step.group, task_id)) { (task_id) },
                                    None => span.muted { "–" },
                                }
                            }
                            td.reason { (step.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    ctx.page(Some(Nav::Flows), &title, body)
}

fn state_badge(step: &StepView) -> Markup {
    match step.state {
        Some(state) => badge(state.as_str()),
        None => html! { span.muted { "not started" } },
    }
}

/// The flow's steps as an SVG graph: a column per layer, each layer's steps
/// centred on the tallest, an arrow from each step to the steps after it.
fn graph(flow: &FlowView) -> Markup {
    let layers = flow
        .steps
        .iter()
        .map(|s| s.layer)
        .max()
        .map_or(0, |l| l + 1) as i64;
    let mut rows: HashMap<u32, i64> = HashMap::new();
    let mut place: HashMap<&str, (i64, i64)> = HashMap::new();
    let tallest = {
        let mut count: HashMap<u32, i64> = HashMap::new();
        for s in &flow.steps {
            *count.entry(s.layer).or_default() += 1;
        }
        count.values().copied().max().unwrap_or(1)
    };
    let mut per_layer: HashMap<u32, i64> = HashMap::new();
    for s in &flow.steps {
        *per_layer.entry(s.layer).or_default() += 1;
    }
    for s in &flow.steps {
        let row = rows.entry(s.layer).or_default();
        let offset = (tallest - per_layer[&s.layer]) * (NODE_H + GAP_Y) / 2;
        let x = PAD + s.layer as i64 * (NODE_W + GAP_X);
        let y = PAD + offset + *row * (NODE_H + GAP_Y);
        *row += 1;
        place.insert(s.name.as_str(), (x, y));
    }
    let width = 2 * PAD + layers * NODE_W + (layers - 1).max(0) * GAP_X;
    let height = 2 * PAD + tallest * NODE_H + (tallest - 1) * GAP_Y;
    let states: HashMap<&str, &StepView> =
        flow.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let label = format!(
        "the steps of flow {} as a graph, {} steps in {} layers",
        flow.name,
        flow.steps.len(),
        layers
    );
    html! {
        div.flow-scroll {
            svg.flow-graph xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) }
                width=(width) height=(height) role="img" aria-label=(label) {
                defs {
                    marker #flow-arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                        // Closed explicitly: in HTML, `<path>` inside SVG is no void element.
                        path d="M 0 0 L 10 5 L 0 10 z" {}
                    }
                }
                @for step in &flow.steps {
                    @for before in &step.after {
                        @if let (Some(&(x1, y1)), Some(&(x2, y2))) = (place.get(before.as_str()), place.get(step.name.as_str())) {
                            @let (ax, ay, bx, by) = (x1 + NODE_W, y1 + NODE_H / 2, x2 - 2, y2 + NODE_H / 2);
                            @let done = states.get(before.as_str()).and_then(|s| s.state) == Some(crate::model::JobState::Succeeded);
                            path.edge.done[done] marker-end="url(#flow-arrow)"
                                d={ "M " (ax) " " (ay) " C " (ax + GAP_X / 2) " " (ay) ", " (bx - GAP_X / 2) " " (by) ", " (bx) " " (by) } {
                                title { (before) " → " (step.name) }
                            }
                        }
                    }
                }
                @for step in &flow.steps {
                    @if let Some(&(x, y)) = place.get(step.name.as_str()) {
                        @let state = step.state.map(|s| s.as_str()).unwrap_or("none");
                        @let node = html! {
                            g class={ "node st-" (state) } {
                                title { (step.name) ": " (step.state.map(|s| s.as_str()).unwrap_or("not started")) }
                                rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) rx="7" {}
                                text.name x=(x + 12) y=(y + 22) { (cut(&step.name, 22)) }
                                text.state x=(x + 12) y=(y + 41) { (step.state.map(|s| s.as_str()).unwrap_or("not started")) " · " (cut(&step.group, 14)) }
                            }
                        };
                        @match &step.task_id {
                            Some(task_id) => a href=(job_href(&step.group, task_id)) { (node) },
                            None => (node),
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /flows/{id}/cancel`: cancel the open run's steps and stop the cron.
pub async fn cancel(ctx: Ctx, Path(id): Path<String>, Form(form): Form<CancelForm>) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return ctx.forbidden();
    }
    let flash = match ctx.app.t.flow_cancel(id.clone()).await {
        Ok(flow) => Flash {
            ok: true,
            text: format!("Cancelled flow {} ({}).", flow.name, flow.id),
        },
        Err(e) => Flash {
            ok: false,
            text: e.to_string(),
        },
    };
    redirect(&flow_href(&id), flash)
}
