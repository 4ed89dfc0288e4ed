//! Alerts: raised, folded, resolved and delivered.
//!
//! - **On run outcomes**, in the transaction that ended the run: the store's
//!   pre-commit hook (`hook`) reads the batch's `RunEvent::Ended`/`Skipped`
//!   and raises what jobs' own `--alert` outcomes and outcome rules ask for
//!   (`failed` only once no retry follows), then journals
//!   `RunEvent::Alerted`, which wakes the delivery task after the commit.
//! - **On states** (`no-worker`, `queue-age>`, `fire-lag>`, `failures>=`),
//!   the leader's `watch_conditions` looks now and then while such rules
//!   exist: a condition that held for the rule's `--for` raises, one that
//!   cleared resolves its alert.
//! - **Silence**: the same alert (same rule or job, group and condition)
//!   raised again before its `silence_until` is folded into it (`folded`
//!   counts); if it was already delivered, one more delivery at the end of
//!   the window says how many were folded. A flood is one delivery, then one
//!   summary.
//! - **Delivery** (`deliver_alerts`, leader only): each due alert is POSTed
//!   (as JSON, or through its rule's template) or piped to a `cmd:` program;
//!   each attempt is recorded with the alert, a failure is retried with
//!   capped exponential backoff, and what is due survives a restart in the
//!   store (at least once).

use super::leader::Term;
use super::lifecycle::Outcome;
use super::Tracker;
use crate::model::alert::{render_template, template_is_json, ALERT_OUTCOMES, DEFAULT_SILENCE_MS};
use crate::model::{
    cut, now_ms, Alert, AlertRule, Condition, Delivery, Millis, MinuteCount, RunOutcome, StoreStats,
};
use crate::protocol::WireError;
use crate::store::{Hook, JobRecord, RunEvent, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The first retry of a failed delivery waits this long; each next one twice
/// as long, up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;
/// An alert still undelivered this long after it was raised is given up.
const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
/// How long one webhook call or `cmd:` program may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How many due alerts one delivery pass takes (sent concurrently).
const DELIVERY_BATCH: usize = 16;
/// The longest message text an error keeps.
const ERROR_TEXT: usize = 300;

/// What a new alert is, before folding decides whether it is new.
#[derive(Debug, Clone)]
pub struct Draft {
    pub key: String,
    pub rule: Option<String>,
    pub group: Option<String>,
    pub task_id: Option<String>,
    pub run: Option<u32>,
    pub condition: String,
    pub message: String,
    pub state: bool,
    pub target: String,
    pub silence_ms: u64,
}

/// Raise `draft` at `now`, or fold it into the same alert raised within its
/// silence (a state alert folded into is firing again). Returns the alert
/// and whether it is new.
pub fn raise(s: &mut dyn Store, draft: Draft, now: Millis) -> Outcome<(Alert, bool)> {
    if let Some(mut same) = s.latest_alert(&draft.key)? {
        if now < same.silence_until {
            same.folded += 1;
            if draft.state {
                same.resolved_at = None;
            }
            if same.next_attempt_at.is_none() {
                // Delivered already: say how many were folded when the
                // window ends.
                same.next_attempt_at = Some(same.silence_until);
                same.attempts = 0;
            }
            s.update_alert(&same)?;
            return Ok((same, false));
        }
    }
    let silence = i64::try_from(draft.silence_ms).unwrap_or(i64::MAX);
    let mut alert = Alert {
        id: 0,
        key: draft.key,
        rule: draft.rule,
        group: draft.group,
        task_id: draft.task_id,
        run: draft.run,
        condition: draft.condition,
        message: draft.message,
        raised_at: now,
        resolved_at: None,
        state: draft.state,
        silence_until: now.saturating_add(silence),
        folded: 0,
        sent_folded: 0,
        target: draft.target,
        deliveries: Vec::new(),
        next_attempt_at: Some(now),
        attempts: 0,
        seq: 0,
    };
    alert.id = s.insert_alert(&alert)?;
    Ok((alert, true))
}

/// The key that makes alerts "the same". Names never hold '/'.
fn rule_key(rule: &str, group: &str) -> String {
    format!("rule/{rule}/{group}")
}

fn job_key(group: &str, task_id: &str, outcome: RunOutcome) -> String {
    format!("job/{group}/{task_id}/{outcome}")
}

/// The events the hook raises alerts for.
fn wanted(e: &RunEvent) -> bool {
    match e {
        RunEvent::Ended { outcome, .. } => ALERT_OUTCOMES.contains(outcome),
        RunEvent::Skipped { .. } => true,
        _ => false,
    }
}

/// The store's pre-commit hook: alerts on run outcomes, in the same
/// transaction as the runs that ended.
pub fn hook() -> Hook {
    Hook {
        wants: wanted,
        run: Arc::new(|s, events| {
            raise_on_outcomes(s, events, now_ms()).map_err(|e| match e {
                WireError::Store(m) => crate::store::StoreError::Backend(m),
                other => crate::store::StoreError::Invalid(other.to_string()),
            })
        }),
    }
}

/// What one ended or skipped run says, for an alert.
fn describe(outcome: RunOutcome, task: &str, group: &str, run: u32, detail: &str) -> String {
    let what = match outcome {
        RunOutcome::Failed => "failed",
        RunOutcome::TimedOut => "timed out",
        RunOutcome::Lost => "was lost (its worker went silent or gave it back)",
        RunOutcome::Skipped => "skipped a tick",
        other => other.as_str(),
    };
    format!(
        "job '{}' in group '{}' {what} (run {run}{detail})",
        cut(task, 80),
        cut(group, 80)
    )
}

/// Raise the alerts the batch's run outcomes call for.
pub fn raise_on_outcomes(s: &mut dyn Store, events: &[RunEvent], now: Millis) -> Outcome<()> {
    let rules: Vec<AlertRule> = s
        .rules()?
        .into_iter()
        .filter(|r| !r.when.is_state())
        .collect();
    let mut jobs: HashMap<i64, Option<JobRecord>> = HashMap::new();
    let mut raised = false;
    for event in events {
        let (group, outcome, job_id, run, detail) = match event {
            RunEvent::Ended {
                group,
                outcome,
                job_id,
                run,
                retrying,
                exit_code,
                ..
            } => {
                if *outcome == RunOutcome::Failed && *retrying {
                    continue;
                }
                let detail = exit_code.map(|c| format!(", exit {c}")).unwrap_or_default();
                (group, *outcome, *job_id, *run, detail)
            }
            RunEvent::Skipped {
                group,
                reason,
                job_id,
                run,
            } => (
                group,
                RunOutcome::Skipped,
                *job_id,
                *run,
                format!(", {reason}"),
            ),
            _ => continue,
        };
        if !ALERT_OUTCOMES.contains(&outcome) {
            continue;
        }
        let job = match jobs.get(&job_id) {
            Some(job) => job.clone(),
            None => {
                let job = s.job_by_id(job_id)?;
                jobs.insert(job_id, job.clone());
                job
            }
        };
        let task_id = job.as_ref().map(|j| j.spec.task_id.clone());
        let message = describe(
            outcome,
            task_id.as_deref().unwrap_or("?"),
            group,
            run,
            &detail,
        );
        let draft = |key: String, rule: Option<String>, target: String, silence_ms: u64| Draft {
            key,
            rule,
            group: Some(group.clone()),
            task_id: task_id.clone(),
            run: Some(run),
            condition: outcome.as_str().to_string(),
            message: message.clone(),
            state: false,
            target,
            silence_ms,
        };
        if let Some(j) = &job {
            if let (true, Some(to)) = (j.spec.alert.contains(&outcome), &j.spec.alert_to) {
                let key = job_key(group, &j.spec.task_id, outcome);
                raise(s, draft(key, None, to.clone(), DEFAULT_SILENCE_MS), now)?;
                raised = true;
            }
        }
        for rule in &rules {
            let applies = rule.when == Condition::Outcome(outcome)
                && rule.group.as_ref().is_none_or(|g| g == group);
            if applies {
                let key = rule_key(&rule.name, group);
                let d = draft(
                    key,
                    Some(rule.name.clone()),
                    rule.to.clone(),
                    rule.silence_ms,
                );
                raise(s, d, now)?;
                raised = true;
            }
        }
    }
    if raised {
        s.journal().push(RunEvent::Alerted);
    }
    Ok(())
}

/// Raise a test alert for `rule` through the same delivery path: never
/// folded, delivered at once.
pub fn raise_test(s: &mut dyn Store, rule: &AlertRule, now: Millis) -> Outcome<Alert> {
    let nonce: u32 = rand::random();
    let draft = Draft {
        key: format!("test/{}/{now}/{nonce}", rule.name),
        rule: Some(rule.name.clone()),
        group: rule.group.clone(),
        task_id: None,
        run: None,
        condition: "test".into(),
        message: format!(
            "a test alert for rule '{}' ({}), sent by `lts alert test`",
            rule.name, rule.when
        ),
        state: false,
        target: rule.to.clone(),
        silence_ms: 0,
    };
    let (alert, _) = raise(s, draft, now)?;
    s.journal().push(RunEvent::Alerted);
    Ok(alert)
}

// ---------------------------------------------------------------------------
// State conditions: the leader looks now and then.

/// What the leader read to evaluate state rules.
struct Reading {
    rules: Vec<AlertRule>,
    stats: StoreStats,
    /// Stats over each distinct `failures>=N/DUR` window.
    windows: BTreeMap<u64, StoreStats>,
    minutes: Vec<MinuteCount>,
    open: Vec<Alert>,
}

/// A state that holds now, for one rule and group.
#[derive(Clone)]
struct Holding {
    key: String,
    rule: AlertRule,
    group: String,
    message: String,
}

/// How often state rules are looked at: often enough for the shortest
/// `--for`, not more than once a second.
fn check_every(rules: &[AlertRule]) -> Duration {
    let shortest = rules.iter().map(|r| r.for_ms).min().unwrap_or(0);
    Duration::from_millis((shortest / 4).clamp(1_000, 10_000))
}

fn dur(ms: i64) -> String {
    crate::model::format_duration(Duration::from_millis(
        u64::try_from(ms.max(0) / 1000 * 1000).unwrap_or(0),
    ))
}

/// Which state conditions hold now.
fn evaluate(t: &Tracker, r: &Reading, now: Millis, term: Term) -> Vec<Holding> {
    let mut out = Vec::new();
    // Right after taking over, workers may not have reconnected yet.
    let settled = now - term.since >= t.lease_ms as i64;
    for rule in r.rules.iter().filter(|r| r.when.is_state()) {
        let mine = |g: &str| rule.group.as_deref().is_none_or(|want| want == g);
        let mut push = |group: &str, message: String| {
            out.push(Holding {
                key: rule_key(&rule.name, group),
                rule: rule.clone(),
                group: group.to_string(),
                message,
            })
        };
        match rule.when {
            Condition::NoWorker => {
                if !settled {
                    // Workers may not be back yet: what was open stays so.
                    for open in r
                        .open
                        .iter()
                        .filter(|a| a.rule.as_ref() == Some(&rule.name))
                    {
                        out.push(Holding {
                            key: open.key.clone(),
                            rule: rule.clone(),
                            group: open.group.clone().unwrap_or_default(),
                            message: open.message.clone(),
                        });
                    }
                    continue;
                }
                for q in r.stats.queues.iter().filter(|q| mine(&q.group)) {
                    let due = q.oldest_due.is_some();
                    if due && !t.nodes.has_live_worker(&q.group, now, t.lease_ms) {
                        push(
                            &q.group,
                            format!(
                                "group '{}' has due work ({} queued runs) and no live worker",
                                cut(&q.group, 80),
                                q.runs
                            ),
                        );
                    }
                }
            }
            Condition::QueueAgeOver(limit) => {
                for q in r.stats.queues.iter().filter(|q| mine(&q.group)) {
                    let age = q.oldest_due.map_or(0, |due| now - due);
                    if age > limit as i64 {
                        push(
                            &q.group,
                            format!(
                                "group '{}': its oldest due run has waited {} (over {})",
                                cut(&q.group, 80),
                                dur(age),
                                dur(limit as i64)
                            ),
                        );
                    }
                }
            }
            Condition::FireLagOver(limit) => {
                let mut worst: BTreeMap<&str, i64> = BTreeMap::new();
                for m in r.minutes.iter().filter(|m| mine(&m.group)) {
                    let lag = worst.entry(m.group.as_str()).or_default();
                    *lag = (*lag).max(m.lag_max_ms);
                }
                for (group, lag) in worst.into_iter().filter(|(_, l)| *l > limit as i64) {
                    push(
                        group,
                        format!(
                            "group '{}': runs started up to {} after their tick in the last minute (over {})",
                            cut(group, 80),
                            dur(lag),
                            dur(limit as i64)
                        ),
                    );
                }
            }
            Condition::FailuresAtLeast { n, window_ms } => {
                let Some(stats) = r.windows.get(&window_ms) else {
                    continue;
                };
                let mut failures: BTreeMap<&str, u64> = BTreeMap::new();
                for c in stats.ended.iter().filter(|c| mine(&c.group)) {
                    if matches!(c.outcome, RunOutcome::Failed | RunOutcome::TimedOut) {
                        *failures.entry(c.group.as_str()).or_default() += c.count;
                    }
                }
                for (group, count) in failures.into_iter().filter(|(_, c)| *c >= u64::from(n)) {
                    push(
                        group,
                        format!(
                            "group '{}': {count} runs failed or timed out in the last {} (at least {n})",
                            cut(group, 80),
                            dur(window_ms as i64)
                        ),
                    );
                }
            }
            Condition::Outcome(_) => {}
        }
    }
    out
}

/// Read what state rules need, in one transaction.
fn read(s: &mut dyn Store, now: Millis) -> Outcome<Option<Reading>> {
    let rules: Vec<AlertRule> = s.rules()?;
    let open = s.open_state_alerts()?;
    if !rules.iter().any(|r| r.when.is_state()) && open.is_empty() {
        return Ok(None);
    }
    let stats = s.stats(now, crate::store::MINUTE_MS)?;
    let mut windows = BTreeMap::new();
    for rule in &rules {
        if let Condition::FailuresAtLeast { window_ms, .. } = rule.when {
            if let std::collections::btree_map::Entry::Vacant(e) = windows.entry(window_ms) {
                e.insert(s.stats(now, i64::try_from(window_ms).unwrap_or(i64::MAX))?);
            }
        }
    }
    let minutes = if rules
        .iter()
        .any(|r| matches!(r.when, Condition::FireLagOver(_)))
    {
        // Runs that ended in the last minute or so.
        s.runs_by_minute(now - 2 * crate::store::MINUTE_MS)?
            .into_iter()
            .filter(|m| m.minute + crate::store::MINUTE_MS > now - crate::store::MINUTE_MS)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Reading {
        rules,
        stats,
        windows,
        minutes,
        open,
    }))
}

/// Raise what held long enough and is not open; resolve open state alerts
/// whose condition no longer holds. Returns whether anything changed.
fn apply(
    s: &mut dyn Store,
    raise_now: Vec<Holding>,
    holding: &BTreeSet<String>,
    now: Millis,
) -> Outcome<bool> {
    let mut changed = false;
    for h in raise_now {
        let draft = Draft {
            key: h.key,
            rule: Some(h.rule.name.clone()),
            group: Some(h.group),
            task_id: None,
            run: None,
            condition: h.rule.when.to_string(),
            message: h.message,
            state: true,
            target: h.rule.to.clone(),
            silence_ms: h.rule.silence_ms,
        };
        raise(s, draft, now)?;
        changed = true;
    }
    for open in s.open_state_alerts()? {
        if holding.contains(&open.key) {
            continue;
        }
        // Read again, locked: a fold elsewhere may have changed it.
        if let Some(mut open) = s.alert_by_id(open.id)?.filter(Alert::firing) {
            open.resolved_at = Some(now);
            s.update_alert(&open)?;
            changed = true;
        }
    }
    if changed {
        s.journal().push(RunEvent::Alerted);
    }
    Ok(changed)
}

/// The leader's watch over state rules: while any exist, look every few
/// seconds; otherwise sleep until the rules change.
pub async fn watch_conditions(t: Arc<Tracker>) {
    // Since when each (rule, group) has held, by key.
    let mut since: HashMap<String, Millis> = HashMap::new();
    let mut led: Option<Term> = None;
    loop {
        let Some(term) = t.leader.wait(t.shutdown.wait()).await else {
            return;
        };
        if led != Some(term) {
            since.clear();
            led = Some(term);
        }
        let mut wakeup = super::ops::armed(&t.wake.alerts);
        let now = now_ms();
        let reading = t.store.call(move |s| read(s, now)).await;
        let mut every = None;
        match reading {
            Ok(Some(reading)) => {
                every = Some(check_every(&reading.rules));
                let held = evaluate(&t, &reading, now, term);
                let holding: BTreeSet<String> = held.iter().map(|h| h.key.clone()).collect();
                since.retain(|k, _| holding.contains(k));
                let open: BTreeSet<&str> = reading.open.iter().map(|a| a.key.as_str()).collect();
                let raise_now: Vec<Holding> = held
                    .into_iter()
                    .filter(|h| {
                        let from = *since.entry(h.key.clone()).or_insert(now);
                        now - from >= h.rule.for_ms as i64 && !open.contains(h.key.as_str())
                    })
                    .collect();
                let stale = reading.open.iter().any(|a| !holding.contains(&a.key));
                if !raise_now.is_empty() || stale {
                    let leader = t.clone();
                    let applied = t
                        .store
                        .call(move |s| {
                            leader
                                .as_leader(s, term, |s| apply(s, raise_now.clone(), &holding, now))
                        })
                        .await;
                    match applied {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            t.leader.lost(term);
                            continue;
                        }
                        Err(e) => tracing::error!("alert conditions: {e}"),
                    }
                }
            }
            Ok(None) => since.clear(),
            Err(e) => {
                tracing::error!("alert conditions: {e}");
                every = Some(Duration::from_secs(5));
            }
        }
        let looked = tokio::time::Instant::now();
        let sleep = every.unwrap_or(Duration::from_secs(3_600));
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            // A new rule, or an alert resolved elsewhere: look again.
            _ = wakeup.as_mut() => {}
            _ = t.leader.ended(term) => {}
            _ = t.shutdown.wait() => return,
        }
        // Alerts change often in a flood: look at most once a second.
        tokio::select! {
            _ = tokio::time::sleep_until(looked + Duration::from_secs(1)) => {}
            _ = t.shutdown.wait() => return,
        }
    }
}

// ---------------------------------------------------------------------------
// Delivery.

/// The wait before attempt `attempts + 1`, after `attempts` failures.
fn backoff_ms(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(30);
    FIRST_BACKOFF_MS
        .saturating_mul(1i64 << exp)
        .min(MAX_BACKOFF_MS)
}

/// Record one attempt at `now`: a success ends the delivery (unless more
/// were folded in meanwhile, which the window's end will tell); a failure
/// is retried after a backoff, or given up a day after the alert was raised.
pub fn record(
    s: &mut dyn Store,
    id: i64,
    sent_folded: u64,
    mut delivery: Delivery,
    now: Millis,
) -> Outcome<()> {
    let Some(mut alert) = s.alert_by_id(id)? else {
        return Ok(());
    };
    let ok = delivery.ok;
    if ok {
        alert.attempts = 0;
        alert.sent_folded = alert.sent_folded.max(sent_folded);
        alert.next_attempt_at =
            (alert.folded > alert.sent_folded).then(|| alert.silence_until.max(now));
    } else {
        alert.attempts = alert.attempts.saturating_add(1);
        if now - alert.raised_at > GIVE_UP_AFTER_MS {
            alert.next_attempt_at = None;
            let error = delivery.error.take().unwrap_or_default();
            delivery.error = Some(format!("{error}; gave up: undelivered for a day"));
        } else {
            alert.next_attempt_at = Some(now + backoff_ms(alert.attempts));
        }
    }
    alert.record(delivery);
    s.update_alert(&alert)?;
    s.journal().push(RunEvent::Alerted);
    Ok(())
}

/// One line of error text.
fn one_line(text: &str) -> String {
    cut(text.trim(), ERROR_TEXT)
}

/// Send `alert` to its target once.
async fn send(http: &reqwest::Client, alert: &Alert, template: Option<&str>) -> Result<(), String> {
    let json = alert.json();
    if let Some(program) = alert.target.strip_prefix("cmd:") {
        return run_program(program, &json).await;
    }
    let request = match template {
        Some(template) => {
            let ctype = if template_is_json(template) {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            http.post(&alert.target)
                .header(reqwest::header::CONTENT_TYPE, ctype)
                .body(render_template(template, alert))
        }
        None => http.post(&alert.target).json(&json),
    };
    let response = request
        .send()
        .await
        .map_err(|e| one_line(&format!("{e}: {}", error_source(&e))))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(one_line(&format!("HTTP {status}: {body}")))
}

/// The innermost cause of an error (reqwest's own message says little).
fn error_source(e: &dyn std::error::Error) -> String {
    let mut cause = e.source();
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    last.unwrap_or_default()
}

/// Run a `cmd:` target with the alert JSON on stdin; exit 0 is success; it
/// is killed after `SEND_TIMEOUT`.
async fn run_program(program: &str, json: &serde_json::Value) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| one_line(&format!("cannot run '{}': {e}", cut(program, 120))))?;
    let mut body = json.to_string();
    body.push('\n');
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input may close it: not an error.
        let _ = stdin.write_all(body.as_bytes()).await;
    }
    let output = tokio::time::timeout(SEND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "'{}' took longer than {SEND_TIMEOUT:?}: killed",
                cut(program, 120)
            )
        })?
        .map_err(|e| one_line(&format!("'{}': {e}", cut(program, 120))))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let how = match output.status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "was killed by a signal".into(),
    };
    Err(one_line(&format!("'{}' {how}: {last}", cut(program, 120))))
}

/// The leader's delivery task: sleep until the next attempt is due (or an
/// alert is raised), send what is due, record each attempt.
pub async fn deliver_alerts(t: Arc<Tracker>) {
    let http = match reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .user_agent(concat!("lts/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(
                "alerts: cannot build the HTTP client, no alert will be delivered: {e}"
            );
            return;
        }
    };
    loop {
        let Some(term) = t.leader.wait(t.shutdown.wait()).await else {
            return;
        };
        let mut wakeup = super::ops::armed(&t.wake.alerts);
        let now = now_ms();
        let read = t
            .store
            .call(move |s| {
                let due = s.due_alerts(now, DELIVERY_BATCH)?;
                let templates: HashMap<String, String> = if due.is_empty() {
                    HashMap::new()
                } else {
                    s.rules()?
                        .into_iter()
                        .filter_map(|r| r.template.map(|t| (r.name, t)))
                        .collect()
                };
                Ok::<_, WireError>((due, templates, s.next_alert_attempt()?))
            })
            .await;
        let (due, templates, next) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::error!("alerts: {e}");
                (Vec::new(), HashMap::new(), Some(now_ms() + 5_000))
            }
        };
        if !due.is_empty() {
            let sends = due.iter().map(|alert| {
                let template = alert.rule.as_ref().and_then(|r| templates.get(r));
                let http = &http;
                async move {
                    let result = send(http, alert, template.map(String::as_str)).await;
                    (alert.id, alert.folded, alert.target.clone(), result)
                }
            });
            let results = futures::future::join_all(sends).await;
            let mut unrecorded = false;
            for (id, folded, target, result) in results {
                let at = now_ms();
                match &result {
                    Ok(()) => tracing::info!(alert = id, %target, "alert delivered"),
                    Err(e) => tracing::warn!(alert = id, %target, "alert delivery failed: {e}"),
                }
                let delivery = Delivery {
                    target,
                    at,
                    ok: result.is_ok(),
                    error: result.err(),
                };
                let leader = t.clone();
                let recorded = t
                    .store
                    .call(move |s| {
                        leader.as_leader(s, term, |s| record(s, id, folded, delivery.clone(), at))
                    })
                    .await;
                match recorded {
                    Ok(Some(())) => {}
                    Ok(None) => {
                        t.leader.lost(term);
                        break;
                    }
                    Err(e) => {
                        tracing::error!("alerts: recording a delivery: {e}");
                        unrecorded = true;
                    }
                }
            }
            if unrecorded {
                // The same alerts are still due: do not send them in a loop.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = t.shutdown.wait() => return,
                }
            }
            // Look again: more may be due, or a retry or summary scheduled.
            continue;
        }
        let sleep = next.map_or(Duration::from_secs(3_600), |at| {
            Duration::from_millis((at - now_ms()).clamp(0, 3_600_000) as u64)
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wakeup.as_mut() => {}
            _ = t.leader.ended(term) => {}
            _ = t.shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobSpec, JobState};
    use crate::store::SqliteStore;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        (dir, s)
    }

    fn job(s: &mut dyn Store, alert: Vec<RunOutcome>) -> JobRecord {
        let mut spec = JobSpec::new("g", "t1");
        spec.alert = alert;
        spec.alert_to = Some("http://127.0.0.1:9/x".into());
        let mut j = JobRecord {
            id: 0,
            spec,
            state: JobState::Queued,
            submitted_at: 0,
            updated_at: 0,
            next_fire: None,
            run_count: 1,
            note: None,
        };
        j.id = s.insert_job(&j).unwrap().unwrap();
        j
    }

    fn ended(job_id: i64, outcome: RunOutcome, retrying: bool) -> RunEvent {
        RunEvent::Ended {
            group: "g".into(),
            outcome,
            started_at: Some(1),
            ended_at: 2,
            job_id,
            run: 1,
            run_id: 1,
            retrying,
            exit_code: Some(3),
        }
    }

    #[test]
    fn failed_raises_once_retries_are_spent_and_floods_fold() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        let j = job(&mut s, vec![RunOutcome::Failed]);
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Failed, true)], 1_000).unwrap();
        assert!(s.list_alerts(&Default::default()).unwrap().is_empty());
        let flood: Vec<RunEvent> = (0..100)
            .map(|_| ended(j.id, RunOutcome::Failed, false))
            .collect();
        raise_on_outcomes(&mut s, &flood, 1_000).unwrap();
        let alerts = s.list_alerts(&Default::default()).unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].folded, 99);
        assert!(
            alerts[0].message.contains("exit 3"),
            "{}",
            alerts[0].message
        );
        // Succeeded, or an outcome the job did not ask for: nothing.
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Lost, false)], 1_000).unwrap();
        assert_eq!(s.list_alerts(&Default::default()).unwrap().len(), 1);
        // After the silence window, a new alert.
        let later = 1_000 + DEFAULT_SILENCE_MS as i64;
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Failed, false)], later).unwrap();
        assert_eq!(s.list_alerts(&Default::default()).unwrap().len(), 2);
        s.commit().unwrap();
    }

    #[test]
    fn a_delivered_alert_that_folds_more_tells_at_the_window_end() {
        let (_d, mut s) = store();
        s.begin().unwrap();
        let j = job(&mut s, vec![RunOutcome::Failed]);
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Failed, false)], 1_000).unwrap();
        let a = s.list_alerts(&Default::default()).unwrap().remove(0);
        let ok = |at| Delivery {
            target: a.target.clone(),
            at,
            ok: true,
            error: None,
        };
        record(&mut s, a.id, 0, ok(1_100), 1_100).unwrap();
        assert_eq!(s.alert_by_id(a.id).unwrap().unwrap().next_attempt_at, None);
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Failed, false)], 2_000).unwrap();
        let folded = s.alert_by_id(a.id).unwrap().unwrap();
        assert_eq!(folded.next_attempt_at, Some(folded.silence_until));
        record(
            &mut s,
            a.id,
            1,
            ok(folded.silence_until),
            folded.silence_until,
        )
        .unwrap();
        let told = s.alert_by_id(a.id).unwrap().unwrap();
        assert_eq!((told.next_attempt_at, told.sent_folded), (None, 1));
        // A failure is retried with a growing, capped backoff.
        let failed = Delivery {
            target: a.target.clone(),
            at: 5_000,
            ok: false,
            error: Some("refused".into()),
        };
        raise_on_outcomes(&mut s, &[ended(j.id, RunOutcome::Failed, false)], 3_000).unwrap();
        record(&mut s, a.id, 2, failed.clone(), 5_000).unwrap();
        assert_eq!(
            s.alert_by_id(a.id).unwrap().unwrap().next_attempt_at,
            Some(6_000)
        );
        record(&mut s, a.id, 2, failed, 6_000).unwrap();
        assert_eq!(
            s.alert_by_id(a.id).unwrap().unwrap().next_attempt_at,
            Some(8_000)
        );
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
        s.commit().unwrap();
    }
}
