//! `lts submit --file jobs.jsonl`: many jobs, one JSON object a line, keyed
//! by the flags' names (`{"group": "g", "cron": "0 * * * * ?", "params":
//! {"k": "v"}, "command": ["echo", "hi"]}`). Every line is checked before any
//! is sent; then they go in batches, with a progress bar.

use super::error::exit;
use super::output::{print_json, Format};
use super::CliError;
use crate::client::Client;
use crate::jobline::parse_job_line;
use crate::model::JobSpec;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Jobs per `submit_many` call.
const BATCH: usize = 1_000;

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
        let job =
            parse_job_line(line).map_err(|e| CliError::usage(format!("{shown} line {n}: {e}")))?;
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
