//! From parsed `ltsd` arguments to a running role: check the listen address
//! and token, open and lock the data dir, open the store, bind, install the
//! signal handlers, run. Every way start-up can fail is a `LaunchError` with
//! one clear line.

use super::args::{CommonArgs, Ltsd, RoleCmd, TrackerOpts, WorkerOpts};
use super::datadir::{DataDir, DataDirError};
use super::tracker::{self, TrackerConfig};
use super::worker::{self, Runner, WorkerConfig};
use super::{standalone, Shutdown};
use crate::client::Client;
use crate::discovery::mdns::{self, Advertiser};
use crate::discovery::Discovery;
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
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Discovery(#[from] crate::discovery::DiscoveryError),
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
            let listen = check_listen(&a.tracker, &a.common)?;
            let dir = open_data_dir(&a.common, "tracker")?;
            let store = tracker::open_sqlite(&dir.path)?;
            let listener = bind(listen).await?;
            let _advertised = match a.mdns {
                true => Some(advertise(&listener)?),
                false => None,
            };
            trigger.on_signals(|| std::process::exit(0));
            tracker::run(listener, store, tracker_config(&a.tracker), shutdown).await?;
            drop(dir);
        }
        RoleCmd::Worker(a) => {
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            let discovery = if a.mdns {
                Discovery::Mdns
            } else {
                let addrs = crate::config::split_addrs(&a.tracker);
                if addrs.is_empty() {
                    return Err(LaunchError::Usage("--tracker: no address given".into()));
                }
                Discovery::Static(addrs)
            };
            let trackers = discovery.start()?;
            let connect: worker::pool::Connect =
                Arc::new(|addr: &str| Client::with_role(vec![addr.to_string()], "worker"));
            trigger.on_signals(|| std::process::exit(0));
            worker::pool::run(trackers.changes(), connect, config, shutdown).await;
        }
        RoleCmd::Standalone(a) => {
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            let listen = check_listen(&a.tracker, &a.common)?;
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

/// Advertise the tracker listening on `listener` by mDNS.
fn advertise(listener: &TcpListener) -> Result<Advertiser, LaunchError> {
    let addr = listener.local_addr()?;
    Ok(Advertiser::start(
        mdns::TRACKER_ROLE,
        mdns::TRACKER_GROUP,
        addr,
    )?)
}

fn tracker_config(opts: &TrackerOpts) -> TrackerConfig {
    TrackerConfig {
        lease: opts.lease,
        retain: opts.retain,
        max_log_bytes: opts.max_log_bytes,
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
    })
}

/// Parse the listen address; anything but loopback needs a cluster token.
fn check_listen(opts: &TrackerOpts, common: &CommonArgs) -> Result<SocketAddr, LaunchError> {
    let addr: SocketAddr = opts.listen.parse().map_err(|_| {
        LaunchError::Usage(format!(
            "--listen {}: expected IP:PORT, e.g. 127.0.0.1:7420",
            opts.listen
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
