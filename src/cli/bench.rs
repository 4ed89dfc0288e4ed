//! `lts bench`: load a running cluster (or, with `--standalone`, a tracker
//! and a no-op worker started in this process on a temporary store) with N
//! jobs from C concurrent clients, and report throughput and latencies. Jobs
//! go one per call, each acknowledged after its commit, as `lts submit` does,
//! or `--batch` at a time, as `lts submit --file` does.

use super::output::{print_json, Format};
use super::CliError;
use crate::client::Client;
use crate::daemon::tracker::{self, TrackerConfig};
use crate::daemon::worker::{Runner, WorkerConfig};
use crate::daemon::Shutdown;
use crate::model::{new_task_id, now_ms, JobSpec, Millis, Schedule};
use crate::protocol::JobRef;
use crate::protocol::Security;
use clap::builder::PossibleValuesParser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Start a tracker and a no-op worker in this process, on a temporary store
    #[arg(long)]
    pub standalone: bool,
    /// How many jobs
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub jobs: usize,
    /// How many concurrent clients submit them
    #[arg(long, value_name = "C", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub clients: u32,
    /// The worker group the jobs go to (its workers should run builtin:noop)
    #[arg(long, short = 'g', value_name = "G", default_value = "bench")]
    pub group: String,
    /// now: run at once; at: run 1 s after submit; cron: every second (cancelled after its first run)
    #[arg(long, value_name = "KIND", default_value = "now", value_parser = PossibleValuesParser::new(["now", "at", "cron"]))]
    pub kind: String,
    /// Bytes of parameters each job carries
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub payload: usize,
    /// Jobs per submit call (1: one call and one acknowledged commit per job)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// Give up waiting for the runs after this long: the jobs not run yet are cancelled
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = crate::jobline::parse_dur)]
    pub deadline: Duration,
    /// With --standalone: count no metrics (to measure what counting costs)
    #[arg(long, hide = true, requires = "standalone")]
    pub no_metrics: bool,
}

/// p50, p99 and max of a set of microsecond figures.
fn percentiles(mut values: Vec<u64>) -> serde_json::Value {
    values.sort_unstable();
    let at = |p: f64| {
        values
            .get(((values.len() as f64 * p) as usize).min(values.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    json!({"p50": at(0.5), "p99": at(0.99), "max": values.last().copied().unwrap_or(0)})
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Past the deadline: cancel the bench's jobs that have not run (so none
/// is left queued) and say why.
async fn give_up(
    addrs: &[String],
    security: &Security,
    args: &BenchArgs,
    prefix: &str,
    done: usize,
    total: usize,
) -> CliError {
    let client = Client::new(addrs.to_vec()).with_security(security.clone());
    let filter = crate::protocol::JobFilter {
        group: Some(args.group.clone()),
        text: Some(prefix.to_string()),
        ..Default::default()
    };
    let cancelled = match client
        .act_all(filter, crate::protocol::BulkAction::Cancel, false)
        .await
    {
        Ok(outcome) => format!("cancelled the {} not run", outcome.done),
        Err(e) => format!("could not cancel the rest: {e}"),
    };
    CliError::new(
        super::error::exit::FAILED,
        format!(
            "gave up after {}: about {done} of {total} jobs had run in group '{}'; {cancelled}",
            crate::model::format_duration(args.deadline),
            crate::model::cut(&args.group, 80)
        ),
    )
}

/// One job of the load: kind `now`, `at` (1 s from now) or `cron` (every second).
fn bench_job(group: &str, kind: &str, payload: &str, task_id: String) -> JobSpec {
    let mut job = JobSpec::new(group.to_string(), task_id);
    if !payload.is_empty() {
        job.params.insert("payload".into(), payload.to_string());
    }
    job.schedule = match kind {
        "at" => Schedule::At {
            at_ms: now_ms() + 1_000,
        },
        "cron" => Schedule::Cron {
            expr: "* * * * * ?".into(),
            tz: Some("UTC".into()),
        },
        _ => Schedule::Now,
    };
    job
}

/// A tracker and a no-op worker in this process, on a store in a temp dir.
struct InProcess {
    addr: String,
    stop: crate::daemon::ShutdownTrigger,
    dir: std::path::PathBuf,
    roles: tokio::task::JoinHandle<()>,
}

async fn start_in_process(group: &str, metrics: bool) -> Result<InProcess, CliError> {
    let dir = std::env::temp_dir().join(format!("lts-bench-{}", new_task_id()));
    std::fs::create_dir_all(&dir)?;
    let store = tracker::open_sqlite(&dir).map_err(|e| CliError::new(1, e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (stop, shutdown) = Shutdown::new();
    let worker = WorkerConfig {
        group: group.to_string(),
        threads: 256,
        runner: Runner::Noop,
        allow_commands: false,
        grace: Duration::from_secs(5),
        spool_dir: None,
        registry: None,
        metrics: Default::default(),
        http: None,
    };
    let roles = tokio::spawn(async move {
        let _ = crate::daemon::standalone::run(
            listener,
            None,
            store,
            TrackerConfig {
                metrics,
                ..TrackerConfig::default()
            },
            worker,
            shutdown,
        )
        .await;
    });
    Ok(InProcess {
        addr,
        stop,
        dir,
        roles,
    })
}

pub async fn run(client: Client, args: &BenchArgs, format: Format) -> Result<(), CliError> {
    let in_process = if args.standalone {
        Some(start_in_process(&args.group, !args.no_metrics).await?)
    } else {
        None
    };
    // The in-process cluster has no token and no TLS.
    let (addrs, security) = match &in_process {
        Some(p) => (vec![p.addr.clone()], Security::none()),
        None => (client.addrs().to_vec(), client.security().clone()),
    };
    let result = measure(addrs, security, args, format).await;
    if let Some(p) = in_process {
        p.stop.trigger();
        let _ = p.roles.await;
        let _ = std::fs::remove_dir_all(&p.dir);
    }
    result
}

async fn measure(
    addrs: Vec<String>,
    security: Security,
    args: &BenchArgs,
    format: Format,
) -> Result<(), CliError> {
    let prefix = format!("bench-{}", new_task_id());
    let clients = args.clients as usize;
    let payload = "x".repeat(args.payload);
    let progress = bar(args.jobs, "submitted");
    let start = Instant::now();
    let start_ms = now_ms();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (addrs, security, prefix, payload, progress) = (
            addrs.clone(),
            security.clone(),
            prefix.clone(),
            payload.clone(),
            progress.clone(),
        );
        let (group, kind, jobs) = (args.group.clone(), args.kind.clone(), args.jobs);
        let batch = args.batch as usize;
        tasks.push(tokio::spawn(async move {
            let client = Client::new(addrs).with_security(security);
            let mut sent: Vec<(String, Millis, u64)> = Vec::new();
            let mine: Vec<usize> = (c..jobs).step_by(clients).collect();
            for chunk in mine.chunks(batch) {
                let specs: Vec<JobSpec> = chunk
                    .iter()
                    .map(|i| bench_job(&group, &kind, &payload, format!("{prefix}-{i:08}")))
                    .collect();
                let ids: Vec<String> = specs.iter().map(|j| j.task_id.clone()).collect();
                let (at, t) = (now_ms(), Instant::now());
                for ack in client.submit_many(specs).await? {
                    ack?;
                }
                // Each job in the call waited as long as the call for its answer.
                let took = t.elapsed().as_micros() as u64;
                progress.inc(ids.len() as u64);
                sent.extend(ids.into_iter().map(|id| (id, at, took)));
            }
            Ok::<_, crate::client::ClientError>(sent)
        }));
    }
    let mut sent = Vec::with_capacity(args.jobs);
    for task in tasks {
        let part = task.await.map_err(|e| CliError::new(1, e.to_string()))??;
        sent.extend(part);
    }
    let submitted = start.elapsed();
    progress.finish_and_clear();

    // Wait for each job's first run, from several clients at once.
    let progress = bar(sent.len(), "done");
    let sent = Arc::new(sent);
    let noted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut waiters = Vec::new();
    for c in 0..clients {
        let (addrs, security, sent, progress, group) = (
            addrs.clone(),
            security.clone(),
            sent.clone(),
            progress.clone(),
            args.group.clone(),
        );
        let cancel = args.kind == "cron";
        let noted = noted.clone();
        waiters.push(tokio::spawn(async move {
            let client = Client::new(addrs).with_security(security);
            let mut out = Vec::new();
            // The first wait is short, so that a group without a worker is
            // said at once.
            let mut slice = Duration::from_secs(2);
            for (task_id, at, _) in sent.iter().skip(c).step_by(clients) {
                let job = JobRef {
                    task_id: task_id.clone(),
                    group: Some(group.clone()),
                };
                let detail = loop {
                    let detail = client.wait(job.clone(), slice).await?;
                    slice = Duration::from_secs(20);
                    if detail.first_run_ended() {
                        break detail;
                    }
                    if let Some(note) = &detail.job.note {
                        if !noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            progress.suspend(|| eprintln!("waiting: {note}"));
                        }
                    }
                };
                if cancel {
                    let _ = client.cancel(job).await;
                }
                if let Some(run) = detail
                    .runs
                    .iter()
                    .find(|r| r.run == 1 && r.started_at.is_some())
                {
                    let started = run.started_at.unwrap_or(run.scheduled_at);
                    let ended = run.ended_at.unwrap_or(started);
                    out.push((
                        (started - run.scheduled_at).max(0) as u64 * 1_000,
                        (ended - at).max(0) as u64 * 1_000,
                        ended,
                    ));
                }
                progress.inc(1);
            }
            Ok::<_, crate::client::ClientError>(out)
        }));
    }
    let mut runs = Vec::new();
    let deadline = tokio::time::Instant::now() + args.deadline;
    let mut waiters = waiters.into_iter();
    while let Some(mut waiter) = waiters.next() {
        let joined = match tokio::time::timeout_at(deadline, &mut waiter).await {
            Ok(joined) => joined,
            Err(_) => {
                waiter.abort();
                waiters.for_each(|w| w.abort());
                progress.abandon();
                return Err(
                    give_up(&addrs, &security, args, &prefix, runs.len(), sent.len()).await,
                );
            }
        };
        runs.extend(joined.map_err(|e| CliError::new(1, e.to_string()))??);
    }
    progress.finish_and_clear();
    let last_end = runs.iter().map(|r| r.2).max().unwrap_or(start_ms);
    let e2e_secs = ((last_end - start_ms).max(1) as f64) / 1_000.0;
    let report = json!({
        "jobs": args.jobs,
        "kind": args.kind,
        "clients": clients,
        "payload_bytes": args.payload,
        "batch": args.batch,
        "submit_per_s": (args.jobs as f64 / submitted.as_secs_f64()).round() as u64,
        "e2e_per_s": (args.jobs as f64 / e2e_secs).round() as u64,
        "submit_latency_us": percentiles(sent.iter().map(|s| s.2).collect()),
        "queue_wait_us": percentiles(runs.iter().map(|r| r.0).collect()),
        "e2e_latency_us": percentiles(runs.iter().map(|r| r.1).collect()),
    });
    match format {
        Format::Json => print_json(&report),
        Format::Table => {
            println!(
                "jobs            {} ({}, {} clients, {} a call, {} B payload)",
                args.jobs, args.kind, clients, args.batch, args.payload
            );
            println!("submits/s       {}", report["submit_per_s"]);
            println!("end-to-end/s    {}", report["e2e_per_s"]);
            // Run times are the tracker's, to the millisecond: print ms.
            let ms = |v: &serde_json::Value| format!("{:.1}", v.as_f64().unwrap_or(0.0) / 1000.0);
            for (name, key) in [
                ("submit latency", "submit_latency_us"),
                ("queue wait", "queue_wait_us"),
                ("e2e latency", "e2e_latency_us"),
            ] {
                let p = &report[key];
                println!(
                    "{name:<16}p50 {} ms  p99 {} ms  max {} ms",
                    ms(&p["p50"]),
                    ms(&p["p99"]),
                    ms(&p["max"])
                );
            }
        }
    }
    Ok(())
}
