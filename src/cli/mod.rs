//! The `lts` command line (LTS's JobClient): global options, one module per
//! subcommand with its clap `Args` and its `run`, and the mapping from
//! failures to SPEC's exit codes.

mod bench;
mod completions;
mod control;
mod cron;
mod error;
mod feedback;
mod job;
mod jobs;
mod logs;
mod nodes;
mod output;
mod spool;
mod submit;
mod submit_file;

pub use error::CliError;
pub use output::Format;

use crate::client::Client;
use clap::{Parser, Subcommand};
use control::Op;
use spool::SpoolCommand;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lts",
    version,
    about = "Submit, inspect and control jobs of an lts cluster",
    long_about = "Submit, inspect and control jobs of an lts cluster.\n\n\
The tracker address comes from --tracker, else LTS_TRACKER, else the trackers \
a registry lists (--registry, else LTS_REGISTRY), else `tracker` or `registry` in \
lts/config.toml in the platform config dir, else 127.0.0.1:7420. `lts nodes` asks \
the registry whenever one is named. The spool \
(`lts submit --spool`) lives in the data dir: --data, else LTS_DATA, else the \
platform data dir + lts.\n\n\
Exit codes: 0 ok; 1 the job or operation failed; 2 bad usage or bad input; \
3 not found; 4 no tracker or registry reachable."
)]
pub struct Cli {
    /// Tracker address(es) to talk to, comma-separated
    #[arg(long, global = true, env = "LTS_TRACKER", value_name = "ADDR[,ADDR..]")]
    pub tracker: Option<String>,
    /// A registry to find trackers through (and to ask for `nodes`)
    #[arg(long, global = true, env = "LTS_REGISTRY", value_name = "ADDR")]
    pub registry: Option<String>,
    /// Where lts keeps its spool [default: the platform data dir + lts]
    #[arg(long, global = true, env = "LTS_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
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
    /// Cancel a job: no more runs; a queued run leaves the queue, a running one is stopped
    Cancel(control::ControlArgs),
    /// Suspend a job: no more ticks; a running run finishes
    Suspend(control::ControlArgs),
    /// Resume a suspended job: missed ticks follow its misfire policy
    Resume(control::ControlArgs),
    /// Run a job once more now; its schedule is untouched
    Trigger(control::ControlArgs),
    /// Run a job's last run again when it did not succeed
    Retry(control::ControlArgs),
    /// Print (and acknowledge) the results of jobs submitted with --feedback
    Feedback(feedback::FeedbackArgs),
    /// List or deliver the jobs kept by `submit --spool` while no tracker answered
    Spool(spool::SpoolArgs),
    /// Print the next fire times of a cron expression, or why it is invalid
    Cron(cron::CronArgs),
    /// Load a cluster (or an in-process one) and print throughput and latency
    Bench(bench::BenchArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
}

impl Cli {
    /// The client for the tracker(s) this invocation names: `--tracker`
    /// (or `LTS_TRACKER`), else the trackers of `--registry` (or
    /// `LTS_REGISTRY`), else the config file's `tracker`, then `registry`,
    /// else the default tracker address.
    fn client(&self) -> Result<Client, CliError> {
        if let Some(list) = &self.tracker {
            return static_client(list);
        }
        if let Some(registry) = &self.registry {
            return Ok(Client::via_registry(check_registry(registry)?, "client"));
        }
        let file = crate::config::load_file_config().map_err(CliError::usage)?;
        match (file.tracker, file.registry) {
            (Some(list), _) => static_client(&list),
            (None, Some(registry)) => {
                Ok(Client::via_registry(check_registry(&registry)?, "client"))
            }
            (None, None) => static_client(crate::config::DEFAULT_TRACKER),
        }
    }

    /// The registry `lts nodes` asks: `--registry` (or `LTS_REGISTRY`),
    /// else, unless `--tracker` names a tracker, the config file's `registry`.
    fn registry(&self) -> Result<Option<String>, CliError> {
        if let Some(registry) = &self.registry {
            return check_registry(registry).map(Some);
        }
        if self.tracker.is_some() {
            return Ok(None);
        }
        let file = crate::config::load_file_config().map_err(CliError::usage)?;
        file.registry.as_deref().map(check_registry).transpose()
    }

    /// The data dir, where the spool lives.
    fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(crate::config::default_data_dir)
    }
}

fn static_client(list: &str) -> Result<Client, CliError> {
    let addrs = crate::config::split_addrs(list);
    if addrs.is_empty() {
        return Err(CliError::usage("--tracker: no address given"));
    }
    Ok(Client::new(addrs))
}

fn check_registry(addr: &str) -> Result<String, CliError> {
    let addr = addr.trim();
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(addr.into()),
        _ => Err(CliError::usage(format!(
            "--registry {addr}: expected HOST:PORT, e.g. 127.0.0.1:7410"
        ))),
    }
}

/// Run one `lts` invocation.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let format = cli.output;
    match &cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Bench(args) => bench::run(cli.client()?, args, format).await,
        Command::Cron(args) => cron::run(args, format),
        Command::Submit(args) => submit::run(&cli.client()?, args, format, &cli.data_dir()).await,
        Command::Jobs(args) => jobs::run(&cli.client()?, args, format).await,
        Command::Job(args) => job::run(&cli.client()?, args, format).await,
        Command::Logs(args) => logs::run(&cli.client()?, args, format).await,
        Command::Nodes(args) => nodes::run(&cli, args, format).await,
        Command::Cancel(args) => control::run(&cli.client()?, Op::Cancel, args, format).await,
        Command::Suspend(args) => control::run(&cli.client()?, Op::Suspend, args, format).await,
        Command::Resume(args) => control::run(&cli.client()?, Op::Resume, args, format).await,
        Command::Trigger(args) => control::run(&cli.client()?, Op::Trigger, args, format).await,
        Command::Retry(args) => control::run(&cli.client()?, Op::Retry, args, format).await,
        Command::Feedback(args) => feedback::run(&cli.client()?, args, format).await,
        Command::Spool(args) => match args.command {
            SpoolCommand::List => spool::list(&cli.data_dir(), format),
            SpoolCommand::Flush => spool::flush(&cli.client()?, &cli.data_dir(), format).await,
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
