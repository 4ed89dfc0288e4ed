//! Connections between nodes. `dial` and `accept` open a byte stream and run
//! the handshake on it; `transport` frames a stream for any tarpc service;
//! `connect` and `serve_connection` are those steps for the tracker's service.

use super::handshake::{read_frame, write_frame, Hello, Welcome, HANDSHAKE_TIMEOUT};
use super::TrackerRpcClient;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tarpc::serde_transport;
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::{Framed, LengthDelimitedCodec};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
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

/// Any byte stream a connection runs over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A handshaken stream, ready to be framed for a service.
pub type BoxedIo = Box<dyn Io>;

/// A framed stream carrying one tarpc service's messages.
pub type Transport<Item, SinkItem> =
    serde_transport::Transport<BoxedIo, Item, SinkItem, Bincode<Item, SinkItem>>;

/// A live connection to a tracker and what the peer said about itself.
pub struct Connected {
    pub client: TrackerRpcClient,
    pub welcome: Welcome,
    pub addr: String,
}

const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Frame a handshaken stream for a tarpc service (client or server side).
pub fn transport<Item, SinkItem>(io: BoxedIo) -> Transport<Item, SinkItem>
where
    Item: for<'de> Deserialize<'de>,
    SinkItem: Serialize,
{
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_MESSAGE)
        .new_codec();
    serde_transport::new(Framed::new(io, codec), Bincode::default())
}

/// Dial `addr` and handshake as `role`: the stream and the peer's welcome.
pub async fn dial(
    addr: &str,
    role: &str,
    timeout: Duration,
) -> Result<(BoxedIo, Welcome), ConnectError> {
    let unreachable = |source| ConnectError::Unreachable {
        addr: addr.to_string(),
        source,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        write_frame(&mut stream, &Hello::new(role)).await?;
        let welcome: Welcome = read_frame(&mut stream).await?;
        Ok::<_, std::io::Error>((stream, welcome))
    };
    let (stream, welcome) = match tokio::time::timeout(timeout, exchange).await {
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
    Ok((Box::new(stream), welcome))
}

/// Dial a tracker and start a tarpc client on the stream.
pub async fn connect(addr: &str, role: &str, timeout: Duration) -> Result<Connected, ConnectError> {
    let (io, welcome) = dial(addr, role, timeout).await?;
    let client = TrackerRpcClient::new(tarpc::client::Config::default(), transport(io)).spawn();
    Ok(Connected {
        client,
        welcome,
        addr: addr.to_string(),
    })
}

/// Handshake an accepted stream. Refusals are answered, logged and closed;
/// a peer that sends garbage or nothing is dropped after `HANDSHAKE_TIMEOUT`.
pub async fn accept(
    mut stream: TcpStream,
    peer: SocketAddr,
    node_id: &str,
) -> Option<(BoxedIo, Hello)> {
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
    Some((Box::new(stream), hello))
}

/// The tracker's side of one connection after a successful handshake.
pub type ServerTransport = Transport<
    tarpc::ClientMessage<super::TrackerRpcRequest>,
    tarpc::Response<super::TrackerRpcResponse>,
>;

/// Handshake an accepted stream for the tracker's service.
pub async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    node_id: &str,
) -> Option<(ServerTransport, Hello)> {
    let (io, hello) = accept(stream, peer, node_id).await?;
    Some((transport(io), hello))
}
