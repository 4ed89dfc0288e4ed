//! The JSON API under `/api/v1`: every read and action the CLI has, with the
//! shapes of `lts -o json` (`model::json`) and the error object of `error`.
//! Each handler parses its query, calls one `Tracker` operation (`ops`) and
//! shapes the answer; a log tail with `Accept: text/event-stream` is a
//! Server-Sent-Events stream that lasts until the run ends.

use super::error::ApiError;
use super::App;
use crate::daemon::tracker::Action;
use crate::model::json::{cron_json, job_detail_json, job_json, log_json, node_json};
use crate::model::stats::stats_json;
use crate::model::{cut, JobKind, JobState};
use crate::protocol::{JobFilter, JobRef, LogQuery, RunsPage};
use crate::schedule::{local_zone, next_fires, parse_zone, CronExpr};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

/// The most jobs one page holds.
const MAX_PAGE: u32 = 1_000;
/// Jobs per page unless the caller says.
const DEFAULT_PAGE: u32 = 50;
/// How long one wait of a live tail lasts before it looks again.
const TAIL_WAIT_MS: u64 = 25_000;
/// The most log lines one JSON answer holds.
const MAX_LOG_LINES: usize = 100_000;
/// The window the stats' throughput is measured over.
const STATS_WINDOW_MS: i64 = 60_000;

/// The OpenAPI document of this API.
const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/jobs", get(jobs).post(submit))
        .route("/jobs/{group}/{task_id}", get(job).patch(edit))
        .route("/jobs/{group}/{task_id}/logs", get(logs))
        .route("/jobs/{group}/{task_id}/{action}", post(act))
        .route("/nodes", get(nodes))
        .route("/stats", get(stats))
        .route("/cron", get(cron))
        .route("/alerts", get(alerts))
        .route("/flows", get(flows))
        .route("/flows/{id}", get(flow))
        .route("/openapi.json", get(openapi))
}

/// A query value that must parse, or a 400 naming the parameter.
fn parse<T>(
    name: &str,
    value: Option<&str>,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => f(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: '{}' is not valid", cut(v, 60)))),
    }
}

#[derive(Debug, Deserialize)]
pub struct JobsQuery {
    group: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

impl JobsQuery {
    /// The filter this query asks for.
    pub fn filter(&self) -> Result<JobFilter, ApiError> {
        let limit = parse("limit", self.limit.as_deref(), |v| v.parse::<u32>().ok())?
            .unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(ApiError::bad_request(format!(
                "limit: {limit} is not from 1 to {MAX_PAGE}"
            )));
        }
        Ok(JobFilter {
            group: self.group.clone().filter(|g| !g.is_empty()),
            state: parse("state", self.state.as_deref(), JobState::parse)?,
            kind: parse("kind", self.kind.as_deref(), JobKind::parse)?,
            text: self.q.clone().filter(|q| !q.is_empty()),
            cursor: parse("after", self.after.as_deref(), |v| v.parse::<i64>().ok())?,
            limit,
        })
    }
}

/// `GET /jobs`: a page of jobs, newest first; `X-Total-Count` says how many
/// match, and a `Link` header names the next page.
async fn jobs(State(app): State<App>, Query(q): Query<JobsQuery>) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let page = app.t.jobs(filter).await?;
    let body: Vec<Value> = page.jobs.iter().rev().map(job_json).collect();
    let mut response = Json(Value::Array(body)).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(next) = page.next {
        let mut params = url_params(&q);
        params.push(("after", next.to_string()));
        let link = format!("</api/v1/jobs?{}>; rel=\"next\"", query_string(&params));
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
        headers.insert("x-next-cursor", HeaderValue::from(next));
    }
    Ok(response)
}

/// The filters of a jobs query, without its cursor, as query parameters.
fn url_params(q: &JobsQuery) -> Vec<(&'static str, String)> {
    [
        ("group", &q.group),
        ("state", &q.state),
        ("kind", &q.kind),
        ("q", &q.q),
        ("limit", &q.limit),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect()
}

/// `k=v&..`, each value percent-encoded.
pub fn query_string(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", super::auth::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `POST /jobs`: one job, as one line of `lts submit --file` has it.
async fn submit(State(app): State<App>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let spec = crate::jobline::job_from_line(value).map_err(|e| ApiError::bad_request(e.0))?;
    let ack = app.t.submit(vec![spec]).await.pop().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no answer from the store")
    })??;
    let body = json!({"task_id": ack.task_id, "group": ack.group, "state": ack.state.as_str()});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn job_ref(group: String, task_id: String) -> JobRef {
    JobRef {
        task_id,
        group: Some(group),
    }
}

#[derive(Debug, Deserialize)]
struct JobQuery {
    runs: Option<String>,
    before: Option<String>,
}

/// `GET /jobs/{group}/{task_id}`: the job with a page of its runs.
async fn job(
    State(app): State<App>,
    Path((group, task_id)): Path<(String, String)>,
    Query(q): Query<JobQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse("runs", q.runs.as_deref(), |v| {
        v.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n))
    })?;
    let before = parse("before", q.before.as_deref(), |v| {
        v.parse::<u32>().ok().filter(|n| *n > 0)
    })?;
    let page = RunsPage {
        limit: limit.unwrap_or(0),
        before,
    };
    let detail = app.t.job(job_ref(group, task_id), page).await?;
    Ok(Json(job_detail_json(&detail)))
}

/// `PATCH /jobs/{group}/{task_id}`: change the job's schedule, params,
/// command or limits, keyed as `lts edit`'s flags; the job as it is after.
async fn edit(
    State(app): State<App>,
    Path((group, task_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let change = crate::jobline::edit_from_line(value).map_err(|e| ApiError::bad_request(e.0))?;
    let view = app.t.edit(job_ref(group, task_id), change).await?;
    Ok(Json(job_json(&view)))
}

/// `POST /jobs/{group}/{task_id}/{action}`: suspend, resume, cancel, trigger
/// or retry; the job as it is after.
async fn act(
    State(app): State<App>,
    Path((group, task_id, action)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::not_found(format!(
            "no action '{}': use suspend, resume, cancel, trigger or retry",
            cut(&action, 40)
        ))
    })?;
    let view = app.t.act(job_ref(group, task_id), action).await?;
    Ok(Json(job_json(&view)))
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    run: Option<String>,
    tail: Option<String>,
}

/// `GET /jobs/{group}/{task_id}/logs`: the run's lines as JSON, or with
/// `Accept: text/event-stream` a live tail: `line` events, then `end`.
async fn logs(
    State(app): State<App>,
    Path((group, task_id)): Path<(String, String)>,
    Query(q): Query<LogsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = LogQuery {
        job: job_ref(group, task_id),
        run: parse("run", q.run.as_deref(), |v| {
            v.parse::<u32>().ok().filter(|n| *n > 0)
        })?,
        tail: parse("tail", q.tail.as_deref(), |v| v.parse::<u32>().ok())?,
        after_seq: None,
        attempt: None,
        wait_ms: 0,
    };
    let live = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    // The first page answers both, so a missing job is a plain 404.
    let first = app.t.logs(query.clone()).await?;
    if live {
        return Ok(tail(app, query, first).into_response());
    }
    let mut query = query;
    let mut lines: Vec<Value> = Vec::new();
    let mut page = first;
    loop {
        lines.extend(page.lines.iter().map(log_json));
        query.advance(&page);
        if page.done || page.lines.is_empty() || lines.len() >= MAX_LOG_LINES {
            break;
        }
        page = app.t.logs(query.clone()).await?;
    }
    Ok(Json(Value::Array(lines)).into_response())
}

/// The live tail: the lines so far, then each new one, until the run ends
/// (an `end` event) or the tracker stops.
fn tail(
    app: App,
    mut query: LogQuery,
    first: crate::protocol::LogPage,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let stream = async_stream(move |tx| async move {
        let mut page = first;
        loop {
            for line in &page.lines {
                let event = Event::default()
                    .event("line")
                    .data(log_json(line).to_string());
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            query.advance(&page);
            if page.done {
                let end = json!({"run": page.run, "attempt": page.attempt});
                let _ = tx
                    .send(Event::default().event("end").data(end.to_string()))
                    .await;
                return;
            }
            if app.t.stopping() || tx.is_closed() {
                return;
            }
            query.wait_ms = TAIL_WAIT_MS;
            page = tokio::select! {
                page = app.t.logs(query.clone()) => match page {
                    Ok(page) => page,
                    Err(e) => {
                        let error = json!({"error": e.to_string()});
                        let _ = tx.send(Event::default().event("error").data(error.to_string())).await;
                        return;
                    }
                },
                // The viewer went away: stop waiting for it.
                _ = tx.closed() => return,
            };
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A stream fed by a task: the task ends when the receiver is dropped.
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    })
}

/// `GET /nodes`: this tracker and the workers it knows.
async fn nodes(State(app): State<App>) -> Json<Value> {
    Json(Value::Array(app.t.nodes().iter().map(node_json).collect()))
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    group: Option<String>,
}

/// `GET /stats`: as `lts -o json stats`.
async fn stats(
    State(app): State<App>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
    let group = q.group.filter(|g| !g.is_empty());
    let stats = app.t.stats(group.clone(), STATS_WINDOW_MS).await?;
    Ok(Json(stats_json(&stats, group.as_deref())))
}

#[derive(Debug, Deserialize)]
struct CronQuery {
    expr: Option<String>,
    count: Option<String>,
    from: Option<String>,
    tz: Option<String>,
}

/// `GET /cron`: the next fire times of an expression, as `lts -o json cron`.
async fn cron(Query(q): Query<CronQuery>) -> Result<Json<Value>, ApiError> {
    let text = q
        .expr
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("expr: a cron expression is required"))?;
    let expr = CronExpr::parse(&text).map_err(|e| {
        ApiError::bad_request(format!("invalid cron expression '{}': {e}", cut(&text, 80)))
    })?;
    let count = parse("count", q.count.as_deref(), |v| {
        v.parse::<usize>().ok().filter(|n| (1..=1_000).contains(n))
    })?
    .unwrap_or(5);
    let tz = match q.tz.filter(|t| !t.is_empty()) {
        Some(name) => parse_zone(&name).map_err(|e| ApiError::bad_request(format!("tz: {e}")))?,
        None => local_zone(),
    };
    let from = parse("from", q.from.as_deref(), |v| {
        chrono::DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| t.to_utc())
    })?
    .unwrap_or_else(chrono::Utc::now);
    let fires: Vec<_> = next_fires(&expr, &tz, from, count)
        .iter()
        .map(|f| f.at)
        .collect();
    if fires.is_empty() {
        return Err(ApiError::bad_request(format!(
            "'{}' never fires after {}",
            cut(&text, 80),
            crate::model::json::zoned(from, &tz)
        )));
    }
    Ok(Json(cron_json(expr.as_str(), &tz, &fires)))
}

#[derive(Debug, Deserialize)]
struct AlertsQuery {
    group: Option<String>,
    limit: Option<String>,
}

/// `GET /alerts`: the newest alerts (`limit`, default 50), newest first,
/// each with its delivery attempts, as `lts -o json alerts`.
async fn alerts(
    State(app): State<App>,
    Query(q): Query<AlertsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse("limit", q.limit.as_deref(), |v| {
        v.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n))
    })?
    .unwrap_or(DEFAULT_PAGE);
    let query = crate::model::AlertQuery {
        group: q.group.filter(|g| !g.is_empty()),
        after_seq: None,
        limit,
    };
    let alerts = app.t.alerts(query, 0).await?;
    Ok(Json(Value::Array(
        alerts.iter().map(|a| a.json()).collect(),
    )))
}

#[derive(Debug, Deserialize)]
struct FlowsQuery {
    limit: Option<String>,
}

/// `GET /flows`: the newest flows (`limit`, default 50), newest first, as
/// `lts -o json flow list`.
async fn flows(
    State(app): State<App>,
    Query(q): Query<FlowsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse("limit", q.limit.as_deref(), |v| {
        v.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n))
    })?
    .unwrap_or(DEFAULT_PAGE);
    let flows = app.t.flows(limit).await?;
    Ok(Json(Value::Array(
        flows.iter().map(crate::model::json::flow_json).collect(),
    )))
}

/// `GET /flows/{id}`: a flow with its latest run's steps, as `lts -o json
/// flow show ID`.
async fn flow(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let flow = app.t.flow(id).await?;
    Ok(Json(crate::model::json::flow_json(&flow)))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
pub async fn metrics(State(app): State<App>) -> Response {
    let body = app.t.metrics.render(&app.t).await;
    let ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, ctype)], body).into_response()
}

/// Answers while the process runs.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Answers 200 while the store answers, 503 otherwise.
pub async fn readyz(State(app): State<App>) -> Response {
    let probe = tokio::time::timeout(
        Duration::from_secs(5),
        app.t.store.call(|s| s.next_fire_at()),
    );
    match probe.await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")).into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store: no answer within 5 s",
        )
        .into_response(),
    }
}
