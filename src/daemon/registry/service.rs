//! The registry's RPC handlers: one short method per request over
//! `members`. `watch` is a long poll on the saved-event counter, never a
//! timer loop.

use super::Registry;
use crate::daemon::accept::{serve_requests, Slot};
use crate::model::{now_ms, valid_name, NodeView, Role};
use crate::protocol::registry::{
    Beat, EventPage, Members, NodeInfo, Registered, RegistryError, RegistryRpc,
};
use crate::protocol::{accept, transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::net::TcpStream;

/// The longest a watch waits before answering.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Events per watch answer.
const EVENT_PAGE: usize = 1_000;

/// One connection's view of the registry.
#[derive(Clone)]
struct Conn {
    r: Arc<Registry>,
    peer: SocketAddr,
}

/// Handshake and serve one connection until it closes.
pub(super) async fn serve(r: Arc<Registry>, stream: TcpStream, peer: SocketAddr, slot: Slot) {
    let Some(accepted) = accept(stream, peer, &r.id, &r.security, slot.clients_only).await else {
        return;
    };
    tracing::debug!(%peer, role = %accepted.hello.role, "connected");
    let idle = r.idle;
    let conn = Conn { r, peer };
    let requests = BaseChannel::with_defaults(transport(accepted.io)).execute(conn.serve());
    serve_requests(requests, idle, peer).await;
    drop(slot);
}

/// Check what a peer says about itself.
fn check(node: &NodeInfo) -> Result<(), RegistryError> {
    let bad = |what: String| Err(RegistryError::InvalidInput(what));
    if node.id.is_empty() || node.id.len() > 200 || node.id.chars().any(char::is_control) {
        return bad("a node id is 1-200 printable characters".into());
    }
    if !valid_name(&node.group, 64) {
        return bad(format!(
            "'{}' is not a valid group",
            crate::model::cut(&node.group, 80)
        ));
    }
    if node.role == Role::Registry {
        return bad("a registry does not register with a registry".into());
    }
    if node.address.len() > 300 || node.version.len() > 64 {
        return bad("address or version too long".into());
    }
    Ok(())
}

impl Conn {
    /// Where others reach `node`: what it says, with an unspecified IP
    /// replaced by the one its connection comes from, or that address itself.
    fn address_of(&self, node: &NodeInfo) -> String {
        if node.address.is_empty() {
            return self.peer.to_string();
        }
        match node.address.parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_unspecified() => {
                SocketAddr::new(self.peer.ip(), addr.port()).to_string()
            }
            _ => node.address.clone(),
        }
    }

    fn view_of_self(&self) -> NodeView {
        NodeView {
            id: self.r.id.clone(),
            role: Role::Registry,
            group: "registry".into(),
            address: self.r.address.clone(),
            state: "up".into(),
            master: true,
            slots_used: 0,
            slots_free: 0,
            version: crate::VERSION.into(),
            last_seen: now_ms(),
        }
    }
}

impl RegistryRpc for Conn {
    async fn register(self, _: Context, node: NodeInfo) -> Result<Registered, RegistryError> {
        if self.r.shutdown.is_triggered() {
            return Err(RegistryError::ShuttingDown);
        }
        check(&node)?;
        let address = self.address_of(&node);
        let ttl_ms = self.r.apply(|m| {
            m.register(node, address.clone(), now_ms())
                .map(|()| m.ttl_ms())
        })?;
        self.r.expiry.notify_one();
        Ok(Registered { ttl_ms, address })
    }

    async fn heartbeat(
        self,
        _: Context,
        id: String,
        slots_used: u32,
    ) -> Result<Beat, RegistryError> {
        Ok(self.r.lock().heartbeat(&id, slots_used, now_ms()))
    }

    async fn leave(self, _: Context, id: String) -> Result<(), RegistryError> {
        self.r.apply(|m| m.leave(&id, now_ms()));
        Ok(())
    }

    async fn list(self, _: Context) -> Result<Members, RegistryError> {
        let mut nodes = vec![self.view_of_self()];
        let members = self.r.lock();
        nodes.extend(members.nodes(now_ms()));
        Ok(Members {
            nodes,
            groups: members.groups(),
            seq: *self.r.published.borrow(),
        })
    }

    async fn watch(
        self,
        _: Context,
        after_seq: u64,
        wait_ms: u64,
    ) -> Result<EventPage, RegistryError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms).min(MAX_WAIT);
        let mut saved = self.r.published.subscribe();
        loop {
            let published = *saved.borrow_and_update();
            let mut page = self.r.lock().events_after(after_seq, EVENT_PAGE);
            // Only saved events: a restart must not take back what was shown.
            page.events.retain(|e| e.seq <= published);
            page.last_seq = published;
            if !page.events.is_empty() || page.reset || wait_ms == 0 {
                return Ok(page);
            }
            tokio::select! {
                changed = saved.changed() => if changed.is_err() { return Ok(page) },
                _ = tokio::time::sleep_until(deadline) => return Ok(page),
                _ = self.r.shutdown.wait() => return Ok(page),
            }
        }
    }
}
