//! `lts cancel ID`: no more runs of the job; a queued run leaves the queue
//! and a running one is stopped.

use super::output::{job_json, print_json, Format};
use super::{CliError, JobRefArgs};
use crate::client::Client;

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
}

pub async fn run(client: &Client, args: &CancelArgs, format: Format) -> Result<(), CliError> {
    let job = client.cancel(args.job.job_ref()).await?;
    match format {
        Format::Json => print_json(&job_json(&job)),
        Format::Table => println!("cancelled {} (group {})", job.spec.task_id, job.spec.group),
    }
    Ok(())
}
