//! Serving HTTP for a role (the tracker's console and API, a worker's
//! metrics and health): an accept loop over axum on hyper, HTTPS when the
//! role has a certificate, a bound on connections and on the time a client
//! may take to send its headers, and an end at shutdown.

use super::Shutdown;
use crate::protocol::Security;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its TLS handshake, or to send a
/// request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 512;

/// The TLS acceptor for a role that serves TLS.
pub fn acceptor(security: &Security) -> Option<TlsAcceptor> {
    security.serve_config().map(|config| {
        let mut config = (**config).clone();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    })
}

/// Log where `what` listens; the URL comes last, as tests and scripts read it.
pub fn announce(listener: &TcpListener, tls: bool, token: bool, what: &str) {
    let scheme = if tls { "https" } else { "http" };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(
            token,
            url = %format!("{scheme}://{addr}/"),
            "{what} listening"
        ),
        Err(e) => tracing::warn!("{what}: {e}"),
    }
}

/// Serve `router` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
) {
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
                    tracing::warn!("http accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let service = router.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // Handlers may ask who is calling (the token guard counts by address).
            let service = tower::ServiceExt::map_request(
                service,
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                },
            );
            let hyper_service = hyper_util::service::TowerToHyperService::new(service);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that never finishes its headers is dropped.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT);
            let served =
                match tls {
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, "http TLS handshake: {e}");
                                    return;
                                }
                                Err(_) => return,
                            };
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                        tokio::select! {
                            served = conn => served,
                            _ = shutdown.wait() => Ok(()),
                        }
                    }
                    None => {
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service);
                        tokio::select! {
                            served = conn => served,
                            _ = shutdown.wait() => Ok(()),
                        }
                    }
                };
            if let Err(e) = served {
                tracing::debug!(%peer, "http connection: {e}");
            }
        });
    }
}
