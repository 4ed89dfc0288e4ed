//! `/nodes`: the tracker this console runs in (version, whether it leads)
//! and the workers it knows, by group, with each group's master, their slots
//! and when they were last heard from.

use super::layout::{badge, Ctx, Nav};
use crate::model::{NodeView, Role};
use axum::response::Response;
use maud::{html, Markup};
use std::collections::BTreeMap;

pub async fn page(ctx: Ctx) -> Response {
    let t = &ctx.app.t;
    let nodes = t.nodes();
    let leads = t.leader.current().is_some();
    let mut groups: BTreeMap<&str, Vec<&NodeView>> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.role == Role::Worker) {
        groups.entry(n.group.as_str()).or_default().push(n);
    }
    let body = html! {
        div.page-head { h1 { "Nodes" } }
        section aria-labelledby="trackers-h" {
            h2 #trackers-h { "Trackers" }
            table.list {
                thead { tr { th { "Id" } th { "Address" } th { "Role" } th { "Version" } th { "Up since" } } }
                tbody {
                    @for n in nodes.iter().filter(|n| n.role == Role::Tracker) {
                        tr {
                            td.mono { (n.id) }
                            td.mono { (n.address) }
                            td {
                                @if leads { (badge("leader")) } @else { (badge("standby")) }
                                " " span.muted { "(this console)" }
                            }
                            td { (n.version) }
                            td { (ctx.time(t.started_at)) }
                        }
                    }
                }
            }
            p.muted.small {
                "Other trackers sharing the store serve consoles of their own; "
                code { "lts nodes" } " lists every node the registry knows."
            }
        }
        section aria-labelledby="workers-h" {
            h2 #workers-h { "Workers" }
            @if groups.is_empty() {
                p.empty { "No worker has connected to this tracker. Start one with "
                    code { "ltsd worker --group G --tracker " (t.address) } "." }
            }
            @for (group, workers) in &groups {
                (group_table(&ctx, group, workers))
            }
        }
    };
    ctx.page(Some(Nav::Nodes), "Nodes", body)
}

fn group_table(ctx: &Ctx, group: &str, workers: &[&NodeView]) -> Markup {
    let up = workers.iter().filter(|w| w.state == "up").count();
    let used: u32 = workers
        .iter()
        .filter(|w| w.state == "up")
        .map(|w| w.slots_used)
        .sum();
    let free: u32 = workers
        .iter()
        .filter(|w| w.state == "up")
        .map(|w| w.slots_free)
        .sum();
    html! {
        h3 {
            a href={ "/jobs?group=" (super::super::auth::encode(group)) } { (group) }
            span.muted { " · " (up) " of " (workers.len()) " up · " (used) " of " (used + free) " slots busy" }
        }
        table.list {
            thead {
                tr {
                    th { "Id" } th { "Address" } th { "State" } th { "Master" }
                    th { "Slots" } th { "Version" } th { "Last seen" }
                }
            }
            tbody {
                @for w in workers {
                    tr {
                        td.mono { (w.id) }
                        td.mono { (w.address) }
                        td { (badge(if w.state == "up" { "up" } else { "down" })) }
                        td { @if w.master { strong { "master" } } @else { span.muted { "–" } } }
                        td {
                            @let total = w.slots_used + w.slots_free;
                            @if total > 0 { meter min="0" max=(total) value=(w.slots_used) {} " " }
                            (w.slots_used) " / " (total)
                        }
                        td { (w.version) }
                        td { (ctx.time(w.last_seen)) }
                    }
                }
            }
        }
    }
}
