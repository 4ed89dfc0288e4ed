//! `/alerts`: raised alerts, their delivery and the rules. Alerts are not
//! implemented yet, so the page says so and shows what will come.

use super::layout::{Ctx, Nav};
use axum::response::Response;
use maud::html;

pub async fn page(ctx: Ctx) -> Response {
    let body = html! {
        div.page-head { h1 { "Alerts" } }
        section.empty {
            h2 { "No alert rules yet" }
            p {
                "This tracker raises no alerts: alert rules are not available yet. "
                "When they are, this page lists the alerts raised, each delivery attempt and the rules, "
                "and the overview shows the alerts firing."
            }
            p.muted {
                "Until then, the overview's failures per minute and "
                code { "lts jobs --state failed" } " show what went wrong."
            }
        }
    };
    ctx.page(Some(Nav::Alerts), "Alerts", body)
}
