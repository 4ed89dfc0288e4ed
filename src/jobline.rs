//! A job, or a change to one, given as named fields (the flags of `lts
//! submit` and `lts edit`, by name): [`JobFields`] and [`EditFields`], and the
//! JSON lines that carry them (a `submit --file` line, the HTTP API's `POST`
//! and `PATCH` bodies). The CLI and the console both build jobs here, so a job
//! is checked the same way whichever door it came in by.

use crate::model::{
    cut, new_task_id, now_ms, parse_duration, task_id_for_key, validate_job, FanOut, FlowSpec,
    FlowStep, JobSpec, Misfire, OnFailure, Overlap, Schedule,
};
use crate::protocol::JobEdit;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

/// Why fields do not make a job or a change: one line naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct FieldError(pub String);

impl From<String> for FieldError {
    fn from(message: String) -> Self {
        FieldError(message)
    }
}

impl From<&str> for FieldError {
    fn from(message: &str) -> Self {
        FieldError(message.to_string())
    }
}

/// A duration given by hand: 0s or more, at most 100 years.
pub fn parse_dur(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!(
            "'{}' is negative: a duration is 0s or more, e.g. 5s",
            cut(s, 40)
        ));
    }
    let d = parse_duration(s)?;
    if d > Duration::from_millis(crate::model::MAX_DURATION_MS) {
        return Err(format!("'{s}' is longer than 100 years"));
    }
    Ok(d)
}

/// A count of retries, with a message that fits a negative one.
pub fn parse_retries(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("'{n}' is negative: give 0 (no retries) or more")),
        Ok(n) => u32::try_from(n).map_err(|_| format!("'{n}' is too large (at most 10000)")),
        Err(_) => Err(format!("'{}' is not a number of retries", cut(s, 40))),
    }
}

/// A number of shards: 1 to `MAX_SHARDS`.
pub fn parse_shards(s: &str) -> Result<u32, String> {
    let max = crate::model::MAX_SHARDS;
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(max)).contains(&n) => Ok(n as u32),
        Ok(n) => Err(format!("{n} is not a number of shards: give 1 to {max}")),
        Err(_) => Err(format!(
            "'{}' is not a number of shards: give 1 to {max}",
            cut(s, 40)
        )),
    }
}

/// `KEY=VALUE`, with a key.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// An overlap policy, by name.
pub fn parse_overlap(s: &str) -> Option<Overlap> {
    match s {
        "skip" => Some(Overlap::Skip),
        "allow" => Some(Overlap::Allow),
        "buffer-one" => Some(Overlap::BufferOne),
        "replace" => Some(Overlap::Replace),
        _ => None,
    }
}

/// A misfire policy, by name.
pub fn parse_misfire(s: &str) -> Option<Misfire> {
    match s {
        "fire-once" => Some(Misfire::FireOnce),
        "skip" => Some(Misfire::Skip),
        "fire-all" => Some(Misfire::FireAll),
        _ => None,
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// `params_json` and `params` together: the JSON object first, then each
/// `KEY=VALUE` over it. Values that are not strings keep their JSON text.
fn merge_params(
    params_json: Option<&str>,
    params: &[(String, String)],
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut merged = BTreeMap::new();
    if let Some(text) = params_json {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("--params-json: not valid JSON: {e}"))?;
        let serde_json::Value::Object(map) = value else {
            return Err("--params-json: expected a JSON object".into());
        };
        merged.extend(map.into_iter().map(|(k, v)| (k, text_of(v))));
    }
    merged.extend(params.iter().cloned());
    Ok(merged)
}

/// A JSON value as a parameter's text: a string as it is, anything else as JSON.
fn text_of(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// When a job runs, as the flags give it: at most one of cron (with its
/// zone), at, delay, repeat; none is "now" for a new job and "unchanged" for
/// an edit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleFields {
    pub cron: Option<String>,
    pub tz: Option<String>,
    pub at: Option<String>,
    pub delay: Option<Duration>,
    pub repeat_count: Option<i64>,
    pub repeat_interval: Option<Duration>,
}

impl ScheduleFields {
    /// The schedule the fields name, if any: cron, else at, else delay,
    /// else repeat.
    pub fn schedule(&self) -> Result<Option<Schedule>, FieldError> {
        if let Some(expr) = &self.cron {
            return Ok(Some(Schedule::Cron {
                expr: expr.trim().to_string(),
                tz: self.tz.clone(),
            }));
        }
        if let Some(at) = &self.at {
            let at = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| {
                format!(
                    "--at: '{}' is not an RFC 3339 time ({e}); e.g. 2026-01-31T09:30:00Z",
                    cut(at, 60)
                )
            })?;
            return Ok(Some(Schedule::At {
                at_ms: at.timestamp_millis(),
            }));
        }
        if let Some(delay) = self.delay {
            return Ok(Some(Schedule::At {
                at_ms: now_ms().saturating_add(i64::try_from(millis(delay)).unwrap_or(i64::MAX)),
            }));
        }
        if let (Some(count), Some(interval)) = (self.repeat_count, self.repeat_interval) {
            return Ok(Some(Schedule::Repeat {
                count,
                interval_ms: millis(interval),
            }));
        }
        Ok(None)
    }
}

/// A new job, field by field, as `lts submit`'s flags give it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFields {
    /// Generated (short and sortable) when left out; made from the
    /// idempotency key when one is given (`task_id_for_key`), so the same
    /// command run again names the same job.
    pub task_id: Option<String>,
    /// Names the submission (`--idempotency-key`); the client makes one up
    /// when left out.
    pub idempotency_key: Option<String>,
    pub group: Option<String>,
    pub params: Vec<(String, String)>,
    pub params_json: Option<String>,
    pub schedule: ScheduleFields,
    pub priority: i32,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub timeout: Option<Duration>,
    pub replace: bool,
    pub overlap: Option<Overlap>,
    pub rely_on_prev_cycle: bool,
    pub misfire: Option<Misfire>,
    pub catch_up_window: Option<Duration>,
    pub feedback: bool,
    pub client_group: Option<String>,
    pub alert: Vec<String>,
    pub alert_to: Option<String>,
    /// One run a tick on every live worker of the group.
    pub broadcast: bool,
    /// N runs a tick, one per shard.
    pub shards: Option<u32>,
    /// Task ids of the jobs it runs after.
    pub after: Vec<String>,
    pub command: Vec<String>,
}

impl Default for JobFields {
    fn default() -> Self {
        JobFields {
            task_id: None,
            idempotency_key: None,
            group: None,
            params: Vec::new(),
            params_json: None,
            schedule: ScheduleFields::default(),
            priority: 0,
            max_retries: 0,
            retry_backoff: Duration::from_secs(1),
            timeout: None,
            replace: false,
            overlap: None,
            rely_on_prev_cycle: false,
            misfire: None,
            catch_up_window: None,
            feedback: false,
            client_group: None,
            alert: Vec::new(),
            alert_to: None,
            broadcast: false,
            shards: None,
            after: Vec::new(),
            command: Vec::new(),
        }
    }
}

impl JobFields {
    /// The job the fields describe, checked (`validate_job`).
    pub fn job(&self) -> Result<JobSpec, FieldError> {
        let group = self.group.clone().unwrap_or_default();
        let task_id = match (&self.task_id, &self.idempotency_key) {
            (Some(id), _) => id.clone(),
            (None, Some(key)) => task_id_for_key(key),
            (None, None) => new_task_id(),
        };
        let mut job = JobSpec::new(group, task_id);
        job.idempotency_key = self.idempotency_key.clone();
        job.params = merge_params(self.params_json.as_deref(), &self.params)?;
        job.command = self.command.clone();
        job.schedule = self.schedule.schedule()?.unwrap_or(Schedule::Now);
        job.priority = self.priority;
        job.max_retries = self.max_retries;
        job.retry_backoff_ms = millis(self.retry_backoff);
        job.timeout_ms = self.timeout.map(millis);
        job.replace = self.replace;
        if job.schedule == Schedule::Now {
            // Policies of ticks have no tick to apply to: refuse, do not ignore.
            let given = [
                (self.overlap.is_some(), "--overlap"),
                (self.rely_on_prev_cycle, "--rely-on-prev-cycle"),
                (self.misfire.is_some(), "--misfire"),
                (self.catch_up_window.is_some(), "--catch-up-window"),
            ];
            if let Some((_, flag)) = given.iter().find(|(on, _)| *on) {
                return Err(FieldError(format!(
                    "{flag}: applies to cron and repeat jobs, not to a job that runs now \
                     (give --cron, --at, --delay or --repeat-count)"
                )));
            }
        }
        job.overlap = if self.rely_on_prev_cycle {
            Overlap::Skip
        } else {
            self.overlap.unwrap_or_default()
        };
        job.misfire = self.misfire.unwrap_or_default();
        job.catch_up_window_ms = self.catch_up_window.map(millis);
        job.feedback = self.feedback;
        job.client_group = self.client_group.clone();
        job.alert = crate::model::alert::parse_outcomes(&self.alert)
            .map_err(|e| format!("--alert: {e}"))?;
        job.alert_to = self.alert_to.clone();
        job.fan_out = match (self.broadcast, self.shards) {
            (false, None) => FanOut::One,
            (true, None) => FanOut::Broadcast,
            (false, Some(n)) => FanOut::Shards(n),
            (true, Some(_)) => {
                return Err("--broadcast and --shards: give one of them, not both".into())
            }
        };
        job.after = self
            .after
            .iter()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
            .collect();
        validate_job(&job).map_err(|e| e.to_string())?;
        Ok(job)
    }
}

/// A change to a job, field by field, as `lts edit`'s flags give it; what
/// is left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditFields {
    pub schedule: ScheduleFields,
    pub params: Vec<(String, String)>,
    pub params_json: Option<String>,
    /// Drop every parameter not given here.
    pub replace_params: bool,
    pub priority: Option<i32>,
    pub max_retries: Option<u32>,
    pub retry_backoff: Option<Duration>,
    pub timeout: Option<Duration>,
    /// Remove the job's timeout.
    pub no_timeout: bool,
    pub overlap: Option<Overlap>,
    pub misfire: Option<Misfire>,
    pub catch_up_window: Option<Duration>,
    /// Run outcomes that raise an alert from now on (`--alert`).
    pub alert: Vec<String>,
    /// Where alerts go from now on (`--alert-to`).
    pub alert_to: Option<String>,
    /// Stop alerting: no outcomes, no target (`--no-alert`).
    pub no_alert: bool,
    /// A new command; empty keeps the job's.
    pub command: Vec<String>,
}

impl EditFields {
    /// The change the fields describe (the tracker checks it against the job).
    pub fn edit(&self) -> Result<JobEdit, FieldError> {
        Ok(JobEdit {
            schedule: self.schedule.schedule()?,
            set_params: merge_params(self.params_json.as_deref(), &self.params)?,
            replace_params: self.replace_params,
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            priority: self.priority,
            max_retries: self.max_retries,
            retry_backoff_ms: self.retry_backoff.map(millis),
            timeout_ms: if self.no_timeout {
                Some(None)
            } else {
                self.timeout.map(|t| Some(millis(t)))
            },
            overlap: self.overlap,
            misfire: self.misfire,
            catch_up_window_ms: self.catch_up_window.map(|w| Some(millis(w))),
            alert: if self.no_alert {
                Some(Vec::new())
            } else if self.alert.is_empty() {
                None
            } else {
                Some(
                    crate::model::alert::parse_outcomes(&self.alert)
                        .map_err(|e| format!("--alert: {e}"))?,
                )
            },
            alert_to: if self.no_alert {
                Some(None)
            } else {
                self.alert_to.clone().map(Some)
            },
        })
    }
}

/// One line of a `submit --file`: the flags of `lts submit`, by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobLine {
    task_id: Option<String>,
    idempotency_key: Option<String>,
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
    broadcast: Option<bool>,
    shards: Option<u32>,
    /// `["a", "b"]` or `"a,b"`.
    after: Option<serde_json::Value>,
}

fn duration(name: &str, value: Option<String>) -> Result<Option<Duration>, String> {
    value
        .map(|v| parse_duration(&v).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

impl JobLine {
    /// The job this line describes, checked as the flags would be.
    fn job(self) -> Result<JobSpec, FieldError> {
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
            None => None,
            Some(o) => Some(parse_overlap(o).ok_or_else(|| {
                format!("overlap: '{o}' is not skip, allow, buffer-one or replace")
            })?),
        };
        let misfire = match self.misfire.as_deref() {
            None => None,
            Some(m) => Some(
                parse_misfire(m)
                    .ok_or_else(|| format!("misfire: '{m}' is not fire-once, skip or fire-all"))?,
            ),
        };
        let params = self
            .params
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, text_of(v)))
            .collect();
        const OUTCOMES: &str = "alert: expected outcome names, e.g. [\"failed\", \"timed_out\"]";
        let alert = match self.alert {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(OUTCOMES),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(OUTCOMES.into()),
        };
        if alert.is_empty() != self.alert_to.is_none() {
            return Err("alert and alert_to go together".into());
        }
        const AFTER: &str = "after: expected task ids, e.g. [\"extract\"] or \"a,b\"";
        let after = match self.after {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => s.split(',').map(str::to_string).collect(),
            Some(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(AFTER),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(AFTER.into()),
        };
        JobFields {
            task_id: self.task_id,
            idempotency_key: self.idempotency_key,
            group: Some(self.group.ok_or("group is missing")?),
            params,
            params_json: None,
            schedule: ScheduleFields {
                cron: self.cron,
                tz: self.tz,
                at: self.at,
                delay: duration("delay", self.delay)?,
                repeat_count: self.repeat_count,
                repeat_interval: duration("repeat_interval", self.repeat_interval)?,
            },
            priority: self.priority.unwrap_or(0),
            max_retries: self.max_retries.unwrap_or(0),
            retry_backoff: duration("retry_backoff", self.retry_backoff)?
                .unwrap_or(Duration::from_secs(1)),
            timeout: duration("timeout", self.timeout)?,
            replace: self.replace.unwrap_or(false),
            overlap,
            rely_on_prev_cycle: self.rely_on_prev_cycle.unwrap_or(false),
            misfire,
            catch_up_window: duration("catch_up_window", self.catch_up_window)?,
            feedback: self.feedback.unwrap_or(false),
            client_group: self.client_group,
            alert,
            alert_to: self.alert_to,
            broadcast: self.broadcast.unwrap_or(false),
            shards: self.shards,
            after,
            command: self.command.unwrap_or_default(),
        }
        .job()
    }
}

/// What serde said of a line that is not a job, cut to a readable length
/// (it may quote the line).
fn not_a_job(e: serde_json::Error) -> FieldError {
    FieldError(format!("not a job: {}", cut(&e.to_string(), 200)))
}

/// One line of a `--file`: the job it describes, or why it is none.
pub fn parse_job_line(line: &str) -> Result<JobSpec, FieldError> {
    serde_json::from_str::<JobLine>(line)
        .map_err(not_a_job)?
        .job()
}

/// A job given as one line of a file would be (the HTTP API's `POST
/// /api/v1/jobs` takes the same), checked as the flags would be.
pub fn job_from_line(value: serde_json::Value) -> Result<JobSpec, FieldError> {
    serde_json::from_value::<JobLine>(value)
        .map_err(not_a_job)?
        .job()
}

/// A flow file (`lts flow submit FILE`): TOML with `name`, an optional
/// `cron` and `tz`, `on_failure` (`stop` or `continue`) and `[[step]]`
/// tables, each a `--file` line's keys plus `name` and `after = [step
/// names]`. Checked whole: each step as a job, then the graph (names,
/// references, cycles).
pub fn parse_flow(text: &str) -> Result<FlowSpec, FieldError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not a flow file: {}", one_line(&e.to_string())))?;
    let mut spec = FlowSpec {
        name: String::new(),
        cron: None,
        tz: None,
        on_failure: OnFailure::default(),
        overlap: Overlap::default(),
        steps: Vec::new(),
    };
    let text_of = |key: &str, v: &toml::Value| -> Result<String, FieldError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| FieldError(format!("{key}: expected a string")))
    };
    for (key, value) in &table {
        match key.as_str() {
            "name" => spec.name = text_of("name", value)?,
            "cron" => spec.cron = Some(text_of("cron", value)?.trim().to_string()),
            "tz" => spec.tz = Some(text_of("tz", value)?),
            "on_failure" => {
                let v = text_of("on_failure", value)?;
                spec.on_failure = OnFailure::parse(&v).ok_or_else(|| {
                    format!("on_failure: '{}' is not stop or continue", cut(&v, 40))
                })?;
            }
            "overlap" => {
                let v = text_of("overlap", value)?;
                spec.overlap = match parse_overlap(&v) {
                    Some(o @ (Overlap::Skip | Overlap::Allow)) => o,
                    _ => {
                        return Err(FieldError(format!(
                            "overlap: '{}' is not skip or allow (what a tick does while a run \
                             of the flow is open)",
                            cut(&v, 40)
                        )))
                    }
                };
            }
            "step" => {
                let steps = value.as_array().ok_or("step: expected [[step]] tables")?;
                for (i, step) in steps.iter().enumerate() {
                    spec.steps.push(parse_step(i, step)?);
                }
            }
            other => {
                return Err(FieldError(format!(
                "unknown key '{}' (a flow has name, cron, tz, on_failure, overlap and [[step]])",
                cut(other, 40)
            )))
            }
        }
    }
    if spec.name.is_empty() {
        return Err("name is missing: give the flow a name".into());
    }
    if spec.tz.is_some() && spec.cron.is_none() {
        return Err("tz needs cron".into());
    }
    spec.layers().map_err(|e| FieldError(e.0))?;
    Ok(spec)
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    cut(&text.split_whitespace().collect::<Vec<_>>().join(" "), 200)
}

/// The `i`th `[[step]]` of a flow file.
fn parse_step(i: usize, value: &toml::Value) -> Result<FlowStep, FieldError> {
    let mut table = value
        .as_table()
        .cloned()
        .ok_or_else(|| format!("step {}: expected a table", i + 1))?;
    let name = match table.remove("name") {
        Some(toml::Value::String(name)) => name,
        Some(_) => return Err(format!("step {}: name: expected a string", i + 1).into()),
        None => return Err(format!("step {}: name is missing", i + 1).into()),
    };
    let at = |e: &dyn std::fmt::Display| FieldError(format!("step '{}': {e}", cut(&name, 64)));
    let after = match table.remove("after") {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s),
                _ => Err(at(&"after: expected step names, e.g. [\"extract\"]")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(at(&"after: expected a list of step names")),
    };
    for key in [
        "task_id",
        "cron",
        "tz",
        "at",
        "delay",
        "repeat_count",
        "replace",
    ] {
        if table.contains_key(key) {
            return Err(at(&format!(
                "{key}: not for a step (a step's job is named and started by its flow)"
            )));
        }
    }
    let value = serde_json::to_value(&table).map_err(|e| at(&e))?;
    let job = job_from_line(value).map_err(|e| at(&e))?;
    Ok(FlowStep { name, after, job })
}

/// A change as JSON, keyed as `lts edit`'s flags are (`{"cron": "..",
/// "params": {..}, "timeout": null}`): what the HTTP API's `PATCH` takes. A
/// `null` timeout removes it.
pub fn edit_from_line(value: serde_json::Value) -> Result<JobEdit, FieldError> {
    #[derive(Deserialize)]
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
        /// Outcome names; `[]` stops alerting (and drops the target).
        alert: Option<Vec<String>>,
        alert_to: Option<String>,
    }
    /// A key given as `null` is `Some(None)`; a key left out is `None`.
    fn present<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        Deserialize::deserialize(d).map(Some)
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
    fn policy<T>(
        name: &str,
        v: &Option<String>,
        parse: fn(&str) -> Option<T>,
        ok: &[&str],
    ) -> Result<Option<T>, String> {
        v.as_deref()
            .map(|p| {
                parse(p).ok_or_else(|| {
                    format!("{name}: '{}' is not one of {}", cut(p, 40), ok.join(", "))
                })
            })
            .transpose()
    }
    let overlap = policy(
        "overlap",
        &line.overlap,
        parse_overlap,
        &["skip", "allow", "buffer-one", "replace"],
    )?;
    let misfire = policy(
        "misfire",
        &line.misfire,
        parse_misfire,
        &["fire-once", "skip", "fire-all"],
    )?;
    EditFields {
        schedule: ScheduleFields {
            cron: line.cron,
            tz: line.tz,
            at: line.at,
            delay: dur("delay", &line.delay)?,
            repeat_count: line.repeat_count,
            repeat_interval: dur("repeat_interval", &line.repeat_interval)?,
        },
        params: Vec::new(),
        params_json: line
            .params
            .map(|p| serde_json::Value::Object(p).to_string()),
        replace_params: line.replace_params,
        priority: line.priority,
        max_retries: line.max_retries,
        retry_backoff: dur("retry_backoff", &line.retry_backoff)?,
        timeout: dur("timeout", &line.timeout.clone().flatten())?,
        no_timeout: matches!(line.timeout, Some(None)),
        overlap,
        misfire,
        catch_up_window: dur("catch_up_window", &line.catch_up_window)?,
        no_alert: line.alert.as_ref().is_some_and(Vec::is_empty),
        alert: line.alert.unwrap_or_default(),
        alert_to: line.alert_to,
        command: line.command.unwrap_or_default(),
    }
    .edit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_flow_parses_into_five_steps_in_four_layers() {
        let flow = parse_flow(include_str!("../examples/nightly-etl.toml")).unwrap();
        assert_eq!(flow.name, "nightly-etl");
        assert_eq!(flow.cron.as_deref(), Some("0 0 2 * * ?"));
        assert_eq!(flow.on_failure, OnFailure::Stop);
        assert_eq!(flow.steps.len(), 5);
        assert_eq!(flow.layers().unwrap().len(), 4);
        let transform = &flow.steps[2];
        assert_eq!(transform.after, ["extract-orders", "extract-customers"]);
        assert_eq!(transform.job.params["partition"], "daily");
        assert_eq!(flow.steps[0].job.max_retries, 2);
    }

    #[test]
    fn bad_flow_files_are_one_line_errors_naming_the_step() {
        let cases = [
            (
                "name = \"f\"\n[[step]]\nname = \"a\"\n",
                "step 'a': group is missing",
            ),
            ("name = \"f\"\nnope = 1\n", "unknown key 'nope'"),
            ("[[step]]\nname = \"a\"\ngroup = \"g\"\n", "name is missing"),
            (
                "name = \"f\"\n[[step]]\nname = \"a\"\ngroup = \"g\"\ncron = \"@daily\"\n",
                "step 'a': cron: not for a step",
            ),
            (
                "name = \"f\"\non_failure = \"maybe\"\n[[step]]\nname = \"a\"\ngroup = \"g\"\n",
                "on_failure: 'maybe'",
            ),
            ("name = \"f\"\n[[step]\n", "not a flow file"),
        ];
        for (text, needle) in cases {
            let e = parse_flow(text).unwrap_err().0;
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn after_comes_from_flags_and_lines_alike() {
        let line = r#"{"group": "g", "after": "a, b"}"#;
        assert_eq!(parse_job_line(line).unwrap().after, ["a", "b"]);
        let line = r#"{"group": "g", "after": ["a"]}"#;
        assert_eq!(parse_job_line(line).unwrap().after, ["a"]);
        assert!(parse_job_line(r#"{"group": "g", "after": 3}"#).is_err());
    }
}
