//! The library client (LTS's JobClient, in Rust): connects to one tracker of
//! a list, picked by its balancing policy (`crate::balance`), or of the
//! trackers a registry lists (master first, asked again at each
//! reconnection, so it follows trackers joining and leaving); keeps the
//! connection, moves to the next tracker when it breaks (sending an
//! idempotent call in flight once more there), and offers one async method
//! per tracker call. `lts` and embedded workers use it; so can any Rust program.

use crate::balance::{Balancer, Policy, Retry};
use crate::model::{
    Alert, AlertQuery, AlertRule, FeedbackItem, FlowSpec, FlowView, JobDetail, JobSpec, JobView,
    NodeView, StoreStats,
};
use crate::protocol::registry::EventPage;
use crate::protocol::{
    connect, BulkAction, BulkOutcome, ConnectError, Dispatch, Heartbeat, HeartbeatReply, JobEdit,
    JobFilter, JobPage, JobRef, LogPage, LogQuery, PullRequest, PurgeFilter, RunsPage, Security,
    SubmitAck, TrackerRpcClient, TrackerStatus, Upstream, WireError,
};
use crate::protocol::{context, CONNECT_TIMEOUT, REDIAL_AFTER};
use crate::registry::RegistryClient;
use std::future::Future;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// Why a call did not get an answer from the tracker, or what the tracker said.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No address answered.
    #[error("no tracker reachable (tried {})", tried.join("; "))]
    Unreachable { tried: Vec<String> },
    /// A tracker answered but refused us (protocol version, cluster token,
    /// TLS), or could not prove the cluster token.
    #[error("{0}")]
    Refused(String),
    /// The connection broke or the call timed out.
    #[error("lost the connection to the tracker at {addr}: {reason}")]
    Transport { addr: String, reason: String },
    /// The tracker answered with an error.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// No tracker could be found through the registry (it is unreachable,
    /// or lists none).
    #[error("{0}")]
    Discovery(String),
}

/// How long a plain call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a bulk action or a purge may take.
const BULK_TIMEOUT: Duration = Duration::from_secs(300);
/// Extra time a long poll gets beyond its wait.
const POLL_SLACK: Duration = Duration::from_secs(10);

/// Where a client finds its trackers.
enum Source {
    /// A static list, tried in the order its balancing policy gives.
    Static(Balancer),
    /// The live trackers a registry lists, master first; `last` is the list
    /// as last asked.
    Registry {
        registry: RegistryClient,
        last: std::sync::Mutex<Vec<String>>,
    },
}

/// A connection to one of a list of trackers.
pub struct Client {
    source: Source,
    role: &'static str,
    security: Security,
    current: Mutex<Option<(TrackerRpcClient, String)>>,
    /// When the connection last ended a call: one unused for
    /// `REDIAL_AFTER` is dialed afresh (the tracker closes idle ones).
    used: std::sync::Mutex<std::time::Instant>,
}

impl Client {
    /// A client for the trackers at `addrs`, picked by the default policy
    /// (`random`). It connects on first use.
    pub fn new(addrs: Vec<String>) -> Self {
        Client::with_role(addrs, "client")
    }

    /// As `new`, saying `role` in the handshake.
    pub fn with_role(addrs: Vec<String>, role: &'static str) -> Self {
        Client {
            source: Source::Static(Balancer::new(addrs, Policy::default(), 0)),
            role,
            security: Security::none(),
            current: Mutex::new(None),
            used: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Connect with `security`: the cluster token to prove, and TLS to dial
    /// (the registry too, when the trackers are found through one).
    pub fn with_security(mut self, security: Security) -> Self {
        if let Source::Registry { registry, .. } = &mut self.source {
            registry.set_security(security.clone());
        }
        self.security = security;
        self
    }

    /// The token and TLS settings this client connects with.
    pub fn security(&self) -> &Security {
        &self.security
    }

    /// A client of the trackers the registry at `registry` lists, saying
    /// `role` in the handshake. It asks the registry whenever it (re)connects.
    pub fn via_registry(registry: impl Into<String>, role: &'static str) -> Self {
        Client {
            source: Source::Registry {
                registry: RegistryClient::new(registry, role),
                last: std::sync::Mutex::new(Vec::new()),
            },
            role,
            security: Security::none(),
            current: Mutex::new(None),
            used: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Pick trackers of a static list by `policy`; `turn` is where
    /// `round-robin` starts. (Through a registry, the master comes first.)
    pub fn with_policy(mut self, policy: Policy, turn: usize) -> Self {
        if let Source::Static(balancer) = &self.source {
            let addrs = balancer.addrs().to_vec();
            self.source = Source::Static(Balancer::new(addrs, policy, turn));
        }
        self
    }

    /// The addresses this client tries (through a registry: as last listed).
    pub fn addrs(&self) -> Vec<String> {
        match &self.source {
            Source::Static(balancer) => balancer.addrs().to_vec(),
            Source::Registry { last, .. } => last.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// The addresses to try now, in order.
    async fn candidates(&self) -> Result<Vec<String>, ClientError> {
        let (registry, last) = match &self.source {
            Source::Static(balancer) => return Ok(balancer.order()),
            Source::Registry { registry, last } => (registry, last),
        };
        let addrs = crate::registry::trackers(registry)
            .await
            .map_err(|e| ClientError::Discovery(e.to_string()))?;
        if addrs.is_empty() {
            return Err(ClientError::Discovery(format!(
                "the registry at {} lists no live tracker",
                registry.addr()
            )));
        }
        *last.lock().unwrap_or_else(|p| p.into_inner()) = addrs.clone();
        Ok(addrs)
    }

    /// Tell the balancer (of a static list) which tracker answered.
    fn note_connected(&self, addr: &str) {
        if let Source::Static(balancer) = &self.source {
            balancer.connected(addr);
        }
    }

    /// Tell the balancer (of a static list) which tracker failed.
    fn note_failed(&self, addr: &str) {
        if let Source::Static(balancer) = &self.source {
            balancer.failed(addr);
        }
    }

    /// Connect now, so that an unreachable tracker is reported up front.
    pub async fn connect(&self) -> Result<(), ClientError> {
        self.rpc().await.map(|_| ())
    }

    async fn rpc(&self) -> Result<(TrackerRpcClient, String), ClientError> {
        let mut current = self.current.lock().await;
        if self.touch() > REDIAL_AFTER {
            *current = None;
        }
        if let Some(live) = current.as_ref() {
            return Ok(live.clone());
        }
        let mut tried = Vec::new();
        for addr in self.candidates().await? {
            match connect(&addr, self.role, CONNECT_TIMEOUT, &self.security).await {
                Ok(connected) => {
                    self.note_connected(&addr);
                    tracing::debug!(%addr, "connected");
                    let live = (connected.client, connected.addr);
                    *current = Some(live.clone());
                    return Ok(live);
                }
                Err(ConnectError::Refused { addr, reason }) => {
                    return Err(ClientError::Refused(format!("tracker at {addr}: {reason}")))
                }
                Err(e @ ConnectError::Unreachable { .. }) => {
                    self.note_failed(&addr);
                    tried.push(e.to_string())
                }
            }
        }
        if tried.is_empty() {
            tried.push("no tracker address given".into());
        }
        Err(ClientError::Unreachable {
            tried: tried
                .into_iter()
                .map(|t| t.trim_start_matches("cannot reach ").to_string())
                .collect(),
        })
    }

    /// Note a use of the connection now; how long it was unused before.
    fn touch(&self) -> Duration {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let idle = used.elapsed();
        *used = std::time::Instant::now();
        idle
    }

    /// Forget the connection after a failure, so the next call dials again,
    /// starting at the tracker after this one.
    async fn reset(&self, addr: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(_, a)| a == addr) {
            *current = None;
            self.note_failed(addr);
        }
    }

    /// Send a call; when the connection breaks (or the tracker is shutting
    /// down) and the call is idempotent, send it once more, to the next
    /// tracker. A `Retry::Never` call runs `f` once. `Ok(Err(..))` carries the tracker's answer, and whether it
    /// answered a second attempt.
    async fn send<T, F, Fut>(
        &self,
        timeout: Duration,
        retry: Retry,
        f: F,
    ) -> Result<(Result<T, WireError>, bool), ClientError>
    where
        F: Fn(TrackerRpcClient, tarpc::context::Context) -> Fut,
        Fut: Future<Output = Result<Result<T, WireError>, tarpc::client::RpcError>>,
    {
        let mut attempt = 0;
        loop {
            let second = attempt > 0;
            attempt += 1;
            let (rpc, addr) = self.rpc().await?;
            let answer = f(rpc, context(timeout)).await;
            self.touch();
            let failure = match answer {
                // A tracker that is stopping did nothing: an idempotent call
                // may go elsewhere. Others (worker traffic above all, whose
                // batches are sent once and whose runs belong to this
                // tracker) hear so, and their callers try again themselves.
                Ok(Err(WireError::ShuttingDown))
                    if !second && retry == Retry::Idempotent && self.addrs().len() > 1 =>
                {
                    self.reset(&addr).await;
                    continue;
                }
                Ok(answer) => return Ok((answer, second)),
                Err(e) => e,
            };
            self.reset(&addr).await;
            if retry == Retry::Idempotent && !second {
                tracing::info!(%addr, "connection lost ({failure}); sending the call again");
                continue;
            }
            return Err(ClientError::Transport {
                addr,
                reason: failure.to_string(),
            });
        }
    }

    async fn call<T, F, Fut>(&self, timeout: Duration, retry: Retry, f: F) -> Result<T, ClientError>
    where
        F: Fn(TrackerRpcClient, tarpc::context::Context) -> Fut,
        Fut: Future<Output = Result<Result<T, WireError>, tarpc::client::RpcError>>,
    {
        Ok(self.send(timeout, retry, f).await?.0?)
    }

    /// Submit one job; acknowledged once the tracker has committed it.
    pub async fn submit(&self, job: JobSpec) -> Result<SubmitAck, ClientError> {
        let mut acks = self.submit_many(vec![job]).await?;
        match acks.pop() {
            Some(ack) => Ok(ack?),
            None => Err(ClientError::Transport {
                addr: self.addrs().join(","),
                reason: "empty answer to a submission".into(),
            }),
        }
    }

    /// Submit many jobs in one call; each gets its own answer. When the
    /// connection breaks before the answer, the call goes once more to the
    /// next tracker; there, "exists" for a job identical to the one sent
    /// means the first attempt committed it, and counts as accepted.
    /// A job without an idempotency key gets one ([`JobSpec::keyed`]), the
    /// same for both sendings; to keep a key across calls (a spool, a
    /// script run again), set it before.
    pub async fn submit_many(
        &self,
        jobs: Vec<JobSpec>,
    ) -> Result<Vec<Result<SubmitAck, WireError>>, ClientError> {
        let jobs: Vec<JobSpec> = jobs.into_iter().map(JobSpec::keyed).collect();
        let sent = jobs.clone();
        let (answer, second) = self
            .send(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
                let jobs = jobs.clone();
                async move { c.submit(ctx, jobs).await.map(Ok) }
            })
            .await?;
        let mut acks = answer?;
        if second {
            for (ack, job) in acks.iter_mut().zip(&sent) {
                if let Err(WireError::Exists { .. }) = ack {
                    if let Ok(Some(found)) = self.already_submitted(job).await {
                        *ack = Ok(found);
                    }
                }
            }
        }
        Ok(acks)
    }

    /// The ack for `job` if the tracker holds that very job under its key
    /// ([`JobSpec::same_job`]): an earlier attempt whose answer was lost
    /// committed it. `None` when it holds a different job there (a refusal
    /// stands) or none.
    pub async fn already_submitted(&self, job: &JobSpec) -> Result<Option<SubmitAck>, ClientError> {
        let job_ref = JobRef {
            task_id: job.task_id.clone(),
            group: Some(job.group.clone()),
        };
        let stored = match self.job(job_ref).await {
            Ok(detail) => detail.job,
            Err(ClientError::Wire(WireError::NotFound { .. })) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(stored.spec.same_job(job).then(|| SubmitAck {
            task_id: job.task_id.clone(),
            group: job.group.clone(),
            state: stored.state,
            replaced: false,
        }))
    }

    pub async fn jobs(&self, filter: JobFilter) -> Result<JobPage, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let filter = filter.clone();
            async move { c.jobs(ctx, filter).await }
        })
        .await
    }

    /// A job with its latest runs.
    pub async fn job(&self, job: JobRef) -> Result<JobDetail, ClientError> {
        self.job_runs(job, RunsPage::default()).await
    }

    /// A job with the page of its runs that `runs` names.
    pub async fn job_runs(&self, job: JobRef, runs: RunsPage) -> Result<JobDetail, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let job = job.clone();
            async move { c.job(ctx, job, runs).await }
        })
        .await
    }

    /// Counts for `lts stats`, over runs that ended in the last `window_ms`.
    pub async fn stats(
        &self,
        group: Option<String>,
        window_ms: i64,
    ) -> Result<StoreStats, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let group = group.clone();
            async move { c.stats(ctx, group, window_ms).await }
        })
        .await
    }

    /// Cancel, suspend and resume are idempotent in effect: a second attempt
    /// finds the job already where the first left it.
    pub async fn cancel(&self, job: JobRef) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let job = job.clone();
            async move { c.cancel(ctx, job).await }
        })
        .await
    }

    pub async fn suspend(&self, job: JobRef) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let job = job.clone();
            async move { c.suspend(ctx, job).await }
        })
        .await
    }

    pub async fn resume(&self, job: JobRef) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let job = job.clone();
            async move { c.resume(ctx, job).await }
        })
        .await
    }

    /// Not retried elsewhere: a second attempt would run the job twice.
    pub async fn trigger(&self, job: JobRef) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let job = job.clone();
            async move { c.trigger(ctx, job).await }
        })
        .await
    }

    /// Not retried elsewhere: a second attempt would run the job twice.
    pub async fn retry(&self, job: JobRef) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let job = job.clone();
            async move { c.retry(ctx, job).await }
        })
        .await
    }

    /// Wait up to `wait` for the job's first run to end; the job as it is then.
    pub async fn wait(&self, job: JobRef, wait: Duration) -> Result<JobDetail, ClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + POLL_SLACK, Retry::Idempotent, |c, ctx| {
            let job = job.clone();
            async move { c.wait(ctx, job, wait_ms).await }
        })
        .await
    }

    /// Log lines after a cursor, waiting up to `query.wait_ms` for new ones.
    pub async fn logs(&self, query: LogQuery) -> Result<LogPage, ClientError> {
        let timeout = Duration::from_millis(query.wait_ms) + POLL_SLACK;
        self.call(timeout, Retry::Idempotent, |c, ctx| {
            let query = query.clone();
            async move { c.logs(ctx, query).await }
        })
        .await
    }

    pub async fn nodes(&self) -> Result<Vec<NodeView>, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| async move {
            c.nodes(ctx).await
        })
        .await
    }

    /// A client group's feedback after `after_id`, waiting up to `wait` for some.
    pub async fn feedback(
        &self,
        client_group: String,
        after_id: i64,
        wait: Duration,
    ) -> Result<Vec<FeedbackItem>, ClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + POLL_SLACK, Retry::Idempotent, |c, ctx| {
            let client_group = client_group.clone();
            async move { c.feedback(ctx, client_group, after_id, wait_ms).await }
        })
        .await
    }

    /// Store a flow; without a cron its one run starts now. Not sent again
    /// after a lost connection: a second flow would run its steps twice.
    pub async fn flow_submit(&self, flow: FlowSpec) -> Result<FlowView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let flow = flow.clone();
            async move { c.flow_submit(ctx, flow).await }
        })
        .await
    }

    /// A flow with its latest run's steps.
    pub async fn flow(&self, id: String) -> Result<FlowView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let id = id.clone();
            async move { c.flow(ctx, id).await }
        })
        .await
    }

    /// The newest `limit` flows (0: all), newest first.
    pub async fn flows(&self, limit: u32) -> Result<Vec<FlowView>, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| async move {
            c.flows(ctx, limit).await
        })
        .await
    }

    /// Cancel a flow's open run and stop its cron.
    pub async fn flow_cancel(&self, id: String) -> Result<FlowView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let id = id.clone();
            async move { c.flow_cancel(ctx, id).await }
        })
        .await
    }

    /// Every alert rule, by name.
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| async move {
            c.alert_rules(ctx).await
        })
        .await
    }

    /// Store an alert rule; whether one of the same name was replaced.
    /// Sent again after a lost connection only with `replace` (then the
    /// same rule twice is the same rule).
    pub async fn add_alert_rule(
        &self,
        rule: AlertRule,
        replace: bool,
    ) -> Result<bool, ClientError> {
        let retry = if replace {
            Retry::Idempotent
        } else {
            Retry::Never
        };
        self.call(CALL_TIMEOUT, retry, |c, ctx| {
            let rule = rule.clone();
            async move { c.add_alert_rule(ctx, rule, replace).await }
        })
        .await
    }

    pub async fn remove_alert_rule(&self, name: String) -> Result<(), ClientError> {
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let name = name.clone();
            async move { c.remove_alert_rule(ctx, name).await }
        })
        .await
    }

    /// Raise a test alert for a rule and wait up to `wait` for its first
    /// delivery attempt.
    pub async fn test_alert(&self, name: String, wait: Duration) -> Result<Alert, ClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + POLL_SLACK, Retry::Never, |c, ctx| {
            let name = name.clone();
            async move { c.test_alert(ctx, name, wait_ms).await }
        })
        .await
    }

    /// Alerts and their deliveries; with a cursor, those changed after it,
    /// waiting up to `wait` for one.
    pub async fn alerts(
        &self,
        query: AlertQuery,
        wait: Duration,
    ) -> Result<Vec<Alert>, ClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + POLL_SLACK, Retry::Idempotent, |c, ctx| {
            let query = query.clone();
            async move { c.alerts(ctx, query, wait_ms).await }
        })
        .await
    }

    /// Acknowledge a client group's feedback up to `up_to`; returns how many went.
    pub async fn ack_feedback(&self, client_group: String, up_to: i64) -> Result<u64, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let client_group = client_group.clone();
            async move { c.ack_feedback(ctx, client_group, up_to).await }
        })
        .await
    }

    /// Change a job's schedule, params, command or limits. Sent again after
    /// a lost connection: the same edit twice leaves the same job.
    pub async fn edit(&self, job: JobRef, edit: JobEdit) -> Result<JobView, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let (job, edit) = (job.clone(), edit.clone());
            async move { c.edit(ctx, job, edit).await }
        })
        .await
    }

    /// Suspend, resume or cancel every job `filter` selects (or, with
    /// `dry_run`, count them). Idempotent: a second attempt selects only
    /// the jobs the first left.
    pub async fn act_all(
        &self,
        filter: JobFilter,
        action: BulkAction,
        dry_run: bool,
    ) -> Result<BulkOutcome, ClientError> {
        self.call(BULK_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let filter = filter.clone();
            async move { c.act_all(ctx, filter, action, dry_run).await }
        })
        .await
    }

    /// Delete ended jobs (or, with `dry_run`, count them).
    pub async fn purge(
        &self,
        filter: PurgeFilter,
        dry_run: bool,
    ) -> Result<BulkOutcome, ClientError> {
        self.call(BULK_TIMEOUT, Retry::Idempotent, |c, ctx| {
            let filter = filter.clone();
            async move { c.purge(ctx, filter, dry_run).await }
        })
        .await
    }

    /// The tracker's version, store, leadership and addresses.
    pub async fn status(&self) -> Result<TrackerStatus, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Idempotent, |c, ctx| async move {
            c.status(ctx).await
        })
        .await
    }

    /// Membership events after `after` (`None`: from now), waiting up to
    /// `wait` for one (a tracker that keeps membership itself).
    pub async fn watch_nodes(
        &self,
        after: Option<u64>,
        wait: Duration,
    ) -> Result<EventPage, ClientError> {
        let wait_ms = wait.as_millis() as u64;
        self.call(wait + POLL_SLACK, Retry::Idempotent, |c, ctx| async move {
            c.watch_nodes(ctx, after, wait_ms).await
        })
        .await
    }

    /// The address of the tracker this client is connected to, once it is.
    pub async fn connected_to(&self) -> Option<String> {
        self.current.lock().await.as_ref().map(|(_, a)| a.clone())
    }

    /// (Workers) claim up to `request.free` runs, waiting for work. Never
    /// sent twice: runs claimed by a lost answer would wait for their lease.
    pub async fn pull(&self, request: PullRequest) -> Result<Vec<Dispatch>, ClientError> {
        let timeout = Duration::from_millis(request.wait_ms) + POLL_SLACK;
        self.call(timeout, Retry::Never, |c, ctx| {
            let request = request.clone();
            async move { c.pull(ctx, request).await }
        })
        .await
    }

    /// (Workers) renew the leases of every run held.
    pub async fn heartbeat(&self, beat: Heartbeat) -> Result<HeartbeatReply, ClientError> {
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let beat = beat.clone();
            async move { c.heartbeat(ctx, beat).await }
        })
        .await
    }

    /// (Workers) send log lines and results, in order; the outbox sends
    /// them again itself until they are taken.
    pub async fn deliver(
        &self,
        worker_id: String,
        items: Vec<Upstream>,
    ) -> Result<(), ClientError> {
        // Sent at most once, so the batch moves rather than being copied.
        let items = std::sync::Mutex::new(Some(items));
        self.call(CALL_TIMEOUT, Retry::Never, |c, ctx| {
            let worker_id = worker_id.clone();
            let items = items
                .lock()
                .map(|mut i| i.take().unwrap_or_default())
                .unwrap_or_default();
            async move { c.deliver(ctx, worker_id, items).await }
        })
        .await
    }
}
