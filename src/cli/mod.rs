//! The `lts` command line (LTS's JobClient): global options, one module per
//! subcommand with its clap `Args` and its `run`, and the mapping from
//! failures to SPEC's exit codes.

mod bench;
mod completions;
mod control;
mod cron;
mod discovery;
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
The tracker address comes from --tracker, else LTS_TRACKER, else `tracker` in \
lts/config.toml in the platform config dir, else 127.0.0.1:7420; with --mdns, from \
the trackers that answer on the local network. With several trackers, --balance picks \
one (random, round-robin or first) and the next is used when it fails. The spool \
(`lts submit --spool`) lives in the data dir: --data, else LTS_DATA, else the \
platform data dir + lts.\n\n\
Exit codes: 0 ok; 1 the job or operation failed; 2 bad usage or bad input; \
3 not found; 4 no tracker reachable."
)]
pub struct Cli {
    /// Tracker address(es) to talk to, comma-separated
    #[arg(long, global = true, env = "LTS_TRACKER", value_name = "ADDR[,ADDR..]")]
    pub tracker: Option<String>,
    /// With several trackers, which one to use [default: random]
    #[arg(
        long,
        global = true,
        env = "LTS_BALANCE",
        value_enum,
        value_name = "POLICY"
    )]
    pub balance: Option<crate::balance::Policy>,
    /// Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker
    #[arg(long, global = true)]
    pub mdns: bool,
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
    /// List the tracker and the workers connected to it
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
    /// The client for the trackers this invocation names (or finds by
    /// mDNS), with its balancing policy.
    async fn client(&self) -> Result<Client, CliError> {
        let file = || crate::config::load_file_config().map_err(CliError::usage);
        let addrs = if self.mdns {
            discovery::find_trackers().await?
        } else {
            let list = match &self.tracker {
                Some(list) => list.clone(),
                None => file()?
                    .tracker
                    .unwrap_or_else(|| crate::config::DEFAULT_TRACKER.to_string()),
            };
            crate::config::split_addrs(&list)
        };
        if addrs.is_empty() {
            return Err(CliError::usage("--tracker: no address given"));
        }
        let policy = match self.balance {
            Some(policy) => policy,
            None => match file()?.balance {
                Some(name) => crate::balance::Policy::parse(&name)
                    .map_err(|e| CliError::usage(format!("config file: balance: {e}")))?,
                None => crate::balance::Policy::default(),
            },
        };
        let turn = match policy {
            crate::balance::Policy::RoundRobin if addrs.len() > 1 => {
                crate::balance::take_turn(&self.data_dir())
            }
            _ => 0,
        };
        Ok(Client::new(addrs).with_policy(policy, turn))
    }

    /// The data dir, where the spool lives.
    fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(crate::config::default_data_dir)
    }
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
        Command::Nodes(args) => nodes::run(&cli.client().await?, args, format).await,
        Command::Cancel(args) => control::run(&cli.client().await?, Op::Cancel, args, format).await,
        Command::Suspend(args) => {
            control::run(&cli.client().await?, Op::Suspend, args, format).await
        }
        Command::Resume(args) => control::run(&cli.client().await?, Op::Resume, args, format).await,
        Command::Trigger(args) => {
            control::run(&cli.client().await?, Op::Trigger, args, format).await
        }
        Command::Retry(args) => control::run(&cli.client().await?, Op::Retry, args, format).await,
        Command::Feedback(args) => feedback::run(&cli.client().await?, args, format).await,
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
