//! From parsed `ltsd` arguments to a running role: build its `Security`
//! (token, TLS) and check the listen address against it, open and lock the
//! data dir, open the store (or the registry's state), bind, install the
//! signal handlers, run. Every way start-up can fail is a `LaunchError` with
//! one clear line.

use super::args::{
    CertArgs, CommonArgs, DialTlsArgs, Ltsd, RoleCmd, ServeTlsArgs, TrackerOpts, WorkerOpts,
};
use super::cert::{self, CertError};
use super::datadir::{DataDir, DataDirError};
use super::registry::{self, PersistError};
use super::tracker::{self, TrackerConfig};
use super::worker::{self, Runner, Source, WorkerConfig};
use super::{standalone, Shutdown};
use crate::config::FileConfig;
use crate::discovery::mdns::{self, Advertiser};
use crate::discovery::Discovery;
use crate::protocol::{Security, TlsError};
use crate::store::{StoreError, StoreHandle};
use std::net::SocketAddr;
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
    /// A certificate or key that cannot be used: exit 2.
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Discovery(#[from] crate::discovery::DiscoveryError),
}

impl LaunchError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Usage(_)
            | LaunchError::Tls(_)
            | LaunchError::Cert(CertError::Usage(_)) => 2,
            _ => 1,
        }
    }
}

/// Run the role `args` names until it is told to stop.
pub async fn run(args: Ltsd) -> Result<(), LaunchError> {
    // Every role churns buffers (the store, the runners' pipes and frames).
    crate::store::alloc::keep_freed_memory();
    let (trigger, shutdown) = Shutdown::new();
    match args.role {
        RoleCmd::Tracker(a) => {
            let postgres_url = store_url(&a.tracker)?;
            let security = security(&a.common, Some(&a.tls), Some(&a.dial_tls))?;
            let security = with_read_token(security, &a.tracker)?;
            let listen = check_listen(&a.tracker.listen, &security)?;
            let http = check_http(&a.tracker.http, &security)?;
            let mut config = tracker_config(&a.tracker, security, postgres_url.clone());
            config.registry = check_registry(a.registry.as_deref())?;
            let dir = open_data_dir(&a.common, "tracker")?;
            let store = open_store(&dir, &postgres_url, a.tracker.init).await?;
            let listener = bind(listen).await?;
            let http = bind_http(http).await?;
            let _advertised = match a.mdns {
                true => Some(advertise(&listener)?),
                false => None,
            };
            trigger.on_signals(|| std::process::exit(0));
            tracker::run(listener, http, store, config, shutdown).await?;
            drop(dir);
        }
        RoleCmd::Worker(a) => {
            let registry = check_registry(a.registry.as_deref())?;
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            config.registry = registry;
            let dial = DialTlsArgs {
                tls_ca: a.tls.tls_ca.clone().or(a.cluster_tls.tls_cert.clone()),
            };
            let security = security(&a.common, None, Some(&dial))?;
            let http = match &a.http {
                Some(addr) => bind_http(check_http(addr, &security)?).await?,
                None => None,
            };
            if let Some(http) = http {
                config.http = Some(http.local_addr()?.to_string());
                tokio::spawn(worker::metrics::serve(
                    http,
                    config.metrics.clone(),
                    security.clone(),
                    shutdown.clone(),
                ));
            }
            trigger.on_signals(|| std::process::exit(0));
            let source = match (&a.tracker, &config.registry) {
                // Through a registry: one session, with the tracker it lists first.
                (None, Some(registry)) if !a.mdns => Source::Registry(registry.clone()),
                _ if a.mdns => Source::Discovered(Discovery::Mdns),
                (list, _) => {
                    let list = list.as_deref().unwrap_or(crate::config::DEFAULT_TRACKER);
                    let addrs = crate::config::split_addrs(list);
                    if addrs.is_empty() {
                        return Err(LaunchError::Usage("--tracker: no address given".into()));
                    }
                    Source::Discovered(Discovery::Static(addrs))
                }
            };
            worker::run(source, security, config, shutdown).await?;
        }
        RoleCmd::Registry(a) => {
            let security = security(&a.common, Some(&a.tls), None)?;
            let listen = check_listen(&a.listen, &security)?;
            let dir = open_data_dir(&a.common, "registry")?;
            let loaded = registry::Loaded::open(&dir.path, a.ttl)?;
            let listener = bind(listen).await?;
            trigger.on_signals(|| std::process::exit(0));
            let limits = a.conn.limits().fit_to_fd_limit();
            registry::run(listener, loaded, security, limits, shutdown).await?;
            drop(dir);
        }
        RoleCmd::Standalone(a) => {
            let postgres_url = store_url(&a.tracker)?;
            let security = security(&a.common, Some(&a.tls), None)?;
            let security = with_read_token(security, &a.tracker)?;
            let listen = check_listen(&a.tracker.listen, &security)?;
            let mut config = worker_config(a.group.clone(), &a.worker)?;
            config.spool_dir = Some(data_path(&a.common));
            let dir = open_data_dir(&a.common, "tracker")?;
            let store = open_store(&dir, &postgres_url, a.tracker.init).await?;
            let http = check_http(&a.tracker.http, &security)?;
            let listener = bind(listen).await?;
            let http = bind_http(http).await?;
            tracing::info!(data = %dir.path.display(), "standalone: tracker and worker in one process");
            trigger.on_signals(|| std::process::exit(0));
            let mut tracker = tracker_config(&a.tracker, security, postgres_url);
            tracker.worker_metrics = Some(config.metrics.clone());
            standalone::run(listener, http, store, tracker, config, shutdown).await?;
            drop(dir);
        }
        RoleCmd::Cert(a) => make_cert(&a)?,
        RoleCmd::Token => println!("{}", crate::protocol::Token::generate().reveal()),
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

/// `--store`: `None` for the embedded SQLite store, else the PostgreSQL URL.
fn store_url(opts: &TrackerOpts) -> Result<Option<String>, LaunchError> {
    match opts.store.as_str() {
        "sqlite" => Ok(None),
        url if crate::store::postgres::is_url(url) => Ok(Some(url.to_string())),
        other => Err(LaunchError::Usage(format!(
            "--store {}: unknown store (use sqlite or postgres://user@host:port/db)",
            crate::store::postgres::redact(other)
        ))),
    }
}

/// Open the store `--store` named: SQLite in the data dir (over an empty
/// file only with `--init`), or PostgreSQL.
async fn open_store(
    dir: &DataDir,
    url: &Option<String>,
    init: bool,
) -> Result<StoreHandle, LaunchError> {
    Ok(match url {
        None => tracker::open_sqlite_with(&dir.path, init)?,
        Some(url) => tracker::open_postgres(url).await?,
    })
}

fn tracker_config(
    opts: &TrackerOpts,
    security: Security,
    shared_store: Option<String>,
) -> TrackerConfig {
    TrackerConfig {
        lease: opts.lease,
        retain: opts.retain,
        max_log_bytes: opts.max_log_bytes,
        shared_store,
        leader_ttl: opts.leader_ttl,
        security,
        limits: opts.conn.limits().fit_to_fd_limit(),
        metrics: !opts.no_metrics,
        ..TrackerConfig::default()
    }
}

/// A registry address must look like HOST:PORT.
fn check_registry(addr: Option<&str>) -> Result<Option<String>, LaunchError> {
    let Some(addr) = addr.map(str::trim) else {
        return Ok(None);
    };
    crate::config::check_registry(addr)
        .map(Some)
        .map_err(LaunchError::Usage)
}

/// A role's token and TLS: flags and environment first, then the config file.
fn security(
    common: &CommonArgs,
    serve: Option<&ServeTlsArgs>,
    dial: Option<&DialTlsArgs>,
) -> Result<Security, LaunchError> {
    let dial_ca = dial.and_then(|d| d.tls_ca.clone());
    let file = if common.token.is_none() || (dial.is_some() && dial_ca.is_none()) {
        crate::config::load_file_config().map_err(LaunchError::Usage)?
    } else {
        FileConfig::default()
    };
    let ca = dial.and(dial_ca.or(file.tls_ca));
    let mut security = Security::from_settings(
        common.token.as_deref().or(file.token.as_deref()),
        ca.as_deref(),
    )
    .map_err(LaunchError::Usage)?;
    if let Some(ServeTlsArgs {
        tls_cert: Some(cert),
        tls_key: Some(key),
    }) = serve
    {
        security = security.serving(cert, key)?;
        // A role that also dials trusts its own certificate when nothing
        // else is named: one self-signed pair for the whole cluster.
        if dial.is_some() && ca.is_none() {
            security = security.trusting(cert)?;
        }
    }
    Ok(security)
}

/// A tracker's `--read-token` (or LTS_READ_TOKEN), next to its cluster token.
fn with_read_token(security: Security, opts: &TrackerOpts) -> Result<Security, LaunchError> {
    security
        .with_read_token(opts.read_token.as_deref())
        .map_err(LaunchError::Usage)
}

/// `ltsd cert`: write the pair and say where it is and how to use it.
fn make_cert(args: &CertArgs) -> Result<(), LaunchError> {
    let written = cert::write(&args.out, cert::names(&args.sans)?)?;
    println!(
        "wrote {} and {} (for {})",
        written.cert.display(),
        written.key.display(),
        written.names.join(", ")
    );
    println!(
        "serve with --tls-cert {} --tls-key {}; dial with --tls-ca {}",
        written.cert.display(),
        written.key.display(),
        written.cert.display()
    );
    Ok(())
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
        metrics: Default::default(),
        http: None,
    })
}

/// Parse the listen address; anything but loopback needs a cluster token.
fn check_listen(listen: &str, security: &Security) -> Result<SocketAddr, LaunchError> {
    check_address("--listen", listen, crate::config::DEFAULT_TRACKER, security)
}

/// Parse `--http`: `off`, or an address held to the same rule as `--listen`.
fn check_http(http: &str, security: &Security) -> Result<Option<SocketAddr>, LaunchError> {
    if http.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    check_address("--http", http, crate::config::DEFAULT_HTTP, security).map(Some)
}

/// An address to listen on; anything but loopback needs a cluster token.
fn check_address(
    flag: &str,
    text: &str,
    example: &str,
    security: &Security,
) -> Result<SocketAddr, LaunchError> {
    let addr: SocketAddr = text.parse().map_err(|_| {
        LaunchError::Usage(format!(
            "{flag} '{}': expected IP:PORT, e.g. {example}",
            crate::model::cut(text, 60)
        ))
    })?;
    if !addr.ip().is_loopback() && security.token().is_none() {
        return Err(LaunchError::Usage(format!(
            "{flag} {addr}: listening on a non-loopback address requires a cluster token (--token, LTS_TOKEN or `token` in the config file)"
        )));
    }
    Ok(addr)
}

async fn bind_http(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, LaunchError> {
    match addr {
        Some(addr) => bind(addr).await.map(Some),
        None => Ok(None),
    }
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
