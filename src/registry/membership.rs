//! A node's registration as a task: register, heartbeat every third of the
//! registry's TTL with the node's busy slots, register again when the
//! registry no longer knows the node (it restarted, or the node expired),
//! and leave on shutdown.

use super::RegistryClient;
use crate::protocol::registry::{Beat, NodeInfo};
use crate::shutdown::Shutdown;
use std::time::Duration;

/// How long leaving may take on shutdown.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keep `node` registered with `registry` until `shutdown`, then leave.
/// `slots_used` is asked before each heartbeat.
pub async fn keep_registered(
    registry: RegistryClient,
    node: NodeInfo,
    slots_used: impl Fn() -> u32,
    shutdown: Shutdown,
) {
    // Until the registry says its TTL, assume the default.
    let mut every = super::DEFAULT_TTL / 3;
    let mut registered = false;
    let mut reported = false;
    loop {
        if !registered {
            // A registry that does not answer must not hold up shutdown.
            let answer = tokio::select! {
                answer = registry.register(node.clone()) => answer,
                _ = shutdown.wait() => break,
            };
            match answer {
                Ok(answer) => {
                    every =
                        (Duration::from_millis(answer.ttl_ms) / 3).max(Duration::from_millis(100));
                    registered = true;
                    reported = false;
                    tracing::info!(registry = %registry.addr(), id = %node.id, address = %answer.address, "registered");
                }
                Err(e) => {
                    if !reported {
                        tracing::warn!("cannot register: {e}; will retry");
                        reported = true;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => break,
        }
        if !registered {
            continue;
        }
        let beat = tokio::select! {
            beat = registry.heartbeat(node.id.clone(), slots_used()) => beat,
            _ = shutdown.wait() => break,
        };
        match beat {
            Ok(Beat::Ok) => {
                if reported {
                    tracing::info!(registry = %registry.addr(), "registry reachable again");
                    reported = false;
                }
            }
            Ok(Beat::Unknown) => {
                tracing::info!(registry = %registry.addr(), "the registry does not know this node (it restarted, or this node expired); registering again");
                registered = false;
            }
            Err(e) => {
                if !reported {
                    tracing::warn!("heartbeat: {e}; will retry");
                    reported = true;
                }
            }
        }
    }
    if registered {
        match tokio::time::timeout(LEAVE_TIMEOUT, registry.leave(node.id.clone())).await {
            Ok(Ok(())) => tracing::info!(registry = %registry.addr(), "left the registry"),
            _ => tracing::debug!("could not leave the registry; it will expire this node"),
        }
    }
}

/// A node's registration running in the background, ended by `leave`.
pub struct Registration {
    leave: crate::shutdown::ShutdownTrigger,
    task: tokio::task::JoinHandle<()>,
}

impl Registration {
    /// Register `node` with the registry at `addr` (dialled with `security`)
    /// and keep it registered until `leave`.
    pub fn start(
        addr: String,
        security: crate::protocol::Security,
        node: NodeInfo,
        slots_used: impl Fn() -> u32 + Send + 'static,
    ) -> Registration {
        let registry = RegistryClient::new(addr, node.role.as_str()).with_security(security);
        let (leave, until) = Shutdown::new();
        let task = tokio::spawn(keep_registered(registry, node, slots_used, until));
        Registration { leave, task }
    }

    /// Leave the registry and wait until that is done (or given up).
    pub async fn leave(self) {
        self.leave.trigger();
        let _ = self.task.await;
    }
}
