//! The workers a tracker knows: who they are, where they connect from, how
//! busy they are and when they were last heard from. Workers announce
//! themselves with every pull and heartbeat, so a restarted tracker relearns
//! them within one heartbeat. Joins, leaves and master changes are kept as
//! numbered events in the registry's own membership state
//! (`daemon::registry::members`), so `lts nodes --watch` against a tracker
//! without a registry answers what a registry answers.

use crate::daemon::registry::members::Members;
use crate::model::{Millis, NodeView, Role};
use crate::protocol::registry::{EventPage, NodeInfo};
use crate::protocol::WorkerInfo;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// How many workers are remembered before quiet ones are forgotten early.
const MAX_KNOWN_WORKERS: usize = 10_000;

/// How long a worker that has gone quiet stays listed as `down`.
const FORGET_AFTER_MS: i64 = 300_000;

struct WorkerNode {
    info: WorkerInfo,
    address: String,
    running: u32,
    last_seen: Millis,
    connections: u32,
}

pub struct Nodes {
    workers: Mutex<HashMap<String, WorkerNode>>,
    /// Membership as a registry keeps it: events for `watch`.
    members: Mutex<Members>,
    /// Notified whenever an event is added.
    pub events: Notify,
}

/// Where a worker is shown to be: its HTTP address when it serves one, else
/// the host its connection comes from (its port is an ephemeral one).
fn shown_address(info: &WorkerInfo, peer: &str) -> String {
    if let Some(http) = info.http.as_ref().filter(|h| !h.is_empty()) {
        return http.clone();
    }
    match peer.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => peer.to_string(),
    }
}

impl Nodes {
    /// Workers not heard from within `lease_ms` leave the membership.
    pub fn new(lease_ms: u64) -> Self {
        Nodes {
            workers: Mutex::new(HashMap::new()),
            members: Mutex::new(Members::new(lease_ms)),
            events: Notify::new(),
        }
    }

    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply a membership change; wake watchers when it added events.
    fn change(&self, f: impl FnOnce(&mut Members)) {
        let mut members = self.members();
        let before = members.last_seq();
        f(&mut members);
        if members.last_seq() != before {
            self.events.notify_waiters();
        }
    }

    /// Membership events after `after` (`None`: the last one's number and
    /// no event), expiring quiet workers first.
    pub fn events_after(&self, after: Option<u64>, now: Millis, limit: usize) -> EventPage {
        self.change(|m| {
            m.expire(now);
        });
        let members = self.members();
        members.events_after(after.unwrap_or(members.last_seq()), limit)
    }

    /// When the next worker's membership runs out, if any is held.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.members().next_expiry()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WorkerNode>> {
        self.workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Record that a worker spoke, over a connection from `address`.
    /// Returns true the first time this connection names the worker.
    pub fn seen(
        &self,
        info: &WorkerInfo,
        address: &str,
        running: u32,
        now: Millis,
        new_connection: bool,
    ) {
        let mut workers = self.lock();
        if workers.len() > MAX_KNOWN_WORKERS {
            // Peers choose worker ids: forget the quiet ones early.
            workers.retain(|_, n| n.connections > 0 || now - n.last_seen < FORGET_AFTER_MS);
        }
        let node = workers
            .entry(info.id.clone())
            .or_insert_with(|| WorkerNode {
                info: info.clone(),
                address: address.to_string(),
                running,
                last_seen: now,
                connections: 0,
            });
        node.info = info.clone();
        node.address = shown_address(info, address);
        node.running = running;
        node.last_seen = now;
        if new_connection {
            node.connections += 1;
        }
        let shown = node.address.clone();
        drop(workers);
        self.change(|m| {
            let known = m.heartbeat(&info.id, running, now) == crate::protocol::registry::Beat::Ok;
            if !known || new_connection {
                let node = NodeInfo {
                    id: info.id.clone(),
                    role: Role::Worker,
                    group: info.group.clone(),
                    address: shown,
                    version: info.version.clone(),
                    slots: info.threads,
                    started_at: info.started_at,
                };
                // Refused only past the registry's node cap: the list stands.
                let _ = m.register(node.clone(), node.address, now);
                m.heartbeat(&info.id, running, now);
            }
        });
    }

    /// A connection that named `worker_id` closed.
    pub fn disconnected(&self, worker_id: &str) {
        let gone = match self.lock().get_mut(worker_id) {
            Some(node) => {
                node.connections = node.connections.saturating_sub(1);
                node.connections == 0
            }
            None => false,
        };
        if gone {
            let now = crate::model::now_ms();
            self.change(|m| {
                m.leave(worker_id, now);
            });
        }
    }

    fn is_up(node: &WorkerNode, now: Millis, lease_ms: u64) -> bool {
        node.connections > 0 || now - node.last_seen <= lease_ms as i64
    }

    /// Whether any worker of `group` is up.
    pub fn has_live_worker(&self, group: &str, now: Millis, lease_ms: u64) -> bool {
        self.lock()
            .values()
            .any(|n| n.info.group == group && Self::is_up(n, now, lease_ms))
    }

    /// Whether `worker` spoke (a pull, a heartbeat) within `quiet_ms`. A
    /// worker heartbeats every `HEARTBEAT_EVERY` whether it runs anything or
    /// not, so one quiet for longer has stopped, even while a long poll it
    /// sent before it stopped is still parked here.
    pub fn heard_from(&self, worker: &str, now: Millis, quiet_ms: i64) -> bool {
        self.lock()
            .get(worker)
            .is_some_and(|n| now - n.last_seen <= quiet_ms)
    }

    /// The ids of `group`'s live workers, sorted.
    pub fn live_workers(&self, group: &str, now: Millis, lease_ms: u64) -> Vec<String> {
        let mut live: Vec<String> = self
            .lock()
            .values()
            .filter(|n| n.info.group == group && Self::is_up(n, now, lease_ms))
            .map(|n| n.info.id.clone())
            .collect();
        live.sort();
        live
    }

    /// Every known worker, forgetting those gone quiet for long. The master
    /// of a group is its oldest live worker (LTS's rule).
    pub fn list(&self, now: Millis, lease_ms: u64) -> Vec<NodeView> {
        let mut workers = self.lock();
        workers.retain(|_, n| Self::is_up(n, now, lease_ms) || now - n.last_seen < FORGET_AFTER_MS);
        let mut masters: HashMap<&str, (Millis, &str)> = HashMap::new();
        for n in workers.values().filter(|n| Self::is_up(n, now, lease_ms)) {
            let candidate = (n.info.started_at, n.info.id.as_str());
            masters
                .entry(n.info.group.as_str())
                .and_modify(|m| *m = (*m).min(candidate))
                .or_insert(candidate);
        }
        let mut out: Vec<NodeView> = workers
            .values()
            .map(|n| {
                let up = Self::is_up(n, now, lease_ms);
                NodeView {
                    id: n.info.id.clone(),
                    role: Role::Worker,
                    group: n.info.group.clone(),
                    address: n.address.clone(),
                    state: if up { "up" } else { "down" }.into(),
                    master: up
                        && masters.get(n.info.group.as_str()).map(|m| m.1)
                            == Some(n.info.id.as_str()),
                    slots_used: n.running.min(n.info.threads),
                    slots_free: n.info.threads.saturating_sub(n.running),
                    version: n.info.version.clone(),
                    last_seen: n.last_seen,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.group, &a.id).cmp(&(&b.group, &b.id)));
        out
    }
}
