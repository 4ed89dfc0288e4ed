//! From parsed `ltsd` arguments to a running role: check the listen address
//! and token, open and lock the data dir, open the store (or the registry's
//! state), bind, install the signal handlers, run. Every way start-up can fail is a `LaunchError` with
//! one clear line.

use super::args::{CommonArgs, Ltsd, RoleCmd, TrackerOpts, WorkerOpts};
use super::datadir::{DataDir, DataDirError};
use super::registry::{self, PersistError};
use super::tracker::{self, TrackerConfig};
use super::worker::{self, Runner, WorkerConfig};
use super::{standalone, Shutdown};
use crate::client::Client;
use crate::store::{StoreError, StoreHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;

#[derive(Debug, Error)]
pub enum LaunchError {
    /// Bad flags: exit 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] PersistError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl LaunchError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Run the role `args` names until it is told to stop.
pub async fn run(args: Ltsd) -> Result<(), LaunchError> {
    let (trigger, shutdown) = Shutdown::new();
    match args.role {
        RoleCmd::Tracker(a) => {
            if a.store != "sqlite" {
                return Err(LaunchError::Usage(format!(
                    "--store {}: unknown store (this build supports: sqlite)",
                    a.store
                )));
            }
            let listen = check_listen(&a.tracker.listen, &a.common)?;
            let mut config = tracker_config(&a.tracker);
            config.registry = check_registry(a.registry.as_deref())?;
            let dir = open_data_dir(&a.common, "tracker")?;
            let store = tracker::open_sqlite(&dir.path)?;
            let listener = bind(listen).await?;
            trigger.on_signals(|| std::process::exit(0));
            tracker::run(listener, store, config, shutdown).await?;
            drop(dir);
        }
        RoleCmd::Worker(a) => {
            let registry = check_registry(a.registry.as_deref())?;
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            config.registry = registry;
            let client = match (&a.tracker, &config.registry) {
                (None, Some(registry)) => Client::via_registry(registry.clone(), "worker"),
                (list, _) => {
                    let list = list.as_deref().unwrap_or(crate::config::DEFAULT_TRACKER);
                    let addrs = crate::config::split_addrs(list);
                    if addrs.is_empty() {
                        return Err(LaunchError::Usage("--tracker: no address given".into()));
                    }
                    Client::with_role(addrs, "worker")
                }
            };
            trigger.on_signals(|| std::process::exit(0));
            worker::run(Arc::new(client), config, shutdown).await;
        }
        RoleCmd::Registry(a) => {
            let listen = check_listen(&a.listen, &a.common)?;
            let dir = open_data_dir(&a.common, "registry")?;
            let loaded = registry::Loaded::open(&dir.path, a.ttl)?;
            let listener = bind(listen).await?;
            trigger.on_signals(|| std::process::exit(0));
            registry::run(listener, loaded, shutdown).await?;
            drop(dir);
        }
        RoleCmd::Standalone(a) => {
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            let listen = check_listen(&a.tracker.listen, &a.common)?;
            let dir = open_data_dir(&a.common, "tracker")?;
            let store: StoreHandle = tracker::open_sqlite(&dir.path)?;
            let listener = bind(listen).await?;
            tracing::info!(data = %dir.path.display(), "standalone: tracker and worker in one process");
            trigger.on_signals(|| std::process::exit(0));
            standalone::run(
                listener,
                store,
                tracker_config(&a.tracker),
                config,
                shutdown,
            )
            .await?;
            drop(dir);
        }
    }
    Ok(())
}

fn tracker_config(opts: &TrackerOpts) -> TrackerConfig {
    TrackerConfig {
        lease: opts.lease,
        retain: opts.retain,
        max_log_bytes: opts.max_log_bytes,
        registry: None,
    }
}

/// A registry address must look like HOST:PORT.
fn check_registry(addr: Option<&str>) -> Result<Option<String>, LaunchError> {
    let Some(addr) = addr.map(str::trim) else {
        return Ok(None);
    };
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(Some(addr.to_string()))
        }
        _ => Err(LaunchError::Usage(format!(
            "--registry {addr}: expected HOST:PORT, e.g. 127.0.0.1:7410"
        ))),
    }
}

fn worker_config(group: String, opts: &WorkerOpts) -> Result<WorkerConfig, LaunchError> {
    if !crate::model::valid_name(&group, 64) {
        return Err(LaunchError::Usage(format!(
            "--group: '{group}' is not a valid group: 1-64 letters, digits, '-', '_', '.', ':' or '@'"
        )));
    }
    let runner = Runner::parse(opts.runner.as_deref()).map_err(LaunchError::Usage)?;
    if matches!(runner, Runner::None) && !opts.allow_commands {
        tracing::warn!(
            "no --runner and no --allow-commands: every job will fail; see ltsd worker --help"
        );
    }
    Ok(WorkerConfig {
        group,
        threads: opts.threads,
        runner,
        allow_commands: opts.allow_commands,
        grace: opts.grace,
        spool_dir: None,
        registry: None,
    })
}

/// Parse the listen address; anything but loopback needs a cluster token.
fn check_listen(listen: &str, common: &CommonArgs) -> Result<SocketAddr, LaunchError> {
    let addr: SocketAddr = listen.parse().map_err(|_| {
        LaunchError::Usage(format!(
            "--listen {listen}: expected IP:PORT, e.g. 127.0.0.1:7420"
        ))
    })?;
    if !addr.ip().is_loopback() && common.token.is_none() {
        return Err(LaunchError::Usage(format!(
            "--listen {addr}: listening on a non-loopback address requires a cluster token (--token or LTS_TOKEN)"
        )));
    }
    if !addr.ip().is_loopback() {
        return Err(LaunchError::Usage(format!(
            "--listen {addr}: token authentication is not available in this build yet; listen on loopback"
        )));
    }
    Ok(addr)
}

fn data_path(common: &CommonArgs) -> std::path::PathBuf {
    common
        .data
        .clone()
        .unwrap_or_else(crate::config::default_data_dir)
}

fn open_data_dir(common: &CommonArgs, role: &str) -> Result<DataDir, LaunchError> {
    Ok(DataDir::open(&data_path(common), role)?)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, LaunchError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| LaunchError::Bind {
            addr: addr.to_string(),
            source,
        })
}
