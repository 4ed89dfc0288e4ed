//! Submit a job from Rust and wait for its first run (LTS's JobClient).
//!
//! ```text
//! ltsd standalone --allow-commands &
//! cargo run --example submit_job
//! ```

use lts::client::Client;
use lts::model::{new_task_id, JobSpec};
use lts::protocol::JobRef;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracker = std::env::var("LTS_TRACKER").unwrap_or_else(|_| "127.0.0.1:7420".into());
    let client = Client::new(vec![tracker]);
    let mut job = JobSpec::new("default", new_task_id());
    job.command = vec!["echo".into(), "hello from Rust".into()];
    job.params.insert("origin".into(), "example".into());
    let ack = client.submit(job).await?;
    println!(
        "submitted {} to group {} ({})",
        ack.task_id, ack.group, ack.state
    );
    let job = JobRef {
        task_id: ack.task_id,
        group: Some(ack.group),
    };
    loop {
        let detail = client.wait(job.clone(), Duration::from_secs(20)).await?;
        if detail.first_run_ended() {
            println!("finished: {}", detail.job.state);
            return Ok(());
        }
    }
}
