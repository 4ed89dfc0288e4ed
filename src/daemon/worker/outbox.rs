//! The worker's upstream queue: log lines and results leave in the order
//! they were made, in batches, and are sent again until the tracker takes
//! them (it ignores duplicates). While the tracker cannot be reached they wait
//! in the worker's spool on disk, so an outage, or the worker's own death,
//! loses nothing that was made.

use super::spool::WorkerSpool;
use crate::client::Client;
use crate::daemon::Shutdown;
use crate::protocol::Upstream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The most items one delivery carries.
const MAX_BATCH: usize = 2048;
/// After shutdown, how long undeliverable items are retried before giving up.
const GIVE_UP_AFTER_SHUTDOWN: Duration = Duration::from_secs(10);

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Upstream>,
    undelivered: Undelivered,
}

/// Results handed to the outbox and not yet taken by the tracker, by run id
/// (with their fence). Heartbeats name these runs as still held, so the
/// tracker does not take a finished run for lost while its result travels.
pub type Undelivered = Arc<Mutex<HashMap<i64, i64>>>;

fn lock(map: &Undelivered) -> std::sync::MutexGuard<'_, HashMap<i64, i64>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

impl Outbox {
    pub fn send(&self, item: Upstream) {
        if let Upstream::Done(result) = &item {
            lock(&self.undelivered).insert(result.run_id, result.fence);
        }
        // The shipper outlives every sender, so this only fails at exit.
        let _ = self.tx.send(item);
    }

    /// The map of results on their way, for the worker's metrics.
    pub fn undelivered_map(&self) -> Undelivered {
        self.undelivered.clone()
    }

    /// The runs whose results have not reached the tracker yet.
    pub fn undelivered(&self) -> Vec<(i64, i64)> {
        lock(&self.undelivered)
            .iter()
            .map(|(id, fence)| (*id, *fence))
            .collect()
    }
}

/// Start the shipper. It ends when every `Outbox` is dropped and all it held
/// is delivered (or, after shutdown, has failed for a while; with a spool,
/// what is left then waits on disk for the next worker).
pub fn start(
    client: Arc<Client>,
    worker_id: String,
    shutdown: Shutdown,
    spool: Option<WorkerSpool>,
) -> (Outbox, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let undelivered = Undelivered::default();
    let shipper = Shipper {
        client,
        worker_id,
        rx,
        shutdown,
        // A new spool may hold what an earlier worker left: look once.
        spooled: spool.is_some(),
        spool,
        pending: Vec::new(),
        undelivered: undelivered.clone(),
    };
    let task = tokio::spawn(shipper.run());
    (Outbox { tx, undelivered }, task)
}

struct Shipper {
    client: Arc<Client>,
    worker_id: String,
    rx: mpsc::UnboundedReceiver<Upstream>,
    shutdown: Shutdown,
    /// Where undeliverable items wait on disk; without it they wait in `pending`.
    spool: Option<WorkerSpool>,
    /// Whether the spool may hold items, so the common case (it does not)
    /// costs no read of it per batch.
    spooled: bool,
    /// Items in memory awaiting delivery, oldest first (no spool, or it failed).
    pending: Vec<Upstream>,
    undelivered: Undelivered,
}

impl Shipper {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(50);
        let mut failing_since_shutdown: Option<tokio::time::Instant> = None;
        loop {
            // Oldest first: the spool, then what waits in memory, then new items.
            let (batch, spooled_through) = match self.next_batch().await {
                Some(next) => next,
                None => return,
            };
            match self
                .client
                .deliver(self.worker_id.clone(), batch.clone())
                .await
            {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    failing_since_shutdown = None;
                    let mut undelivered = lock(&self.undelivered);
                    for item in &batch {
                        if let Upstream::Done(result) = item {
                            undelivered.remove(&result.run_id);
                        }
                    }
                    drop(undelivered);
                    if let Some(seq) = spooled_through {
                        self.spooled(|spool| spool.remove_through(seq));
                    }
                }
                Err(e) => {
                    if spooled_through.is_none() {
                        self.keep(batch);
                    }
                    self.keep_arrivals();
                    if self.shutdown.is_triggered() {
                        let since =
                            *failing_since_shutdown.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() > GIVE_UP_AFTER_SHUTDOWN {
                            match self.spool {
                                Some(_) => tracing::warn!("stopping with undelivered results in the spool; the next worker here delivers them"),
                                None => tracing::error!("stopping with {} undelivered log lines and results: {e}", self.pending.len()),
                            }
                            return;
                        }
                    }
                    tracing::warn!("delivery failed, will retry: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// The next batch to send, and the spool position it ends at when it
    /// comes from the spool. `None` when everything is delivered and no more
    /// can come.
    async fn next_batch(&mut self) -> Option<(Vec<Upstream>, Option<i64>)> {
        if let Some(spool) = self.spool.as_mut().filter(|_| self.spooled) {
            match spool.peek(MAX_BATCH) {
                Ok(Some((seq, items))) => return Some((items, Some(seq))),
                Ok(None) => self.spooled = false,
                Err(e) => {
                    tracing::error!("{e}; keeping undelivered items in memory");
                    self.spool = None;
                }
            }
        }
        if !self.pending.is_empty() {
            let take = self.pending.len().min(MAX_BATCH);
            return Some((self.pending.drain(..take).collect(), None));
        }
        let first = self.rx.recv().await?;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        Some((batch, None))
    }

    /// Keep a batch that could not be delivered: on disk when there is a
    /// spool, in memory otherwise (or when the disk fails).
    fn keep(&mut self, batch: Vec<Upstream>) {
        if let Some(spool) = self.spool.as_mut() {
            match spool.push(&batch) {
                Ok(()) => {
                    self.spooled = true;
                    return;
                }
                Err(e) => {
                    tracing::error!("{e}; keeping undelivered items in memory");
                    self.spool = None;
                }
            }
        }
        // The failed batch goes back in front of what still waits.
        let mut kept = batch;
        kept.append(&mut self.pending);
        self.pending = kept;
    }

    /// Move whatever arrived meanwhile behind the kept items.
    fn keep_arrivals(&mut self) {
        let mut arrived = Vec::new();
        while let Ok(item) = self.rx.try_recv() {
            arrived.push(item);
        }
        if arrived.is_empty() {
            return;
        }
        if let Some(spool) = self.spool.as_mut() {
            if spool.push(&arrived).is_ok() {
                self.spooled = true;
                return;
            }
            self.spool = None;
        }
        self.pending.extend(arrived);
    }

    fn spooled(
        &mut self,
        f: impl FnOnce(&mut WorkerSpool) -> Result<(), super::spool::SpoolError>,
    ) {
        if let Some(spool) = self.spool.as_mut() {
            if let Err(e) = f(spool) {
                tracing::error!("{e}");
            }
        }
    }
}
