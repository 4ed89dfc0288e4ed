//! `lts bench`: load a running cluster (or, with `--standalone`, an `ltsd
//! standalone` started for the bench: a tracker and a no-op worker on a
//! temporary store, stopped at the end) with N
//! jobs from C concurrent clients, and report throughput and latencies. Jobs
//! go one per call, each acknowledged after its commit, as `lts submit` does,
//! or `--batch` at a time, as `lts submit --file` does.

use super::error::exit;
use super::output::{print_json, Format};
use super::CliError;
use crate::client::Client;
use crate::model::{new_task_id, now_ms, JobSpec, Millis, Schedule};
use crate::protocol::{JobRef, Security, Token};
use clap::builder::PossibleValuesParser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Start `ltsd standalone` (found next to lts, or at LTS_LTSD) with a no-op worker on a temporary store, and stop it at the end
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

/// How long `ltsd standalone` may take to say where it listens and answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many of its last log lines are kept, to say why it failed.
const LOG_TAIL: usize = 20;

/// The `ltsd` binary `--standalone` starts: `LTS_LTSD`, else the one next
/// to this `lts`.
fn find_ltsd() -> Result<PathBuf, CliError> {
    if let Some(path) = std::env::var_os("LTS_LTSD").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let ltsd = exe.with_file_name(format!("ltsd{}", std::env::consts::EXE_SUFFIX));
    if ltsd.is_file() {
        Ok(ltsd)
    } else {
        Err(CliError::new(
            exit::FAILED,
            format!(
                "--standalone: no ltsd next to {}; set LTS_LTSD to its path",
                exe.display()
            ),
        ))
    }
}

/// `ltsd standalone` as a child: a tracker and a no-op worker on a store in
/// a temporary data dir, listening on an ephemeral loopback port, with a
/// token of its own and no console. Stop it with [`Standalone::stop`]; if
/// it is dropped instead, the child is killed all the same.
struct Standalone {
    child: Child,
    addr: String,
    security: Security,
    dir: PathBuf,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Standalone {
    async fn start(group: &str, metrics: bool) -> Result<Standalone, CliError> {
        let ltsd = find_ltsd()?;
        let dir = std::env::temp_dir().join(format!("lts-bench-{}", new_task_id()));
        std::fs::create_dir_all(&dir)?;
        let token = Token::generate();
        let mut cmd = Command::new(&ltsd);
        cmd.args(["standalone", "--listen", "127.0.0.1:0", "--http", "off"])
            .arg("--data")
            .arg(&dir)
            .args([
                "--group",
                group,
                "--threads",
                "256",
                "--runner",
                "builtin:noop",
            ])
            .args(["--grace", "5s"]);
        if !metrics {
            cmd.arg("--no-metrics");
        }
        // The address is read from the log; the token goes by the
        // environment, not the command line that `ps` shows.
        cmd.env("RUST_LOG", "warn,lts::daemon::tracker=info")
            .env("LTS_TOKEN", token.reveal())
            .env_remove("LTS_READ_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = cmd.spawn().map_err(|e| {
            CliError::new(
                exit::FAILED,
                format!("--standalone: cannot start {}: {e}", ltsd.display()),
            )
        });
        let child = match started {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let security =
            Security::from_settings(Some(token.reveal()), None).map_err(CliError::usage)?;
        let mut standalone = Standalone {
            child,
            addr: String::new(),
            security,
            dir,
            log: Arc::new(Mutex::new(VecDeque::new())),
        };
        match tokio::time::timeout(START_TIMEOUT, standalone.ready()).await {
            Ok(Ok(())) => Ok(standalone),
            Ok(Err(e)) => Err(standalone.stop_with(e).await),
            Err(_) => {
                let e = standalone.failed(format!(
                    "did not answer within {}",
                    crate::model::format_duration(START_TIMEOUT)
                ));
                Err(standalone.stop_with(e).await)
            }
        }
    }

    /// Wait until the child says where it listens, then until it answers;
    /// its log is drained from then on (a full pipe would stall it).
    async fn ready(&mut self) -> Result<(), CliError> {
        let Some(stderr) = self.child.stderr.take() else {
            return Err(self.failed("gave no log to read".into()));
        };
        let mut lines = BufReader::new(stderr).lines();
        while self.addr.is_empty() {
            let Ok(Some(line)) = lines.next_line().await else {
                return Err(self.failed("stopped before listening".into()));
            };
            if line.contains("tracker listening") {
                if let Some(addr) = line.split("address=").nth(1) {
                    self.addr = addr.trim().to_string();
                }
            }
            self.keep(line);
        }
        let log = self.log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                keep_line(&log, line);
            }
        });
        let client = Client::new(vec![self.addr.clone()]).with_security(self.security.clone());
        while client.status().await.is_err() {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.failed("stopped before answering".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn keep(&self, line: String) {
        keep_line(&self.log, line);
    }

    /// `ltsd standalone` failed: `what`, and the last thing it logged.
    fn failed(&self, what: String) -> CliError {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let last = log
            .back()
            .map(|l| format!(" (it said: {})", crate::model::cut(l, 300)))
            .unwrap_or_default();
        CliError::new(exit::FAILED, format!("--standalone: ltsd {what}{last}"))
    }

    /// Kill the child, wait for it, remove its data dir.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn stop_with(self, e: CliError) -> CliError {
        self.stop().await;
        e
    }
}

fn keep_line(log: &Mutex<VecDeque<String>>, line: String) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    if log.len() == LOG_TAIL {
        log.pop_front();
    }
    log.push_back(line);
}

pub async fn run(client: Client, args: &BenchArgs, format: Format) -> Result<(), CliError> {
    if !args.standalone {
        let (addrs, security) = (client.addrs().to_vec(), client.security().clone());
        return measure(addrs, security, args, format).await;
    }
    let standalone = Standalone::start(&args.group, !args.no_metrics).await?;
    let (addrs, security) = (vec![standalone.addr.clone()], standalone.security.clone());
    let result = tokio::select! {
        result = measure(addrs, security, args, format) => result,
        _ = tokio::signal::ctrl_c() => Err(CliError::new(exit::FAILED, "interrupted")),
    };
    standalone.stop().await;
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
