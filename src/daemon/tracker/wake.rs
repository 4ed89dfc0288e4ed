//! Wakeups instead of polling: workers waiting for work wait on their group's
//! `Notify`; callers waiting for a result or log lines wait on `changes`.
//! Waiters must create their `Notified` before they look at the store, so a
//! change between the look and the wait is never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How many group notifiers are kept before idle ones are forgotten.
const MAX_IDLE_GROUPS: usize = 10_000;

#[derive(Default)]
pub struct Wake {
    groups: Mutex<HashMap<String, Arc<Notify>>>,
    /// Something about jobs, runs or logs changed.
    pub changes: Notify,
    /// A run was claimed, so there may be a new lease to watch.
    pub leases: Notify,
    /// A schedule changed, so the next tick may be earlier.
    pub schedule: Notify,
}

impl Wake {
    /// The notifier for workers of `group`.
    pub fn group(&self, group: &str) -> Arc<Notify> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.len() > MAX_IDLE_GROUPS {
            // Forget groups nobody waits on (peers choose the names).
            groups.retain(|_, notify| Arc::strong_count(notify) > 1);
        }
        groups.entry(group.to_string()).or_default().clone()
    }

    /// Wake the workers of each group, and everyone watching changes.
    pub fn work_for<'a>(&self, groups: impl IntoIterator<Item = &'a String>) {
        for group in groups {
            self.group(group).notify_waiters();
        }
        self.changes.notify_waiters();
    }
}
