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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use auth::Auth;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    pub t: Arc<Tracker>,
    pub auth: Arc<Auth>,
}

/// How long a client may take to finish its TLS handshake, or to send a
/// request's headers.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most console connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 512;

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
    let tls = t.security.serve_config().map(|config| {
        let mut config = (**config).clone();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let auth = Arc::new(Auth::new(t.security.token().cloned(), tls.is_some()));
    let app = App { t, auth };
    match listener.local_addr() {
        // The address comes last: tests and scripts read it from the end of the line.
        Ok(addr) => tracing::info!(
            token = app.auth.required(),
            url = %format!("{scheme}://{addr}/"),
            "console listening"
        ),
        Err(e) => tracing::warn!("console: {e}"),
    }
    let service = router(app);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = shutdown.wait() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::warn!("console accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let service = service.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let hyper_service = hyper_util::service::TowerToHyperService::new(service);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that never finishes its headers is dropped.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(TLS_HANDSHAKE_TIMEOUT);
            let served = match tls {
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, "console TLS handshake: {e}");
                                return;
                            }
                            Err(_) => return,
                        };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                    tokio::select! {
                        served = conn => served,
                        _ = shutdown.wait() => Ok(()),
                    }
                }
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                    tokio::select! {
                        served = conn => served,
                        _ = shutdown.wait() => Ok(()),
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, "console connection: {e}");
            }
        });
    }
}
