//! A first throughput measurement of a running cluster: C concurrent clients
//! submit N run-now jobs (one call each), then it waits until every job has
//! succeeded. Prints submits/s, end-to-end jobs/s and submit latency.
//!
//! ```text
//! ltsd tracker --data /tmp/bench &
//! ltsd worker --group bench --runner builtin:noop --threads 64 &
//! cargo run --release --example bench_core -- 20000 32
//! ```

use lts::client::Client;
use lts::model::{JobSpec, JobState};
use lts::protocol::{JobFilter, JobRef};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let tracker = std::env::var("LTS_TRACKER").unwrap_or_else(|_| "127.0.0.1:7420".into());
    let run = format!("b{}", lts::model::new_task_id());

    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = Arc::new(Client::new(vec![tracker.clone()]));
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (c..jobs).step_by(clients) {
                let job = JobSpec::new("bench", format!("{run}-{i:07}"));
                let t = Instant::now();
                client.submit(job).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, lts::client::ClientError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let submitted = start.elapsed();

    let client = Client::new(vec![tracker]);
    let last = JobRef {
        task_id: format!("{run}-{:07}", jobs - 1),
        group: Some("bench".into()),
    };
    loop {
        let detail = client.wait(last.clone(), Duration::from_secs(20)).await?;
        if detail.first_run_ended() {
            break;
        }
    }
    loop {
        let open = client
            .jobs(JobFilter {
                group: Some("bench".into()),
                state: Some(JobState::Queued),
                limit: 1,
                ..JobFilter::default()
            })
            .await?
            .jobs
            .len()
            + client
                .jobs(JobFilter {
                    group: Some("bench".into()),
                    state: Some(JobState::Running),
                    limit: 1,
                    ..JobFilter::default()
                })
                .await?
                .jobs
                .len();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let finished = start.elapsed();

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("jobs {jobs}, clients {clients}");
    println!(
        "submit:     {:>9.0} jobs/s",
        jobs as f64 / submitted.as_secs_f64()
    );
    println!(
        "end to end: {:>9.0} jobs/s",
        jobs as f64 / finished.as_secs_f64()
    );
    println!(
        "submit latency: p50 {:?}  p99 {:?}  max {:?}",
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}
