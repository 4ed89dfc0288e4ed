//! Talking to a registry from Rust: `RegistryClient` (one async method per
//! registry call, reconnecting when the connection breaks), `keep_registered`
//! (a node's registration and heartbeats, as a task), `trackers` (discovery:
//! the live trackers, master first) and `MasterWatch` (LTS's master
//! listener: the master of a (role, group) and each change of it).

mod masters;
mod membership;

pub use masters::{MasterChange, MasterWatch};
pub use membership::{keep_registered, Registration};

use crate::model::{NodeView, Role};
use crate::protocol::registry::{
    connect_registry, Beat, EventPage, Members, NodeInfo, Registered, RegistryError,
    RegistryRpcClient,
};
use crate::protocol::{context, CONNECT_TIMEOUT};
use crate::protocol::{ConnectError, Security};
use std::future::Future;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// The registration TTL a registry keeps unless told otherwise (`ltsd
/// registry --ttl`); a node heartbeats every third of it until the registry
/// says its own.
pub const DEFAULT_TTL: Duration = Duration::from_secs(6);

/// Why a registry call got no answer, or what the registry said.
#[derive(Debug, Error)]
pub enum RegistryClientError {
    #[error("cannot reach the registry at {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("the registry at {addr} refused the connection: {reason}")]
    Refused { addr: String, reason: String },
    #[error("lost the connection to the registry at {addr}: {reason}")]
    Transport { addr: String, reason: String },
    #[error("registry at {addr}: {source}")]
    Registry { addr: String, source: RegistryError },
}

impl RegistryClientError {
    /// Whether trying again later may help (the registry is away), as
    /// opposed to a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            RegistryClientError::Unreachable { .. }
                | RegistryClientError::Transport { .. }
                | RegistryClientError::Registry {
                    source: RegistryError::ShuttingDown,
                    ..
                }
        )
    }
}

/// How long a plain call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one registry, made on first use and again after it breaks.
pub struct RegistryClient {
    addr: String,
    role: &'static str,
    security: Security,
    current: Mutex<Option<RegistryRpcClient>>,
    /// When the connection was last used (see `protocol::REDIAL_AFTER`).
    used: std::sync::Mutex<std::time::Instant>,
}

impl RegistryClient {
    /// A client of the registry at `addr`, saying `role` in the handshake.
    pub fn new(addr: impl Into<String>, role: &'static str) -> Self {
        RegistryClient {
            addr: addr.into(),
            role,
            security: Security::none(),
            current: Mutex::new(None),
            used: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Connect with `security`: the cluster token to prove, and TLS to dial.
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// As `with_security`, in place.
    pub fn set_security(&mut self, security: Security) {
        self.security = security;
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Note a use of the connection now; how long it was unused before.
    fn touch(&self) -> Duration {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let idle = used.elapsed();
        *used = std::time::Instant::now();
        idle
    }

    async fn rpc(&self) -> Result<RegistryRpcClient, RegistryClientError> {
        let mut current = self.current.lock().await;
        if self.touch() > crate::protocol::REDIAL_AFTER {
            *current = None;
        }
        if let Some(rpc) = current.as_ref() {
            return Ok(rpc.clone());
        }
        match connect_registry(&self.addr, self.role, CONNECT_TIMEOUT, &self.security).await {
            Ok((rpc, _)) => {
                *current = Some(rpc.clone());
                Ok(rpc)
            }
            Err(ConnectError::Refused { reason, .. }) => Err(RegistryClientError::Refused {
                addr: self.addr.clone(),
                reason,
            }),
            Err(ConnectError::Unreachable { source, .. }) => {
                Err(RegistryClientError::Unreachable {
                    addr: self.addr.clone(),
                    reason: source.to_string(),
                })
            }
        }
    }

    async fn call<T, F, Fut>(&self, timeout: Duration, f: F) -> Result<T, RegistryClientError>
    where
        F: FnOnce(RegistryRpcClient, tarpc::context::Context) -> Fut,
        Fut: Future<Output = Result<Result<T, RegistryError>, tarpc::client::RpcError>>,
    {
        let rpc = self.rpc().await?;
        let answer = f(rpc, context(timeout)).await;
        self.touch();
        match answer {
            Ok(answer) => answer.map_err(|source| RegistryClientError::Registry {
                addr: self.addr.clone(),
                source,
            }),
            Err(e) => {
                *self.current.lock().await = None;
                Err(RegistryClientError::Transport {
                    addr: self.addr.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Join (or join again) as `node`.
    pub async fn register(&self, node: NodeInfo) -> Result<Registered, RegistryClientError> {
        self.call(
            CALL_TIMEOUT,
            |c, ctx| async move { c.register(ctx, node).await },
        )
        .await
    }

    /// Say node `id` is alive with `slots_used` busy slots.
    pub async fn heartbeat(
        &self,
        id: String,
        slots_used: u32,
    ) -> Result<Beat, RegistryClientError> {
        self.call(CALL_TIMEOUT, |c, ctx| async move {
            c.heartbeat(ctx, id, slots_used).await
        })
        .await
    }

    /// Leave now rather than after the TTL.
    pub async fn leave(&self, id: String) -> Result<(), RegistryClientError> {
        self.call(CALL_TIMEOUT, |c, ctx| async move { c.leave(ctx, id).await })
            .await
    }

    /// Every node, the masters, and the event cursor.
    pub async fn list(&self) -> Result<Members, RegistryClientError> {
        self.call(CALL_TIMEOUT, |c, ctx| async move { c.list(ctx).await })
            .await
    }

    /// Events after `after_seq`, waiting up to `wait` for one.
    pub async fn watch(
        &self,
        after_seq: u64,
        wait: Duration,
    ) -> Result<EventPage, RegistryClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + CALL_TIMEOUT, |c, ctx| async move {
            c.watch(ctx, after_seq, wait_ms).await
        })
        .await
    }
}

/// The addresses of the live trackers a registry lists, the master of their
/// group first, then the others oldest first (the registry's order).
pub async fn trackers(registry: &RegistryClient) -> Result<Vec<String>, RegistryClientError> {
    Ok(tracker_addrs(&registry.list().await?.nodes))
}

fn tracker_addrs(nodes: &[NodeView]) -> Vec<String> {
    let mut trackers: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.role == Role::Tracker && n.state == "up")
        .collect();
    trackers.sort_by_key(|n| !n.master);
    trackers.into_iter().map(|n| n.address.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: Role, state: &str, master: bool) -> NodeView {
        NodeView {
            id: id.into(),
            role,
            group: "tracker".into(),
            address: format!("{id}:1"),
            state: state.into(),
            master,
            slots_used: 0,
            slots_free: 0,
            version: "0".into(),
            last_seen: 0,
        }
    }

    #[test]
    fn discovery_puts_the_master_tracker_first_and_skips_the_rest() {
        let nodes = [
            node("old-down", Role::Tracker, "down", false),
            node("second", Role::Tracker, "up", false),
            node("master", Role::Tracker, "up", true),
            node("worker", Role::Worker, "up", true),
            node("third", Role::Tracker, "up", false),
        ];
        assert_eq!(
            tracker_addrs(&nodes),
            ["master:1", "second:1", "third:1"].map(String::from)
        );
    }
}
