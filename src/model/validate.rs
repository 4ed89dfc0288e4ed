//! Checks a job before it is stored: each bad field gets its own message
//! naming the field, so the CLI can print one clear line.

use super::{valid_name, JobSpec, Schedule};
use crate::schedule::{Plan, PlanError};
use thiserror::Error;

/// A job field that is not acceptable, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError {
        field,
        reason: reason.into(),
    }
}

/// The latest instant a job may name: the end of year 9999.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// The longest duration a job may name: 100 years.
pub const MAX_DURATION_MS: u64 = 100 * 366 * 86_400_000;

fn duration_ok(field: &'static str, ms: u64) -> Result<(), ValidationError> {
    if ms > MAX_DURATION_MS {
        return Err(bad(field, "at most 100 years"));
    }
    Ok(())
}

const NAME_RULE: &str = "ASCII letters, digits, '-', '_', '.', ':' or '@', not starting with '-' \
(it would read as a flag)";

/// The most bytes a job's params and command may take together.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// The most job payload one call carries (a batch of submits, a pull, a
/// page of jobs), well under the 64 MiB frame: calls are cut by bytes as
/// well as by count.
pub const MAX_CALL_PAYLOAD_BYTES: usize = 8 << 20;

/// A job's params and command, in bytes: what the per-job limit counts.
pub fn payload_bytes(job: &JobSpec) -> usize {
    job.params
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .chain(job.command.iter().map(String::len))
        .sum()
}
/// The most jobs one job may run after.
pub const MAX_AFTER: usize = 500;
/// The finest schedule: no repeat interval under this.
pub const MIN_INTERVAL_MS: u64 = 1_000;
/// The most runs a repeat job may ask for (`-1` is forever).
pub const MAX_REPEAT_COUNT: i64 = 1_000_000_000;

/// User text in a message: quoted by the caller, cut and kept on one line here.
fn shown(text: &str) -> String {
    super::cut(text, 80)
}

/// Check every field of a job, cron expressions and time zones included.
pub fn validate_job(job: &JobSpec) -> Result<(), ValidationError> {
    if !valid_name(&job.group, 64) {
        return Err(bad(
            "--group",
            format!(
                "'{}' is not a valid group: 1-64 {NAME_RULE}",
                shown(&job.group)
            ),
        ));
    }
    if !valid_name(&job.task_id, 128) {
        return Err(bad(
            "--task-id",
            format!(
                "'{}' is not a valid task id: 1-128 {NAME_RULE}",
                shown(&job.task_id)
            ),
        ));
    }
    if let Some(key) = &job.idempotency_key {
        let printable = key.chars().all(|c| c.is_ascii_graphic());
        if key.is_empty() || key.len() > 128 || !printable {
            return Err(bad(
                "--idempotency-key",
                format!(
                    "'{}' is not a valid key: 1-128 printable ASCII characters, no spaces",
                    shown(key)
                ),
            ));
        }
    }
    for key in job.params.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(bad(
                "--param",
                format!("'{}' is not a valid key", shown(key)),
            ));
        }
    }
    if job.params.values().any(|v| v.contains('\0')) {
        return Err(bad("--param", "values may not contain NUL bytes"));
    }
    if job.command.iter().any(|a| a.contains('\0')) {
        return Err(bad("command", "arguments may not contain NUL bytes"));
    }
    if job.command.first().is_some_and(|c| c.is_empty()) {
        return Err(bad("command", "the command name is empty"));
    }
    let payload = payload_bytes(job);
    if payload > MAX_PAYLOAD_BYTES {
        return Err(bad(
            "params and command",
            format!("{payload} bytes; a job's params and command take at most 1 MiB together"),
        ));
    }
    if job.schedule == Schedule::Now {
        let policies = [
            (job.overlap != super::Overlap::default(), "--overlap"),
            (job.misfire != super::Misfire::default(), "--misfire"),
            (job.catch_up_window_ms.is_some(), "--catch-up-window"),
        ];
        if let Some((_, flag)) = policies.iter().find(|(on, _)| *on) {
            return Err(bad(
                flag,
                "applies to cron and repeat jobs, not to a job that runs now",
            ));
        }
    }
    if job.after.len() > MAX_AFTER {
        return Err(bad(
            "--after",
            format!("at most {MAX_AFTER} jobs, not {}", job.after.len()),
        ));
    }
    if let Some(id) = job.after.iter().find(|id| !valid_name(id, 128)) {
        return Err(bad(
            "--after",
            format!("'{}' is not a valid task id: 1-128 {NAME_RULE}", shown(id)),
        ));
    }
    if job.after.contains(&job.task_id) {
        return Err(bad(
            "--after",
            format!(
                "the job would wait for itself ('{}'): a cycle",
                shown(&job.task_id)
            ),
        ));
    }
    if job.max_retries > 10_000 {
        return Err(bad("--max-retries", "at most 10000"));
    }
    duration_ok("--retry-backoff", job.retry_backoff_ms)?;
    duration_ok("--timeout", job.timeout_ms.unwrap_or(0))?;
    duration_ok("--catch-up-window", job.catch_up_window_ms.unwrap_or(0))?;
    if job.timeout_ms == Some(0) {
        return Err(bad("--timeout", "must be longer than 0s"));
    }
    if job.catch_up_window_ms == Some(0) {
        return Err(bad("--catch-up-window", "must be longer than 0s"));
    }
    if let Some(group) = &job.client_group {
        if !valid_name(group, 64) {
            return Err(bad(
                "--client-group",
                format!("'{}' is not a valid group: 1-64 {NAME_RULE}", shown(group)),
            ));
        }
    }
    if job.feedback && job.client_group.is_none() {
        return Err(bad(
            "--feedback",
            "needs --client-group G to say where results go",
        ));
    }
    if let Some(outcome) = job
        .alert
        .iter()
        .find(|o| !super::alert::ALERT_OUTCOMES.contains(o))
    {
        return Err(bad(
            "--alert",
            format!(
                "'{outcome}' is not an outcome to alert on: use failed, timed_out, lost or skipped"
            ),
        ));
    }
    match (&job.alert_to, job.alert.is_empty()) {
        (Some(to), false) => {
            super::alert::check_target(to).map_err(|e| bad("--alert-to", e))?;
        }
        (None, false) => {
            return Err(bad(
                "--alert",
                "needs --alert-to TARGET to say where alerts go",
            ));
        }
        (Some(_), true) => {
            return Err(bad(
                "--alert-to",
                "needs --alert OUTCOME[,..] to say which run outcomes raise an alert",
            ));
        }
        (None, true) => {}
    }
    if let super::FanOut::Shards(n) = job.fan_out {
        if !(1..=super::MAX_SHARDS).contains(&n) {
            return Err(bad(
                "--shards",
                format!(
                    "{n} is not a number of shards: give 1 to {}",
                    super::MAX_SHARDS
                ),
            ));
        }
    }
    match &job.schedule {
        Schedule::Now => {}
        Schedule::At { at_ms } => {
            if !(0..=MAX_TIME_MS).contains(at_ms) {
                return Err(bad("--at", "must be between 1970 and the end of year 9999"));
            }
        }
        Schedule::Cron { expr, .. } => {
            let plan = Plan::new(&job.schedule, 0, chrono_tz::Tz::UTC).map_err(|e| match e {
                PlanError::Cron(e) => bad("--cron", format!("'{}': {e}", shown(expr))),
                PlanError::Zone(e) => bad("--tz", e),
            })?;
            if plan.after(super::now_ms()).is_none() {
                return Err(bad(
                    "--cron",
                    format!(
                        "'{}' never fires again (check its year and day fields)",
                        shown(expr)
                    ),
                ));
            }
        }
        Schedule::Repeat { count, interval_ms } => {
            if *count == 0 || *count < -1 || *count > MAX_REPEAT_COUNT {
                return Err(bad(
                    "--repeat-count",
                    "must be -1 (forever) or 1 to 1000000000",
                ));
            }
            if *interval_ms < MIN_INTERVAL_MS {
                return Err(bad(
                    "--repeat-interval",
                    "at least 1s: the finest schedule is once a second",
                ));
            }
            duration_ok("--repeat-interval", *interval_ms)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_job() {
        assert_eq!(validate_job(&JobSpec::new("g", "t1")), Ok(()));
    }

    #[test]
    fn names_the_bad_field() {
        let mut job = JobSpec::new("bad group", "t1");
        assert_eq!(validate_job(&job).unwrap_err().field, "--group");
        job.group = "g".into();
        job.schedule = Schedule::Repeat {
            count: 3,
            interval_ms: 0,
        };
        assert_eq!(validate_job(&job).unwrap_err().field, "--repeat-interval");
        job.schedule = Schedule::Cron {
            expr: "* *".into(),
            tz: None,
        };
        assert_eq!(validate_job(&job).unwrap_err().field, "--cron");
        job.schedule = Schedule::Cron {
            expr: "0 * * * * ?".into(),
            tz: Some("Mars/Olympus".into()),
        };
        assert_eq!(validate_job(&job).unwrap_err().field, "--tz");
    }

    #[test]
    fn shards_are_bounded() {
        let mut job = JobSpec::new("g", "t1");
        for (n, ok) in [(0, false), (1, true), (super::super::MAX_SHARDS, true)] {
            job.fan_out = super::super::FanOut::Shards(n);
            assert_eq!(validate_job(&job).is_ok(), ok, "{n}");
        }
        job.fan_out = super::super::FanOut::Shards(super::super::MAX_SHARDS + 1);
        assert_eq!(validate_job(&job).unwrap_err().field, "--shards");
    }
}
