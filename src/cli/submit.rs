//! `lts submit`: build a job from flags, send it, print its task id; with
//! `--wait`, block until its first run ends and exit by its outcome; with
//! `--spool`, keep it in the local spool when no tracker answers. Jobs
//! waiting in the spool are delivered first.

use super::error::exit;
use super::output::{job_detail_json, print_json, Format};
use super::{spool, CliError};
use crate::client::Client;
use crate::jobline::{
    parse_dur, parse_misfire, parse_overlap, parse_param, parse_retries, parse_shards, JobFields,
    ScheduleFields,
};
use crate::model::{now_ms, JobState, Misfire, Overlap, RunOutcome, Schedule};
use crate::protocol::JobRef;
use crate::spool::{submit_or_spool, SpoolAt, Submitted};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The job's id [default: generated, short and sortable]
    #[arg(long, value_name = "ID")]
    pub task_id: Option<String>,
    /// Names this submission: run again with the same key (and the same
    /// job), the command answers as the first time instead of "already
    /// exists"; the key is refused for a different job. Without
    /// --task-id, the task id is made from the key [default: a random key
    /// per run]
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// The worker node group that may run it
    #[arg(long, short = 'g', value_name = "G", required_unless_present = "file")]
    pub group: Option<String>,
    /// A parameter for the runner (repeatable)
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Parameters as a JSON object
    #[arg(long, value_name = "JSON")]
    pub params_json: Option<String>,
    /// Quartz cron with seconds (`0 0/1 * * * ?`), 5-field Unix cron, or a macro (`@daily`)
    #[arg(long, value_name = "EXPR", conflicts_with_all = ["at", "delay", "repeat_count"])]
    pub cron: Option<String>,
    /// Time zone of the cron expression [default: the tracker's]
    #[arg(long, value_name = "Area/City", requires = "cron")]
    pub tz: Option<String>,
    /// Run once at this time
    #[arg(long, value_name = "RFC3339", conflicts_with_all = ["delay", "repeat_count"])]
    pub at: Option<String>,
    /// Run once after this long (`90s`, `15m`, `1h30m`, `3d`)
    #[arg(long, value_name = "DUR", value_parser = parse_dur, conflicts_with = "repeat_count", allow_hyphen_values = true)]
    pub delay: Option<Duration>,
    /// Run N times (-1: forever), --repeat-interval apart
    #[arg(
        long,
        value_name = "N",
        requires = "repeat_interval",
        allow_negative_numbers = true
    )]
    pub repeat_count: Option<i64>,
    /// The time between repeated runs
    #[arg(long, value_name = "DUR", value_parser = parse_dur, requires = "repeat_count", allow_hyphen_values = true)]
    pub repeat_interval: Option<Duration>,
    /// Higher runs first among due jobs
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub priority: i32,
    /// Run again on failure, up to N times
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_retries, allow_negative_numbers = true)]
    pub max_retries: u32,
    /// The first retry's delay; doubled each time, with jitter, capped at 1h
    #[arg(long, value_name = "DUR", value_parser = parse_dur, default_value = "1s", allow_hyphen_values = true)]
    pub retry_backoff: Duration,
    /// Stop a run that takes longer, and count it as timed out
    #[arg(long, value_name = "DUR", value_parser = parse_dur, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    /// Replace an existing job with the same task id and group
    #[arg(long)]
    pub replace: bool,
    /// When a tick comes while the previous run still goes [default: skip]
    #[arg(long, value_name = "POLICY",
          value_parser = PossibleValuesParser::new(["skip", "allow", "buffer-one", "replace"]).map(|s| overlap(&s)))]
    pub overlap: Option<Overlap>,
    /// The same as --overlap skip (LTS's relyOnPrevCycle)
    #[arg(long, conflicts_with = "overlap")]
    pub rely_on_prev_cycle: bool,
    /// Ticks missed while no tracker ran [default: fire-once]
    #[arg(long, value_name = "POLICY",
          value_parser = PossibleValuesParser::new(["fire-once", "skip", "fire-all"]).map(|s| misfire(&s)))]
    pub misfire: Option<Misfire>,
    /// With --misfire fire-all, catch up only ticks this recent
    #[arg(long, value_name = "DUR", value_parser = parse_dur, allow_hyphen_values = true)]
    pub catch_up_window: Option<Duration>,
    /// Keep the result in the client group's feedback queue until read
    #[arg(long, requires = "client_group")]
    pub feedback: bool,
    /// The submitting client node group
    #[arg(long, value_name = "G")]
    pub client_group: Option<String>,
    /// Raise an alert when a run ends so: failed (once retries are spent), timed_out, lost, skipped
    #[arg(
        long,
        value_name = "OUTCOME[,..]",
        value_delimiter = ',',
        requires = "alert_to"
    )]
    pub alert: Vec<String>,
    /// Where the job's alerts go: https://.., http://.. or cmd:PATH
    #[arg(long, value_name = "TARGET", requires = "alert")]
    pub alert_to: Option<String>,
    /// Run each tick once on every live worker of the group (one run per worker)
    #[arg(long, conflicts_with = "shards")]
    pub broadcast: bool,
    /// Run each tick as N runs (1 to 1000), spread over the group's workers,
    /// with LTS_SHARD=0..N-1 and LTS_SHARDS=N in their environment
    #[arg(long, value_name = "N", value_parser = parse_shards, allow_negative_numbers = true)]
    pub shards: Option<u32>,
    /// Wait (state `waiting`) until these jobs have succeeded; cancelled if one fails or is cancelled
    #[arg(long, value_name = "ID[,ID..]", value_delimiter = ',')]
    pub after: Vec<String>,
    /// Block until the first run ends; exit 0 if it succeeded, 1 if not
    #[arg(long)]
    pub wait: bool,
    /// If no tracker answers, keep the job in the local spool (in the data
    /// dir) and exit 0; `lts spool flush` or the next submit delivers it
    #[arg(long, conflicts_with = "wait")]
    pub spool: bool,
    /// Submit many jobs: one JSON job a line, with the flags' names as keys
    #[arg(long, value_name = "jobs.jsonl", conflicts_with_all = [
        "wait", "spool", "task_id", "idempotency_key", "group", "command", "params", "params_json", "cron", "tz",
        "at", "delay", "repeat_count", "repeat_interval", "priority", "max_retries",
        "retry_backoff", "timeout", "replace", "overlap", "rely_on_prev_cycle", "misfire",
        "catch_up_window", "feedback", "client_group", "alert", "alert_to", "broadcast", "shards",
        "after",
    ])]
    pub file: Option<std::path::PathBuf>,
    /// The job's own command, run by workers started with --allow-commands
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub(super) fn overlap(s: &str) -> Overlap {
    parse_overlap(s).unwrap_or_default()
}

pub(super) fn misfire(s: &str) -> Misfire {
    parse_misfire(s).unwrap_or_default()
}

impl SubmitArgs {
    /// The job's fields, as the flags give them.
    pub fn fields(&self) -> JobFields {
        JobFields {
            task_id: self.task_id.clone(),
            idempotency_key: self.idempotency_key.clone(),
            group: self.group.clone(),
            params: self.params.clone(),
            params_json: self.params_json.clone(),
            schedule: ScheduleFields {
                cron: self.cron.clone(),
                tz: self.tz.clone(),
                at: self.at.clone(),
                delay: self.delay,
                repeat_count: self.repeat_count,
                repeat_interval: self.repeat_interval,
            },
            priority: self.priority,
            max_retries: self.max_retries,
            retry_backoff: self.retry_backoff,
            timeout: self.timeout,
            replace: self.replace,
            overlap: self.overlap,
            rely_on_prev_cycle: self.rely_on_prev_cycle,
            misfire: self.misfire,
            catch_up_window: self.catch_up_window,
            feedback: self.feedback,
            client_group: self.client_group.clone(),
            alert: self.alert.clone(),
            alert_to: self.alert_to.clone(),
            broadcast: self.broadcast,
            shards: self.shards,
            after: self.after.clone(),
            command: self.command.clone(),
        }
    }
}

/// How long one `wait` call asks the tracker to hold on.
const WAIT_SLICE: Duration = Duration::from_secs(20);

pub async fn run(
    client: &Client,
    args: &SubmitArgs,
    format: Format,
    data: &Path,
) -> Result<(), CliError> {
    if let Some(file) = &args.file {
        return super::submit_file::run(client, file, format).await;
    }
    let job = args.fields().job()?;
    if let Schedule::At { at_ms } = job.schedule {
        if at_ms < now_ms() && args.at.is_some() {
            eprintln!(
                "note: --at {} is in the past: the job runs now",
                args.at.as_deref().unwrap_or_default()
            );
        }
    }
    let report = submit_or_spool(client, SpoolAt::Dir(data), &job, args.spool).await;
    spool::tell_waiting(&report);
    let ack = match report.outcome? {
        Submitted::Accepted(ack) => ack,
        Submitted::Spooled {
            task_id,
            group,
            pushed,
            reason,
        } => return spool::tell_spooled(&task_id, &group, pushed, &reason, format),
    };
    if !args.wait {
        match format {
            Format::Json => print_json(&json!({
                "task_id": ack.task_id,
                "group": ack.group,
                "state": ack.state.as_str(),
            })),
            Format::Table => println!("{}", ack.task_id),
        }
        return Ok(());
    }
    if format == Format::Table {
        println!("{}", ack.task_id);
    }
    let job_ref = JobRef {
        task_id: ack.task_id.clone(),
        group: Some(ack.group.clone()),
    };
    let mut noted = false;
    let detail = loop {
        let detail = client.wait(job_ref.clone(), WAIT_SLICE).await?;
        if detail.first_run_ended() {
            break detail;
        }
        if let (Some(note), false) = (&detail.job.note, noted) {
            eprintln!("waiting: {note}");
            noted = true;
        }
    };
    // The run that says how the first tick went: the one that did not
    // succeed, when the tick fanned out into several.
    let ends = detail.first_tick_ends();
    let first = ends
        .iter()
        .find(|r| r.outcome != Some(RunOutcome::Succeeded))
        .or(ends.first())
        .copied();
    let outcome = detail.first_tick_outcome();
    match format {
        Format::Json => print_json(&job_detail_json(&detail)),
        Format::Table => {
            let exit_code = first
                .and_then(|r| r.exit_code)
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            let what = outcome
                .map(|o| o.as_str())
                .unwrap_or(detail.job.state.as_str());
            // "exited with code 3" says no more than "(exit 3)".
            let reason = first
                .and_then(|r| r.reason.clone())
                .filter(|_| outcome != Some(RunOutcome::Succeeded))
                .filter(|r| !r.starts_with("exited with code"))
                .map(|r| format!(": {}", crate::model::cut(&r, 200)))
                .unwrap_or_default();
            eprintln!("{}: {what}{exit_code}{reason}", ack.task_id);
        }
    }
    if outcome == Some(RunOutcome::Succeeded) && detail.job.state != JobState::Cancelled {
        Ok(())
    } else {
        Err(CliError::new(exit::FAILED, ""))
    }
}
