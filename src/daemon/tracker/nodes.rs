//! The workers a tracker knows: who they are, where they connect from, how
//! busy they are and when they were last heard from. Workers announce
//! themselves with every pull and heartbeat, so a restarted tracker relearns
//! them within one heartbeat.

use crate::model::{Millis, NodeView, Role};
use crate::protocol::WorkerInfo;
use std::collections::HashMap;
use std::sync::Mutex;

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

#[derive(Default)]
pub struct Nodes {
    workers: Mutex<HashMap<String, WorkerNode>>,
}

impl Nodes {
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
        node.address = address.to_string();
        node.running = running;
        node.last_seen = now;
        if new_connection {
            node.connections += 1;
        }
    }

    /// A connection that named `worker_id` closed.
    pub fn disconnected(&self, worker_id: &str) {
        if let Some(node) = self.lock().get_mut(worker_id) {
            node.connections = node.connections.saturating_sub(1);
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
