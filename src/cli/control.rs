//! `lts cancel | suspend | resume | trigger | retry ID`: what an operator
//! does to a job. Each prints what it did, or the job as JSON. `cancel`,
//! `suspend` and `resume` also act in bulk (`--all` with selectors), after
//! saying how many jobs they would change and asking, unless `--yes`.

use super::output::{job_json, print_json, Format};
use super::{CliError, JobRefArgs};
use crate::client::Client;
use crate::model::{cut, JobKind, JobState};
use crate::protocol::{BulkAction, BulkOutcome, JobFilter};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
}

/// One job by its id, or with `--all` every job the selectors pick.
#[derive(Debug, clap::Args)]
pub struct BulkArgs {
    /// The job's task id
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub id: Option<String>,
    /// The job's worker group (with --all: only jobs of this group)
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// Every job the selectors pick (all jobs without any), instead of one
    #[arg(long)]
    pub all: bool,
    /// With --all: only jobs in this state
    #[arg(long, value_name = "STATE", requires = "all",
          value_parser = PossibleValuesParser::new(JobState::ALL.map(|s| s.as_str())).map(|s| JobState::parse(&s).unwrap_or(JobState::Queued)))]
    pub state: Option<JobState>,
    /// With --all: only jobs of this kind
    #[arg(long, value_name = "KIND", requires = "all",
          value_parser = PossibleValuesParser::new(["now", "at", "cron", "repeat"]).map(|s| JobKind::parse(&s).unwrap_or(JobKind::Now)))]
    pub kind: Option<JobKind>,
    /// With --all: do not ask first (needed without a terminal)
    #[arg(long, short = 'y', requires = "all")]
    pub yes: bool,
}

/// The operations, as `lts` names them.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Cancel,
    Suspend,
    Resume,
    Trigger,
    Retry,
}

pub async fn run(
    client: &Client,
    op: Op,
    args: &ControlArgs,
    format: Format,
) -> Result<(), CliError> {
    let job_ref = args.job.job_ref();
    let (job, done) = match op {
        Op::Cancel => (client.cancel(job_ref).await?, "cancelled"),
        Op::Suspend => (client.suspend(job_ref).await?, "suspended"),
        Op::Resume => (client.resume(job_ref).await?, "resumed"),
        Op::Trigger => (client.trigger(job_ref).await?, "triggered"),
        Op::Retry => (client.retry(job_ref).await?, "retrying"),
    };
    match format {
        Format::Json => print_json(&job_json(&job)),
        Format::Table => {
            let now = match op {
                Op::Cancel | Op::Suspend => String::new(),
                _ => format!(": now {}", job.state),
            };
            println!(
                "{done} {} (group {}){now}",
                job.spec.task_id, job.spec.group
            );
        }
    }
    Ok(())
}

/// `cancel | suspend | resume`: one job, or with `--all` every job selected.
pub async fn bulk(
    client: &Client,
    op: Op,
    args: &BulkArgs,
    format: Format,
) -> Result<(), CliError> {
    let Some(id) = args.id.clone().filter(|_| !args.all) else {
        return all(client, op, args, format).await;
    };
    let one = ControlArgs {
        job: JobRefArgs {
            id,
            group: args.group.clone(),
        },
    };
    run(client, op, &one, format).await
}

/// What the selectors say, for the question and the summary.
fn selection(args: &BulkArgs) -> String {
    let mut parts = Vec::new();
    if let Some(g) = &args.group {
        parts.push(format!("group '{}'", cut(g, 80)));
    }
    if let Some(s) = args.state {
        parts.push(format!("state {s}"));
    }
    if let Some(k) = args.kind {
        parts.push(format!("kind {k}"));
    }
    if parts.is_empty() {
        "every job".into()
    } else {
        format!("jobs of {}", parts.join(", "))
    }
}

async fn all(client: &Client, op: Op, args: &BulkArgs, format: Format) -> Result<(), CliError> {
    let (action, verb, done) = match op {
        Op::Cancel => (BulkAction::Cancel, "cancel", "cancelled"),
        Op::Suspend => (BulkAction::Suspend, "suspend", "suspended"),
        Op::Resume => (BulkAction::Resume, "resume", "resumed"),
        Op::Trigger | Op::Retry => {
            return Err(CliError::usage(
                "--all: only cancel, suspend and resume act in bulk",
            ))
        }
    };
    let filter = JobFilter {
        group: args.group.clone(),
        state: args.state,
        kind: args.kind,
        ..JobFilter::default()
    };
    let what = selection(args);
    if !args.yes {
        let count = client.act_all(filter.clone(), action, true).await?;
        if count.matched == 0 {
            return report(&count, &what, done, format);
        }
        let question = format!(
            "{verb} {} ({what})? [y/N] ",
            plural(count.matched, "job", "jobs")
        );
        if !confirm(&question)? {
            eprintln!("nothing changed");
            return Err(CliError::silent_failure());
        }
    }
    let outcome = client.act_all(filter, action, false).await?;
    report(&outcome, &what, done, format)
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Ask on the terminal; without one, refuse (a script must say --yes).
pub(super) fn confirm(question: &str) -> Result<bool, CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::usage(
            "not asking without a terminal: pass --yes to go ahead",
        ));
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question}")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Print what a bulk action or a purge did; exit 1 when some job was left
/// alone because of an error.
pub(super) fn report(
    outcome: &BulkOutcome,
    what: &str,
    done: &str,
    format: Format,
) -> Result<(), CliError> {
    match format {
        Format::Json => print_json(&json!({
            "matched": outcome.matched,
            "done": outcome.done,
            "skipped": outcome.skipped.iter().map(|s| json!({
                "task_id": s.task_id,
                "group": s.group,
                "reason": s.reason,
            })).collect::<Vec<_>>(),
            "skipped_count": outcome.skipped_count,
        })),
        Format::Table => {
            for s in &outcome.skipped {
                eprintln!(
                    "{} (group {}): {}",
                    cut(&s.task_id, 80),
                    cut(&s.group, 80),
                    cut(&s.reason, 200)
                );
            }
            let more = outcome
                .skipped_count
                .saturating_sub(outcome.skipped.len() as u64);
            if more > 0 {
                eprintln!("... and {more} more left alone");
            }
            if outcome.matched == 0 {
                eprintln!("no job to change ({what})");
            } else {
                println!("{done} {} ({what})", plural(outcome.done, "job", "jobs"));
            }
        }
    }
    if outcome.skipped_count > 0 {
        return Err(CliError::silent_failure());
    }
    Ok(())
}
