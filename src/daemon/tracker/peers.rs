//! Trackers sharing a PostgreSQL store hear of each other's changes: every
//! wakeup this tracker makes (`wake::Signal`) is sent, after its commit, as a
//! notification on the store's work channel, and every notification from the
//! others wakes the matching waiters here — workers long-polling for a
//! group, `--wait` and `logs --follow`, the leader's scheduler and lease
//! watcher. When the listening connection drops, it is opened again and
//! everyone here looks again, since wakeups may have been missed.

use super::wake::Signal;
use super::Tracker;
use crate::store::postgres::listen_work;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest pause between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Relay wakeups between this tracker and the others on `url` until shutdown.
pub async fn relay(t: Arc<Tracker>, url: String, mut outgoing: mpsc::UnboundedReceiver<Signal>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::select! {
            connected = listen_work(&url) => connected,
            _ = t.shutdown.wait() => return,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!("cannot listen for other trackers' work: {e}; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = t.shutdown.wait() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        t.wake.apply_all();
        loop {
            tokio::select! {
                incoming = listener.recv() => match incoming {
                    Some(payload) => t.wake.apply(&Signal::from_payload(&payload)),
                    None => break,
                },
                signal = outgoing.recv() => {
                    let Some(first) = signal else { return };
                    // Whatever piled up goes together, each payload once.
                    let mut payloads = BTreeSet::from([first.payload()]);
                    while let Ok(more) = outgoing.try_recv() {
                        payloads.insert(more.payload());
                    }
                    for payload in payloads {
                        if let Err(e) = listener.notify(&payload).await {
                            tracing::warn!("cannot tell other trackers about work: {e}");
                            break;
                        }
                    }
                }
                _ = t.shutdown.wait() => return,
            }
        }
        tracing::warn!("lost the connection that hears other trackers; reconnecting");
    }
}
