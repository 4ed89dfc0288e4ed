//! Stand-ins for two API calls the pages' script uses, until the JSON API
//! serves them: a cron preview (`GET /api/v1/cron`) and a run's log as an
//! event stream (`GET /api/v1/jobs/{group}/{task_id}/logs` with `Accept:
//! text/event-stream`). Each answers exactly as the API will, under
//! `/console/`, and the pages name them in one place each
//! (`CRON_PREVIEW`, `log_stream_href`): once the API has them, those point
//! at the API and this module goes.

use super::super::auth::encode;
use super::super::error::ApiError;
use super::super::App;
use crate::daemon::tracker::Tracker;
use crate::model::json::log_json;
use crate::protocol::{JobRef, LogQuery};
use crate::schedule::{parse_zone, CronExpr};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;

/// Where the submit form asks for a cron preview.
pub const CRON_PREVIEW: &str = "/console/cron";

/// Where the job page follows a run's log: `run` (the latest when `None`),
/// after replaying its last `tail` lines.
pub fn log_stream_href(group: &str, task_id: &str, run: Option<u32>, tail: u32) -> String {
    let run = run.map(|r| format!("run={r}&")).unwrap_or_default();
    format!(
        "/console/logs/{}/{}?{run}tail={tail}",
        encode(group),
        encode(task_id)
    )
}

pub fn routes() -> Router<App> {
    Router::new()
        .route(CRON_PREVIEW, get(cron))
        .route("/console/logs/{group}/{task_id}", get(logs))
}

/// The most fire times one preview lists.
const MAX_COUNT: usize = 20;

#[derive(Debug, Deserialize)]
struct CronQuery {
    expr: Option<String>,
    count: Option<usize>,
    tz: Option<String>,
}

async fn cron(State(app): State<App>, Query(q): Query<CronQuery>) -> Response {
    let expr_text = q.expr.unwrap_or_default();
    let expr = match CronExpr::parse(expr_text.trim()) {
        Ok(e) => e,
        Err(e) => {
            let text = crate::model::cut(&expr_text, 80);
            return ApiError::bad_request(format!("invalid cron expression '{text}': {e}"))
                .into_response();
        }
    };
    let tz = match q.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) => match parse_zone(name) {
            Ok(tz) => tz,
            Err(e) => return ApiError::bad_request(format!("tz: {e}")).into_response(),
        },
        None => app.t.zone,
    };
    let count = q.count.unwrap_or(5).clamp(1, MAX_COUNT);
    let mut next = Vec::with_capacity(count);
    let mut after = Utc::now();
    while next.len() < count {
        let Some(fire) = expr.next_after(after, &tz) else {
            break;
        };
        after = fire.at;
        next.push(
            fire.at
                .with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        );
    }
    if next.is_empty() {
        return ApiError::bad_request(format!(
            "'{}' never fires again (check its year and day fields)",
            expr.as_str()
        ))
        .into_response();
    }
    Json(json!({"expr": expr.as_str(), "tz": tz.name(), "next": next})).into_response()
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    run: Option<u32>,
    tail: Option<u32>,
}

/// How long one read of the log waits for new lines.
const WAIT_MS: u64 = 20_000;

/// Where a followed log stands.
struct Follow {
    t: Arc<Tracker>,
    query: LogQuery,
    pending: VecDeque<Event>,
    ended: bool,
}

impl Follow {
    /// The next event: queued lines first, then a read that waits for more.
    async fn next(mut self) -> Option<(Result<Event, std::convert::Infallible>, Follow)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.ended || self.t.stopping() {
                return None;
            }
            match self.t.logs(self.query.clone()).await {
                Ok(page) => {
                    for line in &page.lines {
                        self.pending.push_back(
                            Event::default()
                                .event("line")
                                .data(log_json(line).to_string()),
                        );
                    }
                    if let Some(last) = page.lines.last() {
                        self.query.after_seq = Some(last.seq);
                    }
                    self.query.run = page.run.or(self.query.run);
                    self.query.attempt = page.attempt;
                    self.query.tail = None;
                    if page.done {
                        // An event needs data to be dispatched.
                        self.pending
                            .push_back(Event::default().event("end").data("{}"));
                        self.ended = true;
                    }
                }
                Err(e) => {
                    let error = ApiError::from(e);
                    let body = json!({"error": error.message, "code": error.code()});
                    self.pending
                        .push_back(Event::default().event("failure").data(body.to_string()));
                    self.ended = true;
                }
            }
        }
    }
}

async fn logs(
    State(app): State<App>,
    Path((group, task_id)): Path<(String, String)>,
    Query(q): Query<LogsQuery>,
) -> impl IntoResponse {
    let follow = Follow {
        t: app.t.clone(),
        query: LogQuery {
            job: JobRef {
                task_id,
                group: Some(group),
            },
            run: q.run,
            tail: q.tail,
            after_seq: None,
            attempt: None,
            wait_ms: WAIT_MS,
        },
        pending: VecDeque::new(),
        ended: false,
    };
    Sse::new(futures::stream::unfold(follow, Follow::next)).keep_alive(KeepAlive::default())
}
