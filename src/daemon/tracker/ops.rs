//! What a caller can ask of a tracker, whatever the transport: the tarpc
//! service (`service`) and the HTTP API (`http`) both call these, so a page,
//! an API call and `lts` go through the same rules and the same wakeups.
//! Each runs one `queue`/`control` rule in the store and wakes whoever waits;
//! long polls wait on `Wake`, never on a timer loop.

use super::{control, queue, Tracker};
use crate::model::{
    now_ms, FeedbackItem, JobDetail, JobSpec, JobState, JobView, MinuteCount, NodeView, Role,
    StoreStats,
};
use crate::protocol::{JobFilter, JobRef, LogPage, LogQuery, SubmitAck, WireError};
use crate::store::{JobQuery, JobRecord};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest any long poll waits before answering.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(30);
/// Log lines per page.
const LOG_PAGE: usize = 1000;

/// A change a caller asks for on one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Resume,
    Cancel,
    Trigger,
    Retry,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Suspend,
        Action::Resume,
        Action::Cancel,
        Action::Trigger,
        Action::Retry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Trigger => "trigger",
            Action::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Wait for `notified` until `deadline`, or until the tracker stops.
/// Returns false when there is no point waiting again.
pub(super) async fn wait_for(
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

pub(super) fn deadline_in(wait_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(wait_ms).min(MAX_WAIT)
}

/// A `Notified` registered before the store is read, so no wakeup between
/// the read and the wait is missed.
pub(super) fn armed(notify: &Notify) -> std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>> {
    let mut notified = Box::pin(notify.notified());
    notified.as_mut().enable();
    notified
}

impl Tracker {
    pub(super) fn stopping(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Say why a job waits, when no worker could take it.
    fn annotate(&self, view: &mut JobView) {
        if matches!(view.state, JobState::Queued | JobState::Retrying)
            && !self
                .nodes
                .has_live_worker(&view.spec.group, now_ms(), self.lease_ms)
        {
            view.note = Some(format!(
                "no worker of group '{}' is connected",
                view.spec.group
            ));
        }
    }

    /// A job as callers see it: next fire times and a note on why it waits.
    fn shown(&self, job: &JobRecord) -> JobView {
        let mut view = queue::view(job, self.zone);
        self.annotate(&mut view);
        view
    }

    /// Store jobs; each gets its own answer, only once committed.
    pub async fn submit(&self, jobs: Vec<JobSpec>) -> Vec<Result<SubmitAck, WireError>> {
        if self.stopping() {
            return jobs.iter().map(|_| Err(WireError::ShuttingDown)).collect();
        }
        let count = jobs.len();
        let (now, zone) = (now_ms(), self.zone);
        match self
            .store
            .call(move |s| queue::submit(s, jobs, now, zone))
            .await
        {
            Ok((acks, woken)) => {
                self.wake.work_for(&woken);
                if acks
                    .iter()
                    .any(|a| matches!(a, Ok(ack) if ack.state == JobState::Scheduled))
                {
                    self.wake.schedule_changed();
                }
                acks
            }
            Err(e) => vec![Err(e); count],
        }
    }

    pub async fn jobs(&self, filter: JobFilter) -> Result<Vec<JobView>, WireError> {
        let query = JobQuery {
            group: filter.group,
            state: filter.state,
            kind: filter.kind,
            limit: filter.limit as usize,
        };
        let jobs = self
            .store
            .call(move |s| Ok::<_, WireError>(s.list_jobs(&query)?))
            .await?;
        Ok(jobs.iter().map(|j| self.shown(j)).collect())
    }

    pub async fn job(&self, job: JobRef) -> Result<JobDetail, WireError> {
        let zone = self.zone;
        let mut detail = self
            .store
            .call(move |s| queue::detail(s, &job, zone))
            .await?;
        self.annotate(&mut detail.job);
        Ok(detail)
    }

    /// Suspend, resume, cancel, trigger or retry one job; the job as it is after.
    pub async fn act(&self, job: JobRef, action: Action) -> Result<JobView, WireError> {
        let (now, zone) = (now_ms(), self.zone);
        let job = match action {
            Action::Cancel => {
                let job = self
                    .store
                    .call(move |s| control::cancel(s, &job, now))
                    .await?;
                self.wake.changed();
                job
            }
            Action::Suspend => {
                let job = self
                    .store
                    .call(move |s| control::suspend(s, &job, now))
                    .await?;
                self.wake.changed();
                job
            }
            Action::Resume => {
                let (job, queued) = self
                    .store
                    .call(move |s| control::resume(s, &job, now, zone))
                    .await?;
                if queued {
                    self.wake.work_for([&job.spec.group]);
                }
                self.wake.changed();
                self.wake.schedule_changed();
                job
            }
            Action::Trigger => {
                let job = self
                    .store
                    .call(move |s| control::trigger(s, &job, now))
                    .await?;
                self.wake.work_for([&job.spec.group]);
                job
            }
            Action::Retry => {
                let job = self
                    .store
                    .call(move |s| control::retry(s, &job, now))
                    .await?;
                self.wake.work_for([&job.spec.group]);
                job
            }
        };
        Ok(self.shown(&job))
    }

    /// Wait up to `wait_ms` for the job's first run to end; the job as it is then.
    pub async fn wait(&self, job: JobRef, wait_ms: u64) -> Result<JobDetail, WireError> {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.wake.changes);
            let (query, zone) = (job.clone(), self.zone);
            let mut detail = self
                .store
                .call(move |s| queue::detail(s, &query, zone))
                .await?;
            if queue::first_run_ended(&detail) || !wait_for(notified.as_mut(), deadline, self).await
            {
                self.annotate(&mut detail.job);
                return Ok(detail);
            }
        }
    }

    /// Log lines after the query's cursor, waiting up to `wait_ms` for some.
    pub async fn logs(&self, query: LogQuery) -> Result<LogPage, WireError> {
        let deadline = deadline_in(query.wait_ms);
        loop {
            let mut notified = armed(&self.wake.changes);
            let q = query.clone();
            let slice = self
                .store
                .call(move |s| queue::read_logs(s, &q, LOG_PAGE))
                .await?;
            if !slice.lines.is_empty()
                || slice.done
                || query.wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, self).await
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

    pub async fn stats(
        &self,
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
            .store
            .call(move |s| Ok::<_, WireError>(s.stats(now, window_ms)?))
            .await?;
        Ok(match group {
            Some(group) => stats.only(&group),
            None => stats,
        })
    }

    /// Runs that ended in the last `minutes` whole minutes and the current
    /// one, by group, minute and outcome, with fire lag: the console's chart.
    pub async fn runs_by_minute(&self, minutes: u32) -> Result<Vec<MinuteCount>, WireError> {
        let step = crate::store::MINUTE_MS;
        let now = now_ms();
        let since = now - now.rem_euclid(step) - i64::from(minutes) * step;
        self.store
            .call(move |s| Ok::<_, WireError>(s.runs_by_minute(since)?))
            .await
    }

    /// This tracker and the workers it knows.
    pub fn nodes(&self) -> Vec<NodeView> {
        let now = now_ms();
        let mut nodes = vec![NodeView {
            id: self.id.clone(),
            role: Role::Tracker,
            group: "tracker".into(),
            address: self.address.clone(),
            state: "up".into(),
            master: true,
            slots_used: 0,
            slots_free: 0,
            version: crate::VERSION.into(),
            last_seen: now,
        }];
        nodes.extend(self.nodes.list(now, self.lease_ms));
        nodes
    }

    /// A client group's feedback after `after_id`, waiting up to `wait_ms`.
    pub async fn feedback(
        &self,
        client_group: String,
        after_id: i64,
        wait_ms: u64,
    ) -> Result<Vec<FeedbackItem>, WireError> {
        let deadline = deadline_in(wait_ms);
        loop {
            let mut notified = armed(&self.wake.changes);
            let group = client_group.clone();
            let items = self
                .store
                .call(move |s| Ok::<_, WireError>(s.feedback_after(&group, after_id, LOG_PAGE)?))
                .await?;
            if !items.is_empty()
                || wait_ms == 0
                || !wait_for(notified.as_mut(), deadline, self).await
            {
                return Ok(items);
            }
        }
    }

    pub async fn ack_feedback(&self, client_group: String, up_to: i64) -> Result<u64, WireError> {
        let removed = self
            .store
            .call(move |s| Ok::<_, WireError>(s.ack_feedback(&client_group, up_to)?))
            .await?;
        Ok(removed as u64)
    }
}
