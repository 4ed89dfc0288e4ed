//! `lts jobs`: a table (or JSON array) of jobs, filtered.

use super::output::{
    cell, cut_cell, job_json, print_json, print_table, schedule, short_time, state_cell, table,
    Format, WIDE_CELL,
};
use super::CliError;
use crate::client::Client;
use crate::model::{JobKind, JobState};
use crate::protocol::JobFilter;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use comfy_table::Cell;

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
            Cell::new(cut_cell(&job.spec.task_id, WIDE_CELL)),
            Cell::new(cut_cell(&job.spec.group, WIDE_CELL)),
            Cell::new(job.spec.schedule.kind()),
            state_cell(job.state.as_str()),
            Cell::new(cut_cell(&schedule(&job.spec.schedule), WIDE_CELL)),
            Cell::new(job.spec.priority),
            Cell::new(job.runs),
            Cell::new(cell(job.next_fire.map(short_time))),
            Cell::new(short_time(job.updated_at)),
        ];
        if with_notes {
            row.push(Cell::new(cut_cell(
                job.note.as_deref().unwrap_or_default(),
                WIDE_CELL,
            )));
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
