//! `lts spool list | flush`: the jobs `lts submit --spool` kept while no
//! tracker answered, and their delivery; and what `lts submit` says of the
//! spool (the jobs delivered before its own, its own kept). The spool and
//! the submit-else-spool flow are `crate::spool`.

use super::error::exit;
use super::output::{cell, print_json, print_table, short_time, table, time, Format};
use super::CliError;
use crate::client::{Client, ClientError};
use crate::spool::{FlushReport, Pushed, Spool, SpoolError, SubmitError, SubmitReport, Unreadable};
use serde_json::json;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct SpoolArgs {
    #[command(subcommand)]
    pub command: SpoolCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SpoolCommand {
    /// List the jobs waiting in the spool, oldest first
    List,
    /// Deliver the waiting jobs to the tracker, in the order they were spooled
    Flush,
}

impl From<SubmitError> for CliError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Client(e) => e.into(),
            SubmitError::Spool(e) => e.into(),
        }
    }
}

impl From<SpoolError> for CliError {
    fn from(e: SpoolError) -> Self {
        let code = match e {
            SpoolError::Invalid(_) => exit::USAGE,
            _ => exit::FAILED,
        };
        CliError::new(code, e.to_string())
    }
}

/// `lts spool list`: reads the spool without writing (it works on a full disk).
pub fn list(data: &Path, format: Format) -> Result<(), CliError> {
    let (waiting, unreadable) = match Spool::open_read_only(data)? {
        Some(spool) => spool.scan()?,
        None => Default::default(),
    };
    warn_unreadable(&unreadable);
    if format == Format::Json {
        print_json(&serde_json::Value::Array(
            waiting
                .iter()
                .map(|s| {
                    json!({
                        "task_id": s.job.task_id,
                        "group": s.job.group,
                        "kind": s.job.schedule.kind().as_str(),
                        "spooled_at": time(s.spooled_at),
                        "last_error": s.last_error,
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    if waiting.is_empty() {
        eprintln!("the spool is empty");
        return Ok(());
    }
    let mut t = table(&["TASK ID", "GROUP", "KIND", "SPOOLED AT", "LAST ERROR"]);
    for s in &waiting {
        t.add_row(vec![
            s.job.task_id.clone(),
            s.job.group.clone(),
            s.job.schedule.kind().to_string(),
            short_time(s.spooled_at),
            cell(s.last_error.as_deref()),
        ]);
    }
    print_table(&t);
    Ok(())
}

/// `lts spool flush`: exit 0 when everything was delivered, 4 when no
/// tracker was reachable, 1 when the tracker refused some jobs.
pub async fn flush(client: &Client, data: &Path, format: Format) -> Result<(), CliError> {
    let report = match Spool::open_existing(data)? {
        Some(spool) if !spool.is_empty()? => spool.flush(client).await?,
        _ => FlushReport::default(),
    };
    warn_unreadable(&report.unreadable);
    match format {
        Format::Json => print_json(&json!({
            "delivered": report.delivered.len(),
            "already_delivered": report.already_delivered.len(),
            "refused": report.refused.iter().map(|r| json!({
                "task_id": r.task_id,
                "group": r.group,
                "error": r.error.to_string(),
            })).collect::<Vec<_>>(),
            "remaining": report.remaining,
            "unreadable": report.unreadable.len(),
            "error": report.stopped.as_ref().map(ToString::to_string),
        })),
        Format::Table => {
            note_refusals(&report);
            println!("{}", summary(&report));
        }
    }
    if let Some(e) = report.stopped {
        return Err(stopped(e, report.remaining));
    }
    if !report.refused.is_empty() {
        return Err(CliError::silent_failure());
    }
    Ok(())
}

/// One line saying what a flush did.
fn summary(report: &FlushReport) -> String {
    let already = match report.already_delivered.len() {
        0 => String::new(),
        n => format!(" ({n} of them delivered before)"),
    };
    let refused = match report.refused.len() {
        0 => String::new(),
        n => format!(", {n} refused"),
    };
    format!(
        "delivered {} spooled {}{already}{refused}; {} left in the spool",
        report.removed(),
        jobs(report.removed()),
        report.remaining
    )
}

fn jobs(n: usize) -> &'static str {
    if n == 1 {
        "job"
    } else {
        "jobs"
    }
}

/// One line each for spooled rows that could not be read, set aside.
fn warn_unreadable(unreadable: &[Unreadable]) {
    for bad in unreadable {
        eprintln!("warning: {bad}");
    }
}

fn note_refusals(report: &FlushReport) {
    for r in &report.refused {
        eprintln!(
            "spooled job {} (group {}) refused: {}; it stays in the spool",
            r.task_id, r.group, r.error
        );
    }
}

/// The error of a flush that stopped early, saying what stays.
fn stopped(e: ClientError, remaining: usize) -> CliError {
    let mut err = CliError::from(e);
    let stay = if remaining == 1 { "stays" } else { "stay" };
    err.message = format!(
        "{}; {remaining} {} {stay} in the spool",
        err.message,
        jobs(remaining)
    );
    err
}

/// What `lts submit` says of the jobs that were waiting in the spool: how
/// many went first, which were refused, and that an unreadable spool was
/// passed over (unless that is the error the command ends with).
pub fn tell_waiting(report: &SubmitReport) {
    if let Some(flush) = &report.waiting {
        if flush.removed() > 0 {
            eprintln!(
                "delivered {} spooled {} first",
                flush.removed(),
                jobs(flush.removed())
            );
        }
        note_refusals(flush);
        warn_unreadable(&flush.unreadable);
    }
    if let Some(e) = &report.unread {
        if !matches!(report.outcome, Err(SubmitError::Spool(_))) {
            eprintln!("note: {e}; spooled jobs were not delivered");
        }
    }
}

/// `lts submit --spool` when no tracker answered: say the job waits.
pub fn tell_spooled(
    task_id: &str,
    group: &str,
    pushed: Pushed,
    reason: &str,
    format: Format,
) -> Result<(), CliError> {
    match format {
        Format::Json => print_json(&json!({
            "task_id": task_id,
            "group": group,
            "state": "spooled",
            "spooled": true,
        })),
        Format::Table => {
            let what = match pushed {
                Pushed::Added | Pushed::Replaced => "spooled",
                Pushed::AlreadySpooled => "already spooled",
            };
            eprintln!(
                "{what} {task_id} (group {group}): {reason}; `lts spool flush` or the next `lts submit` delivers it"
            );
            println!("{task_id}");
        }
    }
    Ok(())
}
