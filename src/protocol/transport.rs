//! Connections between nodes. `dial` and `accept` open a byte stream, wrap
//! it in TLS when the node's `Security` says so, and run the handshake (with
//! the token proofs) on it; `transport` frames a stream for any tarpc service;
//! `connect` and `serve_connection` are those steps for the tracker's service.

use super::frame::{FrameCodec, Message, Messages};
use super::handshake::{
    client_side, refuse, server_side, Accepting, Failed, Hello, Rejected, Welcome,
    HANDSHAKE_TIMEOUT,
};
use super::security::{Access, Security};
use super::tls;
use super::TrackerRpcClient;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tarpc::tokio_util::codec::Framed;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

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

/// A framed stream carrying one tarpc service's messages (see `frame` for
/// how a frame's memory is bounded).
pub type Transport<Item, SinkItem> = tarpc::tokio_serde::Framed<
    Framed<BoxedIo, FrameCodec>,
    Item,
    SinkItem,
    Messages<Item, SinkItem>,
>;

/// A live connection to a tracker and what the peer said about itself.
pub struct Connected {
    pub client: TrackerRpcClient,
    pub welcome: Welcome,
    pub addr: String,
}

/// A client dials afresh rather than use a connection it left unused this
/// long: well within the server's idle timeout (`--idle-timeout`, at least
/// its default), so it never sends a call down a connection being closed.
pub const REDIAL_AFTER: Duration = Duration::from_secs(60);

/// How long dialing and handshaking one address may take, for any client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A call's context: it gives up `timeout` from now.
pub fn context(timeout: Duration) -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = std::time::Instant::now() + timeout;
    ctx
}

/// Frame a handshaken stream for a tarpc service (client or server side).
pub fn transport<Item, SinkItem>(io: BoxedIo) -> Transport<Item, SinkItem>
where
    Item: Message,
    SinkItem: Serialize,
{
    tarpc::tokio_serde::Framed::new(Framed::new(io, FrameCodec::new()), Messages::default())
}

/// Dial `addr` and handshake as `role` with `security` (TLS first when it
/// dials TLS, then the handshake and the token proofs inside): the stream and
/// the peer's welcome. The whole exchange takes at most `timeout`.
pub async fn dial(
    addr: &str,
    role: &str,
    timeout: Duration,
    security: &Security,
) -> Result<(BoxedIo, Welcome), ConnectError> {
    match tokio::time::timeout(timeout, dial_within(addr, role, security)).await {
        Ok(result) => result,
        Err(_) => Err(unreachable(
            addr,
            std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        )),
    }
}

fn unreachable(addr: &str, source: std::io::Error) -> ConnectError {
    ConnectError::Unreachable {
        addr: addr.to_string(),
        source,
    }
}

fn refused(addr: &str, reason: impl Into<String>) -> ConnectError {
    ConnectError::Refused {
        addr: addr.to_string(),
        reason: reason.into(),
    }
}

fn handshake_failed(addr: &str, failed: Failed) -> ConnectError {
    match failed {
        Failed::Io(e) => unreachable(addr, e),
        Failed::Refused(reason) => refused(addr, reason),
    }
}

/// A failed TLS handshake, as the dialing side says it.
fn tls_failed(addr: &str, e: std::io::Error) -> ConnectError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => refused(
            addr,
            "it closed the connection during the TLS handshake: it does not seem to serve TLS \
             (a node serves TLS when started with --tls-cert and --tls-key; without them, dial it without --tls-ca)",
        ),
        ErrorKind::InvalidData => refused(
            addr,
            format!("TLS handshake failed: {e} (does --tls-ca name the certificate, or its CA, that it serves?)"),
        ),
        _ => unreachable(addr, e),
    }
}

async fn dial_within(
    addr: &str,
    role: &str,
    security: &Security,
) -> Result<(BoxedIo, Welcome), ConnectError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| unreachable(addr, e))?;
    stream.set_nodelay(true).map_err(|e| unreachable(addr, e))?;
    let token = security.token();
    let Some(config) = security.dial_config() else {
        let welcome = client_side(&mut stream, role, token, &[])
            .await
            .map_err(|f| handshake_failed(addr, f))?;
        return Ok((Box::new(stream), welcome));
    };
    let name = tls::server_name(addr).ok_or_else(|| {
        refused(
            addr,
            "no host name in the address to check its TLS certificate against",
        )
    })?;
    let mut stream = TlsConnector::from(config.clone())
        .connect(name, stream)
        .await
        .map_err(|e| tls_failed(addr, e))?;
    let binding = tls::export_binding(stream.get_ref().1);
    let welcome = client_side(&mut stream, role, token, &binding)
        .await
        .map_err(|f| handshake_failed(addr, f))?;
    Ok((Box::new(tls::EndAtEof(stream)), welcome))
}

/// Dial a tracker and start a tarpc client on the stream.
pub async fn connect(
    addr: &str,
    role: &str,
    timeout: Duration,
    security: &Security,
) -> Result<Connected, ConnectError> {
    let (io, welcome) = dial(addr, role, timeout, security).await?;
    let client = TrackerRpcClient::new(tarpc::client::Config::default(), transport(io)).spawn();
    Ok(Connected {
        client,
        welcome,
        addr: addr.to_string(),
    })
}

/// A handshaken connection: its stream, what the peer said about itself
/// and what it may do.
pub struct Accepted {
    pub io: BoxedIo,
    pub hello: Hello,
    pub access: Access,
}

/// Handshake an accepted stream with `security`: TLS when this node serves
/// it, then the handshake and, with a token, the proofs. With
/// `clients_only` (the connection holds a slot kept for `lts`), a peer of
/// another role is refused. Refusals are answered, logged (a counted
/// summary per peer address and kind) and closed; a peer that sends garbage
/// or nothing is dropped after `HANDSHAKE_TIMEOUT`.
pub async fn accept(
    stream: TcpStream,
    peer: SocketAddr,
    node_id: &str,
    security: &Security,
    clients_only: bool,
) -> Option<Accepted> {
    let _ = stream.set_nodelay(true);
    let within = accept_within(stream, peer, node_id, security, clients_only);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, within).await {
        Ok(Ok(accepted)) => Some(accepted),
        Ok(Err(Rejected::Refused(reason))) => {
            let key = format!("{} ({})", peer.ip(), refusal_kind(&reason));
            security.refusals().note(&key, &reason);
            None
        }
        Ok(Err(Rejected::Dropped(reason))) => {
            tracing::debug!(%peer, "dropped connection: {reason}");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "dropped connection: no handshake within {HANDSHAKE_TIMEOUT:?}");
            None
        }
    }
}

/// What a refusal is about, for counting refusals of one kind together.
fn refusal_kind(reason: &str) -> &'static str {
    if reason.contains("too many wrong") {
        "barred"
    } else if reason.contains("wrong cluster token") {
        "wrong token"
    } else if reason.contains("no cluster token") || reason.contains("instead of proving") {
        "no token"
    } else if reason.contains("connection limit") {
        "limit"
    } else if reason.contains("TLS") {
        "tls"
    } else {
        "handshake"
    }
}

async fn accept_within(
    mut stream: TcpStream,
    peer: SocketAddr,
    node_id: &str,
    security: &Security,
    clients_only: bool,
) -> Result<Accepted, Rejected> {
    let mut first = [0u8; 1];
    let speaks_tls = match stream.peek(&mut first).await {
        Ok(0) => return Err(Rejected::Dropped("closed before the handshake".into())),
        Ok(_) => first[0] == tls::TLS_HANDSHAKE_BYTE,
        Err(e) => return Err(Rejected::Dropped(e.to_string())),
    };
    let at = |binding| Accepting {
        node_id,
        security,
        peer: peer.ip(),
        binding,
        clients_only,
    };
    match (security.serve_config(), speaks_tls) {
        (None, false) => {
            let (hello, access) = server_side(&mut stream, &at(&[])).await?;
            Ok(Accepted {
                io: Box::new(stream),
                hello,
                access,
            })
        }
        (None, true) => Err(Rejected::Refused(
            "the peer speaks TLS, but this node serves plain TCP (start it with --tls-cert and --tls-key to serve TLS)"
                .into(),
        )),
        (Some(_), false) => Err(refuse(
            &mut stream,
            node_id,
            "it serves TLS only: dial it with --tls-ca FILE (or LTS_TLS_CA) naming its certificate or CA",
        )
        .await),
        (Some(config), true) => {
            let mut stream = TlsAcceptor::from(config.clone())
                .accept(stream)
                .await
                .map_err(|e| Rejected::Refused(format!("TLS handshake failed: {e}")))?;
            let binding = tls::export_binding(stream.get_ref().1);
            let (hello, access) = server_side(&mut stream, &at(&binding)).await?;
            Ok(Accepted {
                io: Box::new(tls::EndAtEof(stream)),
                hello,
                access,
            })
        }
    }
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
    security: &Security,
    clients_only: bool,
) -> Option<(ServerTransport, Hello, Access)> {
    let accepted = accept(stream, peer, node_id, security, clients_only).await?;
    Some((transport(accepted.io), accepted.hello, accepted.access))
}
