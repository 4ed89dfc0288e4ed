//! The `lts` command line (LTS's JobClient): global options, one module per
//! subcommand with its clap `Args` and its `run`, and the mapping from
//! failures to SPEC's exit codes.

mod alerts;
mod bench;
mod completions;
mod control;
mod cron;
mod discovery;
mod edit;
mod error;
mod feedback;
mod flow;
mod job;
mod jobs;
mod logs;
mod nodes;
mod output;
mod purge;
mod spool;
mod stats;
mod status;
mod submit;
mod submit_file;

pub use error::CliError;
pub use output::Format;

use crate::client::Client;
use crate::protocol::Security;
use clap::{Parser, Subcommand};
use control::Op;
use spool::SpoolCommand;
use std::path::PathBuf;

/// The help heading of the options every subcommand takes.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "lts",
    version,
    about = "Submit, inspect and control jobs of an lts cluster",
    long_about = "Submit, inspect and control jobs of an lts cluster.\n\n\
The tracker address comes from --tracker, else LTS_TRACKER, else the trackers \
a registry lists (--registry, else LTS_REGISTRY), else `tracker` or `registry` in \
lts/config.toml in the platform config dir, else 127.0.0.1:7420; with --mdns, from \
the trackers that answer on the local network. With several trackers, --balance picks \
one (random, round-robin or first) and the next is used when it fails. `lts nodes` asks \
the registry whenever one is named. The cluster token and the TLS CA come the same \
way: --token, LTS_TOKEN, `token`; --tls-ca, LTS_TLS_CA, `tls_ca`. The spool \
(`lts submit --spool`) lives in the data dir: --data, else LTS_DATA, else the \
platform data dir + lts.\n\n\
Exit codes: 0 ok; 1 the job or operation failed; 2 bad usage or bad input; \
3 not found; 4 no tracker or registry reachable."
)]
pub struct Cli {
    /// Tracker address(es) to talk to, comma-separated
    #[arg(long, global = true,
        help_heading = GLOBAL, env = "LTS_TRACKER", value_name = "ADDR[,ADDR..]")]
    pub tracker: Option<String>,
    /// The cluster's shared secret, proved to the tracker without being sent
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "LTS_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)
    #[arg(long, global = true,
        help_heading = GLOBAL, env = "LTS_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A registry to find trackers through (and to ask for `nodes`)
    #[arg(long, global = true,
        help_heading = GLOBAL, env = "LTS_REGISTRY", value_name = "ADDR")]
    pub registry: Option<String>,
    /// With several trackers, which one to use [default: random]
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "LTS_BALANCE",
        value_enum,
        value_name = "POLICY"
    )]
    pub balance: Option<crate::balance::Policy>,
    /// Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub mdns: bool,
    /// Where lts keeps its spool [default: the platform data dir + lts]
    #[arg(long, global = true,
        help_heading = GLOBAL, env = "LTS_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", global = true,
        help_heading = GLOBAL, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a job and print its task id
    Submit(Box<submit::SubmitArgs>),
    /// List jobs
    Jobs(jobs::JobsArgs),
    /// Show one job with its runs
    Job(job::JobArgs),
    /// Print (or follow) the output of a job's run
    Logs(logs::LogsArgs),
    /// List the nodes (from the registry, else the tracker) or watch them join, leave and change master
    Nodes(nodes::NodesArgs),
    /// Change a job's schedule, params, command or limits; its history stays
    Edit(Box<edit::EditArgs>),
    /// Cancel a job (or, with --all, every job selected): no more runs; a queued run leaves the queue, a running one is stopped
    Cancel(control::BulkArgs),
    /// Suspend a job (or, with --all, every job selected): no more ticks; a running run finishes
    Suspend(control::BulkArgs),
    /// Resume a suspended job (or, with --all, every one selected): missed ticks follow its misfire policy
    Resume(control::BulkArgs),
    /// Run a job once more now; its schedule is untouched
    Trigger(control::ControlArgs),
    /// Run a job's last run again when it did not succeed
    Retry(control::ControlArgs),
    /// Print (and acknowledge) the results of jobs submitted with --feedback
    Feedback(feedback::FeedbackArgs),
    /// List or deliver the jobs kept by `submit --spool` while no tracker answered
    Spool(spool::SpoolArgs),
    /// Delete ended jobs, with their runs and logs, now
    Purge(purge::PurgeArgs),
    /// Alerts raised, with each delivery attempt
    Alerts(alerts::AlertsArgs),
    /// Alert rules: list, add, rm, test
    Alert(alerts::AlertArgs),
    /// Workflows, steps that run after one another: submit, show, cancel, list
    Flow(flow::FlowArgs),
    /// Counts by state and group, throughput and queue age
    Stats(stats::StatsArgs),
    /// The cluster at a glance: trackers (version, leader, store), workers, queues
    Status,
    /// This client's version and the tracker's, and their protocol
    Version,
    /// Print the next fire times of a cron expression, or why it is invalid
    Cron(cron::CronArgs),
    /// Load a cluster (or a standalone one started for it) and print throughput and latency
    Bench(bench::BenchArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
}

impl Cli {
    /// The client for the tracker(s) this invocation names: `--mdns`, else
    /// `--tracker` (or `LTS_TRACKER`), else the trackers of `--registry` (or
    /// `LTS_REGISTRY`), else the config file's `tracker`, then `registry`,
    /// else the default tracker address; with its balancing policy and
    /// security.
    async fn client(&self) -> Result<Client, CliError> {
        let file = self.file_config()?;
        let addrs = if self.mdns {
            Some(discovery::find_trackers().await?)
        } else if let Some(list) = &self.tracker {
            Some(crate::config::split_addrs(list))
        } else if self.registry.is_some() {
            None
        } else if let Some(list) = &file.tracker {
            Some(crate::config::split_addrs(list))
        } else if file.registry.is_some() {
            None
        } else {
            Some(crate::config::split_addrs(crate::config::DEFAULT_TRACKER))
        };
        let security = self.security_from(&file)?;
        let Some(addrs) = addrs else {
            let registry = self.registry.as_ref().or(file.registry.as_ref());
            let registry = check_registry(registry.map(String::as_str).unwrap_or_default())?;
            return Ok(Client::via_registry(registry, "client").with_security(security));
        };
        if addrs.is_empty() {
            return Err(CliError::usage("--tracker: no address given"));
        }
        for addr in &addrs {
            check_tracker(addr)?;
        }
        let policy = self.balance.or(file.balance).unwrap_or_default();
        let turn = match policy {
            crate::balance::Policy::RoundRobin if addrs.len() > 1 => {
                crate::balance::take_turn(&self.data_dir())
            }
            _ => 0,
        };
        Ok(Client::new(addrs)
            .with_policy(policy, turn)
            .with_security(security))
    }

    /// The config file, read only when a flag or variable left a setting open.
    fn file_config(&self) -> Result<crate::config::FileConfig, CliError> {
        if self.tracker.is_none()
            || self.token.is_none()
            || self.tls_ca.is_none()
            || self.balance.is_none()
        {
            crate::config::load_file_config().map_err(CliError::usage)
        } else {
            Ok(crate::config::FileConfig::default())
        }
    }

    /// The cluster token and TLS trust this invocation connects with.
    pub(crate) fn security(&self) -> Result<Security, CliError> {
        self.security_from(&self.file_config()?)
    }

    fn security_from(&self, file: &crate::config::FileConfig) -> Result<Security, CliError> {
        let token = self.token.as_deref().or(file.token.as_deref());
        let ca = self.tls_ca.as_deref().or(file.tls_ca.as_deref());
        Security::from_settings(token, ca).map_err(CliError::usage)
    }

    /// The registry `lts nodes` asks: `--registry` (or `LTS_REGISTRY`),
    /// else, unless `--tracker` (or `--mdns`) names trackers, the config
    /// file's `registry`.
    fn registry(&self) -> Result<Option<String>, CliError> {
        if let Some(registry) = &self.registry {
            return check_registry(registry).map(Some);
        }
        if self.tracker.is_some() || self.mdns {
            return Ok(None);
        }
        let file = crate::config::load_file_config().map_err(CliError::usage)?;
        file.registry.as_deref().map(check_registry).transpose()
    }

    /// The client group `lts feedback` reads: `--client-group`, else
    /// `LTS_CLIENT_GROUP` (clap reads both), else the config file's
    /// `client_group`.
    fn client_group(&self, args: &feedback::FeedbackArgs) -> Result<String, CliError> {
        if let Some(group) = &args.client_group {
            return Ok(group.clone());
        }
        let file = crate::config::load_file_config().map_err(CliError::usage)?;
        file.client_group.ok_or_else(|| {
            CliError::usage(
                "--client-group G is required (or set LTS_CLIENT_GROUP, or client_group in the config file)",
            )
        })
    }

    /// The data dir, where the spool lives.
    fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(crate::config::default_data_dir)
    }
}

/// A tracker address must be HOST:PORT with a port in 1-65535: a malformed
/// one is bad input (exit 2), not an unreachable tracker.
fn check_tracker(addr: &str) -> Result<(), CliError> {
    let ok = match addr.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--tracker '{}': expected HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:7420",
            crate::model::cut(addr, 80)
        )))
    }
}

fn check_registry(addr: &str) -> Result<String, CliError> {
    crate::config::check_registry(addr).map_err(CliError::usage)
}

/// Run one `lts` invocation.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let format = cli.output;
    match &cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Bench(args) => bench::run(cli.client().await?, args, format).await,
        Command::Cron(args) => cron::run(args, format),
        Command::Submit(args) => {
            submit::run(&cli.client().await?, args, format, &cli.data_dir()).await
        }
        Command::Jobs(args) => jobs::run(&cli.client().await?, args, format).await,
        Command::Job(args) => job::run(&cli.client().await?, args, format).await,
        Command::Logs(args) => logs::run(&cli.client().await?, args, format).await,
        Command::Nodes(args) => nodes::run(&cli, args, format).await,
        Command::Stats(args) => stats::run(&cli.client().await?, args, format).await,
        Command::Cancel(args) => {
            control::bulk(&cli.client().await?, Op::Cancel, args, format).await
        }
        Command::Suspend(args) => {
            control::bulk(&cli.client().await?, Op::Suspend, args, format).await
        }
        Command::Resume(args) => {
            control::bulk(&cli.client().await?, Op::Resume, args, format).await
        }
        Command::Edit(args) => edit::run(&cli.client().await?, args, format).await,
        Command::Purge(args) => purge::run(&cli.client().await?, args, format).await,
        Command::Alerts(args) => alerts::list_alerts(&cli.client().await?, args, format).await,
        Command::Alert(args) => alerts::rule(&cli.client().await?, args, format).await,
        Command::Flow(args) => flow::run(&cli.client().await?, args, format).await,
        Command::Status => status::status(&cli, format).await,
        Command::Version => status::version(&cli, format).await,
        Command::Trigger(args) => {
            control::run(&cli.client().await?, Op::Trigger, args, format).await
        }
        Command::Retry(args) => control::run(&cli.client().await?, Op::Retry, args, format).await,
        Command::Feedback(args) => {
            let group = cli.client_group(args)?;
            feedback::run(&cli.client().await?, &group, args, format).await
        }
        Command::Spool(args) => match args.command {
            SpoolCommand::List => spool::list(&cli.data_dir(), format),
            SpoolCommand::Flush => {
                spool::flush(&cli.client().await?, &cli.data_dir(), format).await
            }
        },
    }
}

/// The job a command names: `ID [--group G]`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobRefArgs {
    /// The job's task id
    #[arg(value_name = "ID")]
    pub id: String,
    /// The job's worker group, when the task id alone is ambiguous
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
}

impl JobRefArgs {
    pub fn job_ref(&self) -> crate::protocol::JobRef {
        crate::protocol::JobRef {
            task_id: self.id.clone(),
            group: self.group.clone(),
        }
    }
}
