//! The first exchange on every connection, before any RPC: the caller says
//! who it is and which protocol it speaks, the server accepts or refuses with
//! a reason. It is length-prefixed JSON so that a peer of any version (or
//! none) can read a refusal and print it.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long either side waits for the other's handshake frame.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

const MAGIC: &str = "lts";
const MAX_FRAME: u32 = 64 * 1024;

/// What the connecting side sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub magic: String,
    pub protocol: u32,
    pub role: String,
    pub version: String,
}

/// What the accepting side answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub version: String,
    pub node_id: String,
    /// Set when the connection is refused; the server closes it after.
    pub error: Option<String>,
}

impl Hello {
    pub fn new(role: &str) -> Self {
        Hello {
            magic: MAGIC.into(),
            protocol: super::PROTOCOL_VERSION,
            role: role.into(),
            version: crate::VERSION.into(),
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
    let mut body = vec![0; len as usize];
    io.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an lts peer (malformed handshake)",
        )
    })
}
