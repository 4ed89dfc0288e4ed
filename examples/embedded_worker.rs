//! Embed a worker in your own program with an in-process `JobRunner`
//! (LTS's JobRunner interface, in Rust).
//!
//! ```text
//! ltsd tracker &                         # or: ltsd standalone
//! cargo run --example embedded_worker    # a worker of group "reports"
//! lts submit -g reports --param name=weekly --wait
//! ```
//!
//! With `LTS_REGISTRY` set (and no `LTS_TRACKER`), it registers with that
//! registry and pulls from the trackers it lists.

use lts::daemon::worker::{self, JobRunner, RunContext, RunLog, Runner, Source, WorkerConfig};
use lts::daemon::Shutdown;
use lts::discovery::Discovery;
use lts::protocol::Security;
use std::sync::Arc;
use std::time::Duration;

struct ReportRunner;

impl JobRunner for ReportRunner {
    fn run(&self, job: &RunContext, log: &RunLog) -> Result<(), String> {
        let name = job.params.get("name").ok_or("missing param 'name'")?;
        log.info(format!(
            "building report {name} (run {}, attempt {})",
            job.run, job.attempt
        ));
        // ... the real work ...
        log.info("done");
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let registry = std::env::var("LTS_REGISTRY").ok();
    let source = match (std::env::var("LTS_TRACKER").ok(), &registry) {
        (None, Some(registry)) => Source::Registry(registry.clone()),
        (tracker, _) => {
            let tracker = tracker.unwrap_or_else(|| "127.0.0.1:7420".into());
            Source::Discovered(Discovery::Static(vec![tracker]))
        }
    };
    let config = WorkerConfig {
        group: "reports".into(),
        threads: 4,
        runner: Runner::InProcess(Arc::new(ReportRunner)),
        allow_commands: false,
        grace: Duration::from_secs(30),
        spool_dir: Some(lts::config::default_data_dir()),
        registry,
        metrics: Default::default(),
        http: None,
    };
    let (trigger, shutdown) = Shutdown::new();
    trigger.on_signals(|| std::process::exit(0));
    if let Err(e) = worker::run(source, Security::none(), config, shutdown).await {
        eprintln!("embedded_worker: {e}");
    }
}
