//! The registry's wire protocol: its tarpc service (`RegistryRpc`), what a
//! node says about itself when it registers, and the registry's typed errors.
//! Connections start with the same handshake as the tracker's
//! (`super::dial`/`super::accept`).

use super::transport::{dial, transport, ConnectError, Transport};
use super::{Security, Welcome};
use crate::model::{GroupMaster, Millis, NodeEvent, NodeView, Role};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// A node introducing itself to the registry. The id is stable for the
/// life of the node's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    pub role: Role,
    pub group: String,
    /// Where the node serves (a tracker's listen address). Empty for nodes
    /// that do not listen (workers): the registry records the address their
    /// connection comes from. An unspecified IP (`0.0.0.0:7420`) is replaced
    /// by the IP the registry sees.
    pub address: String,
    pub version: String,
    /// How many runs the node takes at once (0 for trackers).
    pub slots: u32,
    pub started_at: Millis,
}

/// The registry's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// A node not heard from within this long is taken for gone; heartbeat
    /// well within it (every third of it).
    pub ttl_ms: u64,
    /// The address the registry recorded for the node.
    pub address: String,
}

/// The registry's answer to a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Beat {
    Ok,
    /// The registry does not know the node (it expired, or the registry lost
    /// its state): register again.
    Unknown,
}

/// Every live node, the masters and the position of the event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Members {
    /// Live nodes and recently gone ones (`state` `down`), sorted by role,
    /// group, then age (oldest first), with the registry itself first.
    pub nodes: Vec<NodeView>,
    /// Every (role, group) the registry has seen, with its master and epoch.
    pub groups: Vec<GroupMaster>,
    /// The last event's sequence number: watch after it to follow changes.
    pub seq: u64,
}

/// Events after a cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<NodeEvent>,
    /// The last event's sequence number now: the cursor for the next watch.
    pub last_seq: u64,
    /// The cursor was not in the registry's history (too old, or from before
    /// the registry lost its state): events were missed; list again.
    pub reset: bool,
}

/// Why the registry refused a call.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum RegistryError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("the registry holds its maximum of {0} nodes")]
    Full(usize),
    #[error("the registry is shutting down")]
    ShuttingDown,
}

/// The registry's service.
#[tarpc::service]
pub trait RegistryRpc {
    /// Join (or join again); idempotent for the same node id.
    async fn register(node: NodeInfo) -> Result<Registered, RegistryError>;
    /// Say the node is alive and how many of its slots are busy.
    async fn heartbeat(id: String, slots_used: u32) -> Result<Beat, RegistryError>;
    /// Leave now rather than after the TTL.
    async fn leave(id: String) -> Result<(), RegistryError>;
    async fn list() -> Result<Members, RegistryError>;
    /// Events after `after_seq`, waiting up to `wait_ms` for one when there
    /// are none (long poll).
    async fn watch(after_seq: u64, wait_ms: u64) -> Result<EventPage, RegistryError>;
}

/// The registry's side of one connection.
pub type RegistryServerTransport =
    Transport<tarpc::ClientMessage<RegistryRpcRequest>, tarpc::Response<RegistryRpcResponse>>;

/// Dial a registry and start a tarpc client on the stream.
pub async fn connect_registry(
    addr: &str,
    role: &str,
    timeout: Duration,
    security: &Security,
) -> Result<(RegistryRpcClient, Welcome), ConnectError> {
    let (io, welcome) = dial(addr, role, timeout, security).await?;
    let client = RegistryRpcClient::new(tarpc::client::Config::default(), transport(io)).spawn();
    Ok((client, welcome))
}
