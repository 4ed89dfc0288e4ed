//! `lts job ID`: one job's fields and its run history.

use super::output::{
    cell, cut_cell, job_detail_json, print_json, print_table, schedule, short_time, state_cell,
    table, Format, WIDE_CELL,
};
use super::{CliError, JobRefArgs};
use crate::client::Client;
use crate::model::{format_duration, FanOut};
use crate::protocol::RunsPage;
use comfy_table::Cell;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
    /// How many runs to show, the newest
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Only runs numbered below RUN: the next page of an earlier answer
    #[arg(long, value_name = "RUN", value_parser = clap::value_parser!(u32).range(1..))]
    pub before: Option<u32>,
}

pub async fn run(client: &Client, args: &JobArgs, format: Format) -> Result<(), CliError> {
    let page = RunsPage {
        limit: args.runs,
        before: args.before,
    };
    let detail = client.job_runs(args.job.job_ref(), page).await?;
    if format == Format::Json {
        print_json(&job_detail_json(&detail));
        return Ok(());
    }
    let job = &detail.job;
    let spec = &job.spec;
    let mut fields: Vec<(&str, String)> = vec![
        ("task id", spec.task_id.clone()),
        ("group", spec.group.clone()),
        ("kind", spec.schedule.kind().to_string()),
        ("state", job.state.to_string()),
        ("schedule", schedule(&spec.schedule)),
        ("priority", spec.priority.to_string()),
    ];
    if !spec.params.is_empty() {
        let params: Vec<String> = spec
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        fields.push(("params", params.join(" ")));
    }
    if !spec.command.is_empty() {
        fields.push(("command", spec.command.join(" ")));
    }
    if spec.max_retries > 0 {
        fields.push((
            "retries",
            format!(
                "up to {}, backoff from {}",
                spec.max_retries,
                format_duration(Duration::from_millis(spec.retry_backoff_ms))
            ),
        ));
    }
    if spec.fan_out != FanOut::One {
        fields.push(("fan-out", crate::model::json::fan_out(spec.fan_out)));
    }
    if let Some(timeout) = spec.timeout_ms {
        fields.push(("timeout", format_duration(Duration::from_millis(timeout))));
    }
    if let (false, Some(to)) = (spec.alert.is_empty(), &spec.alert_to) {
        let outcomes: Vec<&str> = spec.alert.iter().map(|o| o.as_str()).collect();
        fields.push(("alerts", format!("{} → {to}", outcomes.join(", "))));
    }
    if !spec.after.is_empty() {
        fields.push(("after", spec.after.join(", ")));
    }
    if let Some(flow) = &spec.flow {
        fields.push((
            "flow",
            format!("{} (run {}, step {})", flow.flow, flow.run, flow.step),
        ));
    }
    if !job.next_fires.is_empty() {
        let fires: Vec<String> = job.next_fires.iter().map(|t| short_time(*t)).collect();
        fields.push(("next fires", fires.join(", ")));
    }
    fields.push(("submitted", short_time(job.submitted_at)));
    fields.push(("updated", short_time(job.updated_at)));
    if let Some(note) = &job.note {
        fields.push(("note", note.clone()));
    }
    for (name, value) in fields {
        println!("{:<12}{value}", format!("{name}:"));
    }
    if detail.runs.is_empty() {
        println!("\nno runs yet");
        return Ok(());
    }
    println!();
    let mut t = table(&[
        "RUN",
        "ATTEMPT",
        "STATE",
        "OUTCOME",
        "EXIT",
        "PART",
        "WORKER",
        "SCHEDULED",
        "STARTED",
        "ENDED",
        "REASON",
    ]);
    // Newest first, as `git log` shows history.
    for run in detail.runs.iter().rev() {
        t.add_row(vec![
            Cell::new(run.run),
            Cell::new(run.attempt),
            Cell::new(run.state.as_str()),
            run.outcome
                .map_or_else(|| Cell::new("-"), |o| state_cell(o.as_str())),
            Cell::new(cell(run.exit_code)),
            Cell::new(cut_cell(
                &run.part.label().unwrap_or_else(|| "-".into()),
                WIDE_CELL,
            )),
            Cell::new(cut_cell(run.worker.as_deref().unwrap_or("-"), WIDE_CELL)),
            Cell::new(short_time(run.scheduled_at)),
            Cell::new(cell(run.started_at.map(short_time))),
            Cell::new(cell(run.ended_at.map(short_time))),
            Cell::new(cut_cell(run.reason.as_deref().unwrap_or_default(), 80)),
        ]);
    }
    print_table(&t);
    let shown: std::collections::BTreeSet<u32> = detail.runs.iter().map(|r| r.run).collect();
    let more = (shown.len() as u32) < job.runs;
    if let Some(oldest) = shown.iter().find(|n| **n > 1).filter(|_| more) {
        eprintln!(
            "{} runs in all; older ones: lts job {} --before {oldest}",
            job.runs, spec.task_id
        );
    }
    Ok(())
}
