//! The tracker's Prometheus metrics (`/metrics`). Counters and histograms
//! move only with committed life-cycle events (`store::RunEvent`, handed over
//! by the group-commit actor after each commit), so they count what the store
//! holds; gauges (jobs, queues, workers, slots, leadership) are read when
//! scraped. Labels are bounded: group, state, outcome, reason — never a task id.

use super::Tracker;
use crate::daemon::worker::metrics::WorkerMetrics;
use crate::model::{JobState, Role};
use crate::store::RunEvent;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn group(g: &str) -> Labels {
    vec![("group", g.to_string())]
}

/// Seconds from 1 ms to about 9 hours.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.5, 18)
}

fn histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// Every metric the tracker exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    submits: Counter,
    runs_ended: Family<Labels, Counter>,
    ticks_skipped: Family<Labels, Counter>,
    leases_expired: Family<Labels, Counter>,
    fire_lag: Family<Labels, Histogram, fn() -> Histogram>,
    dispatch_latency: Family<Labels, Histogram, fn() -> Histogram>,
    run_duration: Family<Labels, Histogram, fn() -> Histogram>,
    store_commit: Histogram,
    jobs: Family<Labels, Gauge>,
    queue_depth: Family<Labels, Gauge>,
    queue_age: Family<Labels, FloatGauge>,
    workers: Family<Labels, Gauge>,
    slots: Family<Labels, Gauge>,
    leader: Gauge,
    alerts_firing: Family<Labels, Gauge>,
    /// The worker in this process (standalone), shown beside.
    worker: Option<Arc<WorkerMetrics>>,
}

impl Metrics {
    pub fn new(worker: Option<Arc<WorkerMetrics>>) -> Metrics {
        let mut registry = Registry::with_prefix("lts");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            submits: Counter::default(),
            runs_ended: Family::default(),
            ticks_skipped: Family::default(),
            leases_expired: Family::default(),
            fire_lag: Family::new_with_constructor(histogram),
            dispatch_latency: Family::new_with_constructor(histogram),
            run_duration: Family::new_with_constructor(histogram),
            store_commit: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            jobs: Family::default(),
            queue_depth: Family::default(),
            queue_age: Family::default(),
            workers: Family::default(),
            slots: Family::default(),
            leader: Gauge::default(),
            alerts_firing: Family::default(),
            worker,
        };
        registry.register("submits", "Jobs accepted", m.submits.clone());
        registry.register(
            "runs_ended",
            "Runs that ended, by group and outcome",
            m.runs_ended.clone(),
        );
        registry.register(
            "ticks_skipped",
            "Ticks recorded as skipped (overlap, misfire), by group and reason",
            m.ticks_skipped.clone(),
        );
        registry.register(
            "leases_expired",
            "Runs whose worker stopped heartbeating, by group",
            m.leases_expired.clone(),
        );
        registry.register(
            "fire_lag_seconds",
            "From a run's tick (its scheduled time) to its start",
            m.fire_lag.clone(),
        );
        registry.register(
            "dispatch_latency_seconds",
            "From a run being due to its start",
            m.dispatch_latency.clone(),
        );
        registry.register(
            "run_duration_seconds",
            "From a run's start to its end, by group and outcome",
            m.run_duration.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "One group commit's transaction, begin to commit",
            m.store_commit.clone(),
        );
        registry.register("jobs", "Jobs by group and state", m.jobs.clone());
        registry.register(
            "queue_depth",
            "Runs waiting for a worker, by group",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_oldest_age_seconds",
            "How long the oldest due run of a group has waited",
            m.queue_age.clone(),
        );
        registry.register("workers", "Live workers by group", m.workers.clone());
        registry.register(
            "slots",
            "Worker slots by group and state (used, free)",
            m.slots.clone(),
        );
        registry.register(
            "leader",
            "1 while this tracker leads (fires ticks, expires leases)",
            m.leader.clone(),
        );
        registry.register(
            "alerts_firing",
            "Alerts raised and not resolved, by rule",
            m.alerts_firing.clone(),
        );
        if let Some(worker) = &m.worker {
            worker.register(&mut registry);
        }
        *m.registry.lock().unwrap_or_else(|p| p.into_inner()) = registry;
        m
    }

    /// A thread that counts what it is sent; it ends when the sender goes.
    pub fn counter(metrics: Arc<Metrics>) -> std::sync::mpsc::Sender<(Vec<RunEvent>, Duration)> {
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<RunEvent>, Duration)>();
        let spawned = std::thread::Builder::new()
            .name("lts-metrics".into())
            .spawn(move || {
                for (events, took) in rx {
                    metrics.observe(&events, took);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the metrics thread: {e}");
        }
        tx
    }

    /// Count what one committed transaction moved.
    pub fn observe(&self, events: &[RunEvent], took: Duration) {
        self.store_commit.observe(took.as_secs_f64());
        for event in events {
            match event {
                RunEvent::Submitted { .. } => {
                    self.submits.inc();
                }
                RunEvent::Started {
                    group: g,
                    scheduled_at,
                    due_at,
                    at,
                } => {
                    self.fire_lag
                        .get_or_create(&group(g))
                        .observe(seconds(at - scheduled_at));
                    self.dispatch_latency
                        .get_or_create(&group(g))
                        .observe(seconds(at - due_at));
                }
                RunEvent::Ended {
                    group: g,
                    outcome,
                    started_at,
                    ended_at,
                    ..
                } => {
                    let labels = vec![("group", g.clone()), ("outcome", outcome.as_str().into())];
                    self.runs_ended.get_or_create(&labels).inc();
                    if let Some(started) = started_at {
                        self.run_duration
                            .get_or_create(&labels)
                            .observe(seconds(ended_at - started));
                    }
                    if *outcome == crate::model::RunOutcome::Lost {
                        self.leases_expired.get_or_create(&group(g)).inc();
                    }
                }
                RunEvent::Skipped {
                    group: g, reason, ..
                } => {
                    let labels = vec![("group", g.clone()), ("outcome", "skipped".into())];
                    self.runs_ended.get_or_create(&labels).inc();
                    let labels = vec![("group", g.clone()), ("reason", reason.to_string())];
                    self.ticks_skipped.get_or_create(&labels).inc();
                }
                RunEvent::Alerted | RunEvent::JobStopped { .. } | RunEvent::Feedback { .. } => {}
            }
        }
    }

    /// The text exposition, with the gauges read now.
    pub async fn render(&self, t: &Tracker) -> String {
        if let Ok(stats) = t.stats(None, 60_000).await {
            self.jobs.clear();
            self.queue_depth.clear();
            self.queue_age.clear();
            for c in &stats.jobs {
                self.jobs
                    .get_or_create(&vec![
                        ("group", c.group.clone()),
                        ("state", c.state.as_str().to_string()),
                    ])
                    .set(c.count as i64);
            }
            // Every state of a group that has jobs, so a state that empties reads 0.
            let groups: Vec<String> = stats.jobs.iter().map(|c| c.group.clone()).collect();
            for g in &groups {
                for state in JobState::ALL {
                    let labels = vec![("group", g.clone()), ("state", state.as_str().to_string())];
                    let _ = self.jobs.get_or_create(&labels);
                }
            }
            for q in &stats.queues {
                self.queue_depth
                    .get_or_create(&group(&q.group))
                    .set(q.runs as i64);
                let age = q.oldest_due.map_or(0, |due| (stats.at - due).max(0));
                self.queue_age
                    .get_or_create(&group(&q.group))
                    .set(seconds(age));
            }
        }
        let mut workers: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for node in t.nodes() {
            if node.role != Role::Worker || node.state != "up" {
                continue;
            }
            let entry = workers.entry(node.group.clone()).or_default();
            entry.0 += 1;
            entry.1 += i64::from(node.slots_used);
            entry.2 += i64::from(node.slots_free);
        }
        self.workers.clear();
        self.slots.clear();
        for (g, (count, used, free)) in workers {
            self.workers.get_or_create(&group(&g)).set(count);
            for (state, n) in [("used", used), ("free", free)] {
                let labels = vec![("group", g.clone()), ("state", state.to_string())];
                self.slots.get_or_create(&labels).set(n);
            }
        }
        self.leader.set(i64::from(t.leader.current().is_some()));
        if let Some(worker) = &self.worker {
            worker.refresh();
        }
        let firing = t
            .store
            .call(|s| Ok::<_, crate::protocol::WireError>((s.rules()?, s.open_state_alerts()?)))
            .await;
        if let Ok((rules, open)) = firing {
            self.alerts_firing.clear();
            // Every rule, so a rule whose alerts resolved reads 0.
            for rule in &rules {
                let _ = self
                    .alerts_firing
                    .get_or_create(&vec![("rule", rule.name.clone())]);
            }
            for alert in &open {
                let rule = alert.rule.clone().unwrap_or_default();
                self.alerts_firing
                    .get_or_create(&vec![("rule", rule)])
                    .inc();
            }
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if encode(&mut out, &registry).is_err() {
            tracing::error!("metrics: could not encode");
        }
        out
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}
