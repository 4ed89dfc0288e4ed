//! The tracker's HTTP listener (`--http`): the web console (LTS Admin), the
//! JSON API under `/api/v1`, `/healthz` and `/readyz`, served with axum from
//! the binary itself (no CDN: pages, style and script are compiled in).
//!
//! Every route reads and acts through the same `Tracker` operations the
//! tarpc service calls (`ops`), never its own SQL. `auth` decides who may
//! call (token, bearer, session cookie, CSRF); `api` answers JSON; `pages`
//! renders HTML. Every answer carries a Content-Security-Policy that allows
//! only this origin's own script and style.

mod api;
mod auth;
mod error;
mod pages;

use super::Tracker;
use crate::daemon::Shutdown;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use auth::Auth;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    pub t: Arc<Tracker>,
    pub auth: Arc<Auth>,
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole HTTP surface.
fn router(app: App) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .route("/metrics", get(api::metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth::guard))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .merge(auth::routes())
        .merge(pages::assets())
        .fallback(error::not_found)
        .layer(middleware::from_fn(secure_headers))
        .with_state(app)
}

/// Headers every answer carries: no script or style but our own, no framing,
/// no sniffing, no referrer to other sites. (Not `no-referrer`: under it a
/// browser sends `Origin: null` with the console's own form posts, which the
/// guard must refuse as it refuses any other origin.)
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Serve the console and the API on `listener` until `shutdown`. With the
/// tracker's TLS configuration, HTTPS only.
pub(crate) async fn serve(listener: TcpListener, t: Arc<Tracker>, shutdown: Shutdown) {
    let tls = crate::daemon::http::acceptor(&t.security);
    let auth = Arc::new(Auth::new(t.security.clone(), tls.is_some()));
    let app = App { t, auth };
    crate::daemon::http::announce(&listener, tls.is_some(), app.auth.required(), "console");
    crate::daemon::http::serve(listener, router(app), tls, shutdown).await;
}
