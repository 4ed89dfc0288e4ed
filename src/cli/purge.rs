//! `lts purge --older-than DUR [--group G] [--state S] [--yes]`: delete
//! ended jobs (succeeded, failed, cancelled, broken) with their runs and logs now,
//! rather than waiting for the tracker's `--retain`. Asks first, unless
//! `--yes`.

use super::control::{confirm, plural, report};
use super::output::Format;
use super::CliError;
use crate::client::Client;
use crate::model::{cut, now_ms, parse_duration, JobState};
use crate::protocol::PurgeFilter;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Only jobs that ended (last changed) longer ago than this (`7d`, `12h`, `0s` for all)
    #[arg(long, value_name = "DUR", value_parser = parse_age, required = true, allow_hyphen_values = true)]
    pub older_than: Duration,
    /// Only jobs of this worker group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// Only jobs that ended so
    #[arg(long, value_name = "STATE",
          value_parser = PossibleValuesParser::new(["succeeded", "failed", "cancelled", "broken"]).map(|s| JobState::parse(&s).unwrap_or(JobState::Succeeded)))]
    pub state: Option<JobState>,
    /// Do not ask first (needed without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

fn parse_age(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!(
            "'{}' is negative: an age is 0s or more, e.g. 7d",
            cut(s, 40)
        ));
    }
    parse_duration(s)
}

pub async fn run(client: &Client, args: &PurgeArgs, format: Format) -> Result<(), CliError> {
    let age = i64::try_from(args.older_than.as_millis()).unwrap_or(i64::MAX);
    let filter = PurgeFilter {
        group: args.group.clone(),
        state: args.state,
        before: now_ms().saturating_sub(age),
    };
    let mut what = vec![format!(
        "ended over {} ago",
        crate::model::format_duration(args.older_than)
    )];
    if let Some(g) = &args.group {
        what.push(format!("group '{}'", cut(g, 80)));
    }
    if let Some(s) = args.state {
        what.push(format!("state {s}"));
    }
    let what = what.join(", ");
    if !args.yes {
        let count = client.purge(filter.clone(), true).await?;
        if count.matched == 0 {
            return report(&count, &what, "deleted", format);
        }
        let question = format!(
            "delete {} with their runs and logs ({what})? [y/N] ",
            plural(count.matched, "job", "jobs")
        );
        if !confirm(&question)? {
            eprintln!("nothing deleted");
            return Err(CliError::silent_failure());
        }
    }
    let outcome = client.purge(filter, false).await?;
    report(&outcome, &what, "deleted", format)
}
