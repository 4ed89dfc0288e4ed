//! The JSON API under `/api/v1`: every read and action the CLI has, with the
//! shapes of `lts -o json` (`model::json`) and the error object of `error`.

use super::error::ApiError;
use super::App;
use crate::model::json::job_json;
use crate::protocol::JobFilter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub fn routes() -> Router<App> {
    Router::new().route("/jobs", get(jobs))
}

async fn jobs(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let jobs = app
        .t
        .jobs(JobFilter {
            limit: 100,
            ..JobFilter::default()
        })
        .await?;
    Ok(Json(Value::Array(jobs.jobs.iter().map(job_json).collect())))
}

/// Answers while the process runs.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Answers 200 while the store answers, 503 otherwise.
pub async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.t.store.call(|s| s.next_fire_at()).await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")).into_response()
        }
    }
}
