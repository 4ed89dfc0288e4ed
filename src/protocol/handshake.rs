//! The first exchange on every connection, before any RPC: the caller says
//! who it is and which protocol it speaks, the server accepts or refuses with
//! a reason. When the server has a cluster token it also sends a challenge:
//! the caller proves the token, the server checks the proof and proves the
//! token back (see `auth`). It is length-prefixed JSON so that a peer of any
//! version (or none) can read a refusal and print it.

use super::auth::{self, Side, Token, Transcript};
use super::security::{Access, Security};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long either side waits for the other's handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

const MAGIC: &str = "lts";
const MAX_FRAME: u32 = 64 * 1024;

/// The role `lts` (and any program on the library's `Client`) says it has.
pub const CLIENT_ROLE: &str = "client";

/// What a server with a token answers a missing or wrong proof.
pub const WRONG_TOKEN: &str = "wrong or missing cluster token";

/// What the connecting side sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub magic: String,
    pub protocol: u32,
    pub role: String,
    pub version: String,
    /// The caller's half of the token challenge.
    #[serde(default)]
    pub nonce: String,
}

/// What the accepting side answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub version: String,
    pub node_id: String,
    /// Set when the connection is refused; the server closes it after.
    pub error: Option<String>,
    /// The server's nonce, when it requires the cluster token: the caller
    /// must answer with its proof.
    #[serde(default)]
    pub challenge: Option<String>,
}

/// The caller's answer to a challenge.
#[derive(Debug, Serialize, Deserialize)]
struct Proof {
    /// `None` when the caller has no token.
    proof: Option<String>,
}

/// The server's verdict on a proof: a refusal, or its own proof.
#[derive(Debug, Serialize, Deserialize)]
struct Verdict {
    error: Option<String>,
    proof: Option<String>,
}

impl Hello {
    pub fn new(role: &str) -> Self {
        Hello {
            magic: MAGIC.into(),
            protocol: super::PROTOCOL_VERSION,
            role: role.into(),
            version: crate::VERSION.into(),
            nonce: auth::nonce(),
        }
    }

    /// Why this hello cannot be accepted, if it cannot.
    pub fn refusal(&self) -> Option<String> {
        if self.magic != MAGIC {
            return Some("not an lts peer".into());
        }
        if self.protocol != super::PROTOCOL_VERSION {
            return Some(format!(
                "protocol mismatch: peer {} speaks protocol {}, this node (lts {}) speaks {}",
                self.version,
                self.protocol,
                crate::VERSION,
                super::PROTOCOL_VERSION
            ));
        }
        None
    }
}

impl Welcome {
    fn new(node_id: &str, error: Option<String>, challenge: Option<String>) -> Self {
        Welcome {
            protocol: super::PROTOCOL_VERSION,
            version: crate::VERSION.into(),
            node_id: node_id.into(),
            error,
            challenge,
        }
    }
}

/// How the caller's side of a handshake failed.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The stream broke or carried something else than a handshake.
    Io(std::io::Error),
    /// The server refused us, or could not prove the token.
    Refused(String),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Io(e)
    }
}

/// The caller's side: say hello as `role`, answer a challenge with a proof of
/// `token`, and check the server's proof. `binding` is the TLS channel
/// binding (empty without TLS).
pub(crate) async fn client_side<S>(
    io: &mut S,
    role: &str,
    token: Option<&Token>,
    binding: &[u8],
) -> Result<Welcome, Failed>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = Hello::new(role);
    write_frame(io, &hello).await?;
    let welcome: Welcome = read_frame(io).await?;
    if let Some(reason) = &welcome.error {
        return Err(Failed::Refused(reason.clone()));
    }
    let Some(server_nonce) = welcome.challenge.clone() else {
        if token.is_some() {
            // Trusting a peer that cannot prove the token would hand our
            // work to anyone who listens on the address.
            return Err(Failed::Refused(
                "it does not ask for the cluster token (started without --token), so it cannot prove it belongs to this cluster".into(),
            ));
        }
        return Ok(welcome);
    };
    let transcript = Transcript {
        client_nonce: &hello.nonce,
        server_nonce: &server_nonce,
        role,
        binding,
    };
    let proof = token.map(|t| auth::prove(t, Side::Client, &transcript));
    write_frame(io, &Proof { proof }).await?;
    let verdict: Verdict = read_frame(io).await?;
    if let Some(reason) = verdict.error {
        return Err(Failed::Refused(match token {
            Some(_) => reason,
            None => format!("{reason} (this node has none: give --token or set LTS_TOKEN)"),
        }));
    }
    match (token, verdict.proof) {
        (Some(t), Some(proof)) if auth::verify(t, Side::Server, &transcript, &proof) => Ok(welcome),
        (None, _) => Err(Failed::Refused(format!(
            "{WRONG_TOKEN} (this node has none: give --token or set LTS_TOKEN)"
        ))),
        (Some(_), _) => Err(Failed::Refused(
            "its proof of the cluster token is wrong: it is not a node of this cluster".into(),
        )),
    }
}

/// How the accepting side of a handshake ended without a connection.
#[derive(Debug)]
pub(crate) enum Rejected {
    /// Refused with a reason the peer was told: worth a warning.
    Refused(String),
    /// Not a handshake, or the peer went away: worth a debug line.
    Dropped(String),
}

/// What the accepting side of a handshake knows besides the stream.
pub(crate) struct Accepting<'a> {
    pub node_id: &'a str,
    pub security: &'a Security,
    pub peer: IpAddr,
    /// TLS channel binding (empty without TLS).
    pub binding: &'a [u8],
    /// The connection holds a slot kept for `lts` clients: refuse others.
    pub clients_only: bool,
}

/// What a node at its connection limit tells a peer that is not `lts`.
pub const AT_LIMIT: &str =
    "this node is at its connection limit (--max-connections); its last slots are kept for lts";

/// The accepting side: read the hello, refuse it or welcome it; with a
/// token, challenge the caller, check its proof (the cluster token, or the
/// read-only token) and prove the same token back. A peer address that
/// failed too often lately is refused before its proof is checked.
pub(crate) async fn server_side<S>(
    io: &mut S,
    at: &Accepting<'_>,
) -> Result<(Hello, Access), Rejected>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let node_id = at.node_id;
    let dropped = |e: std::io::Error| Rejected::Dropped(e.to_string());
    let hello: Hello = read_frame(io).await.map_err(dropped)?;
    let refusal = hello
        .refusal()
        .or_else(|| (at.clients_only && hello.role != CLIENT_ROLE).then(|| AT_LIMIT.to_string()));
    if let Some(reason) = refusal {
        let _ = write_frame(io, &Welcome::new(node_id, Some(reason.clone()), None)).await;
        return Err(Rejected::Refused(reason));
    }
    let Some(token) = at.security.token() else {
        write_frame(io, &Welcome::new(node_id, None, None))
            .await
            .map_err(dropped)?;
        return Ok((hello, Access::Full));
    };
    let server_nonce = auth::nonce();
    write_frame(io, &Welcome::new(node_id, None, Some(server_nonce.clone())))
        .await
        .map_err(dropped)?;
    let who = shown_role(&hello.role);
    let answer: Proof = read_frame(io).await.map_err(|e| {
        Rejected::Refused(format!(
            "{who} hung up instead of proving the cluster token ({e})"
        ))
    })?;
    let transcript = Transcript {
        client_nonce: &hello.nonce,
        server_nonce: &server_nonce,
        role: &hello.role,
        binding: at.binding,
    };
    let guard = at.security.guard();
    let now = std::time::Instant::now();
    let checked = match (&answer.proof, guard.barred(at.peer, now)) {
        (_, Some(wait)) => Err((
            format!("too many wrong cluster tokens from {}: try again in {}s", at.peer, wait.as_secs() + 1),
            format!("{who} was refused unchecked: too many wrong cluster tokens from its address lately"),
        )),
        (None, None) => Err((WRONG_TOKEN.to_string(), format!("{who} presented no cluster token"))),
        (Some(proof), None) => {
            if auth::verify(token, Side::Client, &transcript, proof) {
                Ok((Access::Full, token))
            } else {
                match at.security.read_token() {
                    Some(read) if auth::verify(read, Side::Client, &transcript, proof) => {
                        Ok((Access::Read, read))
                    }
                    _ => {
                        guard.failed(at.peer, now);
                        Err((WRONG_TOKEN.to_string(), format!("{who} presented a wrong cluster token")))
                    }
                }
            }
        }
    };
    let (access, proven) = match checked {
        Ok(found) => found,
        Err((told, reason)) => {
            let verdict = Verdict {
                error: Some(told),
                proof: None,
            };
            let _ = write_frame(io, &verdict).await;
            return Err(Rejected::Refused(reason));
        }
    };
    guard.succeeded(at.peer);
    let verdict = Verdict {
        error: None,
        proof: Some(auth::prove(proven, Side::Server, &transcript)),
    };
    write_frame(io, &verdict).await.map_err(dropped)?;
    Ok((hello, access))
}

/// The role a peer claims, fit for a log line: a short plain word, or "a peer".
fn shown_role(role: &str) -> &str {
    let plain = !role.is_empty()
        && role.len() <= 32
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        role
    } else {
        "a peer"
    }
}

/// Read a hello and refuse it with `reason`, whatever it says: for a peer
/// that speaks the handshake but may not be served (plain TCP to a TLS node).
pub(crate) async fn refuse<S>(io: &mut S, node_id: &str, reason: &str) -> Rejected
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = read_frame::<_, Hello>(io).await {
        return Rejected::Dropped(e.to_string());
    }
    let _ = write_frame(io, &Welcome::new(node_id, Some(reason.into()), None)).await;
    Rejected::Refused(reason.into())
}

pub(crate) async fn write_frame<W, T>(io: &mut W, value: &T) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    io.write_u32(body.len() as u32).await?;
    io.write_all(&body).await?;
    io.flush().await
}

pub(crate) async fn read_frame<R, T>(io: &mut R) -> std::io::Result<T>
where
    R: AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let len = io.read_u32().await?;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an lts peer (handshake frame too large)",
        ));
    }
    // Grown as bytes arrive, not reserved as announced.
    let mut body = Vec::new();
    (&mut *io)
        .take(u64::from(len))
        .read_to_end(&mut body)
        .await?;
    if body.len() != len as usize {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    serde_json::from_slice(&body).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an lts peer (malformed handshake)",
        )
    })
}
