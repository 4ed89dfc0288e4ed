//! The worker role (LTS's TaskTracker): pulls runs of its node group from a
//! tracker, up to `--threads` at once, runs each with its runner, streams log
//! lines and results upstream through the outbox, and renews all its leases
//! with one heartbeat. With several trackers, `pool` runs one such session
//! per tracker on shared slots. With a registry it registers as a node of its
//! group (slots: `--threads`; once, from its first session), and leaves once
//! drained. Every worker starts through [`run`], whatever its [`Source`].

pub mod metrics;
mod outbox;
pub mod pool;
mod process;
mod runner;
mod spool;

pub use process::{param_var, Stop};
pub use runner::{JobRunner, RunContext, RunLog, Runner};

use crate::client::{Client, ClientError};
use crate::daemon::Shutdown;
use crate::discovery::{Discovery, DiscoveryError};
use crate::model::{format_duration, now_ms, Role, RunOutcome};
use crate::protocol::registry::NodeInfo;
use crate::protocol::{
    Dispatch, Heartbeat, PullRequest, RunResult, Security, Upstream, WireError, WorkerInfo,
};
use crate::registry::Registration;
use outbox::Outbox;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub group: String,
    pub threads: u32,
    pub runner: Runner,
    pub allow_commands: bool,
    /// On shutdown, how long running jobs may take before they are stopped.
    pub grace: Duration,
    /// Where undelivered results wait on disk (`<dir>/worker-spool/`);
    /// `None` keeps them in memory only.
    pub spool_dir: Option<std::path::PathBuf>,
    /// A registry to register with (as role `worker` in its group).
    pub registry: Option<String>,
    /// What `/metrics` shows of this worker.
    pub metrics: Arc<metrics::WorkerMetrics>,
    /// Where the worker serves its metrics and health checks, to tell trackers.
    pub http: Option<String>,
}

/// How long one pull waits for work.
const PULL_WAIT: Duration = Duration::from_secs(20);
/// How often leases are renewed.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// A run in progress: its fencing token and the switch that stops it.
struct Active {
    fence: i64,
    stop: Arc<watch::Sender<Option<Stop>>>,
}

struct Shared {
    config: WorkerConfig,
    slots: Arc<pool::Slots>,
    info: WorkerInfo,
    client: Arc<Client>,
    outbox: Outbox,
    active: Mutex<HashMap<i64, Active>>,
    slot_freed: Notify,
}

impl Shared {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Active>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }
}

static INSTANCE: AtomicUsize = AtomicUsize::new(0);

/// A name for this worker that is unique on this host.
pub fn worker_id(group: &str) -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
    let suffix = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    format!("{group}@{host}-{}{suffix}", std::process::id())
}

/// Where a worker finds the trackers it pulls from: the one choice that
/// tells the ways of starting a worker apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The trackers a discovery finds (a static list, mDNS), as they come:
    /// one session per tracker, on shared slots (`pool`).
    Discovered(Discovery),
    /// The trackers this registry lists: one session, with the tracker it
    /// lists first (the master), asked again at each reconnection.
    Registry(String),
}

/// Run a worker until `shutdown`: then stop pulling, give running jobs
/// `grace` to finish, stop the rest, deliver what is left, and return. Every
/// way of starting a worker (`ltsd worker` whatever its discovery, `ltsd
/// standalone`, a program embedding one) comes through here.
pub async fn run(
    source: Source,
    security: Security,
    config: WorkerConfig,
    shutdown: Shutdown,
) -> Result<(), DiscoveryError> {
    match source {
        Source::Registry(registry) => {
            let client = Client::via_registry(registry, "worker").with_security(security);
            let slots = pool::Slots::new(config.threads);
            let id = worker_id(&config.group);
            session(Arc::new(client), config, shutdown, slots, id).await;
        }
        Source::Discovered(discovery) => {
            // Kept while the worker runs: an mDNS browser stops when dropped.
            let trackers = discovery.start()?;
            let connect: pool::Connect = Arc::new(move |addr: &str| {
                Client::with_role(vec![addr.to_string()], "worker").with_security(security.clone())
            });
            pool::run(trackers.changes(), connect, config, shutdown).await;
        }
    }
    tracing::info!("worker stopped");
    Ok(())
}

/// Pull from the tracker `client` talks to, on `slots`, until `shutdown`.
async fn session(
    client: Arc<Client>,
    config: WorkerConfig,
    shutdown: Shutdown,
    slots: Arc<pool::Slots>,
    id: String,
) {
    let info = WorkerInfo {
        id,
        group: config.group.clone(),
        threads: config.threads,
        version: crate::VERSION.into(),
        started_at: now_ms(),
        http: config.http.clone(),
    };
    config.metrics.set_threads(config.threads);
    tracing::info!(worker = %info.id, group = %config.group, threads = config.threads, runner = ?config.runner, "worker starting");
    let spool = match &config.spool_dir {
        Some(dir) => match spool::WorkerSpool::open(dir, &info.id) {
            Ok(spool) => Some(spool),
            Err(e) => {
                tracing::error!("{e}; undelivered results will wait in memory only");
                None
            }
        },
        None => None,
    };
    let (outbox, shipper) = outbox::start(client.clone(), info.id.clone(), shutdown.clone(), spool);
    config.metrics.watch_outbox(outbox.undelivered_map());
    let shared = Arc::new(Shared {
        config,
        slots,
        info,
        client,
        outbox,
        active: Mutex::new(HashMap::new()),
        slot_freed: Notify::new(),
    });
    let heartbeats = tokio::spawn(heartbeat_loop(shared.clone(), shutdown.clone()));
    // The registration outlives the drain: the worker leaves once idle.
    let registration = shared.config.registry.clone().map(|addr| {
        let node = NodeInfo {
            id: shared.info.id.clone(),
            role: Role::Worker,
            group: shared.info.group.clone(),
            address: String::new(),
            version: shared.info.version.clone(),
            slots: shared.info.threads,
            started_at: shared.info.started_at,
        };
        let busy = shared.clone();
        let load = move || busy.active().len() as u32;
        Registration::start(addr, shared.client.security().clone(), node, load)
    });
    pull_loop(&shared, &shutdown).await;
    drain(&shared).await;
    heartbeats.abort();
    if let Some(registration) = registration {
        registration.leave().await;
    }
    drop(shared);
    let _ = shipper.await;
}

async fn pull_loop(shared: &Arc<Shared>, shutdown: &Shutdown) {
    let mut backoff = Duration::from_millis(100);
    let mut reported = false;
    while !shutdown.is_triggered() {
        // Free slots, shared with the sessions for other trackers.
        let mut permits = tokio::select! {
            permits = shared.slots.reserve() => match permits {
                Some(permits) => permits,
                None => break,
            },
            _ = shutdown.wait() => break,
        };
        let running = shared.active().len() as u32;
        let request = PullRequest {
            worker: shared.info.clone(),
            running,
            free: permits.num_permits() as u32,
            wait_ms: shared.slots.pull_wait(PULL_WAIT).as_millis() as u64,
        };
        let pulled = tokio::select! {
            pulled = shared.client.pull(request) => pulled,
            _ = shutdown.wait() => break,
        };
        match pulled {
            Ok(dispatches) => {
                shared.config.metrics.contact();
                if reported {
                    tracing::info!("tracker reachable again");
                    reported = false;
                }
                backoff = Duration::from_millis(100);
                for dispatch in dispatches {
                    // A tracker never hands out more than asked; if it did,
                    // the extra run still runs, on no slot.
                    let slot = permits.split(1);
                    start_run(shared, dispatch, slot);
                }
            }
            Err(e) => {
                // Free the slots for the sessions whose trackers answer.
                drop(permits);
                if !reported {
                    match &e {
                        ClientError::Wire(WireError::ShuttingDown) => {
                            tracing::warn!("tracker is shutting down; will retry")
                        }
                        _ => tracing::warn!("cannot pull work: {e}; will retry"),
                    }
                    reported = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Wait for running jobs up to the grace period, then stop the rest.
async fn drain(shared: &Arc<Shared>) {
    let deadline = tokio::time::Instant::now() + shared.config.grace;
    let mut stopped = false;
    loop {
        let freed = shared.slot_freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        let left = shared.active().len();
        if left == 0 {
            return;
        }
        if !stopped {
            tracing::info!("waiting for {left} running job(s) to finish");
        }
        tokio::select! {
            _ = freed => {}
            // Stopped runs end within the kill grace; never wait past it.
            _ = tokio::time::sleep_until(deadline + Duration::from_secs(10)), if stopped => {
                tracing::error!("{left} run(s) did not end after being stopped; leaving them");
                return;
            }
            _ = tokio::time::sleep_until(deadline), if !stopped => {
                tracing::warn!("grace period over: stopping {left} running job(s) and giving them back");
                for active in shared.active().values() {
                    let _ = active.stop.send(Some(Stop::GiveBack));
                }
                stopped = true;
            }
        }
    }
}

fn start_run(
    shared: &Arc<Shared>,
    dispatch: Dispatch,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let (stop_tx, stop_rx) = watch::channel(None);
    let stop_tx = Arc::new(stop_tx);
    shared.active().insert(
        dispatch.run_id,
        Active {
            fence: dispatch.fence,
            stop: stop_tx.clone(),
        },
    );
    let shared = shared.clone();
    shared.config.metrics.run_started();
    tokio::spawn(async move {
        let (run_id, fence) = (dispatch.run_id, dispatch.fence);
        let execution = execute(&shared, &dispatch, stop_rx.clone());
        tokio::pin!(execution);
        let timeout = dispatch.job.timeout_ms.map(Duration::from_millis);
        let (outcome, exit_code, reason) = tokio::select! {
            ended = &mut execution => ended,
            _ = tokio::time::sleep(timeout.unwrap_or_default()), if timeout.is_some() => {
                let _ = stop_tx.send(Some(Stop::Timeout));
                execution.await
            }
        };
        let (outcome, reason) = match (outcome, *stop_rx.borrow()) {
            (RunOutcome::Cancelled, Some(Stop::Timeout)) => (
                RunOutcome::TimedOut,
                Some(format!(
                    "timed out after {}",
                    format_duration(timeout.unwrap_or_default())
                )),
            ),
            (RunOutcome::Cancelled, Some(Stop::GiveBack)) => (
                RunOutcome::Lost,
                Some(format!(
                    "worker {} stopped before the run finished",
                    shared.info.id
                )),
            ),
            other => (other.0, reason),
        };
        shared.config.metrics.run_ended(outcome);
        shared.outbox.send(Upstream::Done(RunResult {
            run_id,
            fence,
            outcome,
            exit_code,
            ended_at: now_ms(),
            reason,
        }));
        shared.active().remove(&run_id);
        drop(slot);
        shared.slot_freed.notify_waiters();
    });
}

async fn execute(
    shared: &Arc<Shared>,
    dispatch: &Dispatch,
    stop: watch::Receiver<Option<Stop>>,
) -> (RunOutcome, Option<i32>, Option<String>) {
    let ctx = RunContext::from_dispatch(dispatch);
    let log = Arc::new(RunLog::new(dispatch.run_id, shared.outbox.clone()));
    let config = &shared.config;
    if let Some((program, args)) = dispatch.job.command.split_first() {
        if !config.allow_commands {
            return (
                RunOutcome::Failed,
                None,
                Some(format!(
                    "worker {} does not run job commands (start it with --allow-commands)",
                    shared.info.id
                )),
            );
        }
        let ended = process::run(program, args, &ctx, log, stop).await;
        return (ended.outcome, ended.exit_code, ended.reason);
    }
    match &config.runner {
        Runner::None => (
            RunOutcome::Failed,
            None,
            Some(format!(
                "worker {} has no runner for a job without a command (start it with --runner PATH)",
                shared.info.id
            )),
        ),
        Runner::Noop => (RunOutcome::Succeeded, Some(0), None),
        Runner::Sleep(d) => {
            let mut stop = stop;
            tokio::select! {
                _ = tokio::time::sleep(*d) => (RunOutcome::Succeeded, Some(0), None),
                _ = process::stopped(&mut stop) => (RunOutcome::Cancelled, None, Some("stopped".into())),
            }
        }
        Runner::Program(path) => {
            let ended = process::run(&path.to_string_lossy(), &[], &ctx, log, stop).await;
            (ended.outcome, ended.exit_code, ended.reason)
        }
        Runner::InProcess(runner) => {
            let runner = runner.clone();
            let joined = tokio::task::spawn_blocking(move || runner.run(&ctx, &log)).await;
            match joined {
                Ok(Ok(())) => (RunOutcome::Succeeded, Some(0), None),
                Ok(Err(message)) => (RunOutcome::Failed, Some(1), Some(message)),
                Err(e) => (
                    RunOutcome::Failed,
                    None,
                    Some(format!("runner panicked: {e}")),
                ),
            }
        }
    }
}

/// Renew every lease in one call, and stop what the tracker says to stop.
async fn heartbeat_loop(shared: Arc<Shared>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Runs in progress, and finished runs whose results are on their way:
        // the tracker must not take either for lost.
        let mut runs: Vec<(i64, i64)> = shared
            .active()
            .iter()
            .map(|(id, a)| (*id, a.fence))
            .collect();
        runs.extend(shared.outbox.undelivered());
        if runs.is_empty() && shutdown.is_triggered() {
            continue;
        }
        let beat = Heartbeat {
            worker: shared.info.clone(),
            runs,
        };
        match shared.client.heartbeat(beat).await {
            Ok(reply) => {
                let active = shared.active();
                for run_id in reply.stop {
                    if let Some(run) = active.get(&run_id) {
                        tracing::info!(run_id, "stopping a run the tracker no longer assigns here");
                        let _ = run.stop.send(Some(Stop::Cancel));
                    }
                }
            }
            Err(e) => tracing::debug!("heartbeat failed: {e}"),
        }
    }
}
