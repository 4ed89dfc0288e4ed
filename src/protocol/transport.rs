//! TCP connections carrying the tracker's tarpc service: `connect` dials,
//! handshakes and returns a client; `serve_connection` handshakes an accepted
//! stream and returns a tarpc channel ready to serve.

use super::handshake::{read_frame, write_frame, Hello, Welcome, HANDSHAKE_TIMEOUT};
use super::TrackerRpcClient;
use std::net::SocketAddr;
use std::time::Duration;
use tarpc::serde_transport;
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use thiserror::Error;
use tokio::net::TcpStream;

/// Why a connection could not be made.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} refused the connection: {reason}")]
    Refused { addr: String, reason: String },
}

/// A live connection and what the peer said about itself.
pub struct Connected {
    pub client: TrackerRpcClient,
    pub welcome: Welcome,
    pub addr: String,
}

const MAX_MESSAGE: usize = 64 * 1024 * 1024;

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_MESSAGE)
        .new_codec()
}

/// Dial `addr`, handshake as `role`, and start a tarpc client on the stream.
pub async fn connect(addr: &str, role: &str, timeout: Duration) -> Result<Connected, ConnectError> {
    let unreachable = |source| ConnectError::Unreachable {
        addr: addr.to_string(),
        source,
    };
    let dial = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        write_frame(&mut stream, &Hello::new(role)).await?;
        let welcome: Welcome = read_frame(&mut stream).await?;
        Ok::<_, std::io::Error>((stream, welcome))
    };
    let (stream, welcome) = match tokio::time::timeout(timeout, dial).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(unreachable(e)),
        Err(_) => {
            return Err(unreachable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            )))
        }
    };
    if let Some(reason) = welcome.error.clone() {
        return Err(ConnectError::Refused {
            addr: addr.to_string(),
            reason,
        });
    }
    let framed = tarpc::tokio_util::codec::Framed::new(stream, codec());
    let transport = serde_transport::new(framed, Bincode::default());
    let client = TrackerRpcClient::new(tarpc::client::Config::default(), transport).spawn();
    Ok(Connected {
        client,
        welcome,
        addr: addr.to_string(),
    })
}

/// The server's side of one connection after a successful handshake.
pub type ServerTransport = serde_transport::Transport<
    TcpStream,
    tarpc::ClientMessage<super::TrackerRpcRequest>,
    tarpc::Response<super::TrackerRpcResponse>,
    Bincode<
        tarpc::ClientMessage<super::TrackerRpcRequest>,
        tarpc::Response<super::TrackerRpcResponse>,
    >,
>;

/// Handshake an accepted stream. Refusals are answered, logged and closed;
/// a peer that sends garbage or nothing is dropped after `HANDSHAKE_TIMEOUT`.
pub async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    node_id: &str,
) -> Option<(ServerTransport, Hello)> {
    let _ = stream.set_nodelay(true);
    let hello: Hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_frame(&mut stream)).await
    {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "dropped connection: {e}");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "dropped connection: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return None;
        }
    };
    let refusal = hello.refusal();
    let welcome = Welcome {
        protocol: super::PROTOCOL_VERSION,
        version: crate::VERSION.into(),
        node_id: node_id.into(),
        error: refusal.clone(),
    };
    let answered =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, write_frame(&mut stream, &welcome)).await;
    if let Some(reason) = refusal {
        tracing::warn!(%peer, "refused connection: {reason}");
        return None;
    }
    if !matches!(answered, Ok(Ok(()))) {
        return None;
    }
    let framed = tarpc::tokio_util::codec::Framed::new(stream, codec());
    Some((serde_transport::new(framed, Bincode::default()), hello))
}
