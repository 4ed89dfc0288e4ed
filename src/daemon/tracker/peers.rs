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

/// How long one notification may take before the connection counts as lost.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Relay wakeups between this tracker and the others on `url` until shutdown.
/// Wakeups not yet sent wait (each payload once) and go on the next
/// connection, so none is lost to a broken one.
pub async fn relay(t: Arc<Tracker>, url: String, mut outgoing: mpsc::UnboundedReceiver<Signal>) {
    let mut backoff = Duration::from_millis(100);
    let mut pending: BTreeSet<String> = BTreeSet::new();
    loop {
        let connected = tokio::select! {
            connected = listen_work(&url) => connected,
            _ = t.shutdown.wait() => return,
        };
        // While there is no connection, wakeups still pile up only as
        // distinct payloads.
        while let Ok(more) = outgoing.try_recv() {
            pending.insert(more.payload());
        }
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
        // Wakeups may have been missed while there was no connection.
        t.wake.apply_all();
        'connected: loop {
            // Send what waits, oldest payloads first; stop at a failure.
            while let Some(payload) = pending.first().cloned() {
                let sent = tokio::select! {
                    sent = tokio::time::timeout(NOTIFY_TIMEOUT, listener.notify(&payload)) => sent,
                    _ = t.shutdown.wait() => return,
                };
                match sent {
                    Ok(Ok(())) => {
                        pending.remove(&payload);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!("cannot tell other trackers about work: {e}");
                        break 'connected;
                    }
                    Err(_) => {
                        tracing::warn!("telling other trackers about work timed out");
                        break 'connected;
                    }
                }
            }
            tokio::select! {
                incoming = listener.recv() => match incoming {
                    Some(payload) => t.wake.apply(&Signal::from_payload(&payload)),
                    None => break 'connected,
                },
                signal = outgoing.recv() => {
                    let Some(first) = signal else { return };
                    pending.insert(first.payload());
                    while let Ok(more) = outgoing.try_recv() {
                        pending.insert(more.payload());
                    }
                }
                _ = t.shutdown.wait() => return,
            }
        }
        tracing::warn!("lost the connection that hears other trackers; reconnecting");
    }
}
