//! `lts cancel | suspend | resume | trigger | retry ID`: what an operator
//! does to a job. Each prints what it did, or the job as JSON.

use super::output::{job_json, print_json, Format};
use super::{CliError, JobRefArgs};
use crate::client::Client;

#[derive(Debug, clap::Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub job: JobRefArgs,
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
