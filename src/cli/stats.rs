//! `lts stats`: per worker group, how many jobs are in each state, how many
//! runs wait in the queue and how long the oldest due one has waited, and
//! how many runs ended in the last minute (runs/s, failures), with a totals
//! row; or the same as one JSON document.

use super::output::{print_json, print_table, table, time, Format};
use super::CliError;
use crate::client::Client;
use crate::model::{format_duration, JobState, RunOutcome, StoreStats};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The window throughput is measured over.
const WINDOW_MS: i64 = 60_000;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Only this worker group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
}

/// One row: a group's numbers, or the totals.
#[derive(Debug, Default, Clone)]
struct Row {
    jobs: BTreeMap<JobState, u64>,
    queued_runs: u64,
    queue_age_ms: Option<i64>,
    outcomes: BTreeMap<RunOutcome, u64>,
}

impl Row {
    /// Runs that ended in the window; skipped ticks were decisions, not runs.
    fn ended(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(o, _)| **o != RunOutcome::Skipped)
            .map(|(_, n)| n)
            .sum()
    }

    /// Runs that failed in the window (a timeout counts as a failure).
    fn failed(&self) -> u64 {
        [RunOutcome::Failed, RunOutcome::TimedOut]
            .iter()
            .map(|o| self.outcomes.get(o).copied().unwrap_or(0))
            .sum()
    }

    fn per_s(&self, window_ms: i64) -> f64 {
        self.ended() as f64 * 1000.0 / window_ms.max(1) as f64
    }

    fn add(&mut self, other: &Row) {
        for (s, n) in &other.jobs {
            *self.jobs.entry(*s).or_default() += n;
        }
        for (o, n) in &other.outcomes {
            *self.outcomes.entry(*o).or_default() += n;
        }
        self.queued_runs += other.queued_runs;
        self.queue_age_ms = self.queue_age_ms.max(other.queue_age_ms);
    }

    fn json(&self, window_ms: i64) -> Map<String, Value> {
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
fn rows(stats: &StoreStats) -> BTreeMap<String, Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
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

pub async fn run(client: &Client, args: &StatsArgs, format: Format) -> Result<(), CliError> {
    let stats = client.stats(args.group.clone(), WINDOW_MS).await?;
    let mut rows = rows(&stats);
    if let Some(group) = &args.group {
        rows.entry(group.clone()).or_default();
    }
    let mut total = Row::default();
    for row in rows.values() {
        total.add(row);
    }
    let window_ms = stats.window_ms;
    if format == Format::Json {
        let groups: Vec<Value> = rows
            .iter()
            .map(|(group, row)| {
                let mut m = Map::new();
                m.insert("group".into(), json!(group));
                m.extend(row.json(window_ms));
                Value::Object(m)
            })
            .collect();
        print_json(&json!({
            "at": time(stats.at),
            "window_s": window_ms / 1000,
            "groups": groups,
            "total": Value::Object(total.json(window_ms)),
        }));
        return Ok(());
    }
    let window = format_duration(Duration::from_millis(window_ms.max(0) as u64));
    let per_s = format!("RUNS/S ({window})");
    let failed = format!("FAILED ({window})");
    let mut header = vec!["GROUP"];
    let states: Vec<String> = JobState::ALL
        .iter()
        .map(|s| s.as_str().to_uppercase())
        .collect();
    header.extend(states.iter().map(String::as_str));
    header.extend(["QUEUE AGE", per_s.as_str(), failed.as_str()]);
    let mut t = table(&header);
    let line = |name: &str, row: &Row| {
        let mut cells = vec![name.to_string()];
        cells.extend(
            JobState::ALL
                .iter()
                .map(|s| row.jobs.get(s).copied().unwrap_or(0).to_string()),
        );
        cells.push(match row.queue_age_ms {
            Some(ms) => format_duration(Duration::from_secs(ms.max(0) as u64 / 1000)),
            None => "-".into(),
        });
        cells.push(format!("{:.2}", row.per_s(window_ms)));
        cells.push(row.failed().to_string());
        cells
    };
    for (group, row) in &rows {
        t.add_row(line(group, row));
    }
    t.add_row(line("TOTAL", &total));
    print_table(&t);
    Ok(())
}
