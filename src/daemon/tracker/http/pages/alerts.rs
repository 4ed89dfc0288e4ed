//! `/alerts`: the alerts raised (newest first), each with how many were
//! folded into it and every delivery attempt, and the rules. Read through
//! the same operations as `lts alerts` and `lts alert list`.

use super::layout::{Ctx, Nav};
use crate::model::{format_duration, Alert, AlertQuery, AlertRule};
use axum::response::Response;
use maud::{html, Markup};
use std::time::Duration;

/// How many of the newest alerts the page shows.
const SHOWN: u32 = 200;

pub async fn page(ctx: Ctx) -> Response {
    let t = &ctx.app.t;
    let query = AlertQuery {
        group: None,
        after_seq: None,
        limit: SHOWN,
    };
    let (alerts, rules) = match tokio::try_join!(t.alerts(query, 0), t.alert_rules()) {
        Ok(both) => both,
        Err(e) => return ctx.failure(Some(Nav::Alerts), e),
    };
    let firing = alerts.iter().filter(|a| a.firing()).count();
    let body = html! {
        div.page-head {
            h1 { "Alerts" }
            p.muted {
                @if firing > 0 { strong.bad { (firing) " firing" } " · " }
                (alerts.len()) " shown, newest first · "
                (rules.len()) " rules · " code { "lts alerts --follow" } " watches them"
            }
        }
        section aria-labelledby="raised-h" {
            h2 #raised-h { "Raised" }
            @if alerts.is_empty() {
                p.empty { "No alert has been raised. Jobs submitted with "
                    code { "--alert failed --alert-to TARGET" } " and the rules below raise them; "
                    code { "lts alert test NAME" } " sends a test alert." }
            } @else {
                (alerts_table(&ctx, &alerts))
            }
        }
        section aria-labelledby="rules-h" {
            h2 #rules-h { "Rules" }
            @if rules.is_empty() {
                p.empty { "No rules. Add one with "
                    code { "lts alert add NAME --when COND --to TARGET" } "." }
            } @else {
                (rules_table(&rules))
            }
        }
    };
    ctx.page(Some(Nav::Alerts), "Alerts", body)
}

fn alerts_table(ctx: &Ctx, alerts: &[Alert]) -> Markup {
    html! {
        table.list {
            thead {
                tr {
                    th.num { "Id" } th { "Raised by" } th { "Group" } th { "Condition" }
                    th { "Raised" } th { "State" } th.num { "Folded" } th { "Message" }
                    th { "Delivery" }
                }
            }
            tbody {
                @for a in alerts {
                    tr {
                        td.num.mono { (a.id) }
                        td {
                            @match (&a.rule, &a.group, &a.task_id) {
                                (Some(rule), _, _) => { "rule " strong { (rule) } },
                                (None, Some(g), Some(task)) => {
                                    "job "
                                    a href={ "/jobs/" (super::super::auth::encode(g)) "/" (super::super::auth::encode(task)) } { (task) }
                                },
                                _ => { "job" },
                            }
                        }
                        td { (a.group.as_deref().unwrap_or("–")) }
                        td.mono { (a.condition) }
                        td { (ctx.time(a.raised_at)) }
                        td {
                            @match (a.state, a.resolved_at) {
                                (_, Some(at)) => { span class="badge st-succeeded" { "resolved" } " " (ctx.time(at)) },
                                (true, None) => { span class="badge st-failed" { "firing" } },
                                (false, None) => { span.muted { "event" } },
                            }
                        }
                        td.num { (a.folded) }
                        td.reason { (a.message) }
                        td { (deliveries(ctx, a)) }
                    }
                }
            }
        }
    }
}

/// Each attempt, newest first, behind a summary of the latest.
fn deliveries(ctx: &Ctx, a: &Alert) -> Markup {
    let Some(last) = a.deliveries.last() else {
        return html! {
            @if a.next_attempt_at.is_some() { span class="badge st-queued" { "pending" } }
            " " span.muted.mono { (crate::model::cut(&a.target, 60)) }
        };
    };
    html! {
        details {
            summary {
                @if last.ok { span class="badge st-succeeded" { "sent" } }
                @else { span class="badge st-failed" { "failed" } }
                " " (ctx.time(last.at)) " · " (a.deliveries.len()) " attempt"
                @if a.deliveries.len() != 1 { "s" }
                @if let Some(next) = a.next_attempt_at {
                    " · next " (ctx.time(next))
                }
            }
            ol.fires {
                @for d in a.deliveries.iter().rev() {
                    li {
                        (ctx.time(d.at)) " "
                        @if d.ok { span class="badge st-succeeded" { "ok" } }
                        @else { span class="badge st-failed" { "failed" } }
                        " " span.mono.small { (crate::model::cut(&d.target, 60)) }
                        @if let Some(error) = &d.error { br; span.small.bad { (error) } }
                    }
                }
            }
        }
    }
}

fn rules_table(rules: &[AlertRule]) -> Markup {
    let dur = |ms: u64| format_duration(Duration::from_millis(ms));
    html! {
        table.list {
            thead {
                tr {
                    th { "Name" } th { "When" } th { "Group" } th { "For" } th { "Silence" }
                    th { "To" } th { "Template" }
                }
            }
            tbody {
                @for r in rules {
                    tr {
                        td.mono { (r.name) }
                        td.mono { (r.when.to_string()) }
                        td { (r.group.as_deref().unwrap_or("every group")) }
                        td { (dur(r.for_ms)) }
                        td { (dur(r.silence_ms)) }
                        td.mono.reason { (crate::model::cut(&r.to, 80)) }
                        td { @if r.template.is_some() { "yes" } @else { span.muted { "–" } } }
                    }
                }
            }
        }
    }
}
