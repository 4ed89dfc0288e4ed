//! The tracker's tarpc service: one method per request. Client calls go to
//! the transport-free operations in `ops` (the HTTP API calls the same);
//! the worker's calls (`pull`, `heartbeat`, `deliver`) are here, since they
//! speak for the worker this connection carries.

use super::lifecycle::dispatch;
use super::ops::{armed, deadline_in, wait_for, Action};
use super::Tracker;
use crate::daemon::accept::{serve_requests, Slot};
use crate::model::{
    now_ms, Alert, AlertQuery, AlertRule, FeedbackItem, FlowSpec, FlowView, JobDetail, JobSpec,
    JobView, NodeView, StoreStats,
};
use crate::protocol::registry::EventPage;
use crate::protocol::{
    serve_connection, Access, BulkAction, BulkOutcome, Dispatch, Heartbeat, HeartbeatReply,
    JobEdit, JobFilter, JobPage, JobRef, LogPage, LogQuery, PullRequest, PurgeFilter, RunsPage,
    SubmitAck, TrackerRpc, TrackerStatus, Upstream, WireError, WorkerInfo,
};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::net::TcpStream;

/// How long a worker may stay silent before a pull it left parked here is
/// taken for one of a worker that stopped: two of its heartbeats and a
/// margin. A lease (8 s by default) ends at least a lease after the last
/// heartbeat, when its worker has been silent for more than this.
const WORKER_QUIET_MS: i64 = 2 * crate::daemon::worker::HEARTBEAT_EVERY.as_millis() as i64 + 1_000;

/// One connection's view of the tracker.
#[derive(Clone)]
struct Conn {
    t: Arc<Tracker>,
    peer: String,
    /// The worker this connection speaks for, once it has said.
    worker: Arc<Mutex<Option<String>>>,
    /// What the token the peer proved allows.
    access: Access,
    /// Set once the connection is gone: a long poll still parked for it
    /// (its requests run as tasks of their own) claims nothing more, since
    /// no one would receive the runs.
    closed: Arc<AtomicBool>,
}

/// What a peer that proved the read-only token hears when it asks for a change.
pub(crate) const READ_ONLY: &str =
    "this connection proved the read-only token (--read-token): it may read jobs, logs, nodes and stats, not change anything; use the cluster token";

/// Handshake and serve one connection until it closes or stays idle too long.
pub(super) async fn serve(t: Arc<Tracker>, stream: TcpStream, peer: SocketAddr, slot: Slot) {
    let Some((transport, hello, access)) =
        serve_connection(stream, peer, &t.id, &t.security, slot.clients_only).await
    else {
        return;
    };
    tracing::debug!(%peer, role = %hello.role, ?access, "connected");
    let conn = Conn {
        t: t.clone(),
        peer: peer.to_string(),
        worker: Arc::new(Mutex::new(None)),
        access,
        closed: Arc::new(AtomicBool::new(false)),
    };
    let requests = BaseChannel::with_defaults(transport).execute(conn.clone().serve());
    serve_requests(requests, t.idle, peer).await;
    conn.closed.store(true, Ordering::SeqCst);
    drop(slot);
    let worker = conn.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(worker) = worker {
        tracing::info!(%peer, %worker, "worker disconnected");
        t.nodes.disconnected(&worker);
    }
}

impl Conn {
    /// Refuse a change to a peer that may only read.
    fn may_change(&self) -> Result<(), WireError> {
        match self.access {
            Access::Full => Ok(()),
            Access::Read => Err(WireError::Conflict(READ_ONLY.into())),
        }
    }

    /// Note that this connection speaks for `info`'s worker.
    fn register(&self, info: &WorkerInfo, running: u32) {
        let mut slot = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let new_connection = slot.as_deref() != Some(info.id.as_str());
        if new_connection {
            if let Some(previous) = slot.replace(info.id.clone()) {
                self.t.nodes.disconnected(&previous);
            } else {
                tracing::info!(peer = %self.peer, worker = %info.id, group = %info.group, "worker connected");
            }
        }
        self.t
            .nodes
            .seen(info, &self.peer, running, now_ms(), new_connection);
    }
}

impl TrackerRpc for Conn {
    async fn submit(self, _: Context, jobs: Vec<JobSpec>) -> Vec<Result<SubmitAck, WireError>> {
        if let Err(e) = self.may_change() {
            return jobs.iter().map(|_| Err(e.clone())).collect();
        }
        self.t.submit(jobs).await
    }

    async fn jobs(self, _: Context, filter: JobFilter) -> Result<JobPage, WireError> {
        self.t.jobs(filter).await
    }

    async fn job(self, _: Context, job: JobRef, runs: RunsPage) -> Result<JobDetail, WireError> {
        self.t.job(job, runs).await
    }

    async fn cancel(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.act(job, Action::Cancel).await
    }

    async fn suspend(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.act(job, Action::Suspend).await
    }

    async fn resume(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.act(job, Action::Resume).await
    }

    async fn trigger(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.act(job, Action::Trigger).await
    }

    async fn retry(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.act(job, Action::Retry).await
    }

    async fn wait(self, _: Context, job: JobRef, wait_ms: u64) -> Result<JobDetail, WireError> {
        self.t.wait(job, wait_ms).await
    }

    async fn logs(self, _: Context, query: LogQuery) -> Result<LogPage, WireError> {
        self.t.logs(query).await
    }

    async fn stats(
        self,
        _: Context,
        group: Option<String>,
        window_ms: i64,
    ) -> Result<StoreStats, WireError> {
        self.t.stats(group, window_ms).await
    }

    async fn nodes(self, _: Context) -> Result<Vec<NodeView>, WireError> {
        Ok(self.t.nodes())
    }

    async fn feedback(
        self,
        _: Context,
        client_group: String,
        after_id: i64,
        wait_ms: u64,
    ) -> Result<Vec<FeedbackItem>, WireError> {
        self.t.feedback(client_group, after_id, wait_ms).await
    }

    async fn ack_feedback(
        self,
        _: Context,
        client_group: String,
        up_to: i64,
    ) -> Result<u64, WireError> {
        self.may_change()?;
        self.t.ack_feedback(client_group, up_to).await
    }

    async fn edit(self, _: Context, job: JobRef, edit: JobEdit) -> Result<JobView, WireError> {
        self.may_change()?;
        self.t.edit(job, edit).await
    }

    async fn act_all(
        self,
        _: Context,
        filter: JobFilter,
        action: BulkAction,
        dry_run: bool,
    ) -> Result<BulkOutcome, WireError> {
        if !dry_run {
            self.may_change()?;
        }
        self.t.act_all(filter, action, dry_run).await
    }

    async fn purge(
        self,
        _: Context,
        filter: PurgeFilter,
        dry_run: bool,
    ) -> Result<BulkOutcome, WireError> {
        if !dry_run {
            self.may_change()?;
        }
        self.t.purge(filter, dry_run).await
    }

    async fn status(self, _: Context) -> Result<TrackerStatus, WireError> {
        Ok(self.t.status())
    }

    async fn watch_nodes(
        self,
        _: Context,
        after_seq: Option<u64>,
        wait_ms: u64,
    ) -> Result<EventPage, WireError> {
        Ok(self.t.watch_nodes(after_seq, wait_ms).await)
    }

    async fn flow_submit(self, _: Context, flow: FlowSpec) -> Result<FlowView, WireError> {
        self.may_change()?;
        self.t.flow_submit(flow).await
    }

    async fn flow(self, _: Context, id: String) -> Result<FlowView, WireError> {
        self.t.flow(id).await
    }

    async fn flows(self, _: Context, limit: u32) -> Result<Vec<FlowView>, WireError> {
        self.t.flows(limit).await
    }

    async fn flow_cancel(self, _: Context, id: String) -> Result<FlowView, WireError> {
        self.may_change()?;
        self.t.flow_cancel(id).await
    }

    async fn alert_rules(self, _: Context) -> Result<Vec<AlertRule>, WireError> {
        self.t.alert_rules().await
    }

    async fn add_alert_rule(
        self,
        _: Context,
        rule: AlertRule,
        replace: bool,
    ) -> Result<bool, WireError> {
        self.t.add_alert_rule(rule, replace).await
    }

    async fn remove_alert_rule(self, _: Context, name: String) -> Result<(), WireError> {
        self.t.remove_alert_rule(name).await
    }

    async fn test_alert(self, _: Context, name: String, wait_ms: u64) -> Result<Alert, WireError> {
        self.t.test_alert(name, wait_ms).await
    }

    async fn alerts(
        self,
        _: Context,
        query: AlertQuery,
        wait_ms: u64,
    ) -> Result<Vec<Alert>, WireError> {
        self.t.alerts(query, wait_ms).await
    }

    async fn pull(self, _: Context, request: PullRequest) -> Result<Vec<Dispatch>, WireError> {
        self.may_change()?;
        self.register(&request.worker, request.running);
        if self.t.stopping() {
            return Err(WireError::ShuttingDown);
        }
        let deadline = deadline_in(request.wait_ms);
        let group = request.worker.group.clone();
        let notify = self.t.wake.group(&group);
        loop {
            // A pull parked for a worker that is gone (its connection closed,
            // or its heartbeats stopped) claims nothing: the runs would only
            // wait a lease for the tracker to take them for lost.
            let quiet = now_ms();
            if self.closed.load(Ordering::SeqCst)
                || !self
                    .t
                    .nodes
                    .heard_from(&request.worker.id, quiet, WORKER_QUIET_MS)
            {
                return Ok(Vec::new());
            }
            let mut notified = armed(&notify);
            let (g, w, free, lease) = (
                group.clone(),
                request.worker.id.clone(),
                request.free as usize,
                self.t.lease_ms,
            );
            let now = now_ms();
            let fleet = self.t.fleet(&group, now);
            let claim = self
                .t
                .store
                .call(move |s| dispatch::claim(s, &g, &w, free, now, lease, &fleet))
                .await?;
            if claim.fanned_out {
                self.t.wake.work_for(&BTreeSet::from([group.clone()]));
            }
            if !claim.dispatches.is_empty() {
                self.t.wake.lease_created();
                self.t.wake.changed();
                let running = request
                    .running
                    .saturating_add(claim.dispatches.len() as u32);
                self.t
                    .nodes
                    .seen(&request.worker, &self.peer, running, now_ms(), false);
                return Ok(claim.dispatches);
            }
            // Sleep until work arrives, a backed-off run falls due, or the poll ends.
            let due = claim.next_due.map(|at| {
                tokio::time::Instant::now() + Duration::from_millis((at - now_ms()).max(0) as u64)
            });
            let until = due.map_or(deadline, |d| d.min(deadline));
            if !wait_for(notified.as_mut(), until, &self.t).await
                && (due.is_none() || tokio::time::Instant::now() >= deadline || self.t.stopping())
            {
                return Ok(Vec::new());
            }
        }
    }

    async fn heartbeat(self, _: Context, beat: Heartbeat) -> Result<HeartbeatReply, WireError> {
        self.may_change()?;
        self.register(&beat.worker, beat.runs.len() as u32);
        let (now, lease) = (now_ms(), self.t.lease_ms);
        let beat = self
            .t
            .store
            .call(move |s| dispatch::heartbeat(s, &beat, now, lease))
            .await?;
        if !beat.woken.is_empty() {
            tracing::info!("re-queued runs a worker no longer held");
            self.t.wake.work_for(&beat.woken);
        }
        Ok(HeartbeatReply { stop: beat.stop })
    }

    async fn deliver(
        self,
        _: Context,
        worker_id: String,
        items: Vec<Upstream>,
    ) -> Result<(), WireError> {
        self.may_change()?;
        let (now, cap, zone) = (now_ms(), self.t.max_log_bytes, self.t.zone);
        let count = items.len();
        let delivered = self
            .t
            .store
            // Cloned: a transaction lost to a concurrent one runs again.
            .call(move |s| dispatch::deliver(s, items.clone(), now, cap, zone))
            .await?;
        tracing::trace!(%worker_id, count, "delivered");
        self.t.wake.work_for(&delivered.woken);
        if delivered.scheduled {
            self.t.wake.schedule_changed();
        }
        self.t.wake.runs.touch(&delivered.runs);
        Ok(())
    }
}
