//! `ltsd standalone`: a tracker and one worker in one process, the worker
//! talking to the tracker over loopback like any other (with the same token,
//! and over TLS trusting exactly the tracker's certificate when it serves TLS). On shutdown the
//! worker drains first, so its last results reach the tracker before it stops.

use super::tracker::{self, TrackerConfig};
use super::worker::{self, Source, WorkerConfig};
use super::Shutdown;
use crate::discovery::Discovery;
use crate::store::StoreHandle;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::net::TcpListener;

/// Run both roles until `shutdown`.
pub async fn run(
    listener: TcpListener,
    http: Option<TcpListener>,
    store: StoreHandle,
    tracker_config: TrackerConfig,
    worker_config: WorkerConfig,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let address = own_address(listener.local_addr()?);
    let security = tracker_config
        .security
        .for_own_listener()
        .map_err(std::io::Error::other)?;
    let (stop_tracker, tracker_shutdown) = Shutdown::new();
    let tracker = tokio::spawn(tracker::run(
        listener,
        http,
        store,
        tracker_config,
        tracker_shutdown,
    ));
    // Its own listener is the worker's one static tracker.
    let source = Source::Discovered(Discovery::Static(vec![address]));
    let ran = worker::run(source, security, worker_config, shutdown).await;
    stop_tracker.trigger();
    ran.map_err(std::io::Error::other)?;
    tracker.await.map_err(std::io::Error::other)?
}

/// Where this process reaches its own listener: a wildcard address
/// (`0.0.0.0`, `::`) is dialed on loopback.
fn own_address(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr.to_string()
}
