//! `lts submit --file jobs.jsonl`: many jobs, one JSON object a line, keyed
//! by the flags' names (`{"group": "g", "cron": "0 * * * * ?", "params":
//! {"k": "v"}, "command": ["echo", "hi"]}`). Every line is checked before any
//! is sent; then they go in batches, with a progress bar.

use super::error::exit;
use super::output::{print_json, Format};
use super::submit::{job_from_args, parse_misfire, parse_overlap, SubmitArgs};
use super::CliError;
use crate::client::Client;
use crate::model::{parse_duration, JobSpec, Misfire, Overlap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// Jobs per `submit_many` call.
const BATCH: usize = 1_000;

/// One line of the file: the flags of `lts submit`, by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobLine {
    task_id: Option<String>,
    group: Option<String>,
    params: Option<BTreeMap<String, serde_json::Value>>,
    command: Option<Vec<String>>,
    cron: Option<String>,
    tz: Option<String>,
    at: Option<String>,
    delay: Option<String>,
    repeat_count: Option<i64>,
    repeat_interval: Option<String>,
    priority: Option<i32>,
    max_retries: Option<u32>,
    retry_backoff: Option<String>,
    timeout: Option<String>,
    replace: Option<bool>,
    overlap: Option<String>,
    rely_on_prev_cycle: Option<bool>,
    misfire: Option<String>,
    catch_up_window: Option<String>,
    feedback: Option<bool>,
    client_group: Option<String>,
    /// `["failed", "timed_out"]` or `"failed,timed_out"`.
    alert: Option<serde_json::Value>,
    alert_to: Option<String>,
}

fn duration(name: &str, value: Option<String>) -> Result<Option<Duration>, String> {
    value
        .map(|v| parse_duration(&v).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

impl JobLine {
    /// The job this line describes, checked as the flags would be.
    fn job(self) -> Result<JobSpec, String> {
        let schedules = [
            self.cron.is_some(),
            self.at.is_some(),
            self.delay.is_some(),
            self.repeat_count.is_some(),
        ];
        if schedules.iter().filter(|s| **s).count() > 1 {
            return Err("give at most one of cron, at, delay, repeat_count".into());
        }
        if self.repeat_count.is_some() != self.repeat_interval.is_some() {
            return Err("repeat_count and repeat_interval go together".into());
        }
        if self.tz.is_some() && self.cron.is_none() {
            return Err("tz needs cron".into());
        }
        if self.feedback == Some(true) && self.client_group.is_none() {
            return Err("feedback needs client_group".into());
        }
        let overlap = match self.overlap.as_deref() {
            None => Overlap::default(),
            Some(o) => parse_overlap(o).ok_or_else(|| {
                format!("overlap: '{o}' is not skip, allow, buffer-one or replace")
            })?,
        };
        let misfire = match self.misfire.as_deref() {
            None => Misfire::default(),
            Some(m) => parse_misfire(m)
                .ok_or_else(|| format!("misfire: '{m}' is not fire-once, skip or fire-all"))?,
        };
        let params = self
            .params
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        let alert = match self.alert {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(
                        "alert: expected outcome names, e.g. [\"failed\", \"timed_out\"]"
                            .to_string(),
                    ),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(
                    "alert: expected outcome names, e.g. [\"failed\", \"timed_out\"]".into(),
                )
            }
        };
        if alert.is_empty() != self.alert_to.is_none() {
            return Err("alert and alert_to go together".into());
        }
        let args = SubmitArgs {
            task_id: self.task_id,
            group: Some(self.group.ok_or("group is missing")?),
            params,
            params_json: None,
            cron: self.cron,
            tz: self.tz,
            at: self.at,
            delay: duration("delay", self.delay)?,
            repeat_count: self.repeat_count,
            repeat_interval: duration("repeat_interval", self.repeat_interval)?,
            priority: self.priority.unwrap_or(0),
            max_retries: self.max_retries.unwrap_or(0),
            retry_backoff: duration("retry_backoff", self.retry_backoff)?
                .unwrap_or(Duration::from_secs(1)),
            timeout: duration("timeout", self.timeout)?,
            replace: self.replace.unwrap_or(false),
            overlap: self.overlap.is_some().then_some(overlap),
            rely_on_prev_cycle: self.rely_on_prev_cycle.unwrap_or(false),
            misfire: self.misfire.is_some().then_some(misfire),
            catch_up_window: duration("catch_up_window", self.catch_up_window)?,
            feedback: self.feedback.unwrap_or(false),
            client_group: self.client_group,
            alert,
            alert_to: self.alert_to,
            wait: false,
            spool: false,
            file: None,
            command: self.command.unwrap_or_default(),
        };
        job_from_args(&args).map_err(|e| e.message)
    }
}

/// One line of a `--file`: the job it describes, or why it is none.
pub fn parse_job_line(line: &str) -> Result<JobSpec, String> {
    let parsed: JobLine = serde_json::from_str(line).map_err(|e| format!("not a job: {e}"))?;
    parsed.job()
}

/// A job given as one line of a file would be (the HTTP API's `POST
/// /api/v1/jobs` takes the same), checked as the flags would be.
pub fn job_from_line(value: serde_json::Value) -> Result<JobSpec, String> {
    let line: JobLine = serde_json::from_value(value).map_err(|e| format!("not a job: {e}"))?;
    line.job()
}

/// Read and check every line; the first bad one is the error. A task id
/// given twice in one group is bad too: the second would be refused after
/// the first was sent.
fn read_jobs(path: &Path) -> Result<Vec<(usize, JobSpec)>, CliError> {
    let shown = crate::model::cut(&path.display().to_string(), 120);
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("--file '{shown}': {e}")))?;
    let mut jobs = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: JobLine = serde_json::from_str(line).map_err(|e| {
            CliError::usage(format!(
                "{shown} line {n}: not a job: {}",
                crate::model::cut(&e.to_string(), 200)
            ))
        })?;
        let job = parsed
            .job()
            .map_err(|e| CliError::usage(format!("{shown} line {n}: {e}")))?;
        let key = (job.group.clone(), job.task_id.clone());
        if let Some(first) = seen.insert(key, n) {
            return Err(CliError::usage(format!(
                "{shown} line {n}: task id '{}' in group '{}' is already on line {first}",
                crate::model::cut(&job.task_id, 80),
                crate::model::cut(&job.group, 80)
            )));
        }
        jobs.push((n, job));
    }
    Ok(jobs)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The file's jobs in calls of at most `BATCH` jobs and
/// `MAX_CALL_PAYLOAD_BYTES` of payload (a call holds at least one job).
fn batches(jobs: &[(usize, JobSpec)]) -> Vec<&[(usize, JobSpec)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, job)) in jobs.iter().enumerate() {
        let size = crate::model::payload_bytes(job);
        let full = i - start == BATCH || bytes + size > crate::model::MAX_CALL_PAYLOAD_BYTES;
        if i > start && full {
            out.push(&jobs[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < jobs.len() {
        out.push(&jobs[start..]);
    }
    out
}

pub async fn run(client: &Client, path: &Path, format: Format) -> Result<(), CliError> {
    let jobs = read_jobs(path)?;
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} jobs {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut submitted = Vec::new();
    let mut refused = Vec::new();
    for chunk in batches(&jobs) {
        let specs: Vec<JobSpec> = chunk.iter().map(|(_, job)| job.clone()).collect();
        let acks = match client.submit_many(specs).await {
            Ok(acks) => acks,
            Err(e) => {
                bar.abandon();
                let e = CliError::from(e);
                return Err(CliError::new(
                    e.code,
                    format!(
                        "{} (after {} of {} were submitted)",
                        e.message,
                        submitted.len(),
                        plural(jobs.len(), "job", "jobs")
                    ),
                ));
            }
        };
        for ((n, job), ack) in chunk.iter().zip(acks) {
            match ack {
                Ok(ack) => {
                    if format == Format::Table {
                        bar.suspend(|| println!("{}", ack.task_id));
                    }
                    submitted.push(json!({"task_id": ack.task_id, "group": ack.group, "state": ack.state.as_str()}));
                }
                Err(e) => {
                    if format == Format::Table {
                        bar.suspend(|| eprintln!("line {n} ({}): {e}", job.task_id));
                    }
                    refused
                        .push(json!({"line": n, "task_id": job.task_id, "error": e.to_string()}));
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if format == Format::Json {
        print_json(&json!({"submitted": submitted, "refused": refused}));
    }
    eprintln!(
        "submitted {} from {}{}",
        plural(submitted.len(), "job", "jobs"),
        crate::model::cut(&path.display().to_string(), 120),
        if refused.is_empty() {
            String::new()
        } else {
            format!(", {} refused", refused.len())
        }
    );
    if !refused.is_empty() {
        return Err(CliError::new(exit::FAILED, ""));
    }
    Ok(())
}
