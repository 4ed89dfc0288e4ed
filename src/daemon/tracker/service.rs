//! The tracker's RPC handlers: one method per request, each a short function
//! that runs a `queue` rule in the store and wakes whoever waits. Long polls
//! (`pull`, `wait`, `logs`) wait on `Wake`, never on a timer loop.

use super::{control, queue, Tracker};
use crate::model::{
    now_ms, FeedbackItem, JobDetail, JobState, JobView, NodeView, Role, StoreStats,
};
use crate::protocol::{
    serve_connection, Dispatch, Heartbeat, HeartbeatReply, JobFilter, JobRef, LogPage, LogQuery,
    PullRequest, SubmitAck, TrackerRpc, Upstream, WireError, WorkerInfo,
};
use crate::store::JobQuery;
use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The longest any long poll waits before answering.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Log lines per page.
const LOG_PAGE: usize = 1000;

/// One connection's view of the tracker.
#[derive(Clone)]
struct Conn {
    t: Arc<Tracker>,
    peer: String,
    /// The worker this connection speaks for, once it has said.
    worker: Arc<Mutex<Option<String>>>,
}

/// Handshake and serve one connection until it closes.
pub(super) async fn serve(t: Arc<Tracker>, stream: TcpStream, peer: SocketAddr) {
    let Some((transport, hello)) = serve_connection(stream, peer, &t.id, &t.security).await else {
        return;
    };
    tracing::debug!(%peer, role = %hello.role, "connected");
    let conn = Conn {
        t: t.clone(),
        peer: peer.to_string(),
        worker: Arc::new(Mutex::new(None)),
    };
    BaseChannel::with_defaults(transport)
        .execute(conn.clone().serve())
        .for_each(|request| async {
            tokio::spawn(request);
        })
        .await;
    let worker = conn.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(worker) = worker {
        tracing::info!(%peer, %worker, "worker disconnected");
        t.nodes.disconnected(&worker);
    }
}

impl Conn {
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

    /// Say why a job waits, when no worker could take it.
    fn annotate(&self, view: &mut JobView) {
        if matches!(view.state, JobState::Queued | JobState::Retrying)
            && !self
                .t
                .nodes
                .has_live_worker(&view.spec.group, now_ms(), self.t.lease_ms)
        {
            view.note = Some(format!(
                "no worker of group '{}' is connected",
                view.spec.group
            ));
        }
    }

    /// A job as callers see it: next fire times and a note on why it waits.
    fn shown(&self, job: &crate::store::JobRecord) -> JobView {
        let mut view = queue::view(job, self.t.zone);
        self.annotate(&mut view);
        view
    }

    fn stopping(&self) -> bool {
        self.t.shutdown.is_triggered()
    }
}

/// Wait for `notify` until `deadline`, or until the tracker stops.
/// Returns false when there is no point waiting again.
async fn wait_for(
    notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    deadline: tokio::time::Instant,
    t: &Tracker,
) -> bool {
    tokio::select! {
        _ = notified => true,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = t.shutdown.wait() => false,
    }
}

fn deadline_in(wait_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(wait_ms).min(MAX_WAIT)
}

fn armed(notify: &Notify) -> std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>> {
    let mut notified = Box::pin(notify.notified());
    notified.as_mut().enable();
    notified
}

impl TrackerRpc for Conn {
    async fn submit(
        self,
        _: Context,
        jobs: Vec<crate::model::JobSpec>,
    ) -> Vec<Result<SubmitAck, WireError>> {
        if self.stopping() {
            return jobs.iter().map(|_| Err(WireError::ShuttingDown)).collect();
        }
        let count = jobs.len();
        let (now, zone) = (now_ms(), self.t.zone);
        match self
            .t
            .store
            .call(move |s| queue::submit(s, jobs, now, zone))
            .await
        {
            Ok((acks, woken)) => {
                self.t.wake.work_for(&woken);
                if acks
                    .iter()
                    .any(|a| matches!(a, Ok(ack) if ack.state == JobState::Scheduled))
                {
                    self.t.wake.schedule_changed();
                }
                acks
            }
            Err(e) => vec![Err(e); count],
        }
    }

    async fn jobs(self, _: Context, filter: JobFilter) -> Result<Vec<JobView>, WireError> {
        let query = JobQuery {
            group: filter.group,
            state: filter.state,
            kind: filter.kind,
            limit: filter.limit as usize,
        };
        let jobs = self
            .t
            .store
            .call(move |s| Ok::<_, WireError>(s.list_jobs(&query)?))
            .await?;
        Ok(jobs
            .iter()
            .map(|j| {
                let mut view = queue::view(j, self.t.zone);
                self.annotate(&mut view);
                view
            })
            .collect())
    }

    async fn job(self, _: Context, job: JobRef) -> Result<JobDetail, WireError> {
        let zone = self.t.zone;
        let mut detail = self
            .t
            .store
            .call(move |s| queue::detail(s, &job, zone))
            .await?;
        self.annotate(&mut detail.job);
        Ok(detail)
    }

    async fn cancel(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        let now = now_ms();
        let job = self
            .t
            .store
            .call(move |s| control::cancel(s, &job, now))
            .await?;
        self.t.wake.changed();
        Ok(self.shown(&job))
    }

    async fn suspend(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        let now = now_ms();
        let job = self
            .t
            .store
            .call(move |s| control::suspend(s, &job, now))
            .await?;
        self.t.wake.changed();
        Ok(self.shown(&job))
    }

    async fn resume(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        let (now, zone) = (now_ms(), self.t.zone);
        let (job, queued) = self
            .t
            .store
            .call(move |s| control::resume(s, &job, now, zone))
            .await?;
        if queued {
            self.t.wake.work_for([&job.spec.group]);
        }
        self.t.wake.changed();
        self.t.wake.schedule_changed();
        Ok(self.shown(&job))
    }

    async fn trigger(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        let now = now_ms();
        let job = self
            .t
            .store
            .call(move |s| control::trigger(s, &job, now))
            .await?;
        self.t.wake.work_for([&job.spec.group]);
        Ok(self.shown(&job))
    }

    async fn retry(self, _: Context, job: JobRef) -> Result<JobView, WireError> {
        let now = now_ms();
        let job = self
            .t
            .store
            .call(move |s| control::retry(s, &job, now))
            .await?;
        self.t.wake.work_for([&job.spec.group]);
        Ok(self.shown(&job))
    }

    async fn wait(self, _: Context, job: JobRef, wait_ms: u64) -> Result<JobDetail, WireError> {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.t.wake.changes);
            let (query, zone) = (job.clone(), self.t.zone);
            let mut detail = self
                .t
                .store
                .call(move |s| queue::detail(s, &query, zone))
                .await?;
            if queue::first_run_ended(&detail)
                || !wait_for(notified.as_mut(), deadline, &self.t).await
            {
                self.annotate(&mut detail.job);
                return Ok(detail);
            }
        }
    }

    async fn logs(self, _: Context, query: LogQuery) -> Result<LogPage, WireError> {
        let deadline = deadline_in(query.wait_ms);
        loop {
            let mut notified = armed(&self.t.wake.changes);
            let q = query.clone();
            let slice = self
                .t
                .store
                .call(move |s| queue::read_logs(s, &q, LOG_PAGE))
                .await?;
            if !slice.lines.is_empty()
                || slice.done
                || query.wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, &self.t).await
            {
                return Ok(LogPage {
                    lines: slice.lines,
                    run: slice.run,
                    attempt: slice.attempt,
                    done: slice.done,
                });
            }
        }
    }

    async fn stats(
        self,
        _: Context,
        group: Option<String>,
        window_ms: i64,
    ) -> Result<StoreStats, WireError> {
        if window_ms <= 0 {
            return Err(WireError::InvalidInput(format!(
                "the stats window must be positive, not {window_ms} ms"
            )));
        }
        let now = now_ms();
        let stats = self
            .t
            .store
            .call(move |s| Ok::<_, WireError>(s.stats(now, window_ms)?))
            .await?;
        Ok(match group {
            Some(group) => stats.only(&group),
            None => stats,
        })
    }

    async fn nodes(self, _: Context) -> Result<Vec<NodeView>, WireError> {
        let now = now_ms();
        let mut nodes = vec![NodeView {
            id: self.t.id.clone(),
            role: Role::Tracker,
            group: "tracker".into(),
            address: self.t.address.clone(),
            state: "up".into(),
            master: true,
            slots_used: 0,
            slots_free: 0,
            version: crate::VERSION.into(),
            last_seen: now,
        }];
        nodes.extend(self.t.nodes.list(now, self.t.lease_ms));
        Ok(nodes)
    }

    async fn feedback(
        self,
        _: Context,
        client_group: String,
        after_id: i64,
        wait_ms: u64,
    ) -> Result<Vec<FeedbackItem>, WireError> {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.t.wake.changes);
            let group = client_group.clone();
            let items = self
                .t
                .store
                .call(move |s| Ok::<_, WireError>(s.feedback_after(&group, after_id, LOG_PAGE)?))
                .await?;
            if !items.is_empty()
                || wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, &self.t).await
            {
                return Ok(items);
            }
        }
    }

    async fn ack_feedback(
        self,
        _: Context,
        client_group: String,
        up_to: i64,
    ) -> Result<u64, WireError> {
        let removed = self
            .t
            .store
            .call(move |s| Ok::<_, WireError>(s.ack_feedback(&client_group, up_to)?))
            .await?;
        Ok(removed as u64)
    }

    async fn pull(self, _: Context, request: PullRequest) -> Result<Vec<Dispatch>, WireError> {
        self.register(&request.worker, request.running);
        if self.stopping() {
            return Err(WireError::ShuttingDown);
        }
        let deadline = deadline_in(request.wait_ms);
        let group = request.worker.group.clone();
        let notify = self.t.wake.group(&group);
        loop {
            let mut notified = armed(&notify);
            let (g, w, free, lease) = (
                group.clone(),
                request.worker.id.clone(),
                request.free as usize,
                self.t.lease_ms,
            );
            let now = now_ms();
            let claim = self
                .t
                .store
                .call(move |s| queue::claim(s, &g, &w, free, now, lease))
                .await?;
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
                && (due.is_none() || tokio::time::Instant::now() >= deadline || self.stopping())
            {
                return Ok(Vec::new());
            }
        }
    }

    async fn heartbeat(self, _: Context, beat: Heartbeat) -> Result<HeartbeatReply, WireError> {
        self.register(&beat.worker, beat.runs.len() as u32);
        let (now, lease) = (now_ms(), self.t.lease_ms);
        let beat = self
            .t
            .store
            .call(move |s| queue::heartbeat(s, &beat, now, lease))
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
        let (now, cap) = (now_ms(), self.t.max_log_bytes);
        let count = items.len();
        let woken = self
            .t
            .store
            .call(move |s| queue::deliver(s, items, now, cap))
            .await?;
        tracing::trace!(%worker_id, count, "delivered");
        self.t.wake.work_for(&woken);
        Ok(())
    }
}
