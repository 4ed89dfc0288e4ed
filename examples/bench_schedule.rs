//! Scheduler benchmarks against a running cluster.
//!
//! `lag JOBS SECS`: submit JOBS every-second cron jobs (group `bench`), let
//! them tick for SECS seconds, then sample up to 300 jobs and report the lag
//! from each tick to the start of its run (p50/p99/max) and how many ticks
//! were skipped because the previous run had not started or ended yet.
//!
//! `daily JOBS`: submit JOBS daily cron jobs in batches and report the rate;
//! measure the tracker's memory with `ps -o rss= -p PID` afterwards.
//!
//! ```text
//! ltsd tracker --data /tmp/lts-sched &
//! ltsd worker --group bench --runner builtin:noop --threads 256 &
//! cargo run --release --example bench_schedule -- lag 10000 20
//! ```

use lts::client::Client;
use lts::model::{JobSpec, RunOutcome, Schedule};
use lts::protocol::JobRef;
use std::time::{Duration, Instant};

const BATCH: usize = 1_000;

fn cron_job(run: &str, i: usize, expr: &str) -> JobSpec {
    let mut job = JobSpec::new("bench", format!("{run}-{i:07}"));
    job.schedule = Schedule::Cron {
        expr: expr.into(),
        tz: Some("UTC".into()),
    };
    job
}

async fn submit_all(
    client: &Client,
    run: &str,
    jobs: usize,
    expr: &str,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut i = 0;
    while i < jobs {
        let batch: Vec<JobSpec> = (i..(i + BATCH).min(jobs))
            .map(|n| cron_job(run, n, expr))
            .collect();
        i += batch.len();
        for ack in client.submit_many(batch).await? {
            ack?;
        }
    }
    Ok(start.elapsed())
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("lag");
    let jobs: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let tracker = std::env::var("LTS_TRACKER").unwrap_or_else(|_| "127.0.0.1:7420".into());
    let client = Client::new(vec![tracker]);
    let run = format!("s{}", lts::model::new_task_id());
    match mode {
        "daily" => {
            let took = submit_all(&client, &run, jobs, "0 0 3 * * ?").await?;
            println!(
                "submitted {jobs} daily cron jobs in {:.1}s ({:.0}/s)",
                took.as_secs_f64(),
                jobs as f64 / took.as_secs_f64()
            );
        }
        _ => {
            let secs: u64 = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(20);
            let took = submit_all(&client, &run, jobs, "* * * * * ?").await?;
            println!(
                "submitted {jobs} every-second cron jobs in {:.1}s",
                took.as_secs_f64()
            );
            let window_start = lts::model::now_ms() + 2_000;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let window_end = lts::model::now_ms() - 1_000;
            let mut lags = Vec::new();
            let (mut skipped, mut ticks) = (0, 0);
            let sample = jobs.min(300);
            for k in 0..sample {
                let i = k * jobs / sample;
                let detail = client
                    .job(JobRef {
                        task_id: format!("{run}-{i:07}"),
                        group: Some("bench".into()),
                    })
                    .await?;
                for r in detail
                    .runs
                    .iter()
                    .filter(|r| r.scheduled_at >= window_start && r.scheduled_at <= window_end)
                {
                    ticks += 1;
                    match (r.outcome, r.started_at) {
                        (Some(RunOutcome::Skipped), _) => skipped += 1,
                        (_, Some(started)) => lags.push(started - r.scheduled_at),
                        _ => {}
                    }
                }
            }
            lags.sort_unstable();
            println!(
                "sampled {sample} jobs, {ticks} ticks: tick-to-start lag p50 {} ms, p99 {} ms, max {} ms; {skipped} ticks skipped ({:.2}%)",
                pct(&lags, 0.5),
                pct(&lags, 0.99),
                lags.last().copied().unwrap_or(0),
                100.0 * skipped as f64 / ticks.max(1) as f64
            );
        }
    }
    Ok(())
}
