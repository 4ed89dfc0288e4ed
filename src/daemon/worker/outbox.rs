//! The worker's upstream queue: log lines and results leave in the order
//! they were made, in batches, and are sent again until the tracker takes
//! them (it ignores duplicates), so a short tracker outage loses nothing.

use crate::client::Client;
use crate::daemon::Shutdown;
use crate::protocol::Upstream;
use std::sync::Arc;
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
}

impl Outbox {
    pub fn send(&self, item: Upstream) {
        // The shipper outlives every sender, so this only fails at exit.
        let _ = self.tx.send(item);
    }
}

/// Start the shipper. It ends when every `Outbox` is dropped and all it held
/// is delivered (or, after shutdown, has failed for a while).
pub fn start(
    client: Arc<Client>,
    worker_id: String,
    shutdown: Shutdown,
) -> (Outbox, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(ship(client, worker_id, rx, shutdown));
    (Outbox { tx }, task)
}

async fn ship(
    client: Arc<Client>,
    worker_id: String,
    mut rx: mpsc::UnboundedReceiver<Upstream>,
    shutdown: Shutdown,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        let mut failing_since_shutdown: Option<tokio::time::Instant> = None;
        loop {
            match client.deliver(worker_id.clone(), batch.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    if shutdown.is_triggered() {
                        let since =
                            *failing_since_shutdown.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() > GIVE_UP_AFTER_SHUTDOWN {
                            tracing::error!(
                                "stopping with {} undelivered log lines and results: {e}",
                                batch.len()
                            );
                            return;
                        }
                    }
                    tracing::warn!("delivery failed, will retry: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        batch.clear();
    }
}
