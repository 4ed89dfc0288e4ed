//! `lts jobs`: a table (or JSON array) of jobs, filtered.

use super::output::{cell, job_json, print_json, print_table, schedule, short_time, table, Format};
use super::CliError;
use crate::client::Client;
use crate::model::{JobKind, JobState};
use crate::protocol::JobFilter;
use clap::builder::{PossibleValuesParser, TypedValueParser};

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only jobs of this worker group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// Only jobs in this state
    #[arg(long, value_name = "STATE",
          value_parser = PossibleValuesParser::new(JobState::ALL.map(|s| s.as_str())).map(|s| JobState::parse(&s).unwrap_or(JobState::Queued)))]
    pub state: Option<JobState>,
    /// Only jobs of this kind
    #[arg(long, value_name = "KIND",
          value_parser = PossibleValuesParser::new(["now", "at", "cron", "repeat"]).map(|s| JobKind::parse(&s).unwrap_or(JobKind::Now)))]
    pub kind: Option<JobKind>,
    /// At most this many, the newest (0: all of them)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u32,
}

pub async fn run(client: &Client, args: &JobsArgs, format: Format) -> Result<(), CliError> {
    let page = client
        .jobs(JobFilter {
            group: args.group.clone(),
            state: args.state,
            kind: args.kind,
            text: None,
            cursor: None,
            limit: args.limit,
        })
        .await?;
    let jobs = page.jobs;
    if format == Format::Json {
        print_json(&serde_json::Value::Array(
            jobs.iter().map(job_json).collect(),
        ));
        return Ok(());
    }
    if jobs.is_empty() {
        eprintln!("no jobs");
        return Ok(());
    }
    let with_notes = jobs.iter().any(|j| j.note.is_some());
    let mut header = vec![
        "TASK ID",
        "GROUP",
        "KIND",
        "STATE",
        "SCHEDULE",
        "PRIORITY",
        "RUNS",
        "NEXT FIRE",
        "UPDATED",
    ];
    if with_notes {
        header.push("NOTE");
    }
    let mut t = table(&header);
    for job in &jobs {
        let mut row = vec![
            job.spec.task_id.clone(),
            job.spec.group.clone(),
            job.spec.schedule.kind().to_string(),
            job.state.to_string(),
            schedule(&job.spec.schedule),
            job.spec.priority.to_string(),
            job.runs.to_string(),
            cell(job.next_fire.map(short_time)),
            short_time(job.updated_at),
        ];
        if with_notes {
            row.push(job.note.clone().unwrap_or_default());
        }
        t.add_row(row);
    }
    print_table(&t);
    if (jobs.len() as u64) < page.total {
        eprintln!(
            "showing the newest {} of {} jobs (--limit N for more, --limit 0 for all)",
            jobs.len(),
            page.total
        );
    }
    Ok(())
}
