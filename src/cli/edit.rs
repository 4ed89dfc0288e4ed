//! `lts edit ID [--group G] [job flags]`: change a job's schedule, params,
//! command or limits in place. Its task id, group and run history stay
//! (`submit --replace` starts the job afresh instead).

use super::output::{job_json, print_json, Format};
use super::submit::{misfire, overlap};
use super::{CliError, JobRefArgs};
use crate::client::Client;
use crate::jobline::{parse_dur, parse_param, parse_retries, EditFields, ScheduleFields};
use crate::model::{Misfire, Overlap};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
    /// A new cron schedule: Quartz with seconds, 5-field Unix cron, or a macro (`@daily`)
    #[arg(long, value_name = "EXPR", conflicts_with_all = ["at", "delay", "repeat_count"])]
    pub cron: Option<String>,
    /// Time zone of the new cron expression [default: the tracker's]
    #[arg(long, value_name = "Area/City", requires = "cron")]
    pub tz: Option<String>,
    /// Run once at this time instead
    #[arg(long, value_name = "RFC3339", conflicts_with_all = ["delay", "repeat_count"])]
    pub at: Option<String>,
    /// Run once this long from now instead
    #[arg(long, value_name = "DUR", value_parser = parse_dur, conflicts_with = "repeat_count", allow_hyphen_values = true)]
    pub delay: Option<Duration>,
    /// Run N times (-1: forever), --repeat-interval apart, counted from the job's first fire
    #[arg(
        long,
        value_name = "N",
        requires = "repeat_interval",
        allow_negative_numbers = true
    )]
    pub repeat_count: Option<i64>,
    /// The time between repeated runs (at least 1s)
    #[arg(long, value_name = "DUR", value_parser = parse_dur, requires = "repeat_count", allow_hyphen_values = true)]
    pub repeat_interval: Option<Duration>,
    /// Set a parameter (repeatable); the others stay unless --replace-params
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Set parameters from a JSON object
    #[arg(long, value_name = "JSON")]
    pub params_json: Option<String>,
    /// Drop every parameter not given with --param or --params-json
    #[arg(long)]
    pub replace_params: bool,
    /// Higher runs first among due jobs
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// Run again on failure, up to N times
    #[arg(long, value_name = "N", value_parser = parse_retries, allow_negative_numbers = true)]
    pub max_retries: Option<u32>,
    /// The first retry's delay; doubled each time, with jitter, capped at 1h
    #[arg(long, value_name = "DUR", value_parser = parse_dur, allow_hyphen_values = true)]
    pub retry_backoff: Option<Duration>,
    /// Stop a run that takes longer, and count it as timed out
    #[arg(long, value_name = "DUR", value_parser = parse_dur, allow_hyphen_values = true, conflicts_with = "no_timeout")]
    pub timeout: Option<Duration>,
    /// Remove the job's timeout
    #[arg(long)]
    pub no_timeout: bool,
    /// When a tick comes while the previous run still goes
    #[arg(long, value_name = "POLICY",
          value_parser = PossibleValuesParser::new(["skip", "allow", "buffer-one", "replace"]).map(|s| overlap(&s)))]
    pub overlap: Option<Overlap>,
    /// Ticks missed while no tracker ran
    #[arg(long, value_name = "POLICY",
          value_parser = PossibleValuesParser::new(["fire-once", "skip", "fire-all"]).map(|s| misfire(&s)))]
    pub misfire: Option<Misfire>,
    /// With --misfire fire-all, catch up only ticks this recent
    #[arg(long, value_name = "DUR", value_parser = parse_dur, allow_hyphen_values = true)]
    pub catch_up_window: Option<Duration>,
    /// Raise an alert when a run ends so, from now on: failed (once retries are spent), timed_out, lost, skipped
    #[arg(
        long,
        value_name = "OUTCOME[,..]",
        value_delimiter = ',',
        conflicts_with = "no_alert"
    )]
    pub alert: Vec<String>,
    /// Where the job's alerts go from now on: https://.., http://.. or cmd:PATH
    #[arg(long, value_name = "TARGET", conflicts_with = "no_alert")]
    pub alert_to: Option<String>,
    /// Stop raising alerts for this job (its outcomes and target are removed)
    #[arg(long)]
    pub no_alert: bool,
    /// A new command for the job
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl EditArgs {
    /// The change's fields, as the flags give them.
    fn fields(&self) -> EditFields {
        EditFields {
            schedule: ScheduleFields {
                cron: self.cron.clone(),
                tz: self.tz.clone(),
                at: self.at.clone(),
                delay: self.delay,
                repeat_count: self.repeat_count,
                repeat_interval: self.repeat_interval,
            },
            params: self.params.clone(),
            params_json: self.params_json.clone(),
            replace_params: self.replace_params,
            priority: self.priority,
            max_retries: self.max_retries,
            retry_backoff: self.retry_backoff,
            timeout: self.timeout,
            no_timeout: self.no_timeout,
            overlap: self.overlap,
            misfire: self.misfire,
            catch_up_window: self.catch_up_window,
            alert: self.alert.clone(),
            alert_to: self.alert_to.clone(),
            no_alert: self.no_alert,
            command: self.command.clone(),
        }
    }
}

pub async fn run(client: &Client, args: &EditArgs, format: Format) -> Result<(), CliError> {
    let edit = args.fields().edit()?;
    let job = client.edit(args.job.job_ref(), edit).await?;
    match format {
        Format::Json => print_json(&job_json(&job)),
        Format::Table => println!(
            "edited {} (group {}): {}",
            job.spec.task_id,
            job.spec.group,
            super::output::schedule(&job.spec.schedule)
        ),
    }
    Ok(())
}
