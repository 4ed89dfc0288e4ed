//! A worker's Prometheus metrics: its slots (used, free), the runs it ended
//! by outcome, and the results it holds that have not reached a tracker yet
//! (in memory or in its spool). Counted where a run ends (`start_run`), read
//! when scraped; served on the worker's `--http` (`serve`), or, in
//! `ltsd standalone`, beside the tracker's on the console's `/metrics`.

use super::outbox::Undelivered;
use crate::daemon::Shutdown;
use crate::protocol::Token;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

type Labels = Vec<(&'static str, String)>;

/// One worker process's metrics; its sessions share them.
#[derive(Default)]
pub struct WorkerMetrics {
    threads: AtomicU32,
    busy: AtomicI64,
    slots: Family<Labels, Gauge>,
    runs: Family<Labels, Counter>,
    spooled: Gauge,
    /// Each session's results on their way to its tracker.
    outboxes: Mutex<Vec<Undelivered>>,
    /// When a tracker last answered a pull, in ms since the epoch (0: never).
    last_contact: AtomicI64,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerMetrics")
    }
}

impl WorkerMetrics {
    /// Add this worker's families to `registry` (prefixed `lts_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "worker_slots",
            "This worker's run slots by state (used, free)",
            self.slots.clone(),
        );
        registry.register(
            "worker_runs",
            "Runs this worker ended, by outcome",
            self.runs.clone(),
        );
        registry.register(
            "worker_spooled",
            "Results this worker holds that no tracker has taken yet",
            self.spooled.clone(),
        );
    }

    pub(super) fn set_threads(&self, threads: u32) {
        self.threads.store(threads, Ordering::Relaxed);
    }

    pub(super) fn watch_outbox(&self, undelivered: Undelivered) {
        self.outboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(undelivered);
    }

    pub(super) fn run_started(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn run_ended(&self, outcome: crate::model::RunOutcome) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.runs
            .get_or_create(&vec![("outcome", outcome.as_str().to_string())])
            .inc();
    }

    pub(super) fn contact(&self) {
        self.last_contact
            .store(crate::model::now_ms(), Ordering::Relaxed);
    }

    /// Whether a tracker answered within the last `within_ms`.
    pub fn in_contact(&self, within_ms: i64) -> bool {
        crate::model::now_ms() - self.last_contact.load(Ordering::Relaxed) <= within_ms
    }

    /// Read the gauges now.
    pub fn refresh(&self) {
        let busy = self.busy.load(Ordering::Relaxed).max(0);
        let threads = i64::from(self.threads.load(Ordering::Relaxed));
        for (state, n) in [("used", busy), ("free", (threads - busy).max(0))] {
            self.slots
                .get_or_create(&vec![("state", state.to_string())])
                .set(n);
        }
        let held: usize = self
            .outboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|u| u.lock().map(|m| m.len()).unwrap_or(0))
            .sum();
        self.spooled.set(held as i64);
    }
}

#[derive(Clone)]
struct Served {
    metrics: Arc<WorkerMetrics>,
    registry: Arc<Registry>,
    token: Option<Token>,
}

/// Serve `/metrics`, `/healthz` and `/readyz` (a tracker answered in the
/// last 30 s) on `listener` until `shutdown`; with a token, `/metrics`
/// needs `Authorization: Bearer T`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<WorkerMetrics>,
    security: crate::protocol::Security,
    shutdown: Shutdown,
) {
    let mut registry = Registry::with_prefix("lts");
    metrics.register(&mut registry);
    let served = Served {
        metrics,
        registry: Arc::new(registry),
        token: security.token().cloned(),
    };
    let tls = crate::daemon::http::acceptor(&security);
    crate::daemon::http::announce(
        &listener,
        tls.is_some(),
        served.token.is_some(),
        "worker http",
    );
    let router = Router::new()
        .route("/metrics", get(scrape))
        .route_layer(middleware::from_fn_with_state(served.clone(), bearer))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(ready))
        .with_state(served);
    crate::daemon::http::serve(listener, router, tls, shutdown).await;
}

async fn bearer(State(s): State<Served>, request: Request, next: Next) -> Response {
    let Some(token) = &s.token else {
        return next.run(request).await;
    };
    let shown = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if shown.is_some_and(|t| token.matches(t)) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "a token is required: Authorization: Bearer T\n",
        )
            .into_response()
    }
}

async fn scrape(State(s): State<Served>) -> Response {
    s.metrics.refresh();
    let mut out = String::new();
    if encode(&mut out, &s.registry).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response();
    }
    let ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, ctype)], out).into_response()
}

async fn ready(State(s): State<Served>) -> Response {
    if s.metrics.in_contact(30_000) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no tracker answered in the last 30 s\n",
        )
            .into_response()
    }
}
