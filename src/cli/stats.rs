//! `lts stats`: per worker group, how many jobs are in each state, how many
//! runs wait in the queue and how long the oldest due one has waited, and
//! how many runs ended in the last minute (runs/s, failures), with a totals
//! row; or the same as one JSON document.

use super::output::{print_json, print_table, table, Format};
use super::CliError;
use crate::client::Client;
use crate::model::stats::{rows_with_total, stats_json, GroupRow};
use crate::model::{format_duration, JobState};
use std::time::Duration;

/// The window throughput is measured over.
const WINDOW_MS: i64 = 60_000;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Only this worker group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
}

pub async fn run(client: &Client, args: &StatsArgs, format: Format) -> Result<(), CliError> {
    let stats = client.stats(args.group.clone(), WINDOW_MS).await?;
    let (rows, total) = rows_with_total(&stats, args.group.as_deref());
    let window_ms = stats.window_ms;
    if format == Format::Json {
        print_json(&stats_json(&stats, args.group.as_deref()));
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
    let line = |name: &str, row: &GroupRow| {
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
