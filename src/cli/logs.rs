//! `lts logs ID`: the output of a job's run (the latest by default); with
//! `--follow`, new lines as they come until the run ends.

use super::output::{log_json, Format};
use super::{CliError, JobRefArgs};
use crate::client::Client;
use crate::model::LogEntry;
use crate::protocol::LogQuery;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
    /// The run number [default: the latest]
    #[arg(long, value_name = "N")]
    pub run: Option<u32>,
    /// Keep printing new lines until the run ends
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<u32>,
}

/// How long one follow request waits for new lines.
const FOLLOW_WAIT_MS: u64 = 20_000;

pub async fn run(client: &Client, args: &LogsArgs, format: Format) -> Result<(), CliError> {
    let mut query = LogQuery {
        job: args.job.job_ref(),
        run: args.run,
        tail: args.tail,
        after_seq: None,
        attempt: None,
        wait_ms: 0,
    };
    if args.follow {
        // Say once why nothing comes, when no worker can run the job.
        if let Ok(detail) = client.job(args.job.job_ref()).await {
            if let Some(note) = &detail.job.note {
                eprintln!("waiting: {note}");
            }
        }
    }
    let mut out = std::io::stdout().lock();
    loop {
        let page = client.logs(query.clone()).await?;
        for line in &page.lines {
            print_line(&mut out, line, format)?;
        }
        out.flush()?;
        query.advance(&page);
        if page.done || (!args.follow && page.lines.is_empty()) {
            return Ok(());
        }
        if args.follow {
            query.wait_ms = FOLLOW_WAIT_MS;
        }
    }
}

fn print_line(out: &mut impl Write, line: &LogEntry, format: Format) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", log_json(line)),
        Format::Table => writeln!(out, "{}", line.line),
    }
}
