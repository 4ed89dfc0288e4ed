//! `lts feedback --client-group G [--follow]`: the results of jobs submitted
//! with `--feedback --client-group G` (LTS's feedback). Each result is
//! acknowledged only once it is printed and stdout flushed, so a result is
//! shown at least once and, once read, not again.

use super::output::{cell, short_time, table, time, Format};
use super::CliError;
use crate::client::{Client, ClientError};
use crate::model::{valid_name, FeedbackItem};
use crate::spool::is_unavailable;
use serde_json::json;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    /// The client node group whose results to read [default: `client_group` in the config file]
    #[arg(long, value_name = "G", env = "LTS_CLIENT_GROUP")]
    pub client_group: Option<String>,
    /// Keep waiting for results and print them as they come, until interrupted
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// How long one follow request waits for results.
const FOLLOW_WAIT: Duration = Duration::from_secs(20);
/// The longest pause before trying a lost tracker again while following.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

const HEADER: [&str; 8] = [
    "TASK ID", "GROUP", "RUN", "ATTEMPT", "OUTCOME", "EXIT", "ENDED", "REASON",
];

pub async fn run(
    client: &Client,
    group: &String,
    args: &FeedbackArgs,
    format: Format,
) -> Result<(), CliError> {
    if !valid_name(group, 64) {
        return Err(CliError::usage(format!(
            "--client-group: '{}' is not a valid group",
            crate::model::cut(group, 80)
        )));
    }
    if !args.follow && format == Format::Json {
        return json_once(client, group).await;
    }
    let wait = if args.follow {
        FOLLOW_WAIT
    } else {
        Duration::ZERO
    };
    let mut printed_header = false;
    let mut answered = false;
    let mut retry = Duration::ZERO;
    loop {
        // What was printed is acknowledged before the next read, so the
        // queue holds only unread results: read it from its start.
        let items = match client.feedback(group.clone(), 0, wait).await {
            Ok(items) => items,
            Err(e) if args.follow && answered && is_unavailable(&e) => {
                retry = pause(retry, &e).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        answered = true;
        retry = Duration::ZERO;
        if items.is_empty() {
            if args.follow {
                continue;
            }
            if !printed_header {
                match format {
                    Format::Table => eprintln!("no feedback for client group {group}"),
                    Format::Json => println!("[]"),
                }
            }
            return Ok(());
        }
        print_items(&items, format, !printed_header)?;
        printed_header = true;
        let up_to = items.iter().map(|i| i.id).max().unwrap_or_default();
        acknowledge(client, group, up_to, args.follow).await?;
    }
}

/// `-o json` without `--follow`: every waiting result in one array (`[]`
/// when none), acknowledged once printed.
async fn json_once(client: &Client, group: &str) -> Result<(), CliError> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let items = client
            .feedback(group.to_string(), after, Duration::ZERO)
            .await?;
        let Some(last) = items.iter().map(|i| i.id).max() else {
            break;
        };
        after = last;
        all.extend(items);
    }
    let doc = serde_json::Value::Array(all.iter().map(item_json).collect());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{doc}")?;
    out.flush()?;
    if after > 0 {
        acknowledge(client, group, after, false).await?;
    }
    Ok(())
}

/// Acknowledge what was printed; while following, a lost tracker is waited
/// for rather than the results printed again.
async fn acknowledge(
    client: &Client,
    group: &str,
    up_to: i64,
    follow: bool,
) -> Result<(), CliError> {
    let mut retry = Duration::ZERO;
    loop {
        match client.ack_feedback(group.to_string(), up_to).await {
            Ok(_) => return Ok(()),
            Err(e) if follow && is_unavailable(&e) => retry = pause(retry, &e).await,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Say the tracker is lost (the first time), wait, and return the next wait.
async fn pause(last: Duration, e: &ClientError) -> Duration {
    if last.is_zero() {
        eprintln!("{e}; retrying");
    }
    let next = (last * 2).clamp(Duration::from_millis(250), MAX_RETRY_DELAY);
    tokio::time::sleep(next).await;
    next
}

/// Print results and flush stdout; an error here means they are not
/// acknowledged.
fn print_items(items: &[FeedbackItem], format: Format, header: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            for item in items {
                writeln!(out, "{}", item_json(item))?;
            }
        }
        Format::Table => {
            let mut t = table(&HEADER);
            for item in items {
                t.add_row(vec![
                    item.task_id.clone(),
                    item.group.clone(),
                    item.run.to_string(),
                    item.attempt.to_string(),
                    item.outcome.to_string(),
                    cell(item.exit_code),
                    short_time(item.ended_at),
                    cell(item.reason.as_deref()),
                ]);
            }
            for line in t.lines().skip(usize::from(!header)) {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn item_json(item: &FeedbackItem) -> serde_json::Value {
    json!({
        "task_id": item.task_id,
        "group": item.group,
        "client_group": item.client_group,
        "run": item.run,
        "attempt": item.attempt,
        "outcome": item.outcome.as_str(),
        "exit_code": item.exit_code,
        "reason": item.reason,
        "ended_at": time(item.ended_at),
    })
}
