//! Wakeups instead of polling, keyed by what changed: workers waiting for
//! work wait on their group's `Notify`; `submit --wait` on its job's,
//! `logs --follow` on its run's, a feedback reader on its client group's.
//! Those keyed wake-ups come from the store's journal once a transaction
//! has committed (`committed`), so every transition that ends a run or
//! stops a job wakes exactly its own waiters. Waiters must create their
//! `Notified` before they look at the store, so a change between the look
//! and the wait is never missed.
//!
//! Trackers sharing one store (PostgreSQL) must hear of each other's
//! changes too: every wakeup is also handed to `peers` (when set) as a
//! `Signal`, which `peers` broadcasts; what arrives from the others is
//! applied with `apply`, which wakes only this tracker. Signals carry no
//! job or run, so there waiters wait on `changes`.

use crate::store::RunEvent;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, Notify};

/// Notifiers by key, each kept only while somebody waits on it.
pub struct Keyed<K>(Mutex<HashMap<K, Arc<Notify>>>);

impl<K> Default for Keyed<K> {
    fn default() -> Self {
        Keyed(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq> Keyed<K> {
    /// The notifier of `key`'s waiters; forgotten once nobody holds it.
    pub fn get(&self, key: K) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, notify| Arc::strong_count(notify) > 1);
        map.entry(key).or_default().clone()
    }

    /// Wake the waiters of each key.
    pub fn touch<'a, Q>(&self, keys: impl IntoIterator<Item = &'a Q>)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized + 'a,
    {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() {
            return;
        }
        for key in keys {
            if let Some(notify) = map.get(key) {
                notify.notify_waiters();
            }
        }
    }

    /// Wake every waiter.
    pub fn all(&self) {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for notify in map.values() {
            notify.notify_waiters();
        }
    }
}

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
    pub runs: Keyed<i64>,
    /// Waiters for a job's run to end (`submit --wait`), by job id.
    pub jobs: Keyed<i64>,
    /// Readers of a client group's feedback, by client group.
    pub feedback: Keyed<String>,
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

    /// Wake, here, the waiters of what a committed transaction moved: the
    /// jobs whose runs ended or that stopped, the client groups that got
    /// feedback, the alert tasks when alerts were raised.
    pub fn committed(&self, events: &[RunEvent]) {
        let jobs: Vec<i64> = events.iter().filter_map(RunEvent::job_id).collect();
        self.jobs.touch(&jobs);
        self.runs.touch(events.iter().filter_map(|e| match e {
            RunEvent::Ended { run_id, .. } => Some(run_id),
            _ => None,
        }));
        self.feedback.touch(events.iter().filter_map(|e| match e {
            RunEvent::Feedback { client_group } => Some(client_group.as_str()),
            _ => None,
        }));
        if events.contains(&RunEvent::Alerted) {
            self.alerts_changed();
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
        self.runs.all();
        self.jobs.all();
        self.feedback.all();
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
    use std::future::Future;

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
    async fn a_commit_wakes_only_the_waiters_of_what_it_moved() {
        let wake = Wake::default();
        let (job_7, job_8) = (wake.jobs.get(7), wake.jobs.get(8));
        let (run_3, acme) = (wake.runs.get(3), wake.feedback.get("acme".to_string()));
        let mut waits = [
            Box::pin(job_7.notified()),
            Box::pin(job_8.notified()),
            Box::pin(run_3.notified()),
            Box::pin(acme.notified()),
        ];
        for w in &mut waits {
            w.as_mut().enable();
        }
        wake.committed(&[
            RunEvent::JobStopped { job_id: 7 },
            RunEvent::Feedback {
                client_group: "other".into(),
            },
        ]);
        let woken = |waits: &mut [std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>>; 4]| {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            waits
                .iter_mut()
                .map(|w| w.as_mut().poll(&mut cx).is_ready())
                .collect::<Vec<_>>()
        };
        assert_eq!(woken(&mut waits), [true, false, false, false]);
        wake.committed(&[
            RunEvent::Ended {
                group: "g".into(),
                outcome: crate::model::RunOutcome::Succeeded,
                started_at: None,
                ended_at: 1,
                job_id: 8,
                run: 1,
                run_id: 3,
                retrying: false,
                exit_code: Some(0),
            },
            RunEvent::Feedback {
                client_group: "acme".into(),
            },
        ]);
        assert_eq!(woken(&mut waits)[1..], [true, true, true]);
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
