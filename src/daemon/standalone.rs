//! `ltsd standalone`: a tracker and one worker in one process, the worker
//! talking to the tracker over loopback like any other. On shutdown the
//! worker drains first, so its last results reach the tracker before it stops.

use super::tracker::{self, TrackerConfig};
use super::worker::{self, WorkerConfig};
use super::Shutdown;
use crate::client::Client;
use crate::store::StoreHandle;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Run both roles until `shutdown`.
pub async fn run(
    listener: TcpListener,
    store: StoreHandle,
    tracker_config: TrackerConfig,
    worker_config: WorkerConfig,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let address = listener.local_addr()?.to_string();
    let (stop_tracker, tracker_shutdown) = Shutdown::new();
    let tracker = tokio::spawn(tracker::run(
        listener,
        store,
        tracker_config,
        tracker_shutdown,
    ));
    let client = Arc::new(Client::with_role(vec![address], "worker"));
    worker::run(client, worker_config, shutdown).await;
    stop_tracker.trigger();
    tracker.await.map_err(std::io::Error::other)?
}
