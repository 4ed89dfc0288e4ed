//! Alerts: rules (`lts alert add`), the conditions they watch, and the
//! alerts raised with each delivery attempt. Plain serde data and the text
//! forms users type (`failures>=5/10m`, `queue-age>5m`), with one-line
//! errors; raising and delivering live in the tracker.

use super::{cut, format_duration, parse_duration, valid_name, Millis, RunOutcome};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;

/// How long the same alert is folded into the open one unless a rule says
/// otherwise (per-job alerts always use it).
pub const DEFAULT_SILENCE_MS: u64 = 5 * 60_000;
/// The largest template a rule may carry.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The longest a target may be.
pub const MAX_TARGET_LEN: usize = 2048;
/// The run outcomes an alert can watch.
pub const ALERT_OUTCOMES: [RunOutcome; 4] = [
    RunOutcome::Failed,
    RunOutcome::TimedOut,
    RunOutcome::Lost,
    RunOutcome::Skipped,
];

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// A run ended so (`failed` only once its retries are spent).
    Outcome(RunOutcome),
    /// At least `n` runs failed or timed out within the last `window_ms`.
    FailuresAtLeast { n: u32, window_ms: u64 },
    /// A group has due work and no live worker.
    NoWorker,
    /// A group's oldest due run has waited longer than this.
    QueueAgeOver(u64),
    /// Runs that started in the last minute started this much later than their tick.
    FireLagOver(u64),
}

impl Condition {
    /// Parse SPEC's text: `failed`, `timed_out`, `lost`, `skipped`,
    /// `failures>=N/DUR`, `no-worker`, `queue-age>DUR`, `fire-lag>DUR`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        let dur = |d: &str, what: &str| -> Result<u64, String> {
            let d = parse_duration(d).map_err(|e| format!("{what}: {e}"))?;
            let ms = d.as_millis().min(u64::MAX as u128) as u64;
            if ms == 0 || ms > super::MAX_DURATION_MS {
                return Err(format!("{what}: from 1ms to 100 years"));
            }
            Ok(ms)
        };
        if let Some(outcome) = outcome_named(&compact) {
            return Ok(Condition::Outcome(outcome));
        }
        if compact == "no-worker" || compact == "no_worker" {
            return Ok(Condition::NoWorker);
        }
        if let Some(rest) = compact.strip_prefix("failures>=") {
            let (n, window) = rest.split_once('/').ok_or_else(|| {
                format!(
                    "'{}': expected failures>=N/DUR, e.g. failures>=5/10m",
                    cut(t, 60)
                )
            })?;
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{}': N must be a whole number from 1", cut(n, 20)))?;
            let window_ms = dur(window, "the failures window")?;
            return Ok(Condition::FailuresAtLeast { n, window_ms });
        }
        if let Some(d) = compact.strip_prefix("queue-age>") {
            return Ok(Condition::QueueAgeOver(dur(d, "queue-age")?));
        }
        if let Some(d) = compact.strip_prefix("fire-lag>") {
            return Ok(Condition::FireLagOver(dur(d, "fire-lag")?));
        }
        Err(format!(
            "'{}' is not a condition: use failed, timed_out, lost, skipped, failures>=N/DUR, \
             no-worker, queue-age>DUR or fire-lag>DUR",
            cut(t, 60)
        ))
    }

    /// Whether it is a state that holds and clears (checked by the leader
    /// now and then), rather than an event (a run's outcome).
    pub fn is_state(&self) -> bool {
        !matches!(self, Condition::Outcome(_))
    }
}

fn outcome_named(s: &str) -> Option<RunOutcome> {
    let s = s.replace('-', "_");
    RunOutcome::parse(&s).filter(|o| ALERT_OUTCOMES.contains(o))
}

/// Parse `--alert`'s outcomes (`failed,timed_out`), one-line errors.
pub fn parse_outcomes<S: AsRef<str>>(items: &[S]) -> Result<Vec<RunOutcome>, String> {
    let mut out = Vec::new();
    for item in items.iter().flat_map(|s| s.as_ref().split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let outcome = outcome_named(item).ok_or_else(|| {
            format!(
                "'{}' is not an outcome to alert on: use failed, timed_out, lost or skipped",
                cut(item, 40)
            )
        })?;
        if !out.contains(&outcome) {
            out.push(outcome);
        }
    }
    Ok(out)
}

fn dur_text(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Outcome(o) => f.write_str(o.as_str()),
            Condition::FailuresAtLeast { n, window_ms } => {
                write!(f, "failures>={n}/{}", dur_text(*window_ms))
            }
            Condition::NoWorker => f.write_str("no-worker"),
            Condition::QueueAgeOver(ms) => write!(f, "queue-age>{}", dur_text(*ms)),
            Condition::FireLagOver(ms) => write!(f, "fire-lag>{}", dur_text(*ms)),
        }
    }
}

/// A named rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    pub name: String,
    pub when: Condition,
    /// Only this worker group; every group when `None`.
    pub group: Option<String>,
    /// A state condition must hold this long before it raises.
    pub for_ms: u64,
    /// The same alert is folded into the open one within this.
    pub silence_ms: u64,
    /// `https://..`, `http://..` or `cmd:PATH`.
    pub to: String,
    /// A webhook body with `{{field}}` placeholders (the file's text).
    pub template: Option<String>,
}

/// The fields a template may name.
pub const TEMPLATE_FIELDS: [&str; 11] = [
    "id",
    "rule",
    "group",
    "task_id",
    "run",
    "condition",
    "message",
    "raised_at",
    "resolved_at",
    "folded",
    "text",
];

/// Check a target's form: `http(s)://HOST..` or `cmd:PATH`.
pub fn check_target(to: &str) -> Result<(), String> {
    let shown = cut(to, 80);
    if to.len() > MAX_TARGET_LEN {
        return Err(format!("'{shown}' is longer than {MAX_TARGET_LEN} bytes"));
    }
    if to.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("'{shown}' holds spaces or control characters"));
    }
    if let Some(path) = to.strip_prefix("cmd:") {
        if path.is_empty() {
            return Err("'cmd:' names no program: give cmd:PATH".into());
        }
        return Ok(());
    }
    let rest = to
        .strip_prefix("https://")
        .or_else(|| to.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(format!(
            "'{shown}' is not a target: use https://.., http://.. or cmd:PATH"
        )),
    }
}

/// Check a template's placeholders: each `{{name}}` must be a field.
pub fn check_template(text: &str) -> Result<(), String> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "the template is {} bytes; at most {MAX_TEMPLATE_BYTES}",
            text.len()
        ));
    }
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("a '{{' is not closed by '}}'".into());
        };
        let name = after[..end].trim();
        if !TEMPLATE_FIELDS.contains(&name) {
            return Err(format!(
                "unknown placeholder '{{{{{}}}}}': use {}",
                cut(name, 40),
                TEMPLATE_FIELDS.join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

impl AlertRule {
    /// Check every field, naming the flag of the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !valid_name(&self.name, 64) {
            return Err(format!(
                "'{}' is not a valid rule name: 1-64 ASCII letters, digits, '-', '_', '.', ':' or '@'",
                cut(&self.name, 80)
            ));
        }
        if let Some(g) = &self.group {
            if !valid_name(g, 64) {
                return Err(format!("--group: '{}' is not a valid group", cut(g, 80)));
            }
        }
        check_target(&self.to).map_err(|e| format!("--to: {e}"))?;
        if let Some(t) = &self.template {
            if self.to.starts_with("cmd:") {
                return Err(
                    "--template: shapes a webhook's body; a cmd: target gets the alert JSON".into(),
                );
            }
            check_template(t).map_err(|e| format!("--template: {e}"))?;
        }
        for (flag, ms) in [("--for", self.for_ms), ("--silence", self.silence_ms)] {
            if ms > super::MAX_DURATION_MS {
                return Err(format!("{flag}: at most 100 years"));
            }
        }
        if self.for_ms > 0 && !self.when.is_state() {
            return Err(format!(
                "--for: '{}' is an event (a run's outcome), which holds for no time; \
                 --for applies to failures>=N/DUR, no-worker, queue-age and fire-lag",
                self.when
            ));
        }
        Ok(())
    }

    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "when": self.when.to_string(),
            "group": self.group,
            "for": dur_text(self.for_ms),
            "silence": dur_text(self.silence_ms),
            "to": self.to,
            "template": self.template.is_some(),
        })
    }
}

/// One attempt to deliver an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub target: String,
    pub at: Millis,
    pub ok: bool,
    pub error: Option<String>,
}

/// An alert as stored: what SPEC shows, how many more of the same were
/// folded into it, and where its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    /// What makes alerts "the same": the rule or job, the group and the condition.
    pub key: String,
    /// The rule's name; `None` for a job's own `--alert`.
    pub rule: Option<String>,
    pub group: Option<String>,
    pub task_id: Option<String>,
    pub run: Option<u32>,
    /// The condition's text (`failed`, `no-worker`, `test`, ..).
    pub condition: String,
    pub message: String,
    pub raised_at: Millis,
    /// When a state condition cleared; events (run outcomes) have none.
    pub resolved_at: Option<Millis>,
    /// Whether the condition is a state (it resolves) rather than an event.
    pub state: bool,
    /// The same alert raised before this is folded into this one.
    pub silence_until: Millis,
    /// How many more of the same were folded into it.
    pub folded: u64,
    /// `folded` as the last successful delivery told it.
    pub sent_folded: u64,
    pub target: String,
    /// Every attempt, oldest first (the latest few kept).
    pub deliveries: Vec<Delivery>,
    /// When the next attempt is due; `None` once delivered (or given up).
    pub next_attempt_at: Option<Millis>,
    /// Attempts since the last success.
    pub attempts: u32,
    /// Grows with every change, across the store: `lts alerts --follow`'s cursor.
    pub seq: i64,
}

/// How many delivery attempts an alert keeps.
pub const MAX_DELIVERIES_KEPT: usize = 50;

impl Alert {
    /// The message with what was folded into it.
    pub fn text(&self) -> String {
        if self.folded == 0 {
            self.message.clone()
        } else {
            format!(
                "{} ({} more of the same folded into this alert)",
                self.message, self.folded
            )
        }
    }

    /// SPEC's JSON, with `folded` and `text` (the message with the fold count).
    pub fn json(&self) -> Value {
        let time = super::json::time;
        json!({
            "id": self.id,
            "rule": self.rule,
            "group": self.group,
            "task_id": self.task_id,
            "run": self.run,
            "condition": self.condition,
            "message": self.message,
            "text": self.text(),
            "raised_at": time(self.raised_at),
            "resolved_at": self.resolved_at.map(time),
            "folded": self.folded,
            "pending": self.next_attempt_at.is_some(),
            "deliveries": self.deliveries.iter().map(|d| json!({
                "target": d.target,
                "at": time(d.at),
                "ok": d.ok,
                "error": d.error,
            })).collect::<Vec<_>>(),
        })
    }

    /// Record a delivery attempt, keeping the latest few.
    pub fn record(&mut self, delivery: Delivery) {
        self.deliveries.push(delivery);
        if self.deliveries.len() > MAX_DELIVERIES_KEPT {
            let extra = self.deliveries.len() - MAX_DELIVERIES_KEPT;
            self.deliveries.drain(..extra);
        }
    }

    /// Whether a state alert is open (its condition still holds).
    pub fn firing(&self) -> bool {
        self.state && self.resolved_at.is_none()
    }
}

/// Fill `{{field}}` placeholders from the alert's JSON; when the template
/// is JSON (it starts with `{` or `[`), each value is escaped as the inside
/// of a JSON string.
pub fn render_template(template: &str, alert: &Alert) -> String {
    let doc = alert.json();
    let is_json = template_is_json(template);
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        let value = match doc.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if is_json {
            let quoted = Value::String(value).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        } else {
            out.push_str(&value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Whether a template produces JSON (and so is sent as `application/json`).
pub fn template_is_json(template: &str) -> bool {
    matches!(template.trim_start().chars().next(), Some('{' | '['))
}

/// What `lts alerts` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertQuery {
    pub group: Option<String>,
    /// Only alerts changed after this cursor (`Alert::seq`), oldest change
    /// first; `None`: the newest `limit`, newest first.
    pub after_seq: Option<i64>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_print_back() {
        for text in [
            "failed",
            "timed_out",
            "lost",
            "skipped",
            "failures>=5/10m",
            "no-worker",
            "queue-age>5m",
            "fire-lag>30s",
        ] {
            let c = Condition::parse(text).unwrap();
            assert_eq!(c.to_string(), text);
        }
        assert_eq!(
            Condition::parse(" failures >= 3 / 1m ").unwrap(),
            Condition::FailuresAtLeast {
                n: 3,
                window_ms: 60_000
            }
        );
        assert_eq!(
            Condition::parse("timed-out").unwrap(),
            Condition::Outcome(RunOutcome::TimedOut)
        );
    }

    #[test]
    fn bad_conditions_are_one_line_errors() {
        for text in [
            "succeeded",
            "failures>=0/1m",
            "failures>=3",
            "queue-age>",
            "queue-age>5",
            "fire-lag>-1s",
            "cpu>90",
            "",
        ] {
            let e = Condition::parse(text).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn outcomes_and_targets() {
        assert_eq!(
            parse_outcomes(&["failed,timed_out", "failed"]).unwrap(),
            vec![RunOutcome::Failed, RunOutcome::TimedOut]
        );
        assert!(parse_outcomes(&["cancelled"]).is_err());
        assert!(check_target("https://hooks.example.com/x").is_ok());
        assert!(check_target("cmd:/usr/local/bin/page").is_ok());
        for bad in [
            "ftp://x",
            "http://",
            "cmd:",
            "hooks.example.com",
            "http://a b",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }

    fn alert() -> Alert {
        Alert {
            id: 7,
            key: "rule:r:g:failed".into(),
            rule: Some("r".into()),
            group: Some("g".into()),
            task_id: Some("t\"1".into()),
            run: Some(3),
            condition: "failed".into(),
            message: "job 't\"1' failed".into(),
            raised_at: 0,
            resolved_at: None,
            state: false,
            silence_until: 1,
            folded: 2,
            sent_folded: 0,
            target: "http://x".into(),
            deliveries: Vec::new(),
            next_attempt_at: Some(0),
            attempts: 0,
            seq: 1,
        }
    }

    #[test]
    fn templates_fill_and_escape() {
        let a = alert();
        let body = render_template(r#"{"text": "{{message}} x{{folded}} {{resolved_at}}"}"#, &a);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["text"], "job 't\"1' failed x2 ");
        assert_eq!(render_template("run {{ run }}!", &a), "run 3!");
        assert!(check_template("{{message}} {{nope}}").is_err());
        assert!(check_template("{{message").is_err());
        assert!(check_template("{{text}} in {{group}}").is_ok());
    }
}
