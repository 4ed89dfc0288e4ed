//! The `ltsd` command line: one subcommand per role. Completions and man
//! pages are generated from these definitions (see `crate::docs`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ltsd",
    version,
    about = "The lts daemon: tracker, worker, registry roles, or all in one",
    long_about = "The lts daemon. Each subcommand is a role: `tracker` keeps the durable \
queue and dispatches due runs, `worker` pulls runs for its node group and runs them, \
`registry` keeps node membership (heartbeats, a TTL, one master per node group) for \
trackers and workers started with --registry, `standalone` runs a tracker and a worker \
in one process (on the embedded SQLite store unless --store names PostgreSQL); `cert` writes a self-signed TLS certificate \
for them.\n\n\
Securing a cluster: give every node the same --token (or LTS_TOKEN, or `token` in \
lts/config.toml), at least 16 bytes (`ltsd token` prints a fresh one); nodes prove it \
to each other without sending it, and a role refuses to listen on a non-loopback \
address without one. Wrong tokens from one address are answered slower and slower. A \
tracker's --read-token lets its holders read but change nothing. With --tls-cert and --tls-key a \
listening role serves TLS only; dialing nodes and `lts` then need --tls-ca (or \
LTS_TLS_CA) naming that certificate or its CA.\n\n\
Logs go to stderr, filtered by RUST_LOG (default: info). SIGTERM or SIGINT stops a role \
gracefully: it takes no new work, lets running jobs finish within the grace period and \
exits 0."
)]
pub struct Ltsd {
    #[command(subcommand)]
    pub role: RoleCmd,
}

#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// A tracker (which also keeps node membership) and one worker in one process: the quick start
    Standalone(StandaloneArgs),
    /// The JobTracker: durable queue, scheduling, dispatch, recovery
    Tracker(TrackerArgs),
    /// The TaskTracker: pulls runs of its node group and runs them
    Worker(WorkerArgs),
    /// Node membership: registrations with a TTL, one master per node group, a watchable stream of changes
    Registry(RegistryArgs),
    /// Write a self-signed TLS certificate and its key, for --tls-cert/--tls-key and --tls-ca
    Cert(CertArgs),
    /// Print a fresh random cluster token (for --token, LTS_TOKEN or --read-token)
    Token,
}

/// Options every role takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Where the role keeps its state [default: the platform data dir + lts]
    #[arg(long, env = "LTS_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The cluster's shared secret, proved to peers without being sent; a role that listens on a non-loopback address requires it [default: `token` in lts/config.toml]
    #[arg(long, env = "LTS_TOKEN", value_name = "T", hide_env_values = true)]
    pub token: Option<String>,
}

/// How many connections a listening role takes, and how long one may idle.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Connections at once, in all; the last few are kept for lts, so workers holding the rest cannot lock it out (lowered to fit ulimit -n)
    #[arg(long, value_name = "N", default_value_t = crate::daemon::accept::DEFAULT_MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub max_connections: u32,
    /// Connections at once from one peer address
    #[arg(long, value_name = "N", default_value_t = crate::daemon::accept::DEFAULT_PER_PEER as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_peer: u32,
    /// Close a connection that has had no request in flight this long (a long poll is in flight)
    #[arg(long, value_name = "DUR", default_value = "2m", value_parser = parse_idle)]
    pub idle_timeout: std::time::Duration,
}

impl ConnArgs {
    pub fn limits(&self) -> crate::daemon::accept::ConnLimits {
        crate::daemon::accept::ConnLimits {
            max: self.max_connections as usize,
            per_peer: self.max_connections_per_peer as usize,
            idle: self.idle_timeout,
        }
    }
}

/// TLS for a role that listens.
#[derive(Debug, Clone, Args)]
pub struct ServeTlsArgs {
    /// Serve TLS only, with this PEM certificate (chain); see `ltsd cert`
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// TLS for a role that dials other nodes.
#[derive(Debug, Clone, Args)]
pub struct DialTlsArgs {
    /// Dial over TLS, trusting this PEM certificate or CA (a self-signed certificate is its own CA) [default: `tls_ca` in lts/config.toml]
    #[arg(long, env = "LTS_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

/// The cluster's TLS pair on a role that only dials (SPEC gives every role
/// `--tls-cert`/`--tls-key`): the certificate is trusted as `--tls-ca` is,
/// so one self-signed pair can be handed to every node alike.
#[derive(Debug, Clone, Args)]
pub struct ClusterTlsArgs {
    /// The cluster's PEM certificate, as the trackers serve it: dial over TLS trusting it (as --tls-ca)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's key; a dialing role does not use it (accepted so every role takes the same pair)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Options of the tracker part of a role.
#[derive(Debug, Clone, Args)]
pub struct TrackerOpts {
    /// The address to listen on
    #[arg(long, value_name = "ADDR", default_value = crate::config::DEFAULT_TRACKER)]
    pub listen: String,
    /// Where to serve the web console, the JSON API and health checks, or `off`; non-loopback needs a token, and --tls-cert makes it HTTPS
    #[arg(long, env = "LTS_HTTP", value_name = "ADDR|off", default_value = crate::config::DEFAULT_HTTP)]
    pub http: String,
    /// How long a dispatched run's lease lasts without a heartbeat
    #[arg(long, value_name = "DUR", default_value = "8s", value_parser = parse_lease)]
    pub lease: std::time::Duration,
    /// Keep finished one-off jobs, run records and log lines this long
    #[arg(long, value_name = "DUR", default_value = "7d", value_parser = parse_dur)]
    pub retain: std::time::Duration,
    /// The most log bytes kept per run: its head and its tail, with a marker between (0: all)
    #[arg(long, value_name = "N", default_value_t = 1 << 20)]
    pub max_log_bytes: u64,
    /// The store: sqlite (in the data dir) or postgres://user@host:port/db (shared by several trackers)
    #[arg(long, value_name = "STORE", default_value = "sqlite")]
    pub store: String,
    /// On a shared store: how long the leader lease lasts unrenewed (the leader fires ticks, expires leases and prunes)
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_leader_ttl)]
    pub leader_ttl: std::time::Duration,
    /// Create the SQLite store even over an empty (0-byte) lts.db; without it an empty file is refused, since it was a store once
    #[arg(long)]
    pub init: bool,
    /// A second token that may only read (jobs, logs, nodes, stats, feedback): for dashboards and on-call; needs --token
    #[arg(long, env = "LTS_READ_TOKEN", value_name = "T", hide_env_values = true)]
    pub read_token: Option<String>,
    /// Count no metrics (`lts bench --standalone --no-metrics` measures what counting costs)
    #[arg(long, hide = true)]
    pub no_metrics: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Options of the worker part of a role.
#[derive(Debug, Clone, Args)]
pub struct WorkerOpts {
    /// How many runs at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub threads: u32,
    /// The program that runs jobs (job JSON on stdin), or builtin:noop
    #[arg(long, value_name = "PATH")]
    pub runner: Option<String>,
    /// Run the command a job carries (`lts submit -- CMD ARGS..`)
    #[arg(long)]
    pub allow_commands: bool,
    /// On SIGTERM, how long running jobs may take to finish before they are stopped
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_grace)]
    pub grace: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    #[command(flatten)]
    pub tracker: TrackerOpts,
    /// The worker's node group
    #[arg(long, value_name = "G", default_value = "default")]
    pub group: String,
    #[command(flatten)]
    pub worker: WorkerOpts,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub tls: ServeTlsArgs,
}

#[derive(Debug, Args)]
pub struct TrackerArgs {
    #[command(flatten)]
    pub tracker: TrackerOpts,
    /// Register with this registry, so that workers and clients find this tracker
    #[arg(long, env = "LTS_REGISTRY", value_name = "ADDR")]
    pub registry: Option<String>,
    /// Advertise this tracker on the local network by mDNS (_lts._tcp.local)
    #[arg(long)]
    pub mdns: bool,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub tls: ServeTlsArgs,
    /// How the tracker dials its registry
    #[command(flatten)]
    pub dial_tls: DialTlsArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The worker's node group
    #[arg(long, value_name = "G")]
    pub group: String,
    /// The tracker(s) to pull from (a static peer list, also spelled --peers; the worker pulls from each) [default: the registry's trackers with --registry, else 127.0.0.1:7420]
    #[arg(
        long,
        visible_alias = "peers",
        env = "LTS_TRACKER",
        value_name = "ADDR[,ADDR..]"
    )]
    pub tracker: Option<String>,
    /// Register with this registry; without --tracker, pull from the trackers it lists (the master first)
    #[arg(long, env = "LTS_REGISTRY", value_name = "ADDR")]
    pub registry: Option<String>,
    /// Find trackers by mDNS (_lts._tcp.local) instead of --tracker
    #[arg(long)]
    pub mdns: bool,
    /// Serve /metrics, /healthz and /readyz here (non-loopback needs a token, which /metrics then asks for)
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    #[command(flatten)]
    pub worker: WorkerOpts,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub tls: DialTlsArgs,
    #[command(flatten)]
    pub cluster_tls: ClusterTlsArgs,
}

#[derive(Debug, Args)]
pub struct CertArgs {
    /// The directory to write cert.pem and key.pem into (made if missing; existing files are kept)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Another host name or IP address the certificate is for (repeatable); localhost, 127.0.0.1, ::1 and this host's name always are
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The address to listen on
    #[arg(long, value_name = "ADDR", default_value = crate::config::DEFAULT_REGISTRY)]
    pub listen: String,
    /// How long a node stays registered without a heartbeat (nodes heartbeat every third of it)
    #[arg(long, value_name = "DUR", default_value = DEFAULT_TTL_TEXT, value_parser = parse_ttl)]
    pub ttl: std::time::Duration,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub tls: ServeTlsArgs,
}

/// `crate::registry::DEFAULT_TTL` as `--ttl` shows it (a test keeps them equal).
const DEFAULT_TTL_TEXT: &str = "6s";

/// A duration within `[min, max]`, or an error that says `what` must be.
fn ranged(s: &str, min: u64, max: u64, what: &str) -> Result<std::time::Duration, String> {
    let d = crate::model::parse_duration(s)?;
    let range = std::time::Duration::from_secs(min)..=std::time::Duration::from_secs(max);
    if !range.contains(&d) {
        return Err(format!("'{}': {what}", crate::model::cut(s, 40)));
    }
    Ok(d)
}

fn parse_dur(s: &str) -> Result<std::time::Duration, String> {
    let max = crate::model::MAX_DURATION_MS / 1_000;
    ranged(s, 0, max, "a duration is at most 100 years")
}

/// A lease spans several heartbeats (every 2 s) and ends within the hour.
fn parse_lease(s: &str) -> Result<std::time::Duration, String> {
    ranged(
        s,
        5,
        3_600,
        "a lease must be from 5s (two heartbeats and more) to 1h",
    )
}

fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    ranged(s, 1, 3_600, "the TTL must be from 1s to 1h")
}

/// Renewed every third of it, so at least a second; at most a minute, so a
/// dead leader's work does not wait long.
fn parse_leader_ttl(s: &str) -> Result<std::time::Duration, String> {
    ranged(s, 1, 60, "the leader lease must be from 1s to 1m")
}

/// At least a second; at most a day.
fn parse_idle(s: &str) -> Result<std::time::Duration, String> {
    ranged(s, 1, 86_400, "the idle timeout must be from 1s to 1d")
}

fn parse_grace(s: &str) -> Result<std::time::Duration, String> {
    ranged(s, 0, 86_400, "the grace period is at most 1d")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registry_ttl_default_is_the_library_one() {
        assert_eq!(
            super::parse_ttl(super::DEFAULT_TTL_TEXT),
            Ok(crate::registry::DEFAULT_TTL)
        );
    }
}
