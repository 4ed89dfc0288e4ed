//! The tracker role (LTS's JobTracker): accepts submissions, keeps the
//! durable queue, hands due runs to workers that pull, renews and expires
//! their leases, records results and log lines, and wakes whoever waits.
//!
//! `run(listener, store, config, shutdown)` is the whole role; the RPC
//! handlers are in `service`, the rules in `lifecycle`, the read models in `views`. With a registry it
//! registers as a node of role `tracker`, group `tracker`.

mod alerts;
mod http;
mod leader;
mod lifecycle;
mod metrics;
mod nodes;
mod ops;
mod peers;
mod service;
mod views;
mod wake;

pub use lifecycle::backoff_ms;
pub use ops::Action;

use crate::daemon::accept::{ConnLimits, Gate};
use crate::daemon::Shutdown;
use crate::model::{now_ms, Millis, Role};
use crate::protocol::registry::NodeInfo;
use crate::protocol::Security;
use crate::registry::Registration;
use crate::store::{PostgresStore, SqliteStore, StoreError, StoreHandle};
use nodes::Nodes;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wake::Wake;

/// The tracker's settings.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// Finished one-off jobs, run records and log lines older than this go.
    pub retain: Duration,
    /// The most log bytes kept per run (head and tail); 0 keeps everything.
    pub max_log_bytes: u64,
    /// The cluster token and TLS every connection is accepted with.
    pub security: Security,
    /// A registry to register with, so that workers and clients find this tracker.
    pub registry: Option<String>,
    /// The PostgreSQL URL when the store is shared with other trackers:
    /// then one of them leads (by a lease of `leader_ttl`) and they wake
    /// each other through it.
    pub shared_store: Option<String>,
    /// How long the leader lease lasts without renewal (shared store only).
    pub leader_ttl: Duration,
    /// A worker in the same process (standalone), whose metrics `/metrics`
    /// shows beside the tracker's.
    pub worker_metrics: Option<Arc<crate::daemon::worker::metrics::WorkerMetrics>>,
    /// Whether committed events are counted for `/metrics` (on unless a
    /// benchmark measures what counting costs).
    pub metrics: bool,
    /// Connections at once (in all, per peer) and how long one may idle.
    pub limits: ConnLimits,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            lease: Duration::from_secs(8),
            retain: Duration::from_secs(7 * 86_400),
            max_log_bytes: 1 << 20,
            security: Security::none(),
            registry: None,
            shared_store: None,
            leader_ttl: Duration::from_secs(5),
            worker_metrics: None,
            metrics: true,
            limits: ConnLimits::default(),
        }
    }
}

/// Everything the handlers share.
pub(crate) struct Tracker {
    store: StoreHandle,
    wake: Wake,
    nodes: Nodes,
    lease_ms: u64,
    max_log_bytes: u64,
    id: String,
    address: String,
    started_at: Millis,
    /// The zone of cron jobs that name none: this machine's.
    zone: chrono_tz::Tz,
    shutdown: Shutdown,
    security: Security,
    /// How long a connection may stay without a request in flight.
    idle: Duration,
    /// Whether this tracker fires ticks, expires leases, prunes, watches
    /// alert conditions and delivers alerts.
    leader: leader::Leadership,
    /// What `/metrics` shows.
    metrics: Arc<metrics::Metrics>,
    /// Whether other trackers share the store (their deliveries wake
    /// followers here only through `changes`).
    shared_store: bool,
    /// The console's address, when it serves one.
    http_address: Option<String>,
    /// `sqlite`, or the shared store's URL without its password.
    store_name: String,
}

/// The file name of the SQLite store inside the data dir.
pub const DB_FILE: &str = "lts.db";

/// Open the embedded store in `data_dir` and start its thread.
pub fn open_sqlite(data_dir: &Path) -> Result<StoreHandle, StoreError> {
    open_sqlite_with(data_dir, false)
}

/// Open the embedded store in `data_dir` and start its thread; an empty
/// `lts.db` (a store that was lost) is refused unless `init`.
pub fn open_sqlite_with(data_dir: &Path, init: bool) -> Result<StoreHandle, StoreError> {
    crate::store::alloc::keep_freed_memory();
    let store = SqliteStore::open_or_init(&data_dir.join(DB_FILE), init)?;
    Ok(StoreHandle::spawn(Box::new(store)))
}

/// Open the PostgreSQL store at `url`, migrate it and start its thread.
/// The connection is made on a blocking thread: the synchronous client
/// must not run on the async runtime.
pub async fn open_postgres(url: &str) -> Result<StoreHandle, StoreError> {
    let owned = url.to_string();
    let store = tokio::task::spawn_blocking(move || PostgresStore::open(&owned))
        .await
        .map_err(|e| StoreError::Open {
            path: crate::store::postgres::redact(url),
            reason: e.to_string(),
        })??;
    Ok(StoreHandle::spawn(Box::new(store)))
}

/// Serve the tracker on `listener` until `shutdown`, then let the store
/// commit what it holds and return.
pub async fn run(
    listener: TcpListener,
    http: Option<TcpListener>,
    store: StoreHandle,
    config: TrackerConfig,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let address = listener.local_addr()?.to_string();
    let id = tracker_id(listener.local_addr()?);
    let started_at = now_ms();
    // A holder name of this process alone: a restarted tracker on the same
    // address is a new holder, so a paused old process is fenced off.
    let holder = format!("{id}/{}@{started_at}", std::process::id());
    let leader = match &config.shared_store {
        Some(_) => leader::Leadership::shared(holder, config.leader_ttl),
        None => leader::Leadership::sole(holder),
    };
    let tracker = Arc::new(Tracker {
        store: store.clone(),
        wake: Wake::default(),
        nodes: Nodes::new(config.lease.as_millis().max(1) as u64),
        lease_ms: config.lease.as_millis().max(1) as u64,
        max_log_bytes: config.max_log_bytes,
        id,
        address: address.clone(),
        started_at,
        zone: crate::schedule::local_zone(),
        shutdown: shutdown.clone(),
        security: config.security.clone(),
        idle: config.limits.idle,
        leader,
        shared_store: config.shared_store.is_some(),
        metrics: Arc::new(metrics::Metrics::new(config.worker_metrics.clone())),
        http_address: http
            .as_ref()
            .and_then(|h| h.local_addr().ok())
            .map(|a| a.to_string()),
        store_name: config
            .shared_store
            .as_deref()
            .map_or_else(|| "sqlite".to_string(), crate::store::postgres::redact),
    });
    // Counting happens on a thread of its own, off the store thread.
    let counting = config
        .metrics
        .then(|| metrics::Metrics::counter(tracker.metrics.clone()));
    // Weak: the store must not keep the tracker alive.
    let t = Arc::downgrade(&tracker);
    store.observe(Arc::new(move |events, took| {
        if let Some(t) = t.upgrade() {
            t.wake.committed(&events);
        }
        if let Some(counting) = &counting {
            let _ = counting.send((events, took));
        }
    }));
    if config.metrics {
        store.before_commit(alerts::hook());
    }
    let gate = Gate::new(config.limits);
    // The address comes last: tests and scripts read it from the end of the line.
    tracing::info!(
        token = tracker.security.token().is_some(),
        tls = tracker.security.serves_tls(),
        read_token = tracker.security.read_token().is_some(),
        max_connections = config.limits.max,
        shared_store = config.shared_store.is_some(),
        %address,
        "tracker listening"
    );
    let relay = config.shared_store.clone().map(|url| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tracker.wake.forward_to(tx);
        tokio::spawn(peers::relay(tracker.clone(), url, rx))
    });
    let leading = {
        let t = tracker.clone();
        tokio::spawn(async move { t.leader.keep(&t.store, t.shutdown.wait()).await })
    };
    let console =
        http.map(|http| tokio::spawn(http::serve(http, tracker.clone(), shutdown.clone())));
    let leases = tokio::spawn(expire_leases(tracker.clone()));
    let ticks = tokio::spawn(fire_ticks(tracker.clone()));
    let pruner = tokio::spawn(prune(tracker.clone(), config.retain));
    let deliveries = tokio::spawn(alerts::deliver_alerts(tracker.clone()));
    let conditions = tokio::spawn(alerts::watch_conditions(tracker.clone()));
    let registration = config.registry.map(|addr| {
        let node = NodeInfo {
            id: tracker.id.clone(),
            role: Role::Tracker,
            group: "tracker".into(),
            address: address.clone(),
            version: crate::VERSION.into(),
            slots: 0,
            started_at: tracker.started_at,
        };
        Registration::start(addr, config.security.clone(), node, || 0)
    });
    crate::daemon::accept_until(&listener, &shutdown, &gate, |stream, peer, slot| {
        service::serve(tracker.clone(), stream, peer, slot)
    })
    .await;
    drop(listener);
    tracing::info!("tracker stopping");
    if let Some(registration) = registration {
        registration.leave().await;
    }
    tracker.wake.changed();
    if let Some(console) = console {
        let _ = console.await;
    }
    let _ = leases.await;
    let _ = ticks.await;
    let _ = pruner.await;
    let _ = deliveries.await;
    let _ = conditions.await;
    let _ = leading.await;
    if let Some(relay) = relay {
        let _ = relay.await;
    }
    if let Err(e) = store.flush().await {
        tracing::error!("store: {e}");
    }
    tracing::info!("tracker stopped");
    Ok(())
}

impl Tracker {
    /// Run `f` in the caller's transaction only if `term` still holds: the
    /// leader's writes are fenced. `None` when it no longer does.
    fn as_leader<T>(
        &self,
        s: &mut dyn crate::store::Store,
        term: leader::Term,
        f: impl FnOnce(&mut dyn crate::store::Store) -> Result<T, crate::protocol::WireError>,
    ) -> Result<Option<T>, crate::protocol::WireError> {
        if !self.leader.check(s, term)? {
            return Ok(None);
        }
        f(s).map(Some)
    }
}

/// A tracker's node id: its address, or its host and port when it listens
/// on every interface (so that two hosts' trackers never share an id).
fn tracker_id(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        format!("tracker@{host}:{}", addr.port())
    } else {
        format!("tracker@{addr}")
    }
}

/// Sleep until the earliest lease ends, then mark what expired as lost and
/// queue it again. Wakes early when a claim creates the first lease.
async fn expire_leases(t: Arc<Tracker>) {
    loop {
        let Some(term) = t.leader.wait(t.shutdown.wait()).await else {
            return;
        };
        let wakeup = t.wake.leases.notified();
        tokio::pin!(wakeup);
        wakeup.as_mut().enable();
        let next = match t.store.call(|s| s.next_lease_expiry()).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!("lease check: {e}");
                Some(now_ms() + 1_000)
            }
        };
        let sleep = match next {
            Some(at) => Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64 + 1),
            None => Duration::from_secs(60),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = &mut wakeup, if next.is_none() => {}
            _ = t.shutdown.wait() => return,
        }
        let now = now_ms();
        let led = t.clone();
        let expired = t
            .store
            .call(move |s| led.as_leader(s, term, |s| lifecycle::dispatch::expire_leases(s, now)))
            .await;
        match expired {
            Ok(Some(woken)) => {
                if !woken.is_empty() {
                    tracing::info!("re-queued runs whose worker went silent");
                }
                // Runs changed even when none was queued again (a suspended job).
                t.wake.work_for(&woken);
            }
            Ok(None) => t.leader.lost(term),
            Err(e) => {
                // The same expired leases would be found again at once.
                tracing::error!("expiring leases: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = t.shutdown.wait() => return,
                }
            }
        }
    }
}

/// How many due jobs one scheduler pass takes.
const JOBS_PER_PASS: usize = 2_000;

/// Sleep until the earliest tick, fire what is due, repeat. Wakes early when
/// a schedule changes (a submission, a resume).
async fn fire_ticks(t: Arc<Tracker>) {
    tracing::info!(zone = %t.zone.name(), "scheduler running");
    loop {
        let Some(term) = t.leader.wait(t.shutdown.wait()).await else {
            return;
        };
        // Ticks due before this tracker led were missed: the misfire policy
        // decides them.
        let clock = lifecycle::ticks::Clock {
            zone: t.zone,
            started_at: term.since,
        };
        let wakeup = t.wake.schedule.notified();
        tokio::pin!(wakeup);
        wakeup.as_mut().enable();
        let now = now_ms();
        let led = t.clone();
        let fired = t
            .store
            .call(move |s| {
                led.as_leader(s, term, |s| {
                    lifecycle::ticks::fire_due(s, now, clock, JOBS_PER_PASS)
                })
            })
            .await;
        let next = match fired {
            Ok(Some(pass)) => {
                if !pass.woken.is_empty() {
                    t.wake.work_for(&pass.woken);
                } else {
                    t.wake.changed();
                }
                if pass.more {
                    continue;
                }
                pass.next
            }
            Ok(None) => {
                t.leader.lost(term);
                continue;
            }
            Err(e) => {
                tracing::error!("firing ticks: {e}");
                Some(now_ms() + 1_000)
            }
        };
        // Sleep to the next tick; a clock that jumps is caught within a
        // minute, and a lost lease within a renewal.
        let sleep = next.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64)
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = &mut wakeup => {}
            _ = t.leader.ended(term) => {}
            _ = t.shutdown.wait() => return,
        }
    }
}

/// How many jobs or runs one retention batch deletes.
const PRUNE_BATCH: usize = 500;

/// Retention (LTS's OldDataHandler): now and then, delete finished one-off
/// jobs, run records and log lines older than `retain`, in small batches so
/// that submissions and dispatch interleave with it.
async fn prune(t: Arc<Tracker>, retain: Duration) {
    let every = (retain / 10).clamp(Duration::from_millis(500), Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = t.shutdown.wait() => return,
        }
        let Some(term) = t.leader.current() else {
            continue;
        };
        let cutoff = now_ms() - retain.as_millis().min(i64::MAX as u128) as i64;
        let mut total = 0;
        loop {
            let led = t.clone();
            match t
                .store
                .call(move |s| {
                    led.as_leader(s, term, |s| {
                        lifecycle::dispatch::prune(s, cutoff, PRUNE_BATCH)
                    })
                })
                .await
            {
                Ok(Some(n)) => {
                    total += n;
                    if n < PRUNE_BATCH {
                        break;
                    }
                }
                Ok(None) => {
                    t.leader.lost(term);
                    break;
                }
                Err(e) => {
                    tracing::error!("retention: {e}");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(deleted = total, "retention pruned old jobs and runs");
            t.wake.changed();
        }
    }
}
