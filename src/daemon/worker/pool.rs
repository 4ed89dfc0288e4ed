//! A worker with several trackers: one session (pull loop, heartbeats,
//! outbox) per tracker, all sharing the worker's `--threads` slots. A run's
//! result goes back through the session that pulled it, to the tracker that
//! holds its lease and fence. Sessions start as trackers are discovered and
//! stay until shutdown (a tracker that vanished may come back, and it still
//! waits for the results of runs it handed out).

use super::WorkerConfig;
use crate::client::Client;
use crate::daemon::Shutdown;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// How long one pull waits for work when slots are shared between trackers:
/// short, so that a session holding free slots lets the others have them.
const SHARED_PULL_WAIT: Duration = Duration::from_secs(2);

/// The worker's run slots, shared by its sessions. The semaphore is fair
/// (first come, first served), so no tracker's session starves the others.
pub struct Slots {
    threads: u32,
    permits: Arc<Semaphore>,
    sessions: AtomicUsize,
}

impl Slots {
    pub fn new(threads: u32) -> Arc<Slots> {
        Arc::new(Slots {
            threads,
            permits: Arc::new(Semaphore::new(threads as usize)),
            sessions: AtomicUsize::new(0),
        })
    }

    fn sessions(&self) -> usize {
        self.sessions.load(Ordering::Relaxed).max(1)
    }

    /// Wait for a free slot, then take more that are free up to this
    /// session's share (all of them when it is the only session).
    pub async fn reserve(&self) -> Option<OwnedSemaphorePermit> {
        let mut held = self.permits.clone().acquire_owned().await.ok()?;
        let share = (self.threads as usize).div_ceil(self.sessions());
        while held.num_permits() < share {
            match self.permits.clone().try_acquire_owned() {
                Ok(more) => held.merge(more),
                Err(_) => break,
            }
        }
        Some(held)
    }

    /// How long a pull may wait for work.
    pub fn pull_wait(&self, alone: Duration) -> Duration {
        if self.sessions() > 1 {
            SHARED_PULL_WAIT
        } else {
            alone
        }
    }
}

/// Makes the client a session talks to its tracker through.
pub(super) type Connect = Arc<dyn Fn(&str) -> Client + Send + Sync>;

/// Run a worker that pulls from every tracker in `trackers` (as it changes)
/// until `shutdown`; then every session drains, and this returns.
pub(super) async fn run(
    mut trackers: watch::Receiver<Vec<String>>,
    connect: Connect,
    config: WorkerConfig,
    shutdown: Shutdown,
) {
    let slots = Slots::new(config.threads);
    let id = super::worker_id(&config.group);
    let mut started: HashSet<String> = HashSet::new();
    let mut sessions = Vec::new();
    let several = trackers.borrow().len() != 1;
    loop {
        let addrs = trackers.borrow_and_update().clone();
        for addr in addrs {
            if !started.insert(addr.clone()) {
                continue;
            }
            let mut config = config.clone();
            // The worker is one node: only its first session registers it.
            if started.len() > 1 {
                config.registry = None;
            }
            // Each tracker's undelivered results wait in a spool of their own.
            if several || started.len() > 1 {
                config.spool_dir = config
                    .spool_dir
                    .map(|d| d.join("trackers").join(file_stem(&addr)));
            }
            slots.sessions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(tracker = %addr, "pulling from tracker");
            let client = Arc::new(connect(&addr));
            // Each session names itself apart: trackers sharing a store
            // reconcile a worker's runs by its name, and one session's
            // heartbeat knows nothing of another's runs.
            let session_id = match started.len() {
                1 => id.clone(),
                n => format!("{id}~{n}"),
            };
            sessions.push(tokio::spawn(super::session(
                client,
                config,
                shutdown.clone(),
                slots.clone(),
                session_id,
            )));
        }
        if started.is_empty() {
            tracing::info!("no tracker known yet; waiting for one");
        }
        tokio::select! {
            changed = trackers.changed() => if changed.is_err() {
                // The source will say no more (a static list): wait for the end.
                shutdown.wait().await;
                break;
            },
            _ = shutdown.wait() => break,
        }
    }
    for session in sessions {
        let _ = session.await;
    }
}

fn file_stem(addr: &str) -> String {
    addr.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_session_takes_every_slot_and_several_share_them() {
        let slots = Slots::new(4);
        slots.sessions.store(1, Ordering::Relaxed);
        let all = slots.reserve().await.expect("slots");
        assert_eq!(all.num_permits(), 4);
        drop(all);
        slots.sessions.store(2, Ordering::Relaxed);
        let a = slots.reserve().await.expect("slots");
        let b = slots.reserve().await.expect("slots");
        assert_eq!((a.num_permits(), b.num_permits()), (2, 2));
        assert_eq!(slots.pull_wait(Duration::from_secs(20)), SHARED_PULL_WAIT);
    }

    #[test]
    fn spool_names_are_safe_file_names() {
        assert_eq!(file_stem("127.0.0.1:7420"), "127.0.0.1_7420");
        assert_eq!(file_stem("[::1]:7420"), "___1__7420");
    }
}
