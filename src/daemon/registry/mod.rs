//! The registry role: nodes register with their role, group, address,
//! version, slots and start time, heartbeat, and expire after a TTL; the
//! oldest live member of each (role, group) is its master, with an epoch
//! that grows at every change; `list` and a long-polled `watch` of join,
//! leave and master events serve everyone else.
//!
//! `members` holds the rules (pure state), `service` the RPC handlers,
//! `persist` the state file that carries membership, masters, epochs and the
//! event counter across restarts. Events reach watchers only once saved, so
//! a restarted registry never hands out an epoch or a sequence number twice.

pub(crate) mod members;
mod persist;
mod service;

pub use members::{Members, Snapshot};
pub use persist::{PersistError, StateFile, STATE_FILE};

use crate::daemon::accept::{ConnLimits, Gate};
use crate::daemon::Shutdown;
use crate::model::{now_ms, NodeEvent, NodeEventKind};
use crate::protocol::Security;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// Membership as loaded from a data dir, ready to serve.
pub struct Loaded {
    members: Members,
    file: StateFile,
    /// The last event the file holds: later ones (restoring may elect) are
    /// shown only once saved.
    saved_seq: u64,
}

impl Loaded {
    /// Load the state saved in `data_dir`, or start empty.
    pub fn open(data_dir: &Path, ttl: Duration) -> Result<Loaded, PersistError> {
        let file = StateFile::new(data_dir);
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let mut saved_seq = 0;
        let members = match file.load()? {
            Some(snapshot) => {
                saved_seq = snapshot.last_seq;
                let members = Members::restore(snapshot, ttl_ms, now_ms());
                tracing::info!(
                    nodes = members.snapshot().nodes.len(),
                    "registry state restored; nodes have one TTL to heartbeat again"
                );
                members
            }
            None => Members::new(ttl_ms),
        };
        Ok(Loaded {
            members,
            file,
            saved_seq,
        })
    }
}

/// Everything the handlers share.
pub(crate) struct Registry {
    members: Mutex<Members>,
    /// Membership changed: the saver has something to write.
    dirty: Notify,
    /// The last event saved, so watchers may see it.
    published: watch::Sender<u64>,
    /// A registration may now expire before the expiry timer's deadline.
    expiry: Notify,
    id: String,
    address: String,
    /// The cluster token and TLS every connection is accepted with.
    security: Security,
    /// How long a connection may stay without a request in flight.
    idle: Duration,
    shutdown: Shutdown,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change membership with `f`; log what changed and have it saved.
    fn apply<T>(&self, f: impl FnOnce(&mut Members) -> T) -> T {
        let mut members = self.lock();
        let before = members.last_seq();
        let out = f(&mut members);
        if members.last_seq() != before {
            for event in members.events_after(before, usize::MAX).events {
                log_event(&event);
            }
            self.dirty.notify_one();
        }
        out
    }
}

fn log_event(e: &NodeEvent) {
    let id = e.node.as_ref().map_or("-", |n| n.id.as_str());
    match e.kind {
        NodeEventKind::Join => {
            tracing::info!(role = %e.role, group = %e.group, node = %id, "node joined")
        }
        NodeEventKind::Leave => {
            tracing::info!(role = %e.role, group = %e.group, node = %id, reason = e.reason.as_deref().unwrap_or(""), "node left")
        }
        NodeEventKind::Master => {
            tracing::info!(role = %e.role, group = %e.group, master = %id, epoch = e.epoch.unwrap_or(0), "new master")
        }
    }
}

/// Serve the registry on `listener` until `shutdown`.
pub async fn run(
    listener: TcpListener,
    loaded: Loaded,
    security: Security,
    limits: ConnLimits,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let address = listener.local_addr()?.to_string();
    let seq = loaded.saved_seq;
    let ttl_ms = loaded.members.ttl_ms();
    let registry = Arc::new(Registry {
        members: Mutex::new(loaded.members),
        dirty: Notify::new(),
        published: watch::channel(seq).0,
        expiry: Notify::new(),
        id: format!("registry@{address}"),
        address: address.clone(),
        security,
        idle: limits.idle,
        shutdown: shutdown.clone(),
    });
    let gate = Gate::new(limits);
    // Restoring may itself have changed masters.
    registry.dirty.notify_one();
    tracing::info!(%address, ttl_ms, "registry listening");
    let saver = tokio::spawn(save_changes(registry.clone(), loaded.file));
    let expirer = tokio::spawn(expire(registry.clone()));
    crate::daemon::accept_until(&listener, &shutdown, &gate, |stream, peer, slot| {
        service::serve(registry.clone(), stream, peer, slot)
    })
    .await;
    drop(listener);
    tracing::info!("registry stopping");
    let _ = expirer.await;
    let _ = saver.await;
    tracing::info!("registry stopped");
    Ok(())
}

/// Save membership whenever it changed, then let watchers see the new
/// events. Changes that arrive during a save go out in the next one.
async fn save_changes(r: Arc<Registry>, file: StateFile) {
    let mut failing = false;
    loop {
        let wakeup = r.dirty.notified();
        tokio::pin!(wakeup);
        wakeup.as_mut().enable();
        let (snapshot, seq) = {
            let members = r.lock();
            (members.snapshot(), members.last_seq())
        };
        if seq != *r.published.borrow() || r.shutdown.is_triggered() {
            let file = file.clone();
            match tokio::task::spawn_blocking(move || file.save(&snapshot)).await {
                Ok(Ok(())) => {
                    if failing {
                        tracing::info!("registry state saved again");
                        failing = false;
                    }
                }
                // Availability first: the change is shown even if unsaved.
                Ok(Err(e)) => {
                    if !failing {
                        tracing::error!("{e}");
                        failing = true;
                    }
                }
                Err(e) => tracing::error!("saving the registry state: {e}"),
            }
            r.published.send_replace(seq);
        }
        if r.shutdown.is_triggered() {
            return;
        }
        tokio::select! {
            _ = &mut wakeup => {}
            _ = r.shutdown.wait() => {}
        }
    }
}

/// Sleep until the earliest registration runs out, then drop what expired.
async fn expire(r: Arc<Registry>) {
    loop {
        let wakeup = r.expiry.notified();
        tokio::pin!(wakeup);
        wakeup.as_mut().enable();
        let next = r.lock().next_expiry();
        // A clock that jumps is caught within a minute.
        let sleep = next.map(|at| Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64));
        tokio::select! {
            _ = tokio::time::sleep(sleep.unwrap_or_default()), if sleep.is_some() => {}
            _ = &mut wakeup => {}
            _ = r.shutdown.wait() => return,
        }
        r.apply(|m| m.expire(now_ms()));
    }
}
