//! The accept loop every listening role runs: each connection is served on a
//! task of its own until `shutdown`; a failing `accept` (out of file
//! descriptors and the like) is logged and retried after a short pause.

use super::Shutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Accept connections on `listener` and spawn `serve` for each, until `shutdown`.
pub async fn accept_until<F, Fut>(listener: &TcpListener, shutdown: &Shutdown, serve: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(stream, peer));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.wait() => break,
        }
    }
}
