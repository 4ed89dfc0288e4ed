//! The console's pages (LTS Admin), rendered on the server with `maud`, which
//! escapes every value it splices in, so nothing a job holds (task id,
//! params, command, log lines) can become markup. Pages carry no inline
//! script or style (the Content-Security-Policy forbids both): the style
//! sheet and the one script are `assets/`, compiled into the binary, and
//! the script finds its data in `data-*` attributes.
//!
//! Each page module reads through the `Tracker` operations (`ops`) and
//! renders with the shared pieces of `layout`; actions are POST forms that
//! carry the caller's CSRF token and answer with a redirect and a flash
//! message (post/redirect/get), or the page again with the error.

mod alerts;
mod edit;
mod flows;
mod fmt;
mod job;
mod jobs;
mod layout;
mod nodes;
mod overview;
mod submit;

use super::App;
use axum::http::header;
use axum::routing::{get, post};
use axum::Router;

pub use layout::bare_page;

/// The style sheet and the script, compiled into the binary.
const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The pages, behind the guard.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(overview::page))
        .route("/jobs", get(jobs::page))
        .route("/jobs/bulk", post(jobs::bulk))
        .route("/jobs/{group}/{task_id}", get(job::page))
        .route(
            "/jobs/{group}/{task_id}/edit",
            get(edit::page).post(edit::save),
        )
        .route("/jobs/{group}/{task_id}/{action}", post(job::act))
        .route("/submit", get(submit::page).post(submit::submit))
        .route("/nodes", get(nodes::page))
        .route("/alerts", get(alerts::page))
        .route("/flows", get(flows::list))
        .route("/flows/{id}", get(flows::page))
        .route("/flows/{id}/cancel", post(flows::cancel))
}

/// `/assets/*`: served to anyone, so the login page is styled.
pub fn assets() -> Router<App> {
    Router::new()
        .route(
            "/assets/console.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    CSS,
                )
            }),
        )
        .route(
            "/assets/console.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    JS,
                )
            }),
        )
}
