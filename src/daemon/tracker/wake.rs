//! Wakeups instead of polling: workers waiting for work wait on their group's
//! `Notify`; callers waiting for a result or log lines wait on `changes`.
//! Waiters must create their `Notified` before they look at the store, so a
//! change between the look and the wait is never missed.
//!
//! Trackers sharing one store (PostgreSQL) must hear of each other's
//! changes too: every wakeup is also handed to `peers` (when set) as a
//! `Signal`, which `peers` broadcasts; what arrives from the others is
//! applied with `apply`, which wakes only this tracker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, Notify};

/// How many group notifiers are kept before idle ones are forgotten.
const MAX_IDLE_GROUPS: usize = 10_000;

/// One wakeup, as it crosses between trackers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// `group` has work to dispatch (jobs, runs or logs changed too).
    Work(String),
    /// Something about jobs, runs or logs changed.
    Changed,
    /// A schedule changed: the leader's next tick may be earlier.
    Schedule,
    /// A run was claimed: the leader may have a new lease to watch.
    Lease,
    /// Alerts or their rules changed: deliveries may be due, followers
    /// of `lts alerts --follow` have news.
    Alerts,
}

impl Signal {
    /// The payload that carries it. Group names never start with `*`.
    pub fn payload(&self) -> String {
        match self {
            Signal::Work(group) => group.clone(),
            Signal::Changed => "*changed".into(),
            Signal::Schedule => "*schedule".into(),
            Signal::Lease => "*lease".into(),
            Signal::Alerts => "*alerts".into(),
        }
    }

    pub fn from_payload(payload: &str) -> Signal {
        match payload {
            "*changed" => Signal::Changed,
            "*schedule" => Signal::Schedule,
            "*lease" => Signal::Lease,
            "*alerts" => Signal::Alerts,
            group => Signal::Work(group.to_string()),
        }
    }
}

#[derive(Default)]
pub struct Wake {
    groups: Mutex<HashMap<String, Arc<Notify>>>,
    /// Followers of one run's log (`lts logs --follow`, the console's live
    /// tail), by run id: only those runs' deliveries wake them.
    runs: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Something about jobs, runs or logs changed.
    pub changes: Notify,
    /// A run was claimed, so there may be a new lease to watch.
    pub leases: Notify,
    /// A schedule changed, so the next tick may be earlier.
    pub schedule: Notify,
    /// Alerts or their rules changed.
    pub alerts: Notify,
    /// Where wakeups go to reach the other trackers on the same store.
    peers: OnceLock<mpsc::UnboundedSender<Signal>>,
}

impl Wake {
    /// Hand every wakeup from now on to `peers` as well.
    pub fn forward_to(&self, peers: mpsc::UnboundedSender<Signal>) {
        let _ = self.peers.set(peers);
    }

    fn forward(&self, signal: Signal) {
        if let Some(peers) = self.peers.get() {
            let _ = peers.send(signal);
        }
    }

    /// The notifier for workers of `group`.
    pub fn group(&self, group: &str) -> Arc<Notify> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.len() > MAX_IDLE_GROUPS {
            // Forget groups nobody waits on (peers choose the names).
            groups.retain(|_, notify| Arc::strong_count(notify) > 1);
        }
        groups.entry(group.to_string()).or_default().clone()
    }

    /// The notifier of a run's followers; dropped when nobody follows.
    pub fn run(&self, run_id: i64) -> Arc<Notify> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.retain(|_, notify| Arc::strong_count(notify) > 1);
        runs.entry(run_id).or_default().clone()
    }

    /// Wake the followers of these runs (they got lines or ended), here.
    pub fn runs_touched(&self, run_ids: &[i64]) {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs.is_empty() {
            return;
        }
        for id in run_ids {
            if let Some(notify) = runs.get(id) {
                notify.notify_waiters();
            }
        }
    }

    /// Wake every run follower here (a control action may have ended runs
    /// without a delivery).
    pub fn all_runs(&self) {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        for notify in runs.values() {
            notify.notify_waiters();
        }
    }

    /// Wake here what `signal` names, and the other trackers too.
    fn signal(&self, signal: Signal) {
        self.apply(&signal);
        self.forward(signal);
    }

    /// Wake the workers of each group, and everyone watching changes.
    pub fn work_for<'a>(&self, groups: impl IntoIterator<Item = &'a String>) {
        let mut any = false;
        for group in groups {
            // Work for a group wakes the change watchers too, here and there.
            self.signal(Signal::Work(group.clone()));
            any = true;
        }
        if !any {
            self.changed();
        }
    }

    /// Wake everyone watching jobs, runs or logs.
    pub fn changed(&self) {
        self.signal(Signal::Changed);
    }

    /// Wake the scheduler: a schedule changed.
    pub fn schedule_changed(&self) {
        self.signal(Signal::Schedule);
    }

    /// Wake the alert tasks and followers: alerts or rules changed.
    pub fn alerts_changed(&self) {
        self.signal(Signal::Alerts);
    }

    /// Wake the lease watcher: a run was claimed.
    pub fn lease_created(&self) {
        self.signal(Signal::Lease);
    }

    /// Wake every waiter here: after missing other trackers' wakeups.
    pub fn apply_all(&self) {
        let groups: Vec<Arc<Notify>> = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for group in groups {
            group.notify_waiters();
        }
        self.changes.notify_waiters();
        self.schedule.notify_waiters();
        self.leases.notify_waiters();
        self.alerts.notify_waiters();
        self.all_runs();
    }

    /// Apply a wakeup another tracker sent, here only.
    pub fn apply(&self, signal: &Signal) {
        match signal {
            Signal::Work(group) => {
                self.group(group).notify_waiters();
                self.changes.notify_waiters();
            }
            Signal::Changed => self.changes.notify_waiters(),
            Signal::Schedule => self.schedule.notify_waiters(),
            Signal::Lease => self.leases.notify_waiters(),
            Signal::Alerts => self.alerts.notify_waiters(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip_through_their_payloads() {
        for signal in [
            Signal::Work("reports".into()),
            Signal::Changed,
            Signal::Schedule,
            Signal::Lease,
            Signal::Alerts,
        ] {
            assert_eq!(Signal::from_payload(&signal.payload()), signal);
        }
    }

    #[tokio::test]
    async fn wakeups_are_forwarded_and_applied_without_echo() {
        let wake = Wake::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        wake.forward_to(tx);
        wake.work_for([&"g".to_string()]);
        assert_eq!(rx.recv().await, Some(Signal::Work("g".into())));
        wake.work_for(&[]);
        assert_eq!(rx.recv().await, Some(Signal::Changed));
        wake.apply(&Signal::Schedule);
        assert!(rx.try_recv().is_err(), "applied signals are not sent on");
    }
}
