//! `lts edit ID [--group G] [job flags]`: change a job's schedule, params,
//! command or limits in place. Its task id, group and run history stay
//! (`submit --replace` starts the job afresh instead).

use super::output::{job_json, print_json, Format};
use super::submit::{misfire, overlap, parse_dur, parse_param, parse_retries};
use super::{CliError, JobRefArgs};
use crate::client::Client;
use crate::model::{now_ms, Misfire, Overlap, Schedule};
use crate::protocol::JobEdit;
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
    /// A new command for the job
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// The change the flags describe.
fn edit_from(args: &EditArgs) -> Result<JobEdit, CliError> {
    let schedule = if let Some(expr) = &args.cron {
        Some(Schedule::Cron {
            expr: expr.trim().to_string(),
            tz: args.tz.clone(),
        })
    } else if let Some(at) = &args.at {
        let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| {
            CliError::usage(format!(
                "--at: '{}' is not an RFC 3339 time ({e}); e.g. 2026-01-31T09:30:00Z",
                crate::model::cut(at, 60)
            ))
        })?;
        Some(Schedule::At {
            at_ms: at.timestamp_millis(),
        })
    } else if let Some(delay) = args.delay {
        Some(Schedule::At {
            at_ms: now_ms().saturating_add(i64::try_from(millis(delay)).unwrap_or(i64::MAX)),
        })
    } else if let (Some(count), Some(interval)) = (args.repeat_count, args.repeat_interval) {
        Some(Schedule::Repeat {
            count,
            interval_ms: millis(interval),
        })
    } else {
        None
    };
    let mut set_params = std::collections::BTreeMap::new();
    if let Some(text) = &args.params_json {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CliError::usage(format!("--params-json: not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(CliError::usage("--params-json: expected a JSON object"));
        };
        for (key, value) in map {
            let value = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            set_params.insert(key, value);
        }
    }
    set_params.extend(args.params.iter().cloned());
    Ok(JobEdit {
        schedule,
        set_params,
        replace_params: args.replace_params,
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        priority: args.priority,
        max_retries: args.max_retries,
        retry_backoff_ms: args.retry_backoff.map(millis),
        timeout_ms: if args.no_timeout {
            Some(None)
        } else {
            args.timeout.map(|t| Some(millis(t)))
        },
        overlap: args.overlap,
        misfire: args.misfire,
        catch_up_window_ms: args.catch_up_window.map(|w| Some(millis(w))),
    })
}

pub async fn run(client: &Client, args: &EditArgs, format: Format) -> Result<(), CliError> {
    let edit = edit_from(args)?;
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

/// A change as JSON, keyed as the flags are (`{"cron": "..", "params":
/// {..}, "timeout": null}`): what the HTTP API's `PATCH` takes. A `null`
/// timeout removes it.
pub fn edit_from_line(value: serde_json::Value) -> Result<JobEdit, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EditLine {
        cron: Option<String>,
        tz: Option<String>,
        at: Option<String>,
        delay: Option<String>,
        repeat_count: Option<i64>,
        repeat_interval: Option<String>,
        params: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        replace_params: bool,
        command: Option<Vec<String>>,
        priority: Option<i32>,
        max_retries: Option<u32>,
        retry_backoff: Option<String>,
        #[serde(default, deserialize_with = "present")]
        timeout: Option<Option<String>>,
        overlap: Option<String>,
        misfire: Option<String>,
        catch_up_window: Option<String>,
    }
    /// A key given as `null` is `Some(None)`; a key left out is `None`.
    fn present<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        serde::Deserialize::deserialize(d).map(Some)
    }
    let line: EditLine = serde_json::from_value(value).map_err(|e| format!("not a change: {e}"))?;
    let dur = |name: &str, v: &Option<String>| -> Result<Option<Duration>, String> {
        v.as_deref()
            .map(|t| parse_dur(t).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    if line.repeat_count.is_some() != line.repeat_interval.is_some() {
        return Err("repeat_count and repeat_interval go together".into());
    }
    if line.tz.is_some() && line.cron.is_none() {
        return Err("tz needs cron".into());
    }
    let policy = |name: &str, v: &Option<String>, ok: &[&str]| -> Result<(), String> {
        match v {
            Some(p) if !ok.contains(&p.as_str()) => Err(format!(
                "{name}: '{}' is not one of {}",
                crate::model::cut(p, 40),
                ok.join(", ")
            )),
            _ => Ok(()),
        }
    };
    policy(
        "overlap",
        &line.overlap,
        &["skip", "allow", "buffer-one", "replace"],
    )?;
    policy("misfire", &line.misfire, &["fire-once", "skip", "fire-all"])?;
    let params_json = line
        .params
        .map(|p| serde_json::Value::Object(p).to_string());
    let args = EditArgs {
        job: JobRefArgs {
            id: String::new(),
            group: None,
        },
        cron: line.cron,
        tz: line.tz,
        at: line.at,
        delay: dur("delay", &line.delay)?,
        repeat_count: line.repeat_count,
        repeat_interval: dur("repeat_interval", &line.repeat_interval)?,
        params: Vec::new(),
        params_json,
        replace_params: line.replace_params,
        priority: line.priority,
        max_retries: line.max_retries,
        retry_backoff: dur("retry_backoff", &line.retry_backoff)?,
        timeout: dur("timeout", &line.timeout.clone().flatten())?,
        no_timeout: matches!(line.timeout, Some(None)),
        overlap: line.overlap.as_deref().map(overlap),
        misfire: line.misfire.as_deref().map(misfire),
        catch_up_window: dur("catch_up_window", &line.catch_up_window)?,
        command: line.command.unwrap_or_default(),
    };
    edit_from(&args).map_err(|e| e.message)
}
