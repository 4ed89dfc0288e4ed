//! Aggregate counts for `lts stats`: jobs by (group, state), the queue of each
//! group and the runs that ended in a recent window; and, for the console's
//! chart, the runs that ended in each minute. The store computes them in a
//! few aggregate queries; the CLI and the console turn them into tables,
//! JSON and charts.

use super::json::time;
use super::{JobState, Millis, RunOutcome};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How many jobs of a group are in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub group: String,
    pub state: JobState,
    pub count: u64,
}

/// A group's queued runs and the oldest due time among those already due
/// (buffered runs, which wait for their predecessor, are counted but never
/// age).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCount {
    pub group: String,
    pub runs: u64,
    pub oldest_due: Option<Millis>,
}

/// How many runs of a group ended with an outcome in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCount {
    pub group: String,
    pub outcome: RunOutcome,
    pub count: u64,
}

/// How many runs of a group ended in one minute with one outcome, and the
/// fire lag (start minus tick time) of the first attempts among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCount {
    pub group: String,
    /// The minute's first instant.
    pub minute: Millis,
    pub outcome: RunOutcome,
    pub count: u64,
    /// First attempts that started (retries wait for their backoff, not for a worker).
    pub started: u64,
    /// Their fire lags added up, and the longest.
    pub lag_total_ms: i64,
    pub lag_max_ms: i64,
}

/// Everything `lts stats` shows, as of `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    pub at: Millis,
    pub window_ms: i64,
    pub jobs: Vec<StateCount>,
    pub queues: Vec<QueueCount>,
    pub ended: Vec<OutcomeCount>,
}

impl StoreStats {
    /// Only the rows of `group`.
    pub fn only(mut self, group: &str) -> StoreStats {
        self.jobs.retain(|r| r.group == group);
        self.queues.retain(|r| r.group == group);
        self.ended.retain(|r| r.group == group);
        self
    }
}

/// One row: a group's numbers, or the totals.
#[derive(Debug, Default, Clone)]
pub struct GroupRow {
    pub jobs: BTreeMap<JobState, u64>,
    pub queued_runs: u64,
    pub queue_age_ms: Option<i64>,
    pub outcomes: BTreeMap<RunOutcome, u64>,
}

impl GroupRow {
    /// Runs that ended in the window; skipped ticks were decisions, not runs.
    pub fn ended(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(o, _)| **o != RunOutcome::Skipped)
            .map(|(_, n)| n)
            .sum()
    }

    /// Runs that failed in the window (a timeout counts as a failure).
    pub fn failed(&self) -> u64 {
        [RunOutcome::Failed, RunOutcome::TimedOut]
            .iter()
            .map(|o| self.outcomes.get(o).copied().unwrap_or(0))
            .sum()
    }

    pub fn per_s(&self, window_ms: i64) -> f64 {
        self.ended() as f64 * 1000.0 / window_ms.max(1) as f64
    }

    pub fn add(&mut self, other: &GroupRow) {
        for (s, n) in &other.jobs {
            *self.jobs.entry(*s).or_default() += n;
        }
        for (o, n) in &other.outcomes {
            *self.outcomes.entry(*o).or_default() += n;
        }
        self.queued_runs += other.queued_runs;
        self.queue_age_ms = self.queue_age_ms.max(other.queue_age_ms);
    }

    pub fn json(&self, window_ms: i64) -> Map<String, Value> {
        let jobs: Map<String, Value> = JobState::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    json!(self.jobs.get(s).copied().unwrap_or(0)),
                )
            })
            .collect();
        let outcomes: Map<String, Value> = self
            .outcomes
            .iter()
            .map(|(o, n)| (o.as_str().to_string(), json!(n)))
            .collect();
        let mut m = Map::new();
        m.insert("jobs".into(), Value::Object(jobs));
        m.insert("queued_runs".into(), json!(self.queued_runs));
        m.insert("queue_age_ms".into(), json!(self.queue_age_ms));
        m.insert("ended_last_window".into(), json!(self.ended()));
        m.insert("runs_per_s".into(), json!(self.per_s(window_ms)));
        m.insert("failed_last_window".into(), json!(self.failed()));
        m.insert("outcomes_last_window".into(), Value::Object(outcomes));
        m
    }
}

/// The stats as one row per group, in group order.
pub fn rows(stats: &StoreStats) -> BTreeMap<String, GroupRow> {
    let mut rows: BTreeMap<String, GroupRow> = BTreeMap::new();
    for c in &stats.jobs {
        *rows
            .entry(c.group.clone())
            .or_default()
            .jobs
            .entry(c.state)
            .or_default() += c.count;
    }
    for q in &stats.queues {
        let row = rows.entry(q.group.clone()).or_default();
        row.queued_runs += q.runs;
        row.queue_age_ms = q.oldest_due.map(|due| (stats.at - due).max(0));
    }
    for e in &stats.ended {
        *rows
            .entry(e.group.clone())
            .or_default()
            .outcomes
            .entry(e.outcome)
            .or_default() += e.count;
    }
    rows
}

/// One row per group (with `only`'s even when it has nothing) and the totals.
pub fn rows_with_total(
    stats: &StoreStats,
    only: Option<&str>,
) -> (BTreeMap<String, GroupRow>, GroupRow) {
    let mut rows = rows(stats);
    if let Some(group) = only {
        rows.entry(group.to_string()).or_default();
    }
    let mut total = GroupRow::default();
    for row in rows.values() {
        total.add(row);
    }
    (rows, total)
}

/// The stats as `lts -o json stats` prints them and the API answers.
pub fn stats_json(stats: &StoreStats, only: Option<&str>) -> Value {
    let (rows, total) = rows_with_total(stats, only);
    let window_ms = stats.window_ms;
    let groups: Vec<Value> = rows
        .iter()
        .map(|(group, row)| {
            let mut m = Map::new();
            m.insert("group".into(), json!(group));
            m.extend(row.json(window_ms));
            Value::Object(m)
        })
        .collect();
    json!({
        "at": time(stats.at),
        "window_s": window_ms / 1000,
        "groups": groups,
        "total": Value::Object(total.json(window_ms)),
    })
}
